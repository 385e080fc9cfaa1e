"""gateway.cli.admin_cmds, driven through a local argparse parser (in-process) and, for the
stdout contract of `keys create`, through a real `python -c` process."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway import keys
from gateway.cli import admin_cmds
from gateway.db.engine import make_engine, read_revision, session_factory

ROOT = Path(__file__).resolve().parents[1]
RUNNER = textwrap.dedent("""
    import argparse, sys
    from gateway.cli import admin_cmds
    parser = argparse.ArgumentParser(prog="llm-gateway")
    admin_cmds.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(sys.argv[1:])
    sys.exit(args.func(args))
""")


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch, capsys):
    """Run one admin command against a fresh (not yet migrated) database: (code, stdout, stderr)."""
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    parser = argparse.ArgumentParser(prog="llm-gateway")
    admin_cmds.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    run.db_url = db_url
    return run


def _ok(cli, *argv: str, stdin: str = "") -> str:
    code, out, err = cli(*argv, stdin=stdin)
    assert (code, err) == (0, ""), err
    return out


def _json(cli, *argv: str, stdin: str = ""):
    out = _ok(cli, *argv, "--json", stdin=stdin)
    assert out.endswith("\n") and out.count("\n") == 1  # one document on one line
    return json.loads(out)


def _setup(cli) -> None:
    _ok(cli, "orgs", "create", "acme", "--name", "Acme")
    _ok(cli, "users", "create", "dev@acme.io", "--name", "Dev", "--org", "acme")
    _ok(cli, "apps", "create", "bot", "--name", "Bot", "--org", "acme")


def test_fresh_data_dir_is_migrated_first(cli):
    assert _json(cli, "orgs", "list") == []


def test_orgs_json_shapes(cli):
    org = _json(cli, "orgs", "create", "acme", "--name", "Acme Corp", "--spend-cap", "250.5",
                "--rollover", "--dlp")
    assert set(org) == {"id", "slug", "name", "spend_cap_usd", "rollover", "dlp_enabled",
                        "owner_user_id", "created_at"}
    assert (org["slug"], org["name"], org["spend_cap_usd"], org["rollover"], org["dlp_enabled"]) \
        == ("acme", "Acme Corp", "250.500000", True, True)
    assert org["created_at"].endswith("+00:00")
    assert _json(cli, "orgs", "list") == [org]


def test_users_json_shapes_and_password_stdin(cli):
    _ok(cli, "orgs", "create", "acme", "--name", "Acme")
    user = _json(cli, "users", "create", "Ada@Acme.io", "--name", "Ada", "--org", "acme",
                 "--role", "org_admin", "--weekly-cap", "20", "--password-stdin",
                 stdin="correct horse\n")
    assert set(user) == {"id", "email", "name", "org", "role", "status", "weekly_cap_usd",
                         "has_password", "created_at"}
    assert (user["email"], user["org"], user["role"], user["status"], user["weekly_cap_usd"],
            user["has_password"]) == ("ada@acme.io", "acme", "org_admin", "active", "20.000000",
                                      True)
    assert _json(cli, "users", "suspend", "ada@acme.io")["status"] == "suspended"
    assert _json(cli, "users", "activate", "ada@acme.io")["status"] == "active"
    assert [u["email"] for u in _json(cli, "users", "list")] == ["ada@acme.io"]


def test_apps_json_shapes(cli):
    _ok(cli, "orgs", "create", "acme", "--name", "Acme")
    app = _json(cli, "apps", "create", "bot", "--name", "Bot", "--org", "acme",
                "--contact", "ops@acme.io", "--dlp")
    assert set(app) == {"id", "slug", "name", "org", "contact_email", "active", "dlp_enabled",
                        "created_at"}
    assert (app["org"], app["contact_email"], app["active"], app["dlp_enabled"]) \
        == ("acme", "ops@acme.io", True, True)
    assert _json(cli, "apps", "deactivate", "bot")["active"] is False
    assert _json(cli, "apps", "activate", "bot")["active"] is True
    assert [a["slug"] for a in _json(cli, "apps", "list")] == ["bot"]


def test_keys_create_prints_the_key_alone_on_the_last_line(cli):
    _setup(cli)
    out = _ok(cli, "keys", "create", "--user", "dev@acme.io", "--name", "laptop")
    lines = out.splitlines()
    key = lines[-1]
    assert len(lines) == 2 and key.startswith("sk-gw-") and len(key) == 46
    assert key[:14] in lines[0] and key not in lines[0]
    _assert_valid(cli.db_url, key, user_email="dev@acme.io")


def test_keys_create_json_comes_first_then_the_key(cli):
    _setup(cli)
    code, out, err = cli("keys", "create", "--app", "bot", "--json")
    assert (code, err) == (0, "")
    first, last = out.splitlines()
    doc = json.loads(first)
    assert set(doc) == {"id", "prefix", "name", "user", "app", "created_at", "revoked_at",
                        "last_used_at", "key"}
    assert (doc["key"], doc["prefix"], doc["app"], doc["user"], doc["name"]) \
        == (last, last[:14], "bot", None, "default")
    _assert_valid(cli.db_url, last, app_slug="bot")


def test_keys_list_and_revoke(cli):
    _setup(cli)
    key = _ok(cli, "keys", "create", "--user", "dev@acme.io").splitlines()[-1]
    listed = _json(cli, "keys", "list")
    assert [k["prefix"] for k in listed] == [key[:14]]
    assert key not in json.dumps(listed) and key not in _ok(cli, "keys", "list")
    revoked = _json(cli, "keys", "revoke", key[:14])
    assert revoked["revoked_at"] is not None
    with _session(cli.db_url) as session:
        assert keys.lookup_principal(session, key) is None


def test_only_the_hash_is_stored(cli):
    _setup(cli)
    key = _ok(cli, "keys", "create", "--user", "dev@acme.io").splitlines()[-1]
    with _session(cli.db_url) as session:
        raw = session.execute(text("SELECT prefix, key_hash FROM api_keys")).one()
    assert tuple(raw) == (key[:14], hashlib.sha256(key.encode()).hexdigest())


def test_every_write_bumps_the_revision(cli):
    _setup(cli)
    engine = make_engine(cli.db_url)
    try:
        assert read_revision(engine) == 3
        _ok(cli, "keys", "create", "--app", "bot")
        assert read_revision(engine) == 4
        _ok(cli, "orgs", "list")
        assert read_revision(engine) == 4
    finally:
        engine.dispose()


@pytest.mark.parametrize("argv, message", [
    (("orgs", "create", "Bad Slug", "--name", "X"), "invalid organization slug 'Bad Slug'"),
    (("orgs", "create", "acme", "--name", "X", "--spend-cap", "-5"), "invalid spend cap '-5'"),
    (("users", "create", "nope", "--name", "X"), "invalid email 'nope'"),
    (("users", "create", "a@b.io", "--name", "X", "--org", "ghost"), "'ghost'"),
    (("users", "suspend", "ghost@b.io"), "no user with email 'ghost@b.io'"),
    (("apps", "create", "bot", "--name", "B", "--org", "ghost"), "'ghost'"),
    (("apps", "deactivate", "ghost"), "no app with slug 'ghost'"),
    (("keys", "create", "--user", "ghost@b.io"), "'ghost@b.io'"),
    (("keys", "revoke", "sk-gw-00000000"), "no key with prefix 'sk-gw-00000000'"),
])
def test_errors_exit_1_with_a_message_and_no_traceback(cli, argv, message):
    for json_flag in ((), ("--json",)):
        code, out, err = cli(*argv, *json_flag)
        assert code == 1 and out == ""
        assert err.startswith("llm-gateway: ") and message in err
        assert "Traceback" not in err


def test_duplicate_is_an_error(cli):
    _ok(cli, "orgs", "create", "acme", "--name", "Acme")
    code, _, err = cli("orgs", "create", "acme", "--name", "Acme")
    assert code == 1 and "organization 'acme' already exists" in err


def test_empty_password_on_stdin_is_an_error(cli):
    code, _, err = cli("users", "create", "a@b.io", "--name", "A", "--password-stdin", stdin="\n")
    assert code == 1 and "--password-stdin" in err


def test_keys_create_in_a_real_process(db_url, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GATEWAY_DATA_DIR": str(tmp_path / "data"),
           "GATEWAY_DATABASE_URL": db_url}

    def run(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", RUNNER, *argv], env=env, cwd=ROOT,
                              input=stdin, capture_output=True, text=True, timeout=120)

    assert run("orgs", "create", "acme", "--name", "Acme").returncode == 0
    made = run("users", "create", "dev@acme.io", "--name", "Dev", "--org", "acme",
               "--password-stdin", stdin="s3cret-s3cret\n")
    assert made.returncode == 0, made.stderr
    for extra in ((), ("--json",)):
        done = run("keys", "create", "--user", "dev@acme.io", *extra)
        assert done.returncode == 0, done.stderr
        _assert_valid(db_url, done.stdout.splitlines()[-1], user_email="dev@acme.io")
    failed = run("keys", "revoke", "sk-gw-00000000")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr


@contextmanager
def _session(url: str) -> Iterator[Session]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _assert_valid(url: str, key: str, *, user_email: str | None = None,
                  app_slug: str | None = None) -> None:
    with _session(url) as session:
        principal = keys.lookup_principal(session, key)
    assert principal is not None
    assert (principal.user_email, principal.app_slug) == (user_email, app_slug)
