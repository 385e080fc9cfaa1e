"""Admin writes that `gateway.admin_ops` does not offer yet (editing users and organizations,
resetting a password), in its style: validate with its validators (ValueError naming the value at
fault), flush, bump the change counter so every gateway process reloads; the caller commits.
Candidates to move into `gateway.admin_ops`.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from gateway import admin_ops
from gateway.db.engine import bump_revision
from gateway.db.models import App, Organization, User

PASSWORD_BYTES = 15  # 20 url-safe characters


def _write(session: Session) -> None:
    session.flush()
    bump_revision(session)


def update_user(session: Session, user: User, *, name: str, role: str, org_slug: str | None,
                weekly_cap_usd: str | None) -> User:
    role = admin_ops.validate_role(role)
    org = admin_ops.get_org(session, org_slug) if org_slug else None
    if role == "org_admin" and org is None:
        raise ValueError(f"role 'org_admin' needs an organization for user {user.email!r}")
    user.name = admin_ops.validate_name(name)
    user.role, user.org = role, org
    user.weekly_cap_usd = admin_ops.parse_usd(weekly_cap_usd or None, "weekly cap")
    _write(session)
    return user


def reset_password(session: Session, user: User) -> str:
    """A fresh random password (returned once, stored only as a hash)."""
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    user.password_hash = generate_password_hash(password)
    _write(session)
    return password


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < 12:
        raise ValueError("a password needs at least 12 characters")
    user.password_hash = generate_password_hash(password)
    _write(session)


def update_org(session: Session, org: Organization, *, name: str, spend_cap_usd: str | None,
               rollover: bool, owner_email: str | None) -> Organization:
    org.name = admin_ops.validate_name(name)
    org.spend_cap_usd = admin_ops.parse_usd(spend_cap_usd or None, "spend cap")
    org.rollover = bool(rollover)
    if owner_email:
        owner = admin_ops.get_user(session, owner_email)
        if owner.org_id != org.id:
            raise ValueError(f"user {owner.email!r} is not a member of organization {org.slug!r}")
        org.owner = owner
    else:
        org.owner = None
    _write(session)
    return org


def set_dlp(session: Session, row: Organization | App, enabled: bool) -> None:
    """Protect an organization's or an app's calls with DLP (through the DLP plugin's own
    operation when it is installed, so its checks apply)."""
    from admin_web.sources import api

    dlp = api("dlp")
    if dlp is not None:
        kind = "org" if isinstance(row, Organization) else "app"
        dlp.set_enabled(session, enabled, **{kind: row.slug})
        return
    row.dlp_enabled = bool(enabled)
    _write(session)


def member_counts(session: Session, org_ids: list[int]) -> dict[int, int]:
    if not org_ids:
        return {}
    rows = session.execute(select(User.org_id, func.count()).where(User.org_id.in_(org_ids))
                           .group_by(User.org_id))
    return {org_id: count for org_id, count in rows}
