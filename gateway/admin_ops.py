"""Admin actions on organizations, users, apps and keys, shared by the CLI and the admin site.

Each function takes an open `Session`, validates its input, flushes, and bumps the change counter
so every gateway process reloads within about a second; the caller commits (or rolls back). Bad
input, duplicates and unknown records raise `ValueError` with a message naming the value at fault.
Edits take `UNSET` for a field left as it is. Every password that is set passes one policy,
`validate_password` (12 to 1024 characters); generated ones come from `new_password`.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import generate_password_hash

# Re-exported: the validators are part of this module's surface for the CLI, admin and plugins.
from gateway.admin_checks import parse_usd as parse_usd
from gateway.admin_checks import validate_email as validate_email
from gateway.admin_checks import validate_name as validate_name
from gateway.admin_checks import validate_role as validate_role
from gateway.admin_checks import validate_slug as validate_slug
from gateway.db.engine import bump_revision
from gateway.db.models import USER_STATUSES, ApiKey, App, Organization, User
from gateway.keys import KEY_MARKER, PREFIX_LENGTH, generate_key

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # the login form's limit

Row = TypeVar("Row", Organization, User, App, ApiKey)


class Unset(enum.Enum):
    """A field an edit leaves as it is (None means "none": no cap, no organization, no owner)."""

    UNSET = "unset"


UNSET = Unset.UNSET


# --- password policy ------------------------------------------------------------------------

def validate_password(password: str, email: str) -> str:
    """The one password policy, for every place a password is set (admin forms, `users create`,
    `users reset-password`, the first super-admin): 12 to 1024 characters. The message names the
    user, never the password."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password for user {email!r} needs at least "
                         f"{MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password for user {email!r} is longer than "
                         f"{MAX_PASSWORD_LENGTH} characters")
    return password


def new_password() -> str:
    """A random password that satisfies the policy (20 url-safe characters, 120 bits)."""
    return validate_password(secrets.token_urlsafe(15), "(generated)")


# --- look-ups ---------------------------------------------------------------------------------

def get_org(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise ValueError(f"no organization with slug {slug!r}")
    return org


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise ValueError(f"no user with email {email!r}")
    return user


def get_app(session: Session, slug: str) -> App:
    app = session.scalar(select(App).where(App.slug == slug))
    if app is None:
        raise ValueError(f"no app with slug {slug!r}")
    return app


def get_key(session: Session, prefix: str) -> ApiKey:
    visible = prefix.strip()[:PREFIX_LENGTH]
    if not visible.startswith(KEY_MARKER) or len(visible) != PREFIX_LENGTH:
        raise ValueError(f"invalid key prefix {prefix!r}: expected {KEY_MARKER} + 8 characters")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == visible))
    if key is None:
        raise ValueError(f"no key with prefix {visible!r}")
    return key


def list_orgs(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.slug)))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).options(selectinload(User.org)).order_by(User.email)))


def list_apps(session: Session) -> list[App]:
    return list(session.scalars(select(App).options(selectinload(App.org)).order_by(App.slug)))


def member_counts(session: Session, org_ids: list[int]) -> dict[int, int]:
    if not org_ids:
        return {}
    rows = session.execute(select(User.org_id, func.count()).where(User.org_id.in_(org_ids))
                           .group_by(User.org_id))
    return {org_id: count for org_id, count in rows if org_id is not None}


def list_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKey]:
    query = select(ApiKey).options(selectinload(ApiKey.user), selectinload(ApiKey.app))
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiKey.created_at, ApiKey.id)))


# --- writes -----------------------------------------------------------------------------------

def create_org(session: Session, slug: str, name: str, *,
               spend_cap_usd: str | Decimal | None = None, rollover: bool = False,
               dlp_enabled: bool = False) -> Organization:
    slug = validate_slug(slug, "organization slug")
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise ValueError(f"organization {slug!r} already exists")
    org = Organization(slug=slug, name=validate_name(name),
                       spend_cap_usd=parse_usd(spend_cap_usd, "spend cap"),
                       rollover=bool(rollover), dlp_enabled=bool(dlp_enabled))
    return _add(session, org, f"organization {slug!r}")


def create_user(session: Session, email: str, name: str, *, org_slug: str | None = None,
                role: str = "member", weekly_cap_usd: str | Decimal | None = None,
                password: str | None = None) -> User:
    email = validate_email(email)
    role = validate_role(role)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValueError(f"user {email!r} already exists")
    org = get_org(session, org_slug) if org_slug else None
    if role == "org_admin" and org is None:
        raise ValueError(f"role 'org_admin' needs an organization for user {email!r}")
    if password is not None:
        validate_password(password, email)
    user = User(email=email, name=validate_name(name), org=org, role=role,
                weekly_cap_usd=parse_usd(weekly_cap_usd, "weekly cap"),
                password_hash=generate_password_hash(password) if password else None)
    return _add(session, user, f"user {email!r}")


def create_app(session: Session, slug: str, name: str, *, org_slug: str,
               contact_email: str | None = None, dlp_enabled: bool = False) -> App:
    slug = validate_slug(slug, "app slug")
    if session.scalar(select(App.id).where(App.slug == slug)) is not None:
        raise ValueError(f"app {slug!r} already exists")
    contact = validate_email(contact_email, "contact email") if contact_email else None
    app = App(slug=slug, name=validate_name(name), org=get_org(session, org_slug),
              contact_email=contact, dlp_enabled=bool(dlp_enabled))
    return _add(session, app, f"app {slug!r}")


