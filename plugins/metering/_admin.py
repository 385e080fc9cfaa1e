"""Admin operations on caps and per-scope metering settings, shared by the CLI and the admin site
(same style as `gateway.admin_ops`: take a session, validate, flush, bump the revision so every
gateway process reloads within about a second; the caller commits; bad input raises ValueError
naming the value at fault)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import admin_ops as ops
from gateway.db.engine import bump_revision
from gateway.db.models import Organization, User
from plugins.metering import _ledger
from plugins.metering._caps import CapRule, effective_cap, period_of
from plugins.metering._config import MeteringConfig
from plugins.metering._models import ScopeSettings

UNSET: Any = object()
MAX_TTL = 30 * 24 * 3600
MAX_RETENTION_DAYS = 3650


def _scope(session: Session, org_slug: str | None, app_slug: str | None) -> tuple[str, int]:
    if (org_slug is None) == (app_slug is None):
        raise ValueError("name exactly one of an organization (slug) or an app (slug)")
    if org_slug is not None:
        return "org", ops.get_org(session, org_slug).id
    assert app_slug is not None, "checked above: exactly one slug is given"
    return "app", ops.get_app(session, app_slug).id


def scope_settings(session: Session, scope: str, scope_id: int) -> ScopeSettings:
    row = session.scalar(select(ScopeSettings).where(ScopeSettings.scope == scope,
                                                     ScopeSettings.scope_id == scope_id))
    if row is None:
        row = ScopeSettings(scope=scope, scope_id=scope_id, store_bodies=False, retention_days=30)
        session.add(row)
    return row


def set_scope_settings(session: Session, *, org_slug: str | None = None,
                       app_slug: str | None = None, cap_usd: Any = UNSET,
                       cache_ttl_seconds: Any = UNSET, store_bodies: Any = UNSET,
                       retention_days: Any = UNSET) -> ScopeSettings:
    """Change what is given; `cache_ttl_seconds=None` turns the cache off, `cap_usd=None`
    removes an app's cap."""
    scope, scope_id = _scope(session, org_slug, app_slug)
    row = scope_settings(session, scope, scope_id)
    if cap_usd is not UNSET:
        if scope != "app":
            raise ValueError("an organization's cap is its spend cap: use `caps set --org`")
        row.cap_usd = ops.parse_usd(cap_usd, "app cap")
    if cache_ttl_seconds is not UNSET:
        row.cache_ttl_seconds = _bounded_int(cache_ttl_seconds, "cache TTL (seconds)", MAX_TTL)
    if store_bodies is not UNSET:
        row.store_bodies = bool(store_bodies)
    if retention_days is not UNSET:
        days = _bounded_int(retention_days, "retention days", MAX_RETENTION_DAYS)
        if days is None:  # the column has no "unset": conversations are always kept some days
            raise ValueError(f"invalid retention days None: expected 1 to {MAX_RETENTION_DAYS}")
        row.retention_days = days
    session.flush()
    bump_revision(session)
    return row


def _bounded_int(value: Any, what: str, limit: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"invalid {what} {value!r}: expected a whole number") from None
    if not 0 < number <= limit:
        raise ValueError(f"invalid {what} {value!r}: expected 1 to {limit}")
    return number


def set_user_cap(session: Session, email: str, usd: str | Decimal | None) -> User:
    user = ops.get_user(session, email)
    user.weekly_cap_usd = ops.parse_usd(usd, "weekly cap")
    session.flush()
    bump_revision(session)
    return user


def set_org_cap(session: Session, slug: str, usd: Any = UNSET,
                rollover: bool | None = None) -> Organization:
    org = ops.get_org(session, slug)
    if usd is not UNSET:
        org.spend_cap_usd = ops.parse_usd(usd, "spend cap")
    if rollover is not None:
        org.rollover = bool(rollover)
    session.flush()
    bump_revision(session)
    return org


def cap_status(session: Session, rule: CapRule, config: MeteringConfig,
               now: datetime) -> dict[str, Any]:
    """Where a cap stands now: the period, the cap in force (rollover included), spent, held by
    calls in flight, left."""
    period = period_of(rule.period_kind, now, config.week_start)
    conn = session.connection()
    row = _ledger.current_row(conn, rule.scope, rule.scope_id, period)
    spent = row.spent_usd if row else Decimal(0)
    reserved = row.reserved_usd if row else Decimal(0)
    # No row yet (no call this period): the carry it will be born with.
    carry = row.carry_usd if row else _ledger.carry_for(conn, rule, period, config.week_start)
    cap = effective_cap(rule, carry)
    return {"cap": rule.label, "cap_usd": cap, "base_cap_usd": rule.cap,
            "period_start": period.start, "resets_at": period.end, "spent_usd": spent,
            "reserved_usd": reserved, "remaining_usd": max(Decimal(0), cap - spent - reserved)}
