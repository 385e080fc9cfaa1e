"""The DLP plugin's section of model_config.yaml:

    dlp:
      time_budget_ms: 200        # a request's scan must finish within this, else it is refused
      max_scan_chars: 2000000    # larger texts are refused before scanning
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from gateway.config_schema import ConfigSection

__all__ = ["DEFAULT_BUDGET_MS", "DEFAULT_MAX_SCAN_CHARS", "DlpLimits", "DlpSections"]

DEFAULT_BUDGET_MS = 200.0
# Texts larger than this are refused before scanning: one regex pass over them alone would block
# the event loop for a good part of the budget (about 5 MB/s per rule on this kind of machine).
DEFAULT_MAX_SCAN_CHARS = 2_000_000


class DlpLimits(ConfigSection):
    time_budget_ms: Annotated[float, Field(gt=0)] = DEFAULT_BUDGET_MS
    max_scan_chars: Annotated[int, Field(gt=0)] = DEFAULT_MAX_SCAN_CHARS


class DlpSections(ConfigSection):
    """What the DLP plugin owns of model_config.yaml."""

    dlp: DlpLimits = DlpLimits()
