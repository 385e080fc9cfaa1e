"""No spend record is lost and no hold outlives its process: the local spool, replay and process
leases, from the file format up to a `kill -9` under load and a PostgreSQL outage."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from gateway import admin_ops
from gateway.db.engine import make_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import RequestLog
from plugins.metering import _admin, _ledger, _spool
from plugins.metering._caps import CapRule
from plugins.metering._models import LedgerRow, Reservation
from plugins.metering._records import LogRecord
from plugins.metering._spool import Spool, pending
from tests.gateway_fixtures import ROOT

SLOW = "openai/gpt-4o-mock-delay-150"


# --- the spool file ----------------------------------------------------------------------------

def _log(request_id: str) -> LogRecord:
    return LogRecord({"request_id": request_id, "created_at": time.time(),
                      "cost_usd": Decimal("0.00012345"), "status": 200}, None)


def test_the_spool_returns_what_was_never_acknowledged_and_survives_a_torn_line(tmp_path):
    spool = Spool(tmp_path, "lease1")
    first, second, third = (spool.append(_log(f"r{i}")) for i in range(3))
    spool.ack([first.seq, third.seq])
    with open(spool.path, "ab") as f:
        f.write(b'{"s": 99, "r": {"k": "log", "ro')  # a crash in the middle of a write
    left = pending(spool.path)
    assert [i.record.row["request_id"] for i in left] == ["r1"]
    assert left[0].record.row["cost_usd"] == Decimal("0.00012345")
    assert oct(spool.path.stat().st_mode & 0o777) == "0o600"


def test_log_rows_are_replayed_under_their_own_columns_old_lines_too(tmp_path, monkeypatch):
    spool = Spool(tmp_path, "lease3")
    at = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)
    wide = LogRecord({**_log("w").row, "provider": "openai"},
                     {"request_id": "w", "created_at": at, "expires_at": at + timedelta(days=30),
                      "request_body": "{}", "response_body": None})
    for record in (_log("a"), _log("b"), wide, _log("c")):  # the columns change twice
        spool.append(record)
    lines = spool.path.read_text().splitlines()
    assert sum('"c":' in line for line in lines) == 3 and len(lines) == 7
    with open(spool.path, "a") as f:  # a line as an earlier version wrote log rows
        f.write('{"s":50,"r":{"k":"log","row":{"request_id":"old","created_at":1.5,'
                '"cost_usd":"0.5","status":200},"bodies":null}}\n')
    left = pending(spool.path)
    assert [i.record.row["request_id"] for i in left] == ["a", "b", "w", "c", "old"]
    assert left[2].record.row["provider"] == "openai" and left[2].record.bodies == wide.bodies
    assert "provider" not in left[3].record.row and left[3].record.row["status"] == 200
    assert left[0].record.row["cost_usd"] == Decimal("0.00012345")
    assert left[4].record.row["cost_usd"] == Decimal("0.5")
    # An emptied spool names the columns again on its next row.
    monkeypatch.setattr(_spool, "TRUNCATE_ABOVE", 0)
    spool.ack([i.seq for i in left if i.seq != 50])
    assert spool.path.read_text() == ""
    spool.append(_log("d"))
    assert [i.record.row["request_id"] for i in pending(spool.path)] == ["d"]


def test_an_acknowledged_spool_is_removed_at_a_clean_stop(tmp_path):
    spool = Spool(tmp_path, "lease2")
    spool.ack([spool.append(_log("r")).seq])
    spool.close()
    assert not spool.path.exists()


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_a_settlement_replayed_after_a_crash_is_booked_exactly_once(engine):
    now = datetime.now(UTC)
    rule = CapRule("user", 1, Decimal("10"), "week", "weekly cap for user u",
                   created_at=now - timedelta(days=30))
    hold = _ledger.reserve(engine, [rule], Decimal("1"), "req1", now, 0)
    settlement = _ledger.Settlement(hold, Decimal("0.25"))
    _ledger.settle(engine, [settlement], now)
    _ledger.settle(engine, [settlement], now)  # replayed: the ack was lost in the crash
    # A hold its dead process left is released at once; the late settlement still books the cost.
    hold2 = _ledger.reserve(engine, [rule], Decimal("1"), "req2", now, 0)
    assert _ledger.sweep(engine, now - timedelta(hours=3), now, ()) == 0
    with engine.begin() as conn:
        conn.execute(Reservation.__table__.update().values(lease_id="dead"))
    assert _ledger.sweep(engine, now - timedelta(hours=3), now, ("dead",)) == 1
    _ledger.settle(engine, [_ledger.Settlement(hold2, Decimal("0.5"))] * 2, now)
    with session_factory(engine)() as session:
        row = session.scalar(select(LedgerRow))
        assert (row.spent_usd, row.reserved_usd, row.requests) == (Decimal("0.75"), 0, 2)
        assert session.scalar(select(func.count()).select_from(Reservation)) == 0


# --- kill -9 under load ------------------------------------------------------------------------

def _config(tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "model_config.yaml").read_text())
    doc["models"][SLOW] = {"input": 2.5, "output": 10.0}
    # The writer waits long before writing: at the kill, finished calls are only in memory and
    # in the spool, so what the test sees afterwards came back from the spool.
    doc["metering"] = {"flush_interval_ms": 60000, "flush_rows": 100000}
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _proxy(tmp_path: Path, db_url: str, mock_url: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "GATEWAY_"))}
    env.update(GATEWAY_DATA_DIR=str(tmp_path / "data"), GATEWAY_DATABASE_URL=db_url,
               GATEWAY_CONFIG=str(_config(tmp_path)), OPENAI_BASE_URL=mock_url + "/v1",
               OPENAI_API_KEY="sk-provider", GATEWAY_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "proxy", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the proxy did not come up")


@contextmanager
def serving_proxy(tmp_path: Path, mock_url: str) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """A seeded database and a `llm-gateway proxy` process on it: (url, a user's key, process)."""
    db_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    key = _seed(db_url)
    url = f"http://127.0.0.1:{_free_port()}"
    proc = _proxy(tmp_path, db_url, mock_url, int(url.rsplit(":", 1)[1]))
    try:
        _wait_up(url, proc)
        yield url, key, proc
    finally:
        proc.terminate()
        proc.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(db_url: str) -> str:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        admin_ops.create_org(session, "acme", "Acme")
        admin_ops.create_user(session, "dev@acme.test", "Dev", org_slug="acme")
        session.commit()
        key = admin_ops.create_key(session, user_email="dev@acme.test")[0]
        _admin.set_user_cap(session, "dev@acme.test", "1")
        session.commit()
    engine.dispose()
    return key


def _load(url: str, key: str, seconds: float, workers: int = 16) -> list[str]:
    """Calls for `seconds` from `workers` threads; the request ids of those answered 200."""
    done: list[str] = []
    stop_at = time.monotonic() + seconds
    body = {"model": SLOW, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}

    def worker() -> None:
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < stop_at:
                try:
                    r = client.post(url + "/v1/chat/completions", json=body,
                                    headers={"Authorization": f"Bearer {key}"})
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    done.append(r.headers["x-gateway-request-id"])

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for _ in range(workers):
            pool.submit(worker)
    return done


def test_kill_9_under_load_loses_no_record_and_leaves_no_hold(tmp_path, mock_provider):
    db_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    key = _seed(db_url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _proxy(tmp_path, db_url, mock_provider.url, port)
    _wait_up(url, proc)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answered = pool.submit(_load, url, key, 3.0)
        time.sleep(1.5)
        proc.send_signal(signal.SIGKILL)  # mid-load: calls in flight, records not yet written
        proc.wait(10)
        ok = answered.result()
    assert len(ok) >= 20, "too few calls completed before the kill to mean anything"
    restarted = _proxy(tmp_path, db_url, mock_provider.url, port)
    try:
        _wait_up(url, restarted)  # recovery runs before the listener opens
        engine = make_engine(db_url)
        with session_factory(engine)() as session:
            logged = set(session.scalars(select(RequestLog.request_id)))
            row = session.scalar(select(LedgerRow).where(LedgerRow.scope == "user"))
            held = session.scalar(select(func.count()).select_from(Reservation)
                                  .where(Reservation.released_at.is_(None)))
        engine.dispose()
        assert set(ok) <= logged, f"{len(set(ok) - logged)} answered calls have no row"
        assert row.reserved_usd == 0 and held == 0
        assert row.requests >= len(ok) and row.spent_usd > 0
        # The user is not blocked by the dead process's holds.
        r = httpx.post(url + "/v1/chat/completions", timeout=10, headers={
            "Authorization": f"Bearer {key}"}, json={"model": SLOW, "max_tokens": 50,
                                                     "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200
    finally:
        restarted.terminate()
        restarted.wait(30)
