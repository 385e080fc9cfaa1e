"""One user's activity as CSV: every logged call with its stored conversation (when the user's
organization or app keeps conversations), oldest first, written in chunks so a long history never
sits in memory whole.

Spreadsheet safety: a text cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return)
would run as a formula in Excel, LibreOffice or Sheets, so it is prefixed with `'`. Numbers stay
numbers. Rows end with CRLF (RFC 4180), which makes the writer quote every cell holding a CR or an
LF: spreadsheets split rows on a bare CR too, and a cell after it could start a formula. The CLI
(`llm-gateway export-user`) and the admin's export both write through `write_user_csv`.
"""

from __future__ import annotations

import csv
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.db.models import RequestLog
from plugins.metering._models import StoredBodies

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = {
    "created_at": "time", "request_id": "request_id", "endpoint": "endpoint",
    "requested_model": "requested_model", "actual_model": "actual_model", "provider": "provider",
    "agent_id": "agent", "status": "status", "input_tokens": "input_tokens",
    "output_tokens": "output_tokens", "cached_tokens": "cached_tokens",
    "usage_estimated": "usage_estimated", "cost_usd": "cost_usd", "unpriced": "unpriced",
    "latency_ms": "latency_ms",
    "cache_hit": "cache_hit", "request_body": "request", "response_body": "response",
}
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")
CHUNK = 5000


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def _query(user_id: int) -> Select[Any]:
    L, B = RequestLog.__table__, StoredBodies.__table__
    cols = [L.c[name] for name in COLUMNS if name in L.c] + [B.c.request_body, B.c.response_body]
    return (select(*cols).select_from(L.outerjoin(B, B.c.request_id == L.c.request_id))
            .where(L.c.user_id == user_id).order_by(L.c.created_at, L.c.id))


def write_user_csv(session: Session, user_id: int, out: IO[str]) -> int:
    """Write the CSV to `out`; returns the number of calls written."""
    import pandas as pd  # here, not at the top: proxy processes load this plugin and never export

    total, header = 0, True
    result = session.execute(_query(user_id).execution_options(yield_per=CHUNK))
    for rows in result.partitions(CHUNK):
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(COLUMNS))
        _write_frame(frame, out, header)
        total += len(frame)
        header = False
    if header:  # no calls: still a valid CSV with its header line
        _write_frame(pd.DataFrame(columns=list(COLUMNS)), out, True)
    return total


def _write_frame(frame: pd.DataFrame, out: IO[str], header: bool) -> None:
    import pandas as pd

    frame = frame.rename(columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frame["cost_usd"] = frame["cost_usd"].map(lambda d: f"{d:f}" if d is not None else "")
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(neutralise)
    frame.to_csv(out, index=False, header=header, lineterminator="\r\n",
                 quoting=csv.QUOTE_MINIMAL)
