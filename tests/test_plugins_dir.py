"""Plugins dropped into a folder: loading order and names, fail-closed starts, `plugins list`, and
every proxy worker loading the folder."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.pluginmanager import PluginLoadError, make_plugin_manager
from tests.test_cli_up import Output, clean_env, free_port

HEADER_PLUGIN = '''
import os
from pathlib import Path

from gateway.pluginmanager import hookimpl


@hookimpl
def gateway_startup(ctx):
    marks = os.environ.get("PLUGIN_TEST_MARKS")
    if marks:
        Path(marks, str(os.getpid())).write_text("started")


@hookimpl
def gateway_response_headers(call):
    return {"X-Dir-Plugin": f"{__name__} {os.getpid()}"}
'''


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_files_load_in_name_order_after_the_built_ins_under_their_stem(tmp_path):
    write(tmp_path, "b_second.py", HEADER_PLUGIN)
    write(tmp_path, "a_first.py", HEADER_PLUGIN)
    write(tmp_path, "notes.txt", "not a plugin")
    pm = make_plugin_manager(plugins_dir=tmp_path)
    names = [name for name, _ in pm.list_name_plugin()]
    assert names[-2:] == ["a_first", "b_second"]
    assert names.index("metering") < names.index("a_first")
    info = {i.name: i for i in pm.infos()}["a_first"]
    assert (info.kind, info.source) == ("directory", str(tmp_path / "a_first.py"))
    assert info.hooks == ("gateway_startup", "gateway_response_headers")


@pytest.mark.parametrize("text, says", [
    ("import os\n\ndef helper():\n    return 1 / 0\n\nhelper()\n", "ZeroDivisionError"),
    ("def broken(:\n", "SyntaxError"),
    (("from gateway.pluginmanager import hookimpl\n\n@hookimpl\n"
      "def gateway_respnse_headers(call):\n    return {}\n"),
     "unknown hook 'gateway_respnse_headers'"),
    (("from gateway.pluginmanager import hookimpl\n\n@hookimpl\n"
      "def gateway_admit(call, extra):\n    pass\n"), "PluginValidationError"),
])
def test_a_broken_file_loads_nothing_of_the_folder_and_is_named(tmp_path, text, says):
    write(tmp_path, "a_good.py", HEADER_PLUGIN)
    bad = write(tmp_path, "b_bad.py", text)
    with pytest.raises(PluginLoadError) as err:
        make_plugin_manager(plugins_dir=tmp_path)
    assert str(bad) in str(err.value) and says in str(err.value)
    pm = make_plugin_manager()
    with pytest.raises(PluginLoadError):
        pm.add_plugins_dir(tmp_path)
    assert not pm.has_plugin("a_good") and not pm.has_plugin("b_bad")  # never half-loaded


def test_a_file_named_like_a_loaded_plugin_is_refused(tmp_path):
    write(tmp_path, "routing.py", HEADER_PLUGIN)
    with pytest.raises(PluginLoadError, match="already loaded; rename the file"):
        make_plugin_manager(plugins_dir=tmp_path)


def test_a_missing_folder_is_a_configuration_error(tmp_path):
    result = cli("plugins", "list", "--plugins-dir", str(tmp_path / "nope"),
                 env=clean_env(tmp_path))
    assert result.returncode == 2
    assert "plugins dir" in result.stderr and "not a directory" in result.stderr


def test_plugins_list_shows_every_source_and_hook(tmp_path):
    folder = tmp_path / "plugins"
    write(folder, "tagger.py", HEADER_PLUGIN)
    env = clean_env(tmp_path, GATEWAY_PLUGINS_DIR=str(folder))
    listed = json.loads(cli("plugins", "list", "--json", env=env).stdout)
    by_name = {p["name"]: p for p in listed}
    assert by_name["tagger"] == {"name": "tagger", "kind": "directory",
                                 "source": str(folder / "tagger.py"), "version": None,
                                 "hooks": ["gateway_startup", "gateway_response_headers"]}
    assert by_name["routing"]["kind"] == "built-in"
    assert by_name["routing"]["source"].startswith("plugins.routing (entry point routing")
    assert "gateway_resolve_model" in by_name["routing"]["hooks"]
    assert by_name["core"]["kind"] == "core"
    text = cli("plugins", "list", env=env).stdout
    assert f"tagger (directory)\n  source: {folder / 'tagger.py'}" in text


def test_up_refuses_to_start_with_a_broken_plugin_file(tmp_path):
    folder = tmp_path / "plugins"
    write(folder, "ok.py", HEADER_PLUGIN)
    bad = write(folder, "zz_broken.py", "raise RuntimeError('no config for me')\n")
    port, admin_port = free_port(), free_port()
    result = cli("up", "--mock-if-unconfigured", "--port", str(port), "--admin-port",
                 str(admin_port), "--mock-port", str(free_port()), "--plugins-dir", str(folder),
                 env=clean_env(tmp_path))
    assert result.returncode == 2
    last = [line for line in result.stderr.splitlines() if line.startswith("llm-gateway:")]
    assert last == [(f"llm-gateway: configuration error: plugin file {bad} failed to load: "
                     f"RuntimeError: no config for me")]
    assert f'File "{bad}", line 1' in result.stderr
    assert "Password" not in result.stdout  # nothing started, not even the first-run bootstrap
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_every_proxy_worker_loads_the_folder(tmp_path, mock_provider):
    folder, marks = tmp_path / "plugins", tmp_path / "marks"
    marks.mkdir()
    write(folder, "tagger.py", HEADER_PLUGIN)
    env = clean_env(tmp_path, OPENAI_BASE_URL=mock_provider.url + "/v1", OPENAI_API_KEY="sk-t",
                    PLUGIN_TEST_MARKS=str(marks))
    cli("orgs", "create", "w", "--name", "W", env=env)
    cli("users", "create", "a@w.test", "--name", "A", "--org", "w", env=env)
    key = cli("keys", "create", "--user", "a@w.test", env=env).stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "proxy", "--workers", "2",
                             "--port", str(port), "--plugins-dir", str(folder)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        deadline = time.monotonic() + 30
        while sum("listening on" in line for line in out.lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = set(re.findall(r"\(pid (\d+)\)", "".join(out.lines)))
        assert {p.name for p in marks.iterdir()} == workers and len(workers) == 2
        served_by = set()
        for _ in range(20):  # a fresh connection each time: the kernel spreads them
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=10,
                               headers={"authorization": f"Bearer {key}", "connection": "close"},
                               json={"model": "openai/gpt-4o",
                                     "messages": [{"role": "user", "content": "w"}]})
            assert reply.status_code == 200
            module, pid = reply.headers["x-dir-plugin"].split()
            assert module == "gateway_dir_plugin_tagger"
            served_by.add(pid)
        assert served_by <= workers
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
