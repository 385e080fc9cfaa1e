"""Hostile text stays text: control characters in a logged value cannot forge a log line or
rewrite a terminal, and a CR in an exported cell cannot split a spreadsheet row."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from gateway import admin_ops
from gateway.db.models import RequestLog
from gateway.logs import Neutralize, neutralize
from plugins.metering._export import write_user_csv


def test_a_logged_value_with_crlf_and_escapes_stays_on_one_visible_line():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(Neutralize())
    log = logging.getLogger("test.hostile")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("call requested=%s status=%d", "gpt\r\nINFO gateway.calls call forged\x1b[2J\x00", 200)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("with a traceback %s", "x\ry")
    finally:
        log.removeHandler(handler)
    first, *rest = out.getvalue().splitlines()
    assert first == r"WARNING call requested=gpt\r\nINFO gateway.calls call forged\x1b[2J\x00 status=200"
    assert rest[0] == r"ERROR with a traceback x\ry" and rest[1].startswith("Traceback")


def test_neutralize_leaves_ordinary_text_alone():
    assert neutralize("echo: héllo wörld — ok") == "echo: héllo wörld — ok"
    assert neutralize("a\u2028b\x85c") == r"a\u2028b\x85c"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_bare_cr_in_an_exported_cell_cannot_split_the_row(session: Session):
    user = admin_ops.create_user(session, "dev@acme.test", "Dev")
    session.flush()
    session.add(RequestLog(request_id="r1", created_at=datetime.now(UTC), user_id=user.id,
                           endpoint="/v1/chat/completions", requested_model="m\r=9+cmd|' /C calc'!A0",
                           actual_model="m\nx", status=200, input_tokens=1, output_tokens=1,
                           cost_usd=Decimal("0.01"), latency_ms=1))
    session.commit()
    out = io.StringIO(newline="")
    assert write_user_csv(session, user.id, out) == 1
    text = out.getvalue()
    # Split rows the way a spreadsheet does: on CR or LF outside quotes.
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2 and rows[1][rows[0].index("requested_model")] == "m\r=9+cmd|' /C calc'!A0"
    assert '"m\r=9' in text and '"m\nx"' in text
