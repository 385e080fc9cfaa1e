"""What metering does along one call: reserve at admission, ask for stream usage, read usage from
the answer, and at the end price it, settle the reservation, count it and log it. Everything here
runs on the event loop and only touches memory; the database work is in the reserver thread (the
reservation, awaited) or in the writer thread (everything else, never awaited)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.call import ApiFormat, Attempt, CachedAnswer, Call, Endpoint, Usage
from gateway.errors import GatewayError, PaymentRequired
from gateway.stash import StashKey
from plugins.metering import _cache, _ledger
from plugins.metering._caps import CapRule
from plugins.metering._cost import choices, cost_of, entry_for, max_output_tokens, reservation_for, unpriced
from plugins.metering._error_reports import gateway_report, worth_reporting
from plugins.metering._records import LogRecord, bodies_row, log_row
from plugins.metering._state import Metering
from plugins.metering._usage import UsageReader, estimate_tokens, text_length

HOLD = StashKey[_ledger.Hold]()  # the spend reservation held while the call runs
READER = StashKey[UsageReader]()
STRIP = StashKey[bool]()  # the client did not ask for the usage chunk metering asked for
DONE = StashKey[bool]()
ZERO = Decimal(0)


# -- admission ---------------------------------------------------------------------------------

def admit(state: Metering, call: Call) -> _Reservation | None:
    """None when no cap applies (no database work at all), else an awaitable reservation."""
    if call.principal is None:
        return None
    rules = state.snapshot.rules(call.principal, state.config.org_period)
    if not rules:
        return None
    config = state.ctx.config
    missing = unpriced(config, call.candidates or ([call.route] if call.route else []))
    if missing:
        raise PaymentRequired(
            f"model {missing[0]!r} has no price in the model catalog and the {rules[0].label} "
            f"applies: capped calls cannot use an unpriced model (an admin can add its prices "
            f"to model_config.yaml)")
    amount = reservation_for(call, config, state.config.default_max_output_tokens)
    return _Reservation(state, call, rules, amount)


class _Reservation:
    """Awaitable (not a coroutine: if another plugin refuses the call before this is awaited,
    nothing was reserved and Python has nothing to warn about)."""

    def __init__(self, state: Metering, call: Call, rules: list[CapRule], amount: Decimal) -> None:
        self.state, self.call, self.rules, self.amount = state, call, rules, amount

    def __await__(self) -> Generator[Any, None, None]:
        return self._run().__await__()

    async def _run(self) -> None:
        s, call = self.state, self.call
        ask = _ledger.Ask(tuple(self.rules), self.amount, call.request_id, s.now(),
                          s.config.week_start, s.keeper.id)
        # If the client leaves meanwhile, the reserver releases the hold it then finds unclaimed.
        call.stash[HOLD] = await s.reserver.submit(ask)


# -- attempts and answers ----------------------------------------------------------------------

def ask_for_stream_usage(call: Call) -> None:
    """A streamed Chat Completions call whose client did not ask for usage: ask on its behalf (so
    a translating plugin also produces the usage chunk) and remember to drop that chunk before it
    reaches the client."""
    if not (call.stream and call.endpoint is Endpoint.CHAT):
        return
    options = call.body.get("stream_options")
    options = options if isinstance(options, dict) else {}
    if options.get("include_usage") is not True:
        call.body["stream_options"] = {**options, "include_usage": True}
        call.stash[STRIP] = True


def prepare(call: Call, attempt: Attempt) -> None:
    """Every streamed call to an OpenAI-format provider asks for usage (also when a plugin
    translated an Anthropic-format call into it)."""
    if not (call.stream and attempt.wire_format is ApiFormat.OPENAI
            and attempt.path.endswith("/chat/completions")):
        return
    options = attempt.body.get("stream_options")
    options = options if isinstance(options, dict) else {}
    if options.get("include_usage") is not True:
        attempt.body["stream_options"] = {**options, "include_usage": True}


def response_filter(state: Metering, call: Call) -> UsageReader:
    scope = state.snapshot.scope_config(call.principal) if call.principal else None
    reader = UsageReader(call, strip_usage_chunk=call.stash.get(STRIP, False),
                         keep_text=bool(scope and scope.store_bodies))
    call.stash[READER] = reader
    return reader


def cache_lookup(state: Metering, call: Call,
                 attempt: Attempt) -> CachedAnswer | Awaitable[CachedAnswer | None] | None:
    scope = state.snapshot.scope_config(call.principal) if call.principal else None
    if scope is None or not scope.cache_ttl or not _cache.eligible(call):
        return None
    state.metrics.cache_lookup(attempt.route.model, attempt.provider.name)
    key, now = _cache.cache_key(call, attempt), state.now()
    hit = state.cache.get_memory(key, now)
    if hit is not None:
        return hit
    return _cache_lookup_db(state, call, key, now)  # an awaitable: the core awaits it


async def _cache_lookup_db(state: Metering, call: Call, key: str,
                           now: datetime) -> CachedAnswer | None:
    """Entries another process stored: a database read, kept off the event loop."""
    assert call.ctx is not None, "metering: a call reached the cache without its gateway (ctx)"
    loop = asyncio.get_running_loop()
    hit = await loop.run_in_executor(call.ctx.executor, state.cache.get, key, now)
    if hit is None:
        call.store_answer = True
    return hit


def cache_store(state: Metering, call: Call, attempt: Attempt, answer: CachedAnswer) -> None:
    scope = state.snapshot.scope_config(call.principal) if call.principal else None
    if scope is None or not scope.cache_ttl:
        return
    key = _cache.cache_key(call, attempt)  # of the attempt that served: a fallback keys its own
    state.writer.put(state.cache.record(key, call, answer, state.now(), scope.cache_ttl))


# -- the end of a call -------------------------------------------------------------------------

def complete(state: Metering, call: Call) -> None:
    reader: UsageReader | None = call.stash.get(READER)
    if reader is not None:
        usage = reader.result()
    elif call.client_disconnected:
        # Gone before a whole answer began: the provider goes on generating and bills it, and the
        # gateway never sees how much. Policy: book the input estimate and the most the call could
        # produce (what admission reserved for), marked estimated — caps never undercount.
        usage = Usage(estimate_tokens(text_length(call.body)),
                      max_output_tokens(call.body, state.config.default_max_output_tokens)
                      * choices(call.body), estimated=True)
    else:
        usage = call.usage
    _finish(state, call, usage, None)


def failed(state: Metering, call: Call, error: GatewayError) -> None:
    reader: UsageReader | None = call.stash.get(READER)
    # Failed after the answer began (stream cut by the provider): those tokens were billed.
    usage = reader.result() if reader is not None else Usage()
    _finish(state, call, usage, error)
    if worth_reporting(error):
        state.writer.put(gateway_report(call, error))


def _finish(state: Metering, call: Call, usage: Usage, error: GatewayError | None) -> None:
    if call.stash.get(DONE):
        return
    call.stash[DONE] = True
    call.usage = usage
    entry = entry_for(state.ctx.config, call.actual_model)
    cost = ZERO if call.cache_hit else cost_of(entry, usage)
    # An answer from a model with no price has an unknown cost, not a free one: marked as such.
    unpriced = (call.actual_model is not None and not call.cache_hit
                and (entry is None or not entry.priced) and not call.actual_model.startswith("ollama/"))
    hold = call.stash.pop(HOLD, None)
    # Both reach the local spool first: an outage or a crash from here on loses neither.
    if hold is not None:
        state.reserver.settle(state.spooled(_ledger.Settlement(hold, cost)))
    state.writer.put(state.spooled(LogRecord(log_row(call, usage, cost, unpriced),
                                             _bodies(state, call))))
    state.metrics.observe(call, usage, cost, error.error_type if error else None)


def _bodies(state: Metering, call: Call) -> dict[str, Any] | None:
    scope = state.snapshot.scope_config(call.principal) if call.principal else None
    if scope is None or not scope.store_bodies:
        return None
    reader: UsageReader | None = call.stash.get(READER)
    answer = reader.answer_text() if reader is not None else None
    dlp = call.dlp_scope
    if dlp == "bypass":  # sent unredacted on purpose: keep no copy of either side
        return bodies_row(call, None, scope.retention_days, keep_request=False)
    if dlp != "off":
        # The answer we saw has DLP's values restored; only the redacted request may be kept.
        answer = None
    return bodies_row(call, answer, scope.retention_days)
