"""Requests for paths the gateway does not serve (a client probing a feature, a tool on the wrong
base URL, a scanner): visible to admins, bounded so a flood cannot fill the log or the database.

Each one is answered 404/405 in the shape of the API its path looks like. Per process, the first
request for a method and path is logged at once and later ones are counted and summed up in one
line per minute; up to `RECORDS_PER_MINUTE` of them become request-log rows (with the key when one
was presented), so they show in the admin's Logs with their status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from gateway import outcome
from gateway.call import Call, Endpoint
from gateway.errors import GatewayError
from gateway.pipeline import Pipeline
from gateway.validation import clean_path

log = logging.getLogger("gateway.unknown")
RECORDS_PER_MINUTE = 60
PATHS_TRACKED = 256  # distinct method+path pairs counted per minute; the rest count as one


class UnknownEndpoints:
    def __init__(self, pipeline: Pipeline,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.window_start = clock()
        self.counts: dict[str, int] = {}
        self.recorded = 0

    async def seen(self, method: str, path: str, headers: Mapping[str, str], request_id: str,
                   error: GatewayError) -> None:
        self._roll()
        what = f"{clean_path(method)[:10]} {clean_path(path)}"
        key = what if len(self.counts) < PATHS_TRACKED or what in self.counts else "(other)"
        self.counts[key] = self.counts.get(key, 0) + 1
        principal = await self.pipeline.principal_for(headers, request_id)
        if self.counts[key] == 1:
            log.info("unknown endpoint %s status=%d key=%s request_id=%s", what, error.status,
                     principal.key_prefix if principal else "-", request_id,
                     extra={"request_id": request_id})
        if self.recorded < RECORDS_PER_MINUTE:
            self.recorded += 1
            call = Call(request_id=request_id, endpoint=Endpoint.UNKNOWN, body={},
                        headers=headers, principal=principal, ctx=self.pipeline.ctx,
                        path=clean_path(path))
            outcome.finish(call, self.pipeline.hooks, error)

    def _roll(self) -> None:
        now = self.clock()
        if now - self.window_start < 60:
            return
        repeats = {k: n - 1 for k, n in self.counts.items() if n > 1}
        if repeats:
            summary = ", ".join(f"{k} ×{n}" for k, n in sorted(repeats.items())[:20])
            log.info("unknown endpoints, repeats in the last minute: %s%s", summary,
                     " …" if len(repeats) > 20 else "")
        self.window_start, self.counts, self.recorded = now, {}, 0
