"""Fallback plugin: fallback chains, routing strategy, encrypted provider credentials (issue 4).

- Candidates: the routed model plus its fallback chain (an org's chain beats the global one),
  ordered by the `routing_strategy` setting, unhealthy models last, rate-limited models skipped.
- Retry policy for the core's stream layer, which retries before the first byte on the same
  client stream: see `_policy` for what fails over, `_stats` for the per-process retry budget.
- Provider credentials from the database (AES-256-GCM, `_crypto`) override the environment's.
- Commands: `llm-gateway fallbacks | settings | credentials` (`_cli`).

State lives in `ctx.extensions["fallback"]` and is refreshed through `ctx.on_change`; hooks only
read in-memory snapshots.
"""

from __future__ import annotations

import argparse

from gateway.call import Attempt, Call, Failure, Provider, Route
from gateway.errors import GatewayError
from gateway.host import PluginHost
from gateway.pluginmanager import hookimpl
from plugins.fallback import (
    _calls,
    _models,  # noqa: F401  (registers the tables on the metadata)
)
from plugins.fallback._state import KEY, FallbackState

# The plugin's whole surface: its hook implementations (helpers live in private modules).
__all__ = ["gateway_startup", "gateway_register_commands", "gateway_provider",
           "gateway_resolve_model", "gateway_plan_candidates", "gateway_admit",
           "gateway_prepare_attempt", "gateway_retry", "gateway_response_headers",
           "gateway_call_complete", "gateway_call_failed"]

def _state(ctx: PluginHost | None) -> FallbackState | None:
    state: FallbackState | None = ctx.extensions.get(KEY) if ctx is not None else None
    return state


@hookimpl
def gateway_startup(ctx: PluginHost) -> None:
    state = FallbackState(ctx)
    state.start()  # raises ConfigError on a wrong master key: the process must not start
    ctx.extensions[KEY] = state


@hookimpl
def gateway_register_commands(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from plugins.fallback import _cli  # the proxy never needs the command-line code

    _cli.register(subparsers)


@hookimpl
def gateway_provider(name: str, default: Provider | None, ctx: PluginHost) -> Provider | None:
    state = _state(ctx)
    return state.provider(name, default) if state is not None else None


@hookimpl
def gateway_resolve_model(call: Call) -> Route | None:
    """`provider/model` for a provider that only exists as stored credentials (not in
    model_config.yaml), which the core's resolution would call unknown; None for the rest."""
    state = _state(call.ctx)
    provider, sep, rest = call.requested_model.partition("/")
    if state is None or not (sep and rest) or provider not in state.snapshot.credentials \
            or provider in _calls.host(call).config.provider_names():
        return None
    return Route(model=call.requested_model, provider=provider, upstream_model=rest)


@hookimpl
def gateway_plan_candidates(call: Call, primary: Route) -> list[Route] | None:
    state = _state(call.ctx)
    return _calls.plan(state, call, primary) if state is not None else None


@hookimpl
def gateway_admit(call: Call) -> None:
    state = _state(call.ctx)
    if state is not None:
        _calls.admitted(state, call)


@hookimpl
def gateway_prepare_attempt(call: Call, attempt: Attempt) -> None:
    state = _state(call.ctx)
    if state is not None:
        _calls.attempt_started(state, call, attempt)


@hookimpl
def gateway_retry(call: Call, attempt: Attempt, failure: Failure) -> bool | None:
    state = _state(call.ctx)
    return _calls.decide_retry(state, call, attempt, failure) if state is not None else None


@hookimpl
def gateway_response_headers(call: Call) -> dict[str, str] | None:
    strategy = call.stash.get(_calls.STRATEGY)
    return {"x-gateway-strategy": strategy} if strategy else None


@hookimpl
def gateway_call_complete(call: Call) -> None:
    state = _state(call.ctx)
    if state is not None:
        _calls.ended(state, call, None)


@hookimpl
def gateway_call_failed(call: Call, error: GatewayError) -> None:
    state = _state(call.ctx)
    if state is not None:
        _calls.ended(state, call, error)
