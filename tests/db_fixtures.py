"""Database fixtures, loaded as a pytest plugin (`pytest_plugins = ["tests.db_fixtures"]`).

`db_url` runs a test twice: on a fresh SQLite file, and on a fresh PostgreSQL database created on
the server named by GATEWAY_TEST_PG_URL and dropped afterwards. `migrated_url`, `engine` and
`session` build on it.

When GATEWAY_TEST_PG_URL is unset, the controlling pytest process starts a throwaway cluster from
the machine's PostgreSQL binaries (tests/pg_cluster.py) before any xdist worker exists, exports its
URL to them through the environment, and stops it at the end. `GATEWAY_TEST_PG=off` leaves it out
(`make test-fast`). When the PostgreSQL half cannot run, the run says why in a warning and in the
closing summary.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gateway.db.engine import make_engine, normalize_url, session_factory
from gateway.db.migrate import upgrade
from tests import pg_cluster

PG_ENV = "GATEWAY_TEST_PG_URL"
PG_SWITCH = "GATEWAY_TEST_PG"
_cluster = pytest.StashKey[pg_cluster.Cluster]()
_pg_missing = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(PG_ENV):
        return  # an xdist worker inherits the controller's URL; an explicit server wins
    if os.environ.get(PG_SWITCH, "").lower() in ("0", "off", "no", "false"):
        config.stash[_pg_missing] = f"{PG_SWITCH}={os.environ[PG_SWITCH]}"
        return
    started = pg_cluster.start()
    if isinstance(started, pg_cluster.Missing):
        config.stash[_pg_missing] = started.reason
        config.issue_config_time_warning(
            pytest.PytestWarning(f"PostgreSQL tests will be SKIPPED: {started.reason}"), stacklevel=2)
        return
    config.stash[_cluster] = started
    os.environ[PG_ENV] = started.url


def pytest_unconfigure(config: pytest.Config) -> None:
    cluster = config.stash.get(_cluster, None)
    if cluster is not None:
        os.environ.pop(PG_ENV, None)
        cluster.stop()


def pytest_report_header(config: pytest.Config) -> str:
    cluster = config.stash.get(_cluster, None)
    if cluster is not None:
        return f"postgresql: throwaway {cluster.version} cluster at {cluster.url}"
    missing = config.stash.get(_pg_missing, None)
    return f"postgresql: tests SKIPPED ({missing})" if missing else f"postgresql: {PG_ENV}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    missing = config.stash.get(_pg_missing, None)
    if missing and not hasattr(config, "workerinput"):
        terminalreporter.write_sep("!", f"PostgreSQL tests were SKIPPED: {missing}", red=True,
                                   bold=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of an empty database (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"
        return
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"{PG_ENV} is not set and no PostgreSQL cluster could be started")
    yield from _fresh_pg_database(server)


def _fresh_pg_database(server: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalize_url(server), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            # Keep the caller's spelling (plain postgresql:// included) so URL handling is tested.
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def migrated_url(db_url: str) -> str:
    upgrade(db_url)
    return db_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    eng = make_engine(migrated_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as sess:
        yield sess
