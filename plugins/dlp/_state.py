"""The plugin's per-process state (kept in `ctx.extensions["dlp"]`) and the request side of a
call: decide the scope, honour or refuse a bypass, redact within the time budget, queue events."""

from __future__ import annotations

import logging
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from gateway.call import Call
from gateway.errors import GatewayError
from gateway.host import PluginHost
from gateway.stash import StashKey
from plugins.dlp._config import DEFAULT_BUDGET_MS, DEFAULT_MAX_SCAN_CHARS, DlpSections
from plugins.dlp._events import EventWriter
from plugins.dlp._hashing import derive_hash_key
from plugins.dlp._placeholders import Placeholders, Redactor
from plugins.dlp._request import Slots, collect, redact_slots
from plugins.dlp._rule import ScanTimeout
from plugins.dlp._snapshot import Scope, Snapshot, SnapshotLoader

log = logging.getLogger("gateway.dlp")
PLACEHOLDERS = StashKey[Placeholders]()  # what this call's answer must have put back
BYPASS_HEADER = "x-dlp-bypass"


class ScanRefused(GatewayError):
    """422: the request is well-formed, but the gateway could not check it for sensitive data,
    so it will not forward it. Not 400 (nothing is wrong with the JSON), not 5xx (the SDKs would
    retry the same unscannable body automatically)."""

    status = 422
    error_type = "dlp_scan_failed"


class DlpState:
    def __init__(self, ctx: PluginHost) -> None:
        self.ctx = ctx
        self.loader = SnapshotLoader()
        self.snapshot = Snapshot()
        self.budget = DEFAULT_BUDGET_MS / 1000
        self.max_chars = DEFAULT_MAX_SCAN_CHARS
        self.hash_key = derive_hash_key(ctx.settings.secret_key())
        self.writer = EventWriter(ctx.sessions)

    def reload(self) -> None:
        """Runs in the watcher thread after any admin change; a call sees the old or the new
        snapshot, never half of one."""
        with self.ctx.sessions() as session:
            snapshot = self.loader.load(session)
        limits = self.ctx.config.sections_of(DlpSections).dlp  # validated with the file
        self.budget, self.max_chars = limits.time_budget_ms / 1000, limits.max_scan_chars
        self.snapshot = snapshot

    # -- the request side -----------------------------------------------------------------------

    def transform(self, call: Call) -> None:
        snapshot, principal = self.snapshot, call.principal
        scope = snapshot.scope_for(principal)
        if scope is None or principal is None:  # (no principal has no scope)
            call.dlp_scope = "off"
            return
        bypass = call.headers.get(BYPASS_HEADER)
        if bypass is not None and str(bypass).strip().lower() in ("1", "true"):
            if snapshot.may_bypass(principal):
                call.dlp_scope = "bypass"
                self.writer.put([self._event(call, scope, "bypass")])
                log.info("dlp bypass request_id=%s scope=%s:%s key=%s", call.request_id,
                         scope.kind, scope.slug, principal.key_prefix)
                return
            # Without the grant the header changes nothing, but the attempt is on record.
            self.writer.put([self._event(call, scope, "bypass_denied")])
        call.dlp_scope = scope.marker
        placeholders, redactor = self._redact(call, scope)
        if placeholders:
            call.stash[PLACEHOLDERS] = placeholders
            event = self._event(call, scope, "redaction")
            self.writer.put([{**event, "rule": rule, "match_count": count,
                              "value_hashes": sorted(redactor.hashes[rule])}
                             for rule, count in sorted(redactor.counts.items())])

    def _redact(self, call: Call, scope: Scope) -> tuple[Placeholders, Redactor]:
        deadline = time.perf_counter() + self.budget
        placeholders = Placeholders()
        redactor = Redactor(scope.scanner, placeholders, self.hash_key, deadline, scope.allow)

        def check_time() -> None:
            if time.perf_counter() > deadline:
                raise ScanTimeout("between texts")

        try:
            slots = collect(call.endpoint, call.body)
            self._check_size(call, slots)
            redact_slots(slots, placeholders.reserve_from, redactor.redact, check_time,
                         redactor.redact_parts)
        except ScanRefused:
            raise
        except ScanTimeout:
            ms = round(self.budget * 1000)
            log.warning("dlp scan over budget request_id=%s scope=%s:%s budget_ms=%d",
                        call.request_id, scope.kind, scope.slug, ms)
            raise ScanRefused(
                f"the sensitive-data (DLP) scan of this request did not finish within {ms} ms, "
                f"so it was not sent to the provider; send a shorter prompt or ask an admin to "
                f"raise dlp.time_budget_ms (request id {call.request_id})") from None
        except Exception as exc:
            # Type and frames only: an exception's message could quote the value being scanned.
            log.error("dlp scan failed request_id=%s scope=%s:%s error=%s\n%s", call.request_id,
                      scope.kind, scope.slug, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            raise ScanRefused(
                f"the sensitive-data (DLP) scan of this request failed, so it was not sent to "
                f"the provider (request id {call.request_id})") from None
        return placeholders, redactor

    def _check_size(self, call: Call, slots: Slots) -> None:
        size = sum(map(len, slots.texts()))
        if size > self.max_chars:
            log.warning("dlp scan refused request_id=%s chars=%d max_scan_chars=%d",
                        call.request_id, size, self.max_chars)
            raise ScanRefused(
                f"this request holds {size} characters of text, more than the sensitive-data "
                f"(DLP) scan accepts ({self.max_chars}, dlp.max_scan_chars), so it was not sent "
                f"to the provider (request id {call.request_id})")

    def _event(self, call: Call, scope: Scope, kind: str) -> dict[str, Any]:
        """An audit row; a redaction's caller fills in the rule, its count and value hashes."""
        principal = call.principal
        return {
            "created_at": datetime.now(UTC), "kind": kind, "scope_kind": scope.kind,
            "scope_id": scope.id, "scope_slug": scope.slug, "org_id": scope.org_id,
            "rule": None, "match_count": 0, "request_size": _request_size(call),
            "request_id": call.request_id,
            "key_prefix": principal.key_prefix if principal else None,
            "value_hashes": [],
        }


def _request_size(call: Call) -> int:
    raw = call.headers.get("content-length", "")
    try:
        return int(raw)
    except ValueError:
        return 0
