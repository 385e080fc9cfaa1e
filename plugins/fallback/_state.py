"""The plugin's per-process state, kept in `ctx.extensions["fallback"]`.

Admin data (chains, settings, decrypted credentials) is one immutable `Snapshot`, loaded at
start and again from the watcher thread whenever the change counter moves (`ctx.on_change`);
hooks on the event loop only read `state.snapshot`, so a reload is a single reference swap.
A reload that fails keeps the last good snapshot. After `credentials rotate-key`, a process
reads the rotated data/secret.key on its next reload; one whose key comes from
GATEWAY_SECRET_KEY keeps the credentials it has until restarted with the new key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.call import Provider
from gateway.errors import ConfigError
from gateway.host import PluginHost
from plugins.fallback._credentials import Credential, load_credentials
from plugins.fallback._models import FallbackChain
from plugins.fallback._ops import ALLOW_PRIVATE, ROUTING_STRATEGY, get_settings
from plugins.fallback._stats import Stats
from plugins.fallback._strategy import DEFAULT_STRATEGY
from plugins.fallback._urls import validate_base_url

log = logging.getLogger("plugins.fallback")
KEY = "fallback"


@dataclass(frozen=True)
class Snapshot:
    chains: Mapping[tuple[int | None, str], tuple[str, ...]] = field(default_factory=dict)
    credentials: Mapping[str, Credential] = field(default_factory=dict)
    strategy: str = DEFAULT_STRATEGY
    key_version: int | None = None
    allow_private: bool = False  # may stored provider URLs lead to private addresses
    # Provider objects merged from a credential and the core's default, built on first use.
    merged: dict[str, tuple[Provider | None, Provider | None]] = field(default_factory=dict)

    def chain_for(self, org_id: int | None, *names: str) -> tuple[str, ...]:
        """The org's chain beats the global one; the routed model beats the requested name."""
        for scope in (org_id, None) if org_id is not None else (None,):
            for name in names:
                chain = self.chains.get((scope, name))
                if chain:
                    return chain
        return ()


def load_snapshot(session: Session, master_key: bytes, keep: Snapshot | None = None) -> Snapshot:
    """Everything from the database. A master key that does not match raises ConfigError, or,
    with `keep`, leaves `keep`'s credentials in force while chains and settings are reloaded."""
    settings = get_settings(session)
    chains = {(row.org_id, row.primary_model): tuple(row.models or ())
              for row in session.scalars(select(FallbackChain).order_by(FallbackChain.id))}
    try:
        version, creds = load_credentials(session, master_key)
        usable = {name: cred for name, cred in creds.items() if _url_ok(cred)}
    except ConfigError:
        if keep is None:
            raise
        version, usable = keep.key_version, dict(keep.credentials)
    return Snapshot(chains=chains, credentials=usable, strategy=settings[ROUTING_STRATEGY],
                    key_version=version, allow_private=bool(settings[ALLOW_PRIVATE]))


def _url_ok(cred: Credential) -> bool:
    # Private addresses were allowed (or not) when the row was written; link-local and metadata
    # addresses never are, whoever wrote the row.
    if cred.base_url is None:
        return True
    try:
        validate_base_url(cred.base_url, allow_private=True, resolve=False)
    except ValueError as exc:
        log.error("stored credentials of provider %r ignored: %s", cred.provider, exc)
        return False
    return True


class FallbackState:
    def __init__(self, ctx: PluginHost) -> None:
        self.ctx = ctx
        self.stats = Stats()
        self.snapshot = Snapshot()
        self._master_key: bytes | None = None

    def start(self) -> None:
        """Load now (a wrong master key raises ConfigError: the process must not start), then
        follow every admin change."""
        self._master_key = self.ctx.settings.secret_key()
        self.snapshot = self._load()
        self.ctx.on_change(self.reload)

    def _load(self, key: bytes | None = None, keep: Snapshot | None = None) -> Snapshot:
        master_key = key or self._master_key
        assert master_key is not None, "start() reads the master key before the first load"
        with self.ctx.sessions() as session:
            return load_snapshot(session, master_key, keep)

    def reload(self) -> None:
        try:
            self.snapshot = self._load()
            return
        except ConfigError as exc:
            if self._adopt_rotated_key():
                return
            log.error("provider credentials not reloaded, the ones loaded before stay in force "
                      "(chains and settings are reloaded): %s", exc)
        self.snapshot = self._load(keep=self.snapshot)

    def _adopt_rotated_key(self) -> bool:
        """After `credentials rotate-key` replaced data/secret.key, take the new key from it
        (with GATEWAY_SECRET_KEY set, nothing changes until the process restarts)."""
        try:
            key = self.ctx.settings.secret_key()
            if key == self._master_key:
                return False
            self.snapshot = self._load(key)
        except ConfigError:
            return False
        self._master_key = key
        log.info("provider credentials: now using the rotated master key")
        return True

    def provider(self, name: str, default: Provider | None) -> Provider | None:
        """The endpoint for `name` with stored credentials over the environment's; None when
        nothing is stored for it."""
        snap = self.snapshot
        cred = snap.credentials.get(name)
        if cred is None:
            return None
        cached = snap.merged.get(name)
        if cached is not None and cached[0] is default:
            return cached[1]
        merged = merge_provider(cred, default, snap.allow_private)
        snap.merged[name] = (default, merged)
        return merged


def merge_provider(cred: Credential, default: Provider | None,
                   allow_private: bool = False) -> Provider | None:
    kind = cred.kind or (default.kind if default else None)
    base_url = cred.base_url or (default.base_url if default else None)
    if kind is None or base_url is None:
        return default
    extra: dict[str, str] = {}
    if cred.organization and kind == "openai":
        extra["openai-organization"] = cred.organization
    if cred.api_version and kind != "ollama":
        extra["anthropic-version" if kind == "anthropic" else "api-version"] = cred.api_version
    headers = tuple((k, v) for k, v in (default.headers if default else ()) if k not in extra)
    guard = None if cred.base_url is None else "private" if allow_private else "public"
    return Provider(name=cred.provider, kind=kind, base_url=base_url,
                    api_key=cred.api_key or (default.api_key if default else None),
                    headers=headers + tuple(extra.items()), address_guard=guard)
