"""Admin actions on organizations, users, apps and keys, shared by the CLI and the admin site.

Each function takes an open `Session`, validates its input, flushes, and bumps the change counter
so every gateway process reloads within about a second; the caller commits (or rolls back). Bad
input, duplicates and unknown records raise `ValueError` with a message naming the value at fault.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import generate_password_hash

from gateway.db.engine import bump_revision
from gateway.db.models import ROLES, USER_STATUSES, ApiKey, App, Organization, User
from gateway.keys import KEY_MARKER, PREFIX_LENGTH, generate_key

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
MAX_USD = Decimal("1e12")
USD_STEP = Decimal("0.000001")

Row = TypeVar("Row", Organization, User, App, ApiKey)


# --- validation -------------------------------------------------------------------------------

def validate_slug(value: str, what: str = "slug") -> str:
    if not isinstance(value, str) or not SLUG_RE.match(value):
        raise ValueError(f"invalid {what} {value!r}: use 1-63 lower-case letters, digits and "
                         f"dashes, starting with a letter or digit")
    return value


def validate_email(value: str, what: str = "email") -> str:
    email = value.strip().lower() if isinstance(value, str) else ""
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValueError(f"invalid {what} {value!r}: expected name@domain")
    return email


def validate_name(value: str, what: str = "name") -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 200:
        raise ValueError(f"invalid {what} {value!r}: expected 1-200 characters")
    return name


def validate_role(value: str) -> str:
    if value not in ROLES:
        raise ValueError(f"invalid role {value!r}: expected one of {', '.join(ROLES)}")
    return value


def parse_usd(value: str | int | Decimal | None, what: str) -> Decimal | None:
    """A dollar amount >= 0 as Decimal (None stays None: no cap)."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"invalid {what} {value!r}: expected a number of US dollars") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_USD:
        raise ValueError(f"invalid {what} {value!r}: expected a number of US dollars >= 0")
    if amount != amount.quantize(USD_STEP):
        raise ValueError(f"invalid {what} {value!r}: at most 6 decimal places")
    return amount.quantize(USD_STEP)  # what the Numeric(18, 6) column will hand back


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
    if password is not None and not password:
        raise ValueError(f"empty password for user {email!r}")
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
    if password is None:
        password = secrets.token_urlsafe(15)
    elif len(password) < 12:
        raise ValueError(f"the new password for user {user.email!r} needs at least 12 characters")
    user.password_hash = generate_password_hash(password)
    return password, _write(session, user)


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
