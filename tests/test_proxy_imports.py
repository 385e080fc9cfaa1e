"""A proxy worker imports only what it runs (issue 13: one process ≤ 150 MB RSS): not the admin
site, Flask, pandas or the mock provider, and not mitmproxy's default addons (its onboarding app
is Flask, its proxy auth ldap3 and passlib)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.test_memory import rss_mb
from tests.test_spend_durability import _free_port, serving_proxy

NOT_IN_A_WORKER = ("admin_web", "flask", "flask_login", "jinja2", "pandas", "numpy",
                   "gateway.mock_provider", "ldap3", "passlib", "pyperclip")

# Runs `llm-gateway proxy` up to the moment it would start serving (the context is open, the
# plugins are loaded, the server module is imported), then prints the modules it has loaded.
WORKER = """
import asyncio, json, sys
from gateway.cli import main

def stop_here(coro):
    coro.close()
    print(json.dumps(sorted(sys.modules)))

asyncio.run = stop_here
sys.exit(main(["proxy", "--port", sys.argv[1]]))
"""


def test_a_proxy_worker_does_not_import_the_admin_side(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_LOG_LEVEL="WARNING")
    done = subprocess.run([sys.executable, "-c", WORKER, str(_free_port())], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "gateway.server" in modules and "mitmproxy.master" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_IN_A_WORKER or m in NOT_IN_A_WORKER)
    assert not loaded, f"a proxy worker imported {loaded[:20]}"


@pytest.mark.slow
def test_a_serving_proxy_maps_no_pandas_or_numpy_and_stays_small(tmp_path, mock_provider):
    with serving_proxy(tmp_path, mock_provider.url) as (url, key, proc):
        body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(url + "/v1/chat/completions", json=body, timeout=30,
                            headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "/pandas/" not in maps and "/numpy/" not in maps
        assert rss_mb(proc.pid) < 150
