"""Helpers for the headline-number tests: read a rendered figure out of a page, and read the
tables themselves (pandas over plain SQL, never the plugin's queries) to compute what it must be.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pandas as pd
from sqlalchemy import text

from tests.admin.conftest import Site


def get(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def tile(page: str, label: str) -> str:
    """The value of the tile labelled `label` (escaped label, as rendered)."""
    found = re.search(r'<p class="tile-label">' + re.escape(html.escape(label)) +
                      r'</p>\s*<p class="tile-value"[^>]*>([^<]*)</p>', page)
    assert found, f"no tile {label!r}"
    return html.unescape(found.group(1)).strip()


def by_id(page: str, element_id: str) -> str:
    found = re.search(r'id="' + re.escape(element_id) + r'"[^>]*>([^<]*)<', page)
    assert found, f"no element #{element_id}"
    return html.unescape(found.group(1)).strip()


def cells(row_html: str) -> dict[str, str]:
    """{data-field: text} of one table row."""
    return {name: html.unescape(re.sub(r"<[^>]+>", "", value)).strip()
            for name, value in re.findall(r'data-field="([^"]+)"[^>]*>(.*?)</td>', row_html,
                                          re.S)}


def rows_by(page: str, attribute: str) -> dict[str, dict[str, str]]:
    """{value of `attribute`: cells} for every table row carrying that attribute."""
    return {key: cells(body) for key, body in
            re.findall(r'<tr[^>]*' + attribute + r'="([^"]+)"[^>]*>(.*?)</tr>', page, re.S)}


def frame(site: Site, sql: str, **params) -> pd.DataFrame:
    with site.session() as session:
        result = session.execute(text(sql), params)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def money(values) -> Decimal:
    """An exact sum of money column values (SQLite gives floats, PostgreSQL Decimals)."""
    return sum((Decimal(str(v)) for v in values if v is not None), Decimal(0))
