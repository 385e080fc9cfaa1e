"""`bench/admin_pages.py` runs end to end on a small database and reports every page."""

from __future__ import annotations

import json

from bench import admin_pages


def test_admin_pages_benchmark_quick(tmp_path):
    assert admin_pages.main(["--rows", "3000", "--repeat", "2", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "admin_pages.json").read_text())
    assert result["rows"] == 3000 and result["rollup_rows"]["day"] > 0
    pages = {r["page"]: r for r in result["results"]}
    assert {"dashboard (24h, default)", "dashboard 30d, day cache off", "logs, first page",
            "logs, 59 pages deep", "logs as org admin"} <= set(pages)
    assert all(r["median_ms"] > 0 for r in pages.values())
    assert "| logs, first page |" in (tmp_path / "admin_pages.md").read_text()
