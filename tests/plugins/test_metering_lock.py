"""The spend ledger when another process holds SQLite's database-wide write lock: a capped call
waits a bounded time, then gets 503 (never hangs); once the lock is gone, calls go through."""

from __future__ import annotations

import time

import openai
import pytest

from plugins.metering import _admin


@pytest.fixture
def db_url(tmp_path):
    """SQLite's lock is the point here: this module runs on SQLite only."""
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def set_user_cap(gw, usd):
    gw.admin(_admin.set_user_cap, "dev@acme.test", usd)
    gw.ctx.poll_once()


def test_a_ledger_locked_by_another_process_gives_a_bounded_wait_then_503(gateway, monkeypatch):
    import sqlite3

    from plugins.metering import _ledger

    monkeypatch.setattr(_ledger, "LOCK_WAIT_SECONDS", 1.0)
    set_user_cap(gateway, "5")
    path = gateway.ctx.settings.database_url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as err:
            gateway.openai().chat.completions.create(model="openai/gpt-4o", messages=[
                {"role": "user", "content": "hi"}])
        assert err.value.status_code == 503 and time.monotonic() - started < 5
        assert "ledger" in err.value.body["message"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    reply = gateway.openai().chat.completions.create(model="openai/gpt-4o", messages=[
        {"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
