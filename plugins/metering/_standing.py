"""Where caps stand and what apps used: the figures behind the admin's organization, app and
member pages.

Caps are read exactly as the proxy's cap check reads them: the rules come from the same snapshot
(`_snapshot.Snapshot.rules`), spend and rollover from the same ledger rows (`_admin.cap_status`),
so a page never disagrees with the 402 a call would get. App usage sums the rollups like the user
figures in `_periods`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.call import Principal
from gateway.db.models import App, Organization, User
from plugins.metering._admin import cap_status
from plugins.metering._caps import CapRule
from plugins.metering._config import parse_metering_config
from plugins.metering._models import Rollup
from plugins.metering._periods import where
from plugins.metering._snapshot import load_snapshot

WARN_AT = 0.8  # a cap this full (spent + held) earns a warning on the pages that show it
_USAGE_SUMS = ("requests", "input_tokens", "output_tokens", "cost_usd")


def _who(session: Session, user_id: int | None, org_id: int | None,
         app_id: int | None) -> tuple[Principal, str | None]:
    """A principal like the one a call of that user, org or app carries, and the one scope
    whose caps to keep (None: every cap, as for a user's call)."""
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise ValueError(f"no user with id {user_id}")
        return Principal(0, "-", "-", user_id=user.id, user_email=user.email,
                         org_id=user.org_id), None
    if org_id is not None:
        if session.get(Organization, org_id) is None:
            raise ValueError(f"no organization with id {org_id}")
        return Principal(0, "-", "-", org_id=org_id), "org"
    app = session.get(App, app_id) if app_id is not None else None
    if app is None:
        raise ValueError(f"no app with id {app_id}: name a user, an organization or an app")
    return Principal(0, "-", "-", app_id=app.id, app_slug=app.slug, org_id=app.org_id), "app"


def cap_standing(session: Session, section: Any, now: datetime, *, user_id: int | None = None,
                 org_id: int | None = None, app_id: int | None = None) -> list[dict[str, Any]]:
    """Every cap a call of this user (their own and their organization's), organization or app
    meets, with `cap_status`'s figures plus scope, rollover, carry_usd, share (spent and held
    over the cap in force) and near (share ≥ WARN_AT). `section` is model_config.yaml's
    `metering` section (None: the defaults)."""
    config = parse_metering_config(section)
    who, only = _who(session, user_id, org_id, app_id)
    rules = load_snapshot(session.connection().engine).rules(who, config.org_period)
    return [_standing(session, rule, cap_status(session, rule, config, now))
            for rule in rules if only is None or rule.scope == only]


def _standing(session: Session, rule: CapRule, status: dict[str, Any]) -> dict[str, Any]:
    cap, used = status["cap_usd"], status["spent_usd"] + status["reserved_usd"]
    share = float(used / cap) if cap > 0 else 1.0
    return dict(status, scope=rule.scope, scope_id=rule.scope_id, rollover=rule.rollover,
                carry_usd=cap - rule.cap, period=rule.period_kind, share=share,
                near=share >= WARN_AT, reached=used >= cap)


def _sums(row: Any) -> dict[str, Any]:
    requests, tokens_in, tokens_out, cost = row
    return {"requests": int(requests or 0), "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
            "cost_usd": Decimal(str(cost)) if cost is not None else Decimal(0)}


def app_totals(session: Session, start: datetime, end: datetime, now: datetime,
               org_id: int | None = None) -> dict[int, dict[str, Any]]:
    """Calls, tokens and cost per app in [start, end): {app id: sums}, apps with calls only."""
    r = Rollup.__table__
    rows = session.execute(select(r.c.app_id, *(func.sum(r.c[s]) for s in _USAGE_SUMS))
                           .where(*where(start, end, now, org_id), r.c.app_id != 0)
                           .group_by(r.c.app_id)).all()
    return {int(row[0]): _sums(row[1:]) for row in rows}


def app_usage(session: Session, app_id: int, start: datetime, end: datetime,
              now: datetime) -> dict[str, Any]:
    """One app's calls, tokens and cost in a range, in all and per actual model (the shape of
    `user_usage`)."""
    r = Rollup.__table__
    rows = session.execute(select(r.c.model, *(func.sum(r.c[s]) for s in _USAGE_SUMS))
                           .where(*where(start, end, now, None), r.c.app_id == app_id)
                           .group_by(r.c.model)).all()
    by_model = [dict(_sums(row[1:]), model=row[0] or None) for row in rows]
    total = _sums((sum(m["requests"] for m in by_model),
                   sum(m["input_tokens"] for m in by_model),
                   sum(m["output_tokens"] for m in by_model),
                   sum((m["cost_usd"] for m in by_model), Decimal(0))))
    return dict(total, by_model=sorted(by_model, key=lambda m: -m["cost_usd"]))
