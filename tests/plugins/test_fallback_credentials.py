"""Encrypted provider credentials and the fallback plugin's commands (`credentials`,
`fallbacks`, `settings`), on SQLite and PostgreSQL, through `llm-gateway` in-process and against
a running gateway."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import plugins.fallback as fallback
from gateway.cli import main
from gateway.context import open_context
from gateway.db.engine import make_engine
from gateway.errors import ConfigError
from gateway.pluginmanager import Hooks, make_plugin_manager
from tests.gateway_fixtures import ROOT, make_settings

API_KEY = "sk-live-PLAINTEXT-abcdef7890"
ORG = "org-SECRETORG42"
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch, capsys):
    """Run `llm-gateway …` with only this plugin registered: (exit code, stdout, stderr)."""
    data = tmp_path / "cli-data"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(data))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    monkeypatch.setenv("GATEWAY_CONFIG", str(ROOT / "model_config.yaml"))
    monkeypatch.delenv("GATEWAY_SECRET_KEY", raising=False)
    pm = make_plugin_manager(load_entry_points=False, extra=[fallback])

    def run(*argv: str, stdin: str = "", env: dict[str, str] | None = None):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(argv), pm=pm)
        finally:
            for name in env or {}:
                monkeypatch.delenv(name)
        out, err = capsys.readouterr()
        return code, out, err

    run.db_url, run.data = db_url, data
    return run


def ok(cli, *argv: str, stdin: str = "", env=None) -> str:
    code, out, err = cli(*argv, stdin=stdin, env=env)
    assert (code, err) == (0, ""), err
    return out


def fails(cli, *argv: str, code: int = 1, stdin: str = "", env=None) -> str:
    got, out, err = cli(*argv, stdin=stdin, env=env)
    assert got == code and out == ""
    assert err.startswith("llm-gateway: ") and err.count("\n") == 1  # one line, no traceback
    return err


def raw_rows(db_url: str) -> bytes:
    """Everything the database holds for the credentials, as bytes (SQLite: the files)."""
    if db_url.startswith("sqlite"):
        path = Path(db_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT t::text FROM provider_credentials t")).scalars()
            return "\n".join(rows).encode()
    finally:
        engine.dispose()


def test_credentials_are_never_stored_in_plaintext(cli):
    ok(cli, "credentials", "set", "openai", "--organization", ORG, "--api-key-stdin",
       stdin=API_KEY + "\n")
    ok(cli, "credentials", "set", "ollama", "--base-url", "http://192.168.7.7:11434",
       "--allow-private")
    stored = raw_rows(cli.db_url)
    assert b"192.168.7.7" in stored  # the raw storage was really read
    for secret in (API_KEY, ORG, "PLAINTEXT", "abcdef7890"):
        assert secret.encode() not in stored
        assert secret.encode().hex().encode() not in stored  # nor as PostgreSQL's bytea text


def test_list_shows_only_the_last_four_characters(cli):
    ok(cli, "credentials", "set", "openai", "--api-key-stdin", "--organization", ORG,
       stdin=API_KEY + "\n")
    out = ok(cli, "credentials", "list")
    assert "…7890" in out and API_KEY not in out and "abcdef" not in out
    doc = json.loads(ok(cli, "credentials", "list", "--json"))
    assert doc == [{"provider": "openai", "kind": None, "base_url": None, "api_key": "…7890",
                    "organization": ORG, "api_version": None, "key_version": 1}]
    ok(cli, "credentials", "delete", "openai")
    assert json.loads(ok(cli, "credentials", "list", "--json")) == []
    fails(cli, "credentials", "delete", "openai")


def test_base_urls_pointing_inside_need_permission_and_metadata_never_passes(cli):
    err = fails(cli, "credentials", "set", "ollama", "--base-url", "http://169.254.169.254/",
                "--allow-private")
    assert "link-local or metadata" in err
    fails(cli, "credentials", "set", "ollama", "--base-url", "http://metadata.google.internal")
    err = fails(cli, "credentials", "set", "ollama", "--base-url", "http://10.0.0.5:11434")
    assert "allow_private_provider_urls" in err
    ok(cli, "settings", "set", "allow_private_provider_urls", "true")
    ok(cli, "credentials", "set", "ollama", "--base-url", "http://10.0.0.5:11434")
    err = fails(cli, "credentials", "set", "groq", "--api-key-stdin", stdin="gsk_123456789012\n")
    assert "give --kind and --base-url" in err
    fails(cli, "credentials", "set", "openai", "--api-key-stdin", stdin="\n")
    fails(cli, "credentials", "set", "openai", "--kind", "anthropic")


def test_a_wrong_master_key_fails_loudly(cli, tmp_path, mock_provider):
    ok(cli, "credentials", "set", "openai", "--api-key-stdin", stdin=API_KEY + "\n")
    wrong = {"GATEWAY_SECRET_KEY": "ab" * 32}
    err = fails(cli, "credentials", "list", code=2, env=wrong)
    assert "configuration error" in err and "key version 1" in err
    fails(cli, "credentials", "set", "anthropic", "--api-key-stdin", code=2, stdin="sk-ant-xyz\n",
          env=wrong)
    # the gateway itself refuses to start rather than send garbage keys
    settings = make_settings(tmp_path / "gw", cli.db_url, mock_provider, **wrong)
    hooks = Hooks(make_plugin_manager(load_entry_points=False, extra=[fallback]))
    ctx = open_context(settings, hooks)
    try:
        with pytest.raises(ConfigError, match="master key .* is not the key"):
            hooks.startup(ctx)
    finally:
        ctx.close()


def test_proxy_command_exits_with_the_error(cli, tmp_path):
    ok(cli, "credentials", "set", "openai", "--api-key-stdin", stdin=API_KEY + "\n")
    env = {**os.environ, "GATEWAY_SECRET_KEY": "cd" * 32}
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "proxy", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "master key" in proc.stderr and "Traceback" not in proc.stderr


def _sealed(db_url: str) -> dict[str, tuple[int, bytes]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT provider, key_version, sealed FROM provider_credentials"))
            return {p: (v, bytes(s)) for p, v, s in rows}
    finally:
        engine.dispose()


def test_rotate_key_reencrypts_every_row_and_replaces_the_key_file(cli):
    ok(cli, "credentials", "set", "openai", "--api-key-stdin", stdin=API_KEY + "\n")
    ok(cli, "credentials", "set", "anthropic", "--api-key-stdin", stdin="sk-ant-key-00001234\n")
    key_file = cli.data / "secret.key"
    old_key, before = key_file.read_text().strip(), _sealed(cli.db_url)
    doc = json.loads(ok(cli, "credentials", "rotate-key", "--json"))
    assert doc == {"key_version": 2, "rows": 2, "key_file": str(key_file)}
    after = _sealed(cli.db_url)
    assert {p: v for p, (v, _) in after.items()} == {"openai": 2, "anthropic": 2}
    assert all(after[p][1] != before[p][1] for p in before)
    assert key_file.read_text().strip() != old_key and key_file.stat().st_mode & 0o777 == 0o600
    assert not key_file.with_name("secret.key.new").exists()
    listed = json.loads(ok(cli, "credentials", "list", "--json"))
    assert [c["api_key"] for c in listed] == ["…1234", "…7890"]
    fails(cli, "credentials", "list", code=2, env={"GATEWAY_SECRET_KEY": old_key})


def test_rotate_key_with_the_key_in_the_environment(cli):
    first = "11" * 32
    ok(cli, "credentials", "set", "openai", "--api-key-stdin", stdin=API_KEY + "\n",
       env={"GATEWAY_SECRET_KEY": first})
    out = ok(cli, "credentials", "rotate-key", env={"GATEWAY_SECRET_KEY": first})
    new_key = out.strip().splitlines()[-1]  # a generated key is printed once, on the last line
    assert len(new_key) == 64 and "GATEWAY_SECRET_KEY" in out
    fails(cli, "credentials", "list", code=2, env={"GATEWAY_SECRET_KEY": first})
    chosen = "22" * 32
    out = ok(cli, "credentials", "rotate-key", "--new-key-stdin", stdin=chosen + "\n",
             env={"GATEWAY_SECRET_KEY": new_key})
    assert chosen not in out
    doc = json.loads(ok(cli, "credentials", "list", "--json", env={"GATEWAY_SECRET_KEY": chosen}))
    assert doc[0]["key_version"] == 3 and doc[0]["api_key"] == "…7890"
    fails(cli, "credentials", "rotate-key", "--new-key-stdin", stdin="short\n",
          env={"GATEWAY_SECRET_KEY": chosen})


def test_fallbacks_commands(cli):
    ok(cli, "fallbacks", "set", "openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5")
    out = ok(cli, "fallbacks", "set", "openai/gpt-4o", "openai/gpt-4.1", "--json")
    assert json.loads(out) == {"primary": "openai/gpt-4o", "models": ["openai/gpt-4.1"], "org": None}
    assert "no organization with slug 'acme'" in fails(
        cli, "fallbacks", "set", "openai/gpt-4o", "openai/o3", "--org", "acme")
    ok(cli, "orgs", "create", "acme", "--name", "Acme")
    ok(cli, "fallbacks", "set", "openai/gpt-4o", "openai/o3", "--org", "acme")
    assert "lists the primary model itself" in fails(
        cli, "fallbacks", "set", "openai/gpt-4o", "openai/gpt-4o")
    assert "twice" in fails(cli, "fallbacks", "set", "a/b", "c/d", "c/d")
    out = ok(cli, "fallbacks", "list")
    assert "(global)" in out and "openai/gpt-4.1" in out and "acme" in out
    ok(cli, "fallbacks", "delete", "openai/gpt-4o")
    assert json.loads(ok(cli, "fallbacks", "list", "--json")) == [
        {"primary": "openai/gpt-4o", "models": ["openai/o3"], "org": "acme"}]
    ok(cli, "fallbacks", "delete", "openai/gpt-4o", "--org", "acme")
    fails(cli, "fallbacks", "delete", "openai/gpt-4o")


def test_settings_commands(cli):
    assert json.loads(ok(cli, "settings", "list", "--json")) == {
        "routing_strategy": "ordered", "allow_private_provider_urls": False}
    ok(cli, "settings", "set", "routing_strategy", "least-busy")
    assert "least-busy" in ok(cli, "settings", "list")
    assert "expected one of ordered, lowest-cost" in fails(
        cli, "settings", "set", "routing_strategy", "random")
    fails(cli, "settings", "set", "allow_private_provider_urls", "maybe")


def test_a_fallback_chain_naming_a_model_no_call_could_reach_is_refused(cli):
    message = fails(cli, "fallbacks", "set", "openai/gpt-4o", "gpt-4o-typo")
    assert "'gpt-4o-typo' is neither in the catalog" in message
    message = fails(cli, "fallbacks", "set", "openai/gpt-4o", "nowhere/model-x")
    assert "'nowhere/model-x'" in message and "known provider" in message
    assert cli("fallbacks", "set", "openai/gpt-4o", "anthropic/claude-sonnet-4-5",
               "ollama/llama3.2", "openai/brand-new-model")[0] == 0
