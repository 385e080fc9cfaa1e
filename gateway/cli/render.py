"""How the admin commands print records: one JSON document per record for `--json` (money as
decimal strings, times as ISO 8601 UTC) and aligned text tables otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.db.models import ApiKey, App, Organization, User


def org_doc(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name,
            "spend_cap_usd": json_value(org.spend_cap_usd), "rollover": org.rollover,
            "dlp_enabled": org.dlp_enabled, "owner_user_id": org.owner_user_id,
            "created_at": json_value(org.created_at)}


def user_doc(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name,
            "org": user.org.slug if user.org else None, "role": user.role, "status": user.status,
            "weekly_cap_usd": json_value(user.weekly_cap_usd),
            "has_password": user.password_hash is not None, "created_at": json_value(user.created_at)}


def app_doc(app: App) -> dict[str, Any]:
    return {"id": app.id, "slug": app.slug, "name": app.name, "org": app.org.slug,
            "contact_email": app.contact_email, "active": app.active,
            "dlp_enabled": app.dlp_enabled, "created_at": json_value(app.created_at)}


def key_doc(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "prefix": key.prefix, "name": key.name,
            "user": key.user.email if key.user else None, "app": key.app.slug if key.app else None,
            "created_at": json_value(key.created_at), "revoked_at": json_value(key.revoked_at),
            "last_used_at": json_value(key.last_used_at)}


def json_value(value: Decimal | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def cell(value: Decimal | datetime | None) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return "-" if value is None else str(value)


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def owner(key: ApiKey) -> str:
    return f"user {key.user.email}" if key.user else f"app {key.app.slug if key.app else '?'}"


def table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [headers, *rows]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)
