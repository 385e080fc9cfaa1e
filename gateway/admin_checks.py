"""Validators of the admin's input, shared by `gateway.admin_ops`, the plugins' admin APIs and the
admin site (`gateway.admin_ops` re-exports them). Each returns the normalised value or raises
ValueError naming the value at fault."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from gateway.db.models import ROLES

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
MAX_USD = Decimal("1e12")
USD_STEP = Decimal("0.000001")


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
