"""The exact-match response cache: opt-in per organization or app with a TTL, only for
deterministic requests (temperature 0, embeddings) or when the client sends
`X-Gateway-Cache: force` (`bypass` skips it).

The key binds the tenant (the app for app keys; organization and user for user keys, so one
person's conversation is never replayed to another), the endpoint, the routed model, the provider
request as sent (stream flags apart, so a streamed and a whole answer never share an entry) and
the DLP scope. Entries hold the provider's raw bytes; the core replays them through every response
filter, so DLP restore and metering see a hit exactly like a live answer.

Look-ups happen inside `gateway_cache_lookup`, which may not return an awaitable: a small
in-process LRU answers repeated hits, and only a miss there reads the shared table (one primary-key
read, and only for calls that opted in). Stores go through the log writer.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from gateway.call import Attempt, CachedAnswer, Call, Endpoint, Principal
from plugins.metering._models import CacheEntry
from plugins.metering._records import CacheRecord

CACHE = CacheEntry.__table__
L1_BYTES = 32 * 1024 * 1024
_STREAM_FLAGS = ("stream", "stream_options")
_NOT_CACHED = (Endpoint.COUNT_TOKENS,)


def mode(call: Call) -> str:
    return (call.headers.get("x-gateway-cache") or "").strip().lower()


def eligible(call: Call) -> bool:
    """Deterministic enough to replay, and not refused by the client."""
    wanted = mode(call)
    if wanted in ("bypass", "off", "no-store") or call.endpoint in _NOT_CACHED:
        return False
    if wanted == "force" or call.endpoint is Endpoint.EMBEDDINGS:
        return True
    temperature = call.body.get("temperature")
    return not isinstance(temperature, bool) and temperature == 0


def _owner(call: Call) -> Principal:
    # cache_lookup and cache_store return early for a call without a principal.
    if call.principal is None:
        raise ValueError(f"call {call.request_id} has no principal to keep a cache entry for")
    return call.principal


def cache_key(call: Call, attempt: Attempt) -> str:
    p = _owner(call)
    tenant = ["app", p.app_id] if p.app_id is not None else ["user", p.org_id, p.user_id]
    body = {k: v for k, v in attempt.body.items() if k not in _STREAM_FLAGS}
    doc = [tenant, call.endpoint.value, attempt.route.model, attempt.path,
           bool(attempt.body.get("stream")), call.dlp_scope, body]
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class ResponseCache:
    def __init__(self, engine: Engine, max_bytes: int = L1_BYTES) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self._l1: OrderedDict[str, tuple[datetime, CachedAnswer]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the writer thread never touches it, but tests may

    def get_memory(self, key: str, now: datetime) -> CachedAnswer | None:
        """The in-process copy only: safe on the event loop."""
        with self._lock:
            hit = self._l1.get(key)
            if hit is not None:
                if hit[0] > now:
                    self._l1.move_to_end(key)
                    return hit[1]
                self._forget(key)
        return None

    def get(self, key: str, now: datetime) -> CachedAnswer | None:
        """Memory, then the database (blocking: call it from a worker thread)."""
        hit = self.get_memory(key, now)
        if hit is not None:
            return hit
        with self.engine.connect() as conn:
            row = conn.execute(select(CACHE.c.status, CACHE.c.content_type, CACHE.c.body,
                                      CACHE.c.expires_at)
                               .where(CACHE.c.key == key, CACHE.c.expires_at > now)).first()
        if row is None:
            return None
        answer = CachedAnswer(row.status, row.content_type, bytes(row.body))
        self.remember(key, answer, row.expires_at)
        return answer

    def remember(self, key: str, answer: CachedAnswer, expires: datetime) -> None:
        with self._lock:
            self._forget(key)
            self._l1[key] = (expires, answer)
            self._bytes += len(answer.body)
            while self._bytes > self.max_bytes and self._l1:
                self._forget(next(iter(self._l1)))

    def _forget(self, key: str) -> None:
        old = self._l1.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1].body)

    def record(self, key: str, call: Call, answer: CachedAnswer, now: datetime,
               ttl: int) -> CacheRecord:
        """Keep `answer` here now and hand back the row for the writer to share it."""
        expires = now + timedelta(seconds=ttl)
        self.remember(key, answer, expires)
        p = _owner(call)
        return CacheRecord({"key": key, "org_id": p.org_id, "app_id": p.app_id, "created_at": now,
                            "expires_at": expires, "status": answer.status,
                            "content_type": answer.content_type, "body": answer.body})
