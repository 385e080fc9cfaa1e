"""The text log line reads exactly as the standard formatter writes it (the time is only rendered
once per second), across second boundaries too."""

from __future__ import annotations

import logging

from gateway.logs import TextFormatter


def test_text_lines_match_the_standard_formatter():
    ours = TextFormatter()
    standard = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    for created in (1_800_000_000.0, 1_800_000_000.999, 1_800_000_001.0005, 1_800_000_001.25,
                    1_800_000_000.5, 1_800_003_600.75):
        record = logging.LogRecord("gateway.calls", logging.INFO, "x.py", 1, "call %s", ("a",), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)
