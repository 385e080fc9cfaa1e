"""Credentials and settings changed with `llm-gateway` while a gateway runs: the next calls use
them, through the database change counter and the watcher (no restart, no forced poll)."""

from __future__ import annotations

import io
import socket
import sys
import time

import pytest

import plugins.fallback as fallback
from gateway.cli import main
from gateway.context import open_context
from gateway.errors import ConfigError
from gateway.pluginmanager import Hooks, make_plugin_manager
from plugins.fallback import _ops as ops
from plugins.fallback._credentials import set_credential
from tests.gateway_fixtures import PROVIDER_KEYS, ROOT, make_settings

MSG = [{"role": "user", "content": "hello"}]
DB_KEY = "sk-from-the-database-000001"


@pytest.fixture
def gw(gateway_factory):
    def closed_port() -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    return gateway_factory(plugins=[fallback], entry_points=False,
                           OLLAMA_BASE_URL=f"http://127.0.0.1:{closed_port()}")


@pytest.fixture
def cli(gw, monkeypatch, capsys):
    """`llm-gateway …` against the running gateway's database and data dir (same master key)."""
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(gw.ctx.settings.data_dir))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", gw.ctx.settings.database_url)
    monkeypatch.setenv("GATEWAY_CONFIG", str(ROOT / "model_config.yaml"))
    monkeypatch.delenv("GATEWAY_SECRET_KEY", raising=False)
    pm = make_plugin_manager(load_entry_points=False, extra=[fallback])

    def run(*argv: str, stdin: str = "") -> str:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        assert main(list(argv), pm=pm) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    return run


def eventually(check, timeout: float = 3.0):
    """Poll `check` until it returns a truthy value: the watcher runs twice a second."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "the running gateway did not pick up the change in time"
            return value
        time.sleep(0.1)


def last_headers(gw) -> dict:
    gw.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)
    return gw.mock.state.requests[-1]["headers"]


def test_a_stored_credential_replaces_the_environment_key_on_the_next_call(gw, cli):
    assert last_headers(gw)["authorization"] == f"Bearer {PROVIDER_KEYS['OPENAI_API_KEY']}"
    cli("credentials", "set", "openai", "--organization", "org-acme", "--api-key-stdin",
        stdin=DB_KEY + "\n")
    headers = eventually(lambda: (h := last_headers(gw))["authorization"] == f"Bearer {DB_KEY}"
                         and h)
    assert headers["openai-organization"] == "org-acme"
    cli("credentials", "delete", "openai")
    eventually(lambda: last_headers(gw)["authorization"]
               == f"Bearer {PROVIDER_KEYS['OPENAI_API_KEY']}")


def test_ollama_and_new_providers_come_from_stored_base_urls(gw, cli):
    import openai

    client = gw.openai()
    with pytest.raises(openai.APIStatusError):  # OLLAMA_BASE_URL points at a closed port
        client.chat.completions.create(model="ollama/llama3.2", messages=MSG)
    cli("credentials", "set", "ollama", "--base-url", gw.mock.url, "--allow-private")
    eventually(lambda: _served(client, "ollama/llama3.2"))
    assert gw.mock.state.requests[-1]["path"] == "/v1/chat/completions"
    cli("credentials", "set", "lan-llm", "--kind", "openai", "--base-url", gw.mock.url + "/v1",
        "--allow-private", "--api-key-stdin", stdin="sk-lan-llm-000000042\n")
    raw = eventually(lambda: _served(client, "lan-llm/gpt-4o-mini"))
    assert raw.headers["x-gateway-provider"] == "lan-llm"
    assert gw.mock.state.requests[-1]["headers"]["authorization"] == "Bearer sk-lan-llm-000000042"
    cli("fallbacks", "set", "openai/mock-fail-503", "lan-llm/gpt-4o")
    raw = eventually(lambda: _served(client, "openai/mock-fail-503"))
    assert raw.headers["x-gateway-model"] == "lan-llm/gpt-4o"


def _served(client, model: str):
    import openai

    try:
        return client.chat.completions.with_raw_response.create(model=model, messages=MSG)
    except openai.APIStatusError:
        return None


def test_strategy_set_from_the_command_line_applies_to_the_next_call(gw, cli):
    gw.admin(ops.set_chain, "openai/gpt-4o", ["openai/gpt-4.1-nano"])
    cli("settings", "set", "routing_strategy", "lowest-cost")
    raw = eventually(lambda: (r := gw.openai().chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=MSG)).headers["x-gateway-strategy"] == "lowest-cost" and r)
    assert raw.headers["x-gateway-model"] == "openai/gpt-4.1-nano"


@pytest.fixture
def process(gw, tmp_path):
    """Another gateway process's context on the same database (hooks started, no listener)."""
    opened = []

    def start(**env):
        settings = make_settings(tmp_path / f"proc{len(opened)}", gw.ctx.settings.database_url,
                                 gw.mock, **env)
        hooks = Hooks(make_plugin_manager(load_entry_points=False, extra=[fallback]))
        ctx = open_context(settings, hooks)
        opened.append(ctx)
        hooks.startup(ctx)
        return ctx

    yield start
    for ctx in opened:
        ctx.close()


def test_rotation_while_gateways_run(gw, cli, process):
    gw.admin(set_credential, gw.ctx.settings.secret_key(), "openai", api_key=DB_KEY)
    pinned = process(GATEWAY_SECRET_KEY=gw.ctx.settings.secret_key().hex())
    cli("credentials", "rotate-key")
    new_key = (gw.ctx.settings.data_dir / "secret.key").read_text().strip()
    cli("credentials", "set", "openai", "--api-key-stdin", stdin="sk-after-rotation-0002\n")
    # a gateway reading data/secret.key takes the rotated key on its next reload...
    eventually(lambda: last_headers(gw)["authorization"] == "Bearer sk-after-rotation-0002")
    # ...one pinned by GATEWAY_SECRET_KEY keeps what it had until restarted with the new key,
    # and still follows the other settings
    gw.admin(ops.set_setting, "routing_strategy", "least-busy")
    pinned.poll_once()
    assert pinned.provider("openai").api_key == DB_KEY
    assert pinned.extensions["fallback"].snapshot.strategy == "least-busy"
    with pytest.raises(ConfigError, match="master key"):
        process(GATEWAY_SECRET_KEY=pinned.settings.secret_key_env)
    assert process(GATEWAY_SECRET_KEY=new_key).provider("openai").api_key == \
        "sk-after-rotation-0002"
