"""Gateway-wide feature toggles that users may opt into from their own dashboard: the admin's
writes. Storage and the read side (what a plugin sees as `call.principal.features`) are in
`gateway.features`; reads are re-exported here for the views.

Writes validate (ValueError naming the value at fault) and flush; the caller commits. They do not
bump the database revision (proxies would drop their whole key cache on every opt-in click):
`gateway.features.put` writes a new features stamp, which every proxy polls.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.admin_ops import validate_name
from gateway.features import FEATURES, KEY_RE, MODES, OPTIN_PREFIX, get, put
from gateway.features import enabled_for as enabled_for
from gateway.features import for_user as for_user
from gateway.features import list_features as list_features
from gateway.features import user_optins as user_optins

__all__ = ["MODES", "delete_feature", "enabled_for", "for_user", "list_features", "set_feature",
           "set_optin", "user_optins"]


def set_feature(session: Session, key: str, label: str, description: str, mode: str) -> None:
    key = (key or "").strip().lower()
    if not KEY_RE.match(key):
        raise ValueError(f"invalid feature key {key!r}: 1-50 lower-case letters, digits, _ and -")
    if mode not in MODES:
        raise ValueError(f"invalid feature mode {mode!r}: expected one of {', '.join(MODES)}")
    description = (description or "").strip()
    if len(description) > 500:
        raise ValueError(f"the description of feature {key!r} is longer than 500 characters")
    stored = dict(get(session, FEATURES, {}))
    stored[key] = {"label": validate_name(label, "feature label"), "description": description,
                   "mode": mode}
    put(session, FEATURES, stored)


def delete_feature(session: Session, key: str) -> None:
    stored = dict(get(session, FEATURES, {}))
    if key not in stored:
        raise ValueError(f"no feature {key!r}")
    del stored[key]
    put(session, FEATURES, stored)


def set_optin(session: Session, user_id: int, key: str, on: bool) -> None:
    modes = {f["key"]: f["mode"] for f in list_features(session)}
    if modes.get(key) != "opt_in":
        raise ValueError(f"feature {key!r} is not open for opting in")
    chosen = user_optins(session, user_id)
    chosen = chosen | {key} if on else chosen - {key}
    put(session, f"{OPTIN_PREFIX}{user_id}", sorted(chosen))
