"""Where the caps of a user, organization or app stand, for the pages that show them: asked of
the metering plugin's admin API, which reads the same rules and ledger rows as the proxy's cap
check (so a page and a 402 never disagree)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from admin_web.db import get_db
from admin_web.sources import api, model_config


def standing(*, user_id: int | None = None, org_id: int | None = None,
             app_id: int | None = None) -> list[dict[str, Any]]:
    """The plugin's `cap_standing` rows; none without the plugin."""
    metering = api("metering")
    if metering is None or not hasattr(metering, "cap_standing"):
        return []
    try:
        return list(metering.cap_standing(get_db(), model_config().section("metering"),
                                          datetime.now(UTC), user_id=user_id, org_id=org_id,
                                          app_id=app_id))
    except ValueError:
        # A `metering:` section the proxy refuses too (it keeps its last good one): better
        # a page without caps than no page at all for a member.
        return []
