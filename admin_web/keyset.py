"""Keyset pagination over (created_at, id), newest first, for tables with millions of rows.

A page is found by seeking in the `created_at` index from the last row shown (never OFFSET, whose
cost grows with the page number). The cursor is that row's `created_at` and `id`; "newer" pages
seek the other way and are reversed for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    newer: str | None  # cursor of the page before (newer rows), None on the first page
    older: str | None  # cursor of the page after (older rows), None on the last page


def encode(row: Any) -> str:
    return f"{row.created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}~{row.id}"


def decode(text: str | None) -> tuple[datetime, int] | None:
    if not text or "~" not in text:
        return None
    when, _, row_id = text.partition("~")
    try:
        stamp = datetime.strptime(when, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        return stamp, int(row_id)
    except ValueError:
        return None


def fetch(session: Session, query: Select, model: Any, cursor: str | None, direction: str,
          size: int = PAGE_SIZE) -> Page:
    created, row_id = model.created_at, model.id
    position = decode(cursor)
    if position is not None and direction == "newer":
        when, ident = position
        # created_at >= t narrows the index range; the OR settles ties on the same instant.
        after = and_(created >= when, or_(created > when, row_id > ident))
        rows = list(session.scalars(query.where(after).order_by(created.asc(), row_id.asc())
                                    .limit(size + 1)))
        if len(rows) <= size:
            return fetch(session, query, model, None, "older", size)  # back at the newest page
        rows = rows[:size][::-1]
        return Page(rows, encode(rows[0]), encode(rows[-1]))
    if position is not None:
        when, ident = position
        query = query.where(and_(created <= when, or_(created < when, row_id < ident)))
    rows = list(session.scalars(query.order_by(created.desc(), row_id.desc()).limit(size + 1)))
    more_older = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode(rows[0]) if rows and position is not None else None,
                encode(rows[-1]) if rows and more_older else None)


def links(endpoint: str, page: Page, query: dict[str, str]) -> dict[str, str | None]:
    """The "newer" and "older" URLs of a page, keeping the filters in `query`."""
    from flask import url_for

    return {"newer": url_for(endpoint, cursor=page.newer, dir="newer", **query)
            if page.newer else None,
            "older": url_for(endpoint, cursor=page.older, dir="older", **query)
            if page.older else None}
