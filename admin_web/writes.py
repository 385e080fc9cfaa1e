"""Running an admin write from a form: commit on success, roll back and show the validation
message (which names the value at fault) on a `ValueError` or `ConfigError`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, request
from sqlalchemy.orm import Session

from admin_web.db import get_db
from gateway.errors import ConfigError

T = TypeVar("T")
FAILED = object()


def attempt(action: Callable[[Session], T], success: str | None = None) -> T | object:
    """The action's result, or `FAILED` (after flashing why)."""
    session = get_db()
    try:
        result = action(session)
        session.commit()
    except (ValueError, ConfigError) as exc:
        session.rollback()
        flash(str(exc), "error")
        return FAILED
    if success:
        flash(success, "success")
    return result


def refuse(message: str) -> None:
    """A request the form checks turned down before any write."""
    flash(message, "error")


def field(name: str, limit: int = 500) -> str:
    """A form field, stripped; overlong input is cut (the validators then name it)."""
    return (request.form.get(name) or "").strip()[:limit]


def checkbox(name: str) -> bool:
    return request.form.get(name) in ("on", "1", "true", "yes")
