"""`llm-gateway up` and `proxy` as a newcomer runs them: real processes, real sockets, signals."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from tests.gateway_fixtures import ROOT


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def clean_env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "GATEWAY_", "OLLAMA_"))}
    env.update(GATEWAY_DATA_DIR=str(tmp_path / "data"), GATEWAY_CONFIG=str(ROOT / "model_config.yaml"),
               PYTHONUNBUFFERED="1", **extra)
    return env


class Output:
    """Collects a child's stdout on a thread so it never blocks on a full pipe."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines)}")


def test_up_with_the_bundled_mock_provider(tmp_path):
    port, admin_port, mock_port = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "up", "--mock-if-unconfigured", "--port", str(port),
         "--admin-port", str(admin_port), "--mock-port", str(mock_port)],
        env=clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        password = out.wait_for(r"Password\s+(\S+)").group(1)
        key = out.wait_for(r"export GATEWAY_KEY=(sk-gw-\S+)").group(1)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        wait_http(f"http://127.0.0.1:{admin_port}/healthz")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        reply = client.chat.completions.create(model="openai/gpt-4o-mini",
                                               messages=[{"role": "user", "content": "Hello"}])
        assert reply.choices[0].message.content == "echo: Hello"
        login = httpx.get(f"http://127.0.0.1:{admin_port}/login")
        assert login.status_code == 200 and "csrf_token" in login.text
        assert len(password) >= 16
        assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    logs = "".join(out.lines)
    assert "Traceback" not in logs
    assert key not in logs.replace(f"export GATEWAY_KEY={key}", "")


def test_proxy_drains_in_flight_streams_on_sigterm(tmp_path, mock_provider):
    from gateway import admin_ops
    from gateway.db.engine import make_engine, session_factory
    from gateway.db.migrate import upgrade

    db = f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"
    env = clean_env(tmp_path, GATEWAY_DATABASE_URL=db, OPENAI_BASE_URL=mock_provider.url + "/v1",
                    OPENAI_API_KEY="sk-test")
    (tmp_path / "data").mkdir()
    upgrade(db)
    with session_factory(make_engine(db))() as session:
        admin_ops.create_org(session, "o", "O")
        admin_ops.create_user(session, "u@o.test", "U", org_slug="o")
        key, _ = admin_ops.create_key(session, user_email="u@o.test")
        session.commit()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "proxy", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        out.wait_for("listening on")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        stream = client.chat.completions.create(
            model="openai/gpt-4o-mock-chunk-delay-200", stream=True,
            messages=[{"role": "user", "content": "one two three four five"}])
        parts = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                if len(parts) == 1:
                    proc.send_signal(signal.SIGTERM)
                    time.sleep(0.3)
                    with pytest.raises(httpx.ConnectError):  # the listener closed first
                        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        assert "".join(parts) == "echo: one two three four five"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in "".join(out.lines)


def test_proxy_workers_share_one_port(tmp_path, mock_provider):
    env = clean_env(tmp_path, OPENAI_BASE_URL=mock_provider.url + "/v1", OPENAI_API_KEY="sk-test")
    def run(*argv: str) -> str:
        return subprocess.run([sys.executable, "-m", "gateway.cli", *argv], env=env,
                              capture_output=True, text=True, check=True).stdout
    run("orgs", "create", "w", "--name", "W")
    run("users", "create", "a@w.test", "--name", "A", "--org", "w")
    key = run("keys", "create", "--user", "a@w.test").strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "proxy", "--workers", "2",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        out.wait_for(r"listening on .*\(pid (\d+)\)")
        deadline = time.monotonic() + 30
        while sum("listening on" in line for line in out.lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = set(re.findall(r"\(pid (\d+)\)", "".join(out.lines)))
        assert len(pids) == 2
        for _ in range(10):  # a fresh connection each time: the kernel spreads them
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=10,
                               headers={"authorization": f"Bearer {key}", "connection": "close"},
                               json={"model": "openai/gpt-4o",
                                     "messages": [{"role": "user", "content": "w"}]})
            assert reply.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
