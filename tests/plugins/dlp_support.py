"""Shared helpers of the DLP end-to-end tests: the sensitive test values, turning DLP on for a
running gateway, and the leak check over the database, the logs and exports."""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import MetaData, select

from plugins.dlp import admin_api as _admin

# Canary values: each is a valid instance of its rule and appears nowhere else in the code base.
EMAIL = "zq.canary.jane@dlp-test.example"
PHONE = "+44 20 7946 0958"
CARD = "4000 0566 5566 5556"
IBAN = "GB82 WEST 1234 5698 7654 32"
SECRET = "sk-proj-CANARYdlp0123456789abcdefABCDEF"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAcanarydlpZ9xQ2\nW3e4R5t6Y7u8I9o0P\n"
       "-----END RSA PRIVATE KEY-----")
SENSITIVE = (EMAIL, PHONE, CARD, IBAN, SECRET, PEM, "7946 0958", "5566 5556", "CANARYdlp",
             "canary.jane", "MIIEowIBAAKCAQEAcanary")
CLIENT_LOGGERS = ("openai", "anthropic", "httpx", "httpcore")
PROMPT = f"Mail {EMAIL} or call {PHONE}; card {CARD}, IBAN {IBAN}, key {SECRET}."


def state(gw):
    return gw.ctx.extensions["dlp"]


def protect_org(gw, slug: str = "acme") -> None:
    gw.admin(_admin.set_enabled, True, org=slug)
    state(gw).reload()


def wait_for(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def provider_saw(gw) -> str:
    """Everything the mock provider received in its last request, as text."""
    return json.dumps(gw.mock.state.requests[-1]["body"], ensure_ascii=False)


def assert_placeholders_only(gw, *values: str) -> None:
    seen = provider_saw(gw)
    for value in values or SENSITIVE:
        assert value not in seen, f"the provider saw {value!r}"
        assert json.dumps(value)[1:-1] not in seen
    assert "[" in seen


def dump_database(gw) -> str:
    """Every row of every table, as text (SQLite and PostgreSQL alike)."""
    meta = MetaData()
    meta.reflect(gw.ctx.engine)
    out = []
    with gw.ctx.engine.connect() as conn:
        for table in meta.tables.values():
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def exports(gw) -> str:
    """What an admin can export: the DLP page's figures and events, as JSON."""
    with gw.ctx.sessions() as session:
        docs = {"counters": _admin.counters(session),
                "activity": _admin.last_activity(session),
                "events": _admin.recent_events(session, 500)}
    return json.dumps(docs, default=str)


def assert_no_leak(gw, caplog, extra_text: str = "") -> None:
    state(gw).writer.flush()
    # The client SDKs log their own request bodies at DEBUG: those are the client's, not ours.
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in caplog.records
                     if not r.name.startswith(CLIENT_LOGGERS))
    haystacks = {"database": dump_database(gw), "logs": logs, "exports": exports(gw) + extra_text}
    db_file = gw.ctx.settings.data_dir / "gateway.db"
    for suffix in ("", "-wal"):
        path = db_file.with_name(db_file.name + suffix)
        if path.exists():
            haystacks[f"file {path.name}"] = path.read_bytes().decode("utf-8", "replace")
    for where, text in haystacks.items():
        for value in SENSITIVE:
            assert value not in text, f"{value!r} found in {where}"


def capture_all_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
