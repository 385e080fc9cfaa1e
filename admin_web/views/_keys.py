"""Gateway keys of one user or one app: list, create (the full key is shown once), revoke.

Shared by the Users, Apps and My dashboard pages; each checks who may touch the owner first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import admin_ops
from gateway.db.models import ApiKey, App, User

MAX_ACTIVE_KEYS = 50


def keys_of(session: Session, owner: User | App) -> list[ApiKey]:
    column = ApiKey.user_id if isinstance(owner, User) else ApiKey.app_id
    return list(session.scalars(select(ApiKey).where(column == owner.id)
                                .order_by(ApiKey.revoked_at.is_not(None),
                                          ApiKey.created_at.desc(), ApiKey.id.desc())))


def create(session: Session, owner: User | App, name: str) -> str:
    """The new key in full; the caller shows it once and commits."""
    active = [k for k in keys_of(session, owner) if k.revoked_at is None]
    if len(active) >= MAX_ACTIVE_KEYS:
        raise ValueError(f"{owner_label(owner)} already has {MAX_ACTIVE_KEYS} active keys; "
                         f"revoke some first")
    label = name.strip() or "default"
    if isinstance(owner, User):
        full, _ = admin_ops.create_key(session, user_email=owner.email, name=label)
    else:
        full, _ = admin_ops.create_key(session, app_slug=owner.slug, name=label)
    return full


def revoke(session: Session, owner: User | App, prefix: str) -> ApiKey:
    key = admin_ops.get_key(session, prefix)
    owned = key.user_id == owner.id if isinstance(owner, User) else key.app_id == owner.id
    if not owned:
        raise ValueError(f"key {key.prefix!r} does not belong to {owner_label(owner)}")
    return admin_ops.revoke_key(session, key.prefix)


def owner_label(owner: User | App) -> str:
    return f"user {owner.email!r}" if isinstance(owner, User) else f"app {owner.slug!r}"
