"""Gateway keys: `sk-gw-` followed by 40 url-safe random characters.

Only the visible prefix (the first 14 characters, `sk-gw-` + 8) and the sha256 of the whole key
are stored. A presented key is found by its prefix and accepted when the hashes match, compared
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gateway.call import Principal
from gateway.db.models import ApiKey, App, User
from gateway.errors import Forbidden
from gateway.features import enabled_for

KEY_MARKER = "sk-gw-"
PREFIX_LENGTH = 14
KEY_LENGTH = len(KEY_MARKER) + 40


def hash_key(key: str) -> str:
    # Header values may carry undecodable bytes as surrogates: hash them, never raise on them.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def generate_key() -> tuple[str, str, str]:
    """A new key as (full key, visible prefix, sha256 hex). Show the key once; store the rest."""
    key = KEY_MARKER + secrets.token_urlsafe(30)  # 30 bytes → exactly 40 characters
    return key, key_prefix(key), hash_key(key)


def lookup_principal(session: Session, presented: str) -> Principal | None:
    """The owner of `presented`, or None when the key is malformed, unknown or revoked.

    Raises `Forbidden` when the key is valid but its user is suspended or its app inactive.
    """
    # Our keys are ASCII; anything else is not one of ours (and must not reach the SQL driver).
    if not presented.startswith(KEY_MARKER) or len(presented) != KEY_LENGTH \
            or not presented.isascii():
        return None
    row = session.execute(
        select(ApiKey)
        .where(ApiKey.prefix == key_prefix(presented))
        .options(
            joinedload(ApiKey.user).joinedload(User.org),
            joinedload(ApiKey.app).joinedload(App.org),
        )
    ).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(presented)):
        return None
    if row.revoked_at is not None:
        return None
    return _principal(row, enabled_for(session, row.user_id))


def _principal(row: ApiKey, features: frozenset[str]) -> Principal:
    """The key's owner with its feature toggles; Forbidden (carrying that owner, so the refused
    call is still logged as theirs) when the user is suspended or the app inactive."""
    base: dict[str, Any] = {"key_id": row.id, "key_prefix": row.prefix, "key_name": row.name,
                            "features": features}
    if row.user is not None:
        user = row.user
        org = user.org
        principal = Principal(**base, user_id=user.id, user_email=user.email, role=user.role,
                              org_id=org.id if org else None, org_slug=org.slug if org else None)
        if user.status != "active":
            raise Forbidden("user is suspended", principal=principal)
        return principal
    app = row.app
    if app is None:  # the check constraint makes this unreachable
        raise Forbidden(f"key {row.prefix} has no owner")
    principal = Principal(**base, app_id=app.id, app_slug=app.slug, org_id=app.org.id,
                          org_slug=app.org.slug)
    if not app.active:
        raise Forbidden("app is inactive", principal=principal)
    return principal
