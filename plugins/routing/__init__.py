"""Routing plugin: which model really serves a call, and in which wire format.

- Aliases (database, per organization or global, chains) and agent configurations
  (model_config.yaml `roles:`/`agents:`, per cost mode) answer `gateway_resolve_model`; anything
  else falls through to the core (`provider/model` and catalog names).
- An OpenAI-format call served by an Anthropic model, or the reverse (OpenAI, Ollama or any
  OpenAI-compatible server), is translated: the request in `gateway_prepare_attempt`, the answer
  (whole or event by event) by a `tryfirst` response filter.
- `/v1/models` also lists the aliases and agents a key may use; `llm-gateway aliases …` manages
  aliases. The admin site's entry points are in `plugins.routing.admin_api`.
"""

from __future__ import annotations

import argparse

import pluggy

from gateway.call import Attempt, Call, ModelInfo, Principal, ResponseFilter, Route
from plugins.routing import _models  # noqa: F401  (puts model_aliases on the shared metadata)
from plugins.routing import _commands, _translate
from plugins.routing._state import KEY, RoutingState

hookimpl = pluggy.HookimplMarker("llm_gateway")


def _state(ctx) -> RoutingState | None:
    return ctx.extensions.get(KEY) if ctx is not None else None


@hookimpl
def gateway_startup(ctx) -> None:
    state = RoutingState(ctx)
    state.start()
    ctx.extensions[KEY] = state
    ctx.on_change(state.reload)


@hookimpl
def gateway_register_commands(subparsers: argparse._SubParsersAction) -> None:
    _commands.register(subparsers)


@hookimpl
def gateway_resolve_model(call: Call) -> Route | None:
    state = _state(call.ctx)
    return state.resolve(call) if state is not None else None


@hookimpl(tryfirst=True)
def gateway_prepare_attempt(call: Call, attempt: Attempt) -> None:
    if _translate.needs_translation(call, attempt):
        _translate.prepare(call, attempt)


@hookimpl(tryfirst=True)
def gateway_response_filter(call: Call, attempt: Attempt) -> ResponseFilter | None:
    if _translate.needs_translation(call, attempt):
        return _translate.response_filter(call)
    return None


@hookimpl
def gateway_list_models(principal: Principal | None, ctx) -> list[ModelInfo]:
    state = _state(ctx)
    return state.list_models(principal) if state is not None else []
