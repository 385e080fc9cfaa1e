"""My dashboard, for everyone: my usage and cost this week against my weekly cap, my keys and
the features I may opt into."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_web import features
from admin_web.access import EVERYONE, allow
from admin_web.db import get_db
from admin_web.sources import api, model_config
from admin_web.views import _caps, _keys
from admin_web.writes import FAILED, attempt, checkbox, field
from gateway.db.models import User

bp = Blueprint("me", __name__, url_prefix="/me")


@bp.get("/")
@allow(*EVERYONE)
def index() -> str:
    return render()


def render(new_key: str | None = None) -> str:
    session = get_db()
    user = session.get(User, current_user.id)
    now = datetime.now(UTC)
    week_start = start_of_week(now)
    queries = api("metering")
    usage = queries.user_usage(session, user.id, week_start, now, now) if queries else None
    caps = _caps.standing(user_id=user.id)
    return render_template(
        "me.html", user=user, usage=usage, week_start=week_start,
        week_end=week_start + timedelta(days=7), cap=cap_view(caps), caps=caps,
        keys=_keys.keys_of(session, user), new_key=new_key,
        features=features.for_user(session, user.id))


def start_of_week(now: datetime) -> datetime:
    """00:00 UTC of the day weekly caps reset (metering's `week_start`, Monday by default)."""
    metering, first_day = api("metering"), 0
    try:
        if metering is not None:
            first_day = metering.week_start_day(model_config().section("metering"))
    except ValueError:
        pass  # a bad section the plugin refuses too: Monday (no plugin: Monday too)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=(day.weekday() - first_day) % 7)


def cap_view(caps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The meter of my weekly cap, from where the proxy's cap check has it (its ledger, not the
    usage rollups: a cap set mid-week counts from then on)."""
    mine = next((c for c in caps if c["scope"] == "user"), None)
    if mine is None:
        return None
    share = mine["share"]
    return {"cap": mine["cap_usd"], "spent": mine["spent_usd"], "left": mine["remaining_usd"],
            "share": min(share, 1.0), "over": mine["reached"],
            "level": "danger" if share >= 0.9 else "warn" if share >= 0.7 else "ok"}


@bp.post("/keys")
@allow(*EVERYONE)
def create_key() -> Response | str:
    owner = get_db().get(User, current_user.id)
    result = attempt(lambda s: _keys.create(s, owner, field("name", 200)))
    if result is FAILED:
        return redirect(url_for("me.index"))
    return render(new_key=result)


@bp.post("/keys/revoke")
@allow(*EVERYONE)
def revoke_key() -> Response:
    owner = get_db().get(User, current_user.id)
    attempt(lambda s: _keys.revoke(s, owner, field("prefix", 40)), "Key revoked.")
    return redirect(url_for("me.index"))


@bp.post("/features")
@allow(*EVERYONE)
def opt_in() -> Response:
    key, on = field("feature", 60), checkbox("on")
    attempt(lambda s: features.set_optin(s, current_user.id, key, on),
            f"{'Turned on' if on else 'Turned off'} {key}." if request.form else None)
    return redirect(url_for("me.index"))
