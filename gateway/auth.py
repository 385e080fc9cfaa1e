"""The key store: presented key → Principal, cached in memory.

The cache is dropped whenever the database revision changes (every admin write bumps it), so a
revoked key, a suspended user or an inactive app is refused within one poll interval in every
process. Unknown keys are cached too (negative entries), in a bounded cache. While the database
is away, keys already in the cache keep working (fail open for the key check, which the cache
decided before); a key not yet seen gets a 503, never a 500. Each principal carries its feature
toggles; those change with their own stamp, and `poll_features` updates the cached principals
instead of dropping them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.call import Principal
from gateway.errors import GatewayError
from gateway.features import FeatureState, load_state, read_stamp
from gateway.keys import hash_key, lookup_principal

log = logging.getLogger("gateway.auth")


class KeyStoreUnavailable(GatewayError):
    """A key not yet cached while the database is away: keys already seen keep working."""

    status = 503
    error_type = "service_unavailable"

MAX_ENTRIES = 50_000


class KeyStore:
    def __init__(self, session_factory: Callable[[], Session],
                 executor: Executor | None = None) -> None:
        self._sessions = session_factory
        self._executor = executor
        self._cache: dict[str, Principal | GatewayError | None] = {}
        self._features_stamp: str | None = None

    def invalidate(self) -> None:
        self._cache = {}

    def poll_features(self) -> bool:
        """Called by the watcher: when the feature toggles changed (their own stamp, not the
        database revision), give the cached principals their new features, without dropping
        the cache. A lookup in flight stores into the dict it started with, which this replaces,
        so a principal loaded before the change is never kept after it."""
        with self._sessions() as session:
            stamp = read_stamp(session)
            if stamp == self._features_stamp:
                return False
            state = load_state(session)
        self._features_stamp = stamp
        snapshot = self._cache.copy()  # the event loop may be adding to it right now
        self._cache = {digest: _with_features(found, state) for digest, found in snapshot.items()}
        return True

    def _load(self, presented: str) -> Principal | GatewayError | None:
        try:
            with self._sessions() as session:
                return lookup_principal(session, presented)
        except GatewayError as exc:  # suspended user / inactive app: cache the refusal too
            return exc
        except (SQLAlchemyError, OSError) as exc:  # the database is away: a 503, not cached
            log.warning("key lookup failed, the database is unreachable: %s", exc)
            raise KeyStoreUnavailable("the gateway cannot check this key right now (its database "
                                      "is unreachable); try again shortly") from None

    async def lookup(self, presented: str) -> Principal | None:
        digest = hash_key(presented)
        cache = self._cache
        if digest in cache:
            found = cache[digest]
        else:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self._executor, self._load, presented)
            if len(cache) >= MAX_ENTRIES:
                cache.clear()
            cache[digest] = found
        if isinstance(found, GatewayError):
            raise found
        return found

    def lookup_sync(self, presented: str) -> Principal | None:
        found = self._load(presented)
        if isinstance(found, GatewayError):
            raise found
        return found


def _with_features(found: Principal | GatewayError | None,
                   state: FeatureState) -> Principal | GatewayError | None:
    if not isinstance(found, Principal):
        return found  # unknown keys and refusals carry no features worth updating
    features = state.enabled_for(found.user_id)
    return found if features == found.features else replace(found, features=features)
