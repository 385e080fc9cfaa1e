"""gateway.db: migrations, engines, the change counter, constraints."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from gateway.db.engine import (
    bump_revision,
    make_engine,
    normalize_url,
    read_revision,
    session_factory,
)
from gateway.db.migrate import alembic_config, current_heads, script_heads, upgrade
from gateway.db.models import ApiKey, App, Organization, RequestLog, Revision, Setting, User

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"organizations", "users", "apps", "api_keys", "request_logs", "settings",
          "gateway_revision", "alembic_version"}


def _tables(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        return set(inspect(eng).get_table_names())
    finally:
        eng.dispose()


def test_upgrade_creates_all_tables(db_url):
    upgrade(db_url)
    assert TABLES <= _tables(db_url)
    assert current_heads(db_url) == script_heads()


def test_upgrade_seeds_revision_row(engine):
    with engine.connect() as conn:
        rows = conn.execute(select(Revision.id, Revision.value)).all()
    assert [tuple(r) for r in rows] == [(1, 0)]
    assert read_revision(engine) == 0


def test_upgrade_is_idempotent(migrated_url):
    upgrade(migrated_url)
    upgrade(migrated_url)
    eng = make_engine(migrated_url)
    try:
        assert read_revision(eng) == 0
        with eng.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            assert tuple(sorted(versions)) == script_heads()
    finally:
        eng.dispose()


def test_upgrade_starts_from_empty_and_every_branch_reaches_its_head(db_url):
    assert current_heads(db_url) == ()
    upgrade(db_url)
    assert current_heads(db_url) == script_heads()


def test_migrations_match_models(migrated_url):
    # `alembic check`: autogenerate against the migrated database must find nothing to do.
    cfg = alembic_config(migrated_url)
    cfg.attributes["load_all_models"] = True  # plugins' tables too
    command.check(cfg)


def test_concurrent_upgrades_in_threads(db_url):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            upgrade(db_url)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert current_heads(db_url) == script_heads()
    assert TABLES <= _tables(db_url)


def test_concurrent_upgrades_in_processes(db_url):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import sys; from gateway.db.migrate import upgrade; upgrade(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], env=env, cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert [rc for rc, _ in results] == [0, 0, 0], [err for _, err in results]
    assert current_heads(db_url) == script_heads()


def test_sqlite_engine_pragmas_and_parent_dir(tmp_path):
    path = tmp_path / "nested" / "deeper" / "g.db"
    eng = make_engine(f"sqlite:///{path}")
    try:
        with eng.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 30000
            assert pragma("synchronous") == 1  # NORMAL
        assert path.parent.is_dir()
    finally:
        eng.dispose()


@pytest.mark.parametrize("given, driver", [
    ("postgresql://u@h/db", "postgresql+psycopg"),
    ("postgres://u@h/db", "postgresql+psycopg"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ("sqlite:///x.db", "sqlite"),
])
def test_normalize_url(given, driver):
    assert normalize_url(given).drivername == driver


def test_bump_revision_counts_committed_changes(engine):
    Session = session_factory(engine)
    for expected in (1, 2):
        with Session() as session:
            bump_revision(session)
            session.commit()
        assert read_revision(engine) == expected
    with Session() as session:
        bump_revision(session)
        session.rollback()
    assert read_revision(engine) == 2


def test_timestamps_are_aware_utc(engine):
    Session = session_factory(engine)
    with Session() as session:
        session.add(Organization(slug="acme", name="Acme"))
        session.commit()
    with Session() as session:
        org = session.scalar(select(Organization))
        assert org.created_at.tzinfo is not None
        assert org.created_at.utcoffset().total_seconds() == 0
        assert org.created_at.tzinfo == UTC


def test_email_is_lower_cased(session):
    user = User(email=" Alice@Example.COM ", name="Alice")
    session.add(user)
    session.commit()
    assert session.scalar(select(User.email)) == "alice@example.com"


def test_user_role_is_checked(session):
    session.add(User(email="a@b.c", name="A", role="god"))
    with pytest.raises(IntegrityError):
        session.commit()


@pytest.mark.parametrize("owners", ["none", "both"])
def test_api_key_needs_exactly_one_owner(session, owners):
    org = Organization(slug="acme", name="Acme")
    user = User(email="a@b.c", name="A", org=org)
    app = App(slug="bot", name="Bot", org=org)
    session.add_all([org, user, app])
    session.flush()
    key = ApiKey(prefix="sk-gw-abcdefgh", key_hash="0" * 64, name="k",
                 user=user if owners == "both" else None, app=app if owners == "both" else None)
    session.add(key)
    with pytest.raises(IntegrityError):
        session.commit()


def test_foreign_keys_are_enforced(session):
    session.add(App(slug="bot", name="Bot", org_id=999))
    with pytest.raises(IntegrityError):
        session.commit()


def test_org_owner_cycle(session):
    org = Organization(slug="acme", name="Acme")
    owner = User(email="boss@acme.io", name="Boss", org=org, role="org_admin")
    org.owner = owner
    session.add_all([org, owner])
    session.commit()
    assert session.scalar(select(Organization.owner_user_id)) == owner.id


def test_request_logs_have_no_foreign_keys(session):
    session.add(RequestLog(request_id="r1", user_id=12345, app_id=6789, org_id=42,
                           endpoint="/v1/chat/completions", status=200,
                           cost_usd=Decimal("0.00012345")))
    session.commit()
    log = session.scalar(select(RequestLog))
    assert log.cost_usd == Decimal("0.00012345")
    assert log.input_tokens == 0 and log.cache_hit is False


def test_setting_value_round_trips_json(session):
    session.add(Setting(key="routing", value={"strategy": "cheapest", "weights": [1, 2.5]}))
    session.commit()
    session.expire_all()
    assert session.get(Setting, "routing").value == {"strategy": "cheapest", "weights": [1, 2.5]}
