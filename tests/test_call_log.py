"""The per-call log line's shortcut (`gateway.logs.CallLog`) writes exactly what logging writes, and
steps aside whenever anything else is attached, so every handler still gets the record."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest

from gateway import logs
from gateway.logs import CallLog, configure_logging

MESSAGE = "call request_id=req_1 status=200 requested=evil\r\nFAKE LINE\x1b[2J ms=3"
FIELDS = {"request_id": "req_1", "status": 200, "model": "openai/gpt-4o-mini"}


@pytest.fixture
def logging_setup(monkeypatch):
    """configure_logging's setup, writing into a buffer; the test process's setup restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logs._TEXT, logging.getLogger("gateway.calls").level)

    def setup(fmt: str = "text") -> io.StringIO:
        configure_logging(fmt, "INFO")
        buffer = io.StringIO()
        root.handlers[0].setStream(buffer)
        return buffer

    yield setup
    root.handlers[:], _, logs._TEXT, calls_level = saved
    root.setLevel(saved[1])
    logging.getLogger("gateway.calls").setLevel(calls_level)


def standard_line(buffer: io.StringIO) -> str:
    """What logging itself writes for the same record (the shortcut is bypassed by a disabled
    `logs._TEXT` for this one write)."""
    text, logs._TEXT = logs._TEXT, None
    try:
        logging.getLogger("gateway.calls").info(MESSAGE, extra=FIELDS)
    finally:
        logs._TEXT = text
    return buffer.getvalue()


@pytest.mark.parametrize("now", [1_800_000_000.0, 1_800_000_000.9996, 1_800_000_001.25])
def test_the_shortcut_writes_what_logging_writes(logging_setup, monkeypatch, now):
    monkeypatch.setattr(time, "time", lambda: now)
    ours = logging_setup()
    CallLog("gateway.calls").info(MESSAGE, FIELDS)
    theirs = logging_setup()
    assert ours.getvalue() == standard_line(theirs)
    assert ours.getvalue().count("\n") == 1 and "\\r\\nFAKE LINE\\x1b[2J" in ours.getvalue()


def test_another_handler_gets_the_record_with_its_fields(logging_setup):
    buffer = logging_setup()
    seen: list[logging.LogRecord] = []
    extra = logging.Handler()
    extra.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger("gateway").addHandler(extra)
    try:
        CallLog("gateway.calls").info(MESSAGE, FIELDS)
    finally:
        logging.getLogger("gateway").removeHandler(extra)
    assert len(seen) == 1 and seen[0].request_id == "req_1" and seen[0].status == 200  # type: ignore[attr-defined]
    assert buffer.getvalue().count("\n") == 1  # and the usual line, once


def test_json_lines_carry_the_fields(logging_setup):
    buffer = logging_setup("json")
    CallLog("gateway.calls").info(MESSAGE, FIELDS)
    entry = json.loads(buffer.getvalue())
    assert entry["message"].startswith("call request_id=req_1") and "\r" not in entry["message"]
    assert entry["request_id"] == "req_1" and entry["model"] == "openai/gpt-4o-mini"


def test_a_raised_level_or_a_filter_is_respected(logging_setup):
    buffer = logging_setup()
    calls = logging.getLogger("gateway.calls")
    calls.setLevel(logging.WARNING)
    CallLog("gateway.calls").info(MESSAGE, FIELDS)
    assert buffer.getvalue() == ""
    calls.setLevel(logging.NOTSET)
    calls.addFilter(lambda record: False)
    try:
        CallLog("gateway.calls").info(MESSAGE, FIELDS)
    finally:
        calls.filters.clear()
    assert buffer.getvalue() == ""
