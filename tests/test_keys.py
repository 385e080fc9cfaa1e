"""gateway.keys and gateway.admin_ops: key format, storage, look-up, validation, the counter."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pytest
from sqlalchemy import text
from werkzeug.security import check_password_hash

from gateway import admin_ops as ops
from gateway import keys
from gateway.call import Principal
from gateway.db.engine import read_revision
from gateway.errors import Forbidden


@pytest.fixture
def org(session):
    org = ops.create_org(session, "acme", "Acme Corp", spend_cap_usd="100")
    session.commit()
    return org


def _user_key(session, email="alice@acme.io", org_slug="acme"):
    ops.create_user(session, email, "Alice", org_slug=org_slug)
    full, row = ops.create_key(session, user_email=email, name="laptop")
    session.commit()
    return full, row


def test_generate_key_format():
    seen = set()
    for _ in range(200):
        full, prefix, digest = keys.generate_key()
        assert re.fullmatch(r"sk-gw-[A-Za-z0-9_-]{40}", full)
        assert prefix == full[:14] and len(prefix) == 14
        assert digest == hashlib.sha256(full.encode()).hexdigest()
        seen.add(full)
    assert len(seen) == 200


def test_key_is_shown_once_and_only_its_hash_stored(session, org):
    full, row = _user_key(session)
    raw = session.execute(text("SELECT * FROM api_keys")).mappings().one()
    assert full not in [str(v) for v in raw.values()]
    assert full[14:] not in "".join(str(v) for v in raw.values())
    assert raw["prefix"] == full[:14]
    assert raw["key_hash"] == hashlib.sha256(full.encode()).hexdigest()
    assert all(full not in str(v) for v in vars(row).values())


def test_lookup_user_key_fills_the_principal(session, org):
    full, row = _user_key(session)
    principal = keys.lookup_principal(session, full)
    user = row.user
    assert principal == Principal(
        key_id=row.id, key_prefix=full[:14], key_name="laptop", user_id=user.id,
        user_email="alice@acme.io", role="member", app_id=None, app_slug=None,
        org_id=org.id, org_slug="acme",
    )


def test_lookup_user_without_org(session):
    full, _ = _user_key(session, "solo@example.com", org_slug=None)
    principal = keys.lookup_principal(session, full)
    assert principal.user_email == "solo@example.com"
    assert principal.org_id is None and principal.org_slug is None


def test_lookup_app_key_takes_the_apps_org(session, org):
    app = ops.create_app(session, "bot", "Bot", org_slug="acme")
    full, row = ops.create_key(session, app_slug="bot")
    session.commit()
    principal = keys.lookup_principal(session, full)
    assert principal == Principal(
        key_id=row.id, key_prefix=full[:14], key_name="default", app_id=app.id,
        app_slug="bot", org_id=org.id, org_slug="acme",
    )


@pytest.mark.parametrize("presented", [
    "", "Bearer x", "sk-gw-", "sk-gw-short", "sk-gw-" + "A" * 40, "sk-other-" + "A" * 37,
])
def test_lookup_unknown_or_malformed_is_none(session, org, presented):
    _user_key(session)
    assert keys.lookup_principal(session, presented) is None


def test_lookup_right_prefix_wrong_secret_is_none(session, org):
    full, _ = _user_key(session)
    forged = full[:14] + ("A" if full[14] != "A" else "B") + full[15:]
    assert keys.lookup_principal(session, forged) is None


def test_lookup_compares_hashes_in_constant_time(session, org, monkeypatch):
    full, _ = _user_key(session)
    calls = []
    real = keys.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    assert keys.lookup_principal(session, full) is not None
    digest = hashlib.sha256(full.encode()).hexdigest()
    assert calls == [(digest, digest)]


def test_revoked_key_is_rejected(session, org):
    full, _ = _user_key(session)
    ops.revoke_key(session, full[:14])
    session.commit()
    assert keys.lookup_principal(session, full) is None


def test_suspended_user_is_forbidden_until_activated(session, org):
    full, _ = _user_key(session)
    ops.suspend_user(session, "alice@acme.io")
    session.commit()
    with pytest.raises(Forbidden, match="user is suspended") as info:
        keys.lookup_principal(session, full)
    assert info.value.status == 403
    ops.activate_user(session, "ALICE@acme.io")
    session.commit()
    assert keys.lookup_principal(session, full).user_email == "alice@acme.io"


def test_inactive_app_is_forbidden(session, org):
    ops.create_app(session, "bot", "Bot", org_slug="acme")
    full, _ = ops.create_key(session, app_slug="bot")
    ops.set_app_active(session, "bot", False)
    session.commit()
    with pytest.raises(Forbidden, match="app is inactive"):
        keys.lookup_principal(session, full)


def test_password_is_hashed_or_none(session):
    with_pw = ops.create_user(session, "a@x.io", "A", role="super_admin", password="s3cret-s3cret!")
    without = ops.create_user(session, "b@x.io", "B")
    session.commit()
    assert with_pw.password_hash != "s3cret-s3cret!"
    assert check_password_hash(with_pw.password_hash, "s3cret-s3cret!")
    assert without.password_hash is None


def test_caps_are_decimals(session, org):
    user = ops.create_user(session, "a@x.io", "A", org_slug="acme", weekly_cap_usd="12.5")
    session.commit()
    session.expire_all()
    assert user.weekly_cap_usd == Decimal("12.5")
    assert org.spend_cap_usd == Decimal("100")


@pytest.mark.parametrize("call, message", [
    (lambda s: ops.create_org(s, "Bad_Slug", "X"), "'Bad_Slug'"),
    (lambda s: ops.create_org(s, "-lead", "X"), "'-lead'"),
    (lambda s: ops.create_org(s, "a" * 64, "X"), "organization slug"),
    (lambda s: ops.create_org(s, "ok", "   "), "invalid name"),
    (lambda s: ops.create_org(s, "ok", "X", spend_cap_usd="-1"), "'-1'"),
    (lambda s: ops.create_org(s, "ok", "X", spend_cap_usd="ten"), "'ten'"),
    (lambda s: ops.create_org(s, "ok", "X", spend_cap_usd="NaN"), "'NaN'"),
    (lambda s: ops.create_org(s, "ok", "X", spend_cap_usd="0.0000001"), "6 decimal places"),
    (lambda s: ops.create_org(s, "acme", "Again"), "organization 'acme' already exists"),
    (lambda s: ops.create_user(s, "not-an-email", "X"), "'not-an-email'"),
    (lambda s: ops.create_user(s, "a@x.io", "X", role="root"), "invalid role 'root'"),
    (lambda s: ops.create_user(s, "a@x.io", "X", org_slug="nope"), "'nope'"),
    (lambda s: ops.create_user(s, "a@x.io", "X", role="org_admin"), "needs an organization"),
    (lambda s: ops.create_user(s, "a@x.io", "X", password=""), "at least 12 characters"),
    (lambda s: ops.create_app(s, "bot", "Bot", org_slug="nope"), "'nope'"),
    (lambda s: ops.create_app(s, "bot", "Bot", org_slug="acme", contact_email="x"),
     "contact email 'x'"),
    (lambda s: ops.create_key(s), "exactly one"),
    (lambda s: ops.create_key(s, user_email="a@x.io", app_slug="bot"), "exactly one"),
    (lambda s: ops.create_key(s, user_email="ghost@x.io"), "'ghost@x.io'"),
    (lambda s: ops.revoke_key(s, "sk-gw-zzzzzzzz"), "'sk-gw-zzzzzzzz'"),
    (lambda s: ops.revoke_key(s, "abc"), "'abc'"),
    (lambda s: ops.suspend_user(s, "ghost@x.io"), "'ghost@x.io'"),
    (lambda s: ops.set_app_active(s, "ghost", True), "'ghost'"),
])
def test_invalid_input_names_the_value(session, org, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(session)


def test_duplicates_are_refused(session, org):
    ops.create_user(session, "a@x.io", "A")
    ops.create_app(session, "bot", "Bot", org_slug="acme")
    session.commit()
    with pytest.raises(ValueError, match="user 'a@x.io' already exists"):
        ops.create_user(session, "A@X.io", "A again")
    with pytest.raises(ValueError, match="app 'bot' already exists"):
        ops.create_app(session, "bot", "Bot", org_slug="acme")


def test_revoking_twice_is_refused(session, org):
    full, _ = _user_key(session)
    ops.revoke_key(session, full)  # the whole key works as well as its prefix
    session.commit()
    with pytest.raises(ValueError, match="already revoked"):
        ops.revoke_key(session, full[:14])


def test_every_write_bumps_the_revision(session, engine):
    writes = [
        lambda: ops.create_org(session, "acme", "Acme"),
        lambda: ops.create_user(session, "a@x.io", "A", org_slug="acme"),
        lambda: ops.create_app(session, "bot", "Bot", org_slug="acme"),
        lambda: ops.create_key(session, user_email="a@x.io"),
        lambda: ops.revoke_key(session, ops.list_keys(session)[0].prefix),
        lambda: ops.suspend_user(session, "a@x.io"),
        lambda: ops.activate_user(session, "a@x.io"),
        lambda: ops.set_app_active(session, "bot", False),
    ]
    for number, write in enumerate(writes, start=1):
        write()
        session.commit()
        assert read_revision(engine) == number


def test_list_functions(session, org):
    _user_key(session)
    ops.create_app(session, "bot", "Bot", org_slug="acme")
    ops.create_key(session, app_slug="bot")
    ops.revoke_key(session, ops.list_keys(session)[0].prefix)
    session.commit()
    assert [o.slug for o in ops.list_orgs(session)] == ["acme"]
    assert [u.email for u in ops.list_users(session)] == ["alice@acme.io"]
    assert [a.slug for a in ops.list_apps(session)] == ["bot"]
    assert len(ops.list_keys(session)) == 2
    assert len(ops.list_keys(session, include_revoked=False)) == 1
