"""Feature toggles: the read side, shared by the proxy (each principal carries its features) and
the admin site (which writes them through `admin_web.features`).

Stored in the core `settings` table (no schema of its own):

    settings["features"]                 {"<key>": {"label", "description", "mode"}}
    settings["features.optin.<user id>"] ["<key>", …]   the features that user turned on
    settings["features.stamp"]           a random token, new with every write

`mode` is "off" (nobody), "opt_in" (users choose on their dashboard) or "on" (everyone, app keys
included). A plugin reads a toggle as `"<key>" in call.principal.features`.

Feature writes do not bump the database revision (that would make every proxy process drop its
whole key cache on every opt-in click): they write a new stamp, and `KeyStore.poll_features`
re-reads the toggles once and updates the principals already cached.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.db.engine import put_setting
from gateway.db.models import Setting

FEATURES = "features"
OPTIN_PREFIX = "features.optin."
STAMP = "features.stamp"
MODES = {"off": "Off", "opt_in": "Users may opt in", "on": "On for everyone"}
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def get(session: Session, key: str, default: Any) -> Any:
    row = session.get(Setting, key)
    return default if row is None or row.value is None else row.value


def _specs(stored: Any) -> list[dict[str, str]]:
    if not isinstance(stored, dict):
        return []
    return [{"key": key, "label": str(spec.get("label", key)),
             "description": str(spec.get("description", "")),
             "mode": str(spec.get("mode")) if spec.get("mode") in MODES else "off"}
            for key, spec in sorted(stored.items()) if isinstance(spec, dict)]


def _keys(value: Any) -> frozenset[str]:
    return frozenset(str(key) for key in value) if isinstance(value, list) else frozenset()


def list_features(session: Session) -> list[dict[str, str]]:
    return _specs(get(session, FEATURES, {}))


def user_optins(session: Session, user_id: int) -> set[str]:
    return set(_keys(get(session, f"{OPTIN_PREFIX}{user_id}", [])))


def for_user(session: Session, user_id: int) -> list[dict[str, Any]]:
    """The features a user sees: every feature not switched off, and whether it is on for them."""
    chosen = user_optins(session, user_id)
    return [dict(f, on=f["mode"] == "on" or f["key"] in chosen)
            for f in list_features(session) if f["mode"] != "off"]


def _enabled(specs: Iterable[Mapping[str, str]], chosen: frozenset[str]) -> frozenset[str]:
    return frozenset(f["key"] for f in specs
                     if f["mode"] == "on" or (f["mode"] == "opt_in" and f["key"] in chosen))


def enabled_for(session: Session, user_id: int | None) -> frozenset[str]:
    """The features on for a user (None: an app key, which gets the "on" ones): one query."""
    keys = [FEATURES] + ([f"{OPTIN_PREFIX}{user_id}"] if user_id is not None else [])
    rows: dict[str, Any] = {key: value for key, value in session.execute(
        select(Setting.key, Setting.value).where(Setting.key.in_(keys)))}
    return _enabled(_specs(rows.get(FEATURES)), _keys(rows.get(f"{OPTIN_PREFIX}{user_id}")))


@dataclass(frozen=True)
class FeatureState:
    """Every toggle and every opt-in at one moment, to update many cached principals at once."""

    specs: tuple[dict[str, str], ...]
    optins: dict[int, frozenset[str]]

    def enabled_for(self, user_id: int | None) -> frozenset[str]:
        chosen = self.optins.get(user_id, frozenset()) if user_id is not None else frozenset()
        return _enabled(self.specs, chosen)


def read_stamp(session: Session) -> str | None:
    value = get(session, STAMP, None)
    return str(value) if value is not None else None


def load_state(session: Session) -> FeatureState:
    rows = [(key, value) for key, value in session.execute(select(Setting.key, Setting.value).where(
        or_(Setting.key == FEATURES, Setting.key.startswith(OPTIN_PREFIX))))]
    optins = {int(key[len(OPTIN_PREFIX):]): _keys(value) for key, value in rows
              if key.startswith(OPTIN_PREFIX) and key[len(OPTIN_PREFIX):].isdigit()}
    specs = next((_specs(value) for key, value in rows if key == FEATURES), [])
    return FeatureState(tuple(specs), optins)


def put(session: Session, key: str, value: Any) -> None:
    """Write one toggle row and a new stamp (the caller commits); proxies pick it up within
    about a second without dropping their key caches."""
    put_setting(session, key, value)
    put_setting(session, STAMP, secrets.token_hex(8))
    session.flush()
