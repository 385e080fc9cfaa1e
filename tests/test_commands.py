"""Commands as a newcomer meets them: busy ports, the names the banner prints, password recovery,
and every flag of `up`, `proxy` and `admin` documented in README.md."""

from __future__ import annotations

import argparse
import io
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from gateway.cli import admin_cmds, build_parser, command_name
from gateway.cli.run_cmds import port_problem
from gateway.db.engine import make_engine, session_factory
from gateway.db.models import User
from tests.gateway_fixtures import ROOT


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "GATEWAY_", "OLLAMA_"))}
    return {**env, "GATEWAY_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("argv, flag", [
    (["up", "--port", "{busy}", "--admin-port", "0"], "--port"),
    (["up", "--port", "0", "--admin-port", "{busy}"], "--admin-port"),
    (["up", "--port", "0", "--admin-port", "0", "--mock-if-unconfigured", "--mock-port",
      "{busy}"], "--mock-port"),
    (["proxy", "--port", "{busy}"], "--port"),
    (["proxy", "--port", "{busy}", "--workers", "2"], "--port"),
    (["admin", "--port", "{busy}"], "--port"),
])
def test_a_busy_port_is_one_line_on_stderr_and_exit_1_before_any_banner(tmp_path, busy_port,
                                                                        argv, flag):
    argv = [a.format(busy=busy_port) for a in argv]
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *argv], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in done.stderr
    assert done.stderr.rstrip().endswith(flag)
    assert not (tmp_path / "data").exists()  # refused before the first start did anything


def test_port_problem_is_none_for_a_free_port():
    assert port_problem("127.0.0.1", 0, "proxy", "--port") is None
    assert "cannot listen on" in port_problem("no-such-host.invalid", 1, "proxy", "--port")


def test_the_command_name_the_banner_prints_runs_from_here():
    name = command_name()
    done = subprocess.run([*shlex.split(name), "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "llm-gateway" in done.stdout


def test_the_bare_name_only_when_it_is_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert command_name() != "llm-gateway"
    script = os.path.join(os.path.dirname(sys.executable), "llm-gateway")
    if os.path.exists(script):
        assert command_name().endswith(os.path.join("bin", "llm-gateway"))
        monkeypatch.setenv("PATH", os.path.dirname(script))
        assert command_name() == "llm-gateway"


@pytest.fixture
def admin_cli(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    parser = argparse.ArgumentParser(prog="llm-gateway")
    admin_cmds.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        args = parser.parse_args(list(argv))
        code = args.func(args)
        return (code, *capsys.readouterr())

    run.url = url
    return run


def _password_hash(url: str, email: str) -> str:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(User.password_hash).where(User.email == email))
    finally:
        engine.dispose()


def test_users_reset_password_prints_a_new_password_alone_on_the_last_line(admin_cli):
    assert admin_cli("users", "create", "root@x.test", "--name", "Root", "--role",
                     "super_admin")[0] == 0
    code, out, err = admin_cli("users", "reset-password", "root@x.test")
    assert (code, err) == (0, "")
    password = out.splitlines()[-1]
    assert len(password) >= 16
    assert check_password_hash(_password_hash(admin_cli.url, "root@x.test"), password)
    code, out, _ = admin_cli("users", "reset-password", "root@x.test", "--password-stdin",
                             stdin="a chosen passphrase\n")
    assert code == 0 and "a chosen passphrase" not in out
    assert check_password_hash(_password_hash(admin_cli.url, "root@x.test"),
                               "a chosen passphrase")


@pytest.mark.parametrize("argv, stdin, message", [
    (["users", "reset-password", "nobody@x.test"], "", "no user"),
    (["users", "reset-password", "root@x.test", "--password-stdin"], "short\n", "12 characters"),
])
def test_users_reset_password_errors(admin_cli, argv, stdin, message):
    admin_cli("users", "create", "root@x.test", "--name", "Root")
    code, out, err = admin_cli(*argv, stdin=stdin)
    assert code == 1 and out == "" and message in err


def _options(parser: argparse.ArgumentParser, command: str) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {opt for action in sub.choices[command]._actions
            if action.help is not argparse.SUPPRESS
            for opt in action.option_strings if opt.startswith("--") and opt != "--help"}


@pytest.mark.parametrize("command", ["up", "proxy", "admin"])
def test_every_flag_in_help_is_in_the_readme(command):
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith(f"| `llm-gateway {command}")]
    assert rows, f"README has no Commands row for `llm-gateway {command}`"
    documented = set(re.findall(r"--[a-z][a-z-]*", " ".join(rows)))
    missing = _options(build_parser(), command) - documented
    assert not missing, f"`llm-gateway {command}` flags missing from README: {sorted(missing)}"


def test_reset_password_is_documented_as_the_recovery_path():
    readme = (ROOT / "README.md").read_text()
    assert "users reset-password EMAIL" in readme
