"""Gateway-wide feature toggles that users may opt into from their own dashboard.

Stored in the core `settings` table (no schema of its own), so any process can read them:

    settings["features"]                 {"<key>": {"label", "description", "mode"}}
    settings["features.optin.<user id>"] ["<key>", …]   the features that user turned on

`mode` is "off" (nobody), "opt_in" (users choose on their dashboard) or "on" (everyone).
`enabled_for(session, user_id)` is the answer a plugin needs. Writes validate (ValueError naming
the value at fault), flush and bump the change counter like `gateway.admin_ops`; the caller
commits.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from gateway.admin_ops import validate_name
from gateway.db.engine import bump_revision
from gateway.db.models import Setting

FEATURES = "features"
OPTIN_PREFIX = "features.optin."
MODES = {"off": "Off", "opt_in": "Users may opt in", "on": "On for everyone"}
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def _get(session: Session, key: str, default: Any) -> Any:
    row = session.get(Setting, key)
    return default if row is None or row.value is None else row.value


def _put(session: Session, key: str, value: Any) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    session.flush()
    bump_revision(session)


def list_features(session: Session) -> list[dict[str, str]]:
    stored = _get(session, FEATURES, {})
    if not isinstance(stored, dict):
        return []
    return [{"key": key, "label": str(spec.get("label", key)),
             "description": str(spec.get("description", "")),
             "mode": spec.get("mode") if spec.get("mode") in MODES else "off"}
            for key, spec in sorted(stored.items()) if isinstance(spec, dict)]


def set_feature(session: Session, key: str, label: str, description: str, mode: str) -> None:
    key = (key or "").strip().lower()
    if not _KEY_RE.match(key):
        raise ValueError(f"invalid feature key {key!r}: 1-50 lower-case letters, digits, _ and -")
    if mode not in MODES:
        raise ValueError(f"invalid feature mode {mode!r}: expected one of {', '.join(MODES)}")
    description = (description or "").strip()
    if len(description) > 500:
        raise ValueError(f"the description of feature {key!r} is longer than 500 characters")
    stored = dict(_get(session, FEATURES, {}))
    stored[key] = {"label": validate_name(label, "feature label"), "description": description,
                   "mode": mode}
    _put(session, FEATURES, stored)


def delete_feature(session: Session, key: str) -> None:
    stored = dict(_get(session, FEATURES, {}))
    if key not in stored:
        raise ValueError(f"no feature {key!r}")
    del stored[key]
    _put(session, FEATURES, stored)


def user_optins(session: Session, user_id: int) -> set[str]:
    value = _get(session, f"{OPTIN_PREFIX}{user_id}", [])
    return {str(key) for key in value} if isinstance(value, list) else set()


def set_optin(session: Session, user_id: int, key: str, on: bool) -> None:
    modes = {f["key"]: f["mode"] for f in list_features(session)}
    if modes.get(key) != "opt_in":
        raise ValueError(f"feature {key!r} is not open for opting in")
    chosen = user_optins(session, user_id)
    chosen = chosen | {key} if on else chosen - {key}
    _put(session, f"{OPTIN_PREFIX}{user_id}", sorted(chosen))


def for_user(session: Session, user_id: int) -> list[dict[str, Any]]:
    """The features a user sees: every feature not switched off, and whether it is on for them."""
    chosen = user_optins(session, user_id)
    return [dict(f, on=f["mode"] == "on" or f["key"] in chosen)
            for f in list_features(session) if f["mode"] != "off"]


def enabled_for(session: Session, user_id: int) -> set[str]:
    return {f["key"] for f in for_user(session, user_id) if f["on"]}