def create_key(session: Session, *, user_email: str | None = None, app_slug: str | None = None,
               name: str | None = None) -> tuple[str, ApiKey]:
    """A new key for exactly one of a user or an app. Returns the full key (shown once, never
    stored) and the row."""
    if (user_email is None) == (app_slug is None):
        raise ValueError("a key belongs to exactly one of a user (email) or an app (slug)")
    user = get_user(session, user_email) if user_email is not None else None
    app = get_app(session, app_slug) if app_slug is not None else None
    label = validate_name(name, "key name") if name is not None else "default"
    full, prefix, digest = generate_key()
    while session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:
        full, prefix, digest = generate_key()  # 64**8 prefixes: a clash is rare, never fatal
    key = ApiKey(prefix=prefix, key_hash=digest, name=label, user=user, app=app)
    return full, _add(session, key, f"key {prefix!r}")


def revoke_key(session: Session, prefix: str) -> ApiKey:
    key = get_key(session, prefix)
    if key.revoked_at is not None:
        raise ValueError(f"key {key.prefix!r} is already revoked")
    key.revoked_at = datetime.now(UTC)
    return _write(session, key)


def set_user_status(session: Session, email: str, status: str) -> User:
    if status not in USER_STATUSES:
        raise ValueError(f"invalid status {status!r}: expected one of {', '.join(USER_STATUSES)}")
    user = get_user(session, email)
    user.status = status
    return _write(session, user)


def reset_password(session: Session, email: str, password: str | None = None) -> tuple[str, User]:
    """Give a user a new admin-site password: `password`, or a fresh random one. Returns the
    password (shown once, stored only as a hash) and the user."""
    user = get_user(session, email)
    password = new_password() if password is None else validate_password(password, user.email)
    user.password_hash = generate_password_hash(password)
    return password, _write(session, user)


def update_user(session: Session, email: str, *, name: str | Unset = UNSET,
                role: str | Unset = UNSET, org_slug: str | None | Unset = UNSET,
                weekly_cap_usd: str | Decimal | None | Unset = UNSET,
                status: str | Unset = UNSET) -> User:
    """Change what is given. An org admin needs an organization; the role and organization are
    checked together, whichever of them changes."""
    user = get_user(session, email)
    if not isinstance(name, Unset):
        user.name = validate_name(name)
    if not isinstance(role, Unset):
        user.role = validate_role(role)
    if not isinstance(org_slug, Unset):
        user.org = get_org(session, org_slug) if org_slug else None
    if user.role == "org_admin" and user.org is None:
        raise ValueError(f"role 'org_admin' needs an organization for user {user.email!r}")
    if not isinstance(weekly_cap_usd, Unset):
        user.weekly_cap_usd = parse_usd(weekly_cap_usd, "weekly cap")
    if not isinstance(status, Unset):
        return set_user_status(session, user.email, status)
    return _write(session, user)


def update_org(session: Session, slug: str, *, name: str | Unset = UNSET,
               spend_cap_usd: str | Decimal | None | Unset = UNSET,
               rollover: bool | Unset = UNSET, dlp_enabled: bool | Unset = UNSET,
               owner_email: str | None | Unset = UNSET) -> Organization:
    """Change what is given; the owner must be a member of the organization."""
    org = get_org(session, slug)
    if not isinstance(name, Unset):
        org.name = validate_name(name)
    if not isinstance(spend_cap_usd, Unset):
        org.spend_cap_usd = parse_usd(spend_cap_usd, "spend cap")
    if not isinstance(rollover, Unset):
        org.rollover = bool(rollover)
    if not isinstance(dlp_enabled, Unset):
        org.dlp_enabled = bool(dlp_enabled)
    if not isinstance(owner_email, Unset):
        org.owner = _member(session, org, owner_email) if owner_email else None
    return _write(session, org)


def _member(session: Session, org: Organization, email: str) -> User:
    user = get_user(session, email)
    if user.org_id != org.id:
        raise ValueError(f"user {user.email!r} is not a member of organization {org.slug!r}")
    return user


def set_dlp(session: Session, enabled: bool, *, org_slug: str | None = None,
            app_slug: str | None = None) -> Organization | App:
    """Protect the calls of exactly one organization or app with DLP (or stop)."""
    if org_slug is not None and app_slug is None:
        return update_org(session, org_slug, dlp_enabled=enabled)
    if app_slug is None or org_slug is not None:
        raise ValueError("name exactly one of an organization (slug) or an app (slug)")
    app = get_app(session, app_slug)
    app.dlp_enabled = bool(enabled)
    return _write(session, app)


def suspend_user(session: Session, email: str) -> User:
    return set_user_status(session, email, "suspended")


def activate_user(session: Session, email: str) -> User:
    return set_user_status(session, email, "active")


def set_app_active(session: Session, slug: str, active: bool) -> App:
    app = get_app(session, slug)
    app.active = bool(active)
    return _write(session, app)


def _add(session: Session, row: Row, what: str) -> Row:
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Another admin won a race past the duplicate check above.
        raise ValueError(f"{what} already exists") from None
    return _write(session, row)


def _write(session: Session, row: Row) -> Row:
    session.flush()
    bump_revision(session)
    return row
