"""`users edit`, `orgs edit` and the one password policy (`gateway.admin_ops.validate_password`)
wherever a password is set: `users create`, `users reset-password`, the first super-admin."""
# ruff: noqa: F811  (the `cli` fixture is imported, then named by each test)

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from gateway import admin_ops
from gateway.bootstrap import _ensure_super_admin
from gateway.db.engine import make_engine, read_revision, session_factory
from gateway.db.models import User
from tests.test_cli_admin import _json, _ok, cli  # noqa: F401  (a fresh database per test)

GOOD = "twelve chars"  # exactly the policy's minimum


def _setup(cli) -> None:
    _ok(cli, "orgs", "create", "acme", "--name", "Acme", "--spend-cap", "100")
    _ok(cli, "orgs", "create", "globex", "--name", "Globex")
    _ok(cli, "users", "create", "dev@acme.io", "--name", "Dev", "--org", "acme")


def test_users_edit_changes_only_what_is_given(cli):
    _setup(cli)
    before = read_revision(make_engine(cli.db_url))
    user = _json(cli, "users", "edit", "Dev@Acme.io", "--name", "Devon", "--role", "org_admin",
                 "--weekly-cap", "12.5")
    assert (user["email"], user["name"], user["role"], user["org"], user["weekly_cap_usd"],
            user["status"]) == ("dev@acme.io", "Devon", "org_admin", "acme", "12.500000", "active")
    assert read_revision(make_engine(cli.db_url)) > before  # running gateways reload
    user = _json(cli, "users", "edit", "dev@acme.io", "--org", "globex", "--status", "suspended")
    assert (user["name"], user["org"], user["status"]) == ("Devon", "globex", "suspended")
    user = _json(cli, "users", "edit", "dev@acme.io", "--role", "member", "--org", "none",
                 "--weekly-cap", "none")
    assert (user["role"], user["org"], user["weekly_cap_usd"]) == ("member", None, None)
    out = _ok(cli, "users", "edit", "dev@acme.io", "--status", "active")
    assert out == "updated user dev@acme.io: status\n"


@pytest.mark.parametrize("argv, message", [
    (["users", "edit", "dev@acme.io"], "nothing to change: give at least one of --name"),
    (["users", "edit", "ghost@acme.io", "--name", "X"], "no user with email 'ghost@acme.io'"),
    (["users", "edit", "dev@acme.io", "--org", "nope"], "no organization with slug 'nope'"),
    (["users", "edit", "dev@acme.io", "--weekly-cap", "-1"], "invalid weekly cap '-1'"),
    (["users", "edit", "dev@acme.io", "--name", " "], "invalid name ' '"),
    (["users", "edit", "dev@acme.io", "--role", "org_admin", "--org", "none"],
     "role 'org_admin' needs an organization for user 'dev@acme.io'"),
    (["orgs", "edit", "acme"], "nothing to change: give at least one of --name"),
    (["orgs", "edit", "nope", "--dlp"], "no organization with slug 'nope'"),
    (["orgs", "edit", "acme", "--spend-cap", "lots"], "invalid spend cap 'lots'"),
    (["orgs", "edit", "globex", "--owner", "dev@acme.io"],
     "user 'dev@acme.io' is not a member of organization 'globex'"),
])
def test_edit_errors_name_the_value_and_change_nothing(cli, argv, message):
    _setup(cli)
    code, out, err = cli(*argv)
    assert (code, out) == (1, "") and message in err and "Traceback" not in err
    assert _json(cli, "users", "list")[0]["role"] == "member"


def test_orgs_edit_changes_only_what_is_given(cli):
    _setup(cli)
    org = _json(cli, "orgs", "edit", "acme", "--name", "Acme Corp", "--rollover", "--dlp",
                "--owner", "dev@acme.io")
    assert (org["name"], org["spend_cap_usd"], org["rollover"], org["dlp_enabled"]) == \
        ("Acme Corp", "100.000000", True, True)
    dev = _json(cli, "users", "list")[0]
    assert org["owner_user_id"] == dev["id"]
    org = _json(cli, "orgs", "edit", "acme", "--spend-cap", "none", "--no-rollover", "--no-dlp",
                "--owner", "none")
    assert (org["name"], org["spend_cap_usd"], org["rollover"], org["dlp_enabled"],
            org["owner_user_id"]) == ("Acme Corp", None, False, False, None)
    assert _ok(cli, "orgs", "edit", "acme", "--spend-cap", "7") == \
        "updated organization acme: spend_cap_usd\n"


@pytest.mark.parametrize("password, ok", [("", False), ("q", False), ("eleven char", False),
                                          (GOOD, True), ("p" * 1024, True), ("p" * 1025, False)])
def test_one_password_policy(password, ok):
    if ok:
        assert admin_ops.validate_password(password, "a@x.io") == password
    else:
        with pytest.raises(ValueError, match="password for user 'a@x.io'") as err:
            admin_ops.validate_password(password, "a@x.io")
        assert not password or password not in str(err.value)  # never echoes the password


def test_generated_passwords_satisfy_the_policy():
    made = {admin_ops.new_password() for _ in range(20)}
    assert len(made) == 20 and all(len(p) >= admin_ops.MIN_PASSWORD_LENGTH for p in made)


def test_users_create_and_reset_password_apply_the_policy(cli):
    _setup(cli)
    code, _, err = cli("users", "create", "a@acme.io", "--name", "A", "--password-stdin",
                       stdin="short-pass\n")
    assert code == 1 and "needs at least 12 characters" in err
    assert _json(cli, "users", "create", "a@acme.io", "--name", "A", "--password-stdin",
                 stdin=GOOD + "\n")["has_password"] is True
    code, _, err = cli("users", "reset-password", "a@acme.io", "--password-stdin", stdin="x\n")
    assert code == 1 and "needs at least 12 characters" in err
    password = _ok(cli, "users", "reset-password", "a@acme.io").splitlines()[-1]
    assert admin_ops.validate_password(password, "a@acme.io") == password


def test_first_super_admin_password_satisfies_the_policy(cli):
    _json(cli, "orgs", "list")  # migrates the fresh database
    engine = make_engine(cli.db_url)
    with session_factory(engine)() as session:
        password = _ensure_super_admin(session)
        assert password is not None
        assert admin_ops.validate_password(password, "admin@localhost") == password
        admin = session.scalar(select(User).where(User.role == "super_admin"))
        assert check_password_hash(admin.password_hash, password)
    engine.dispose()
