"""Routing plugin: which model really serves a call, and in which wire format.

- Aliases (database, per organization or global, chains) and agent configurations
  (model_config.yaml `roles:`/`agents:`, per cost mode) answer `gateway_resolve_model`; anything
  else falls through to the core (`provider/model` and catalog names).
- A call served by a model of another API is translated (Chat Completions and Responses to
  Anthropic models, Messages to OpenAI-format models, Responses to Ollama models through Chat
  Completions): the request in `gateway_prepare_attempt`, the answer (whole or event by event) by
  a `tryfirst` response filter. Fields dropped on the way are named in the attempt's
  `dropped_params` (the `X-Gateway-Dropped-Params` answer header).
- `/v1/models` also lists the aliases and agents a key may use; `llm-gateway aliases …` manages
  aliases. The admin site's entry points are in `plugins.routing.admin_api`.
"""

from __future__ import annotations

import argparse

from gateway.call import Attempt, Call, ModelInfo, Principal, ResponseFilter, Route
from gateway.host import PluginHost
from gateway.pluginmanager import PluginSchema, hookimpl
from plugins.routing import (
    _commands,
    _models,  # noqa: F401  (puts model_aliases on the shared metadata)
    _translate,
)
from plugins.routing._sections import RoutingSections
from plugins.routing._state import KEY, RoutingState

# The plugin's whole surface: its hook implementations (helpers live in private modules).
__all__ = ["gateway_startup", "gateway_plugin_config_schema", "gateway_register_commands",
           "gateway_resolve_model", "gateway_prepare_attempt", "gateway_response_filter",
           "gateway_list_models"]

def _state(ctx: PluginHost | None) -> RoutingState | None:
    state: RoutingState | None = ctx.extensions.get(KEY) if ctx is not None else None
    return state


@hookimpl
def gateway_startup(ctx: PluginHost) -> None:
    state = RoutingState(ctx)
    state.start()
    ctx.extensions[KEY] = state
    ctx.on_change(state.reload)


@hookimpl
def gateway_plugin_config_schema() -> PluginSchema:
    return PluginSchema(sections=RoutingSections)  # roles: and agents:


@hookimpl
def gateway_register_commands(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _commands.register(subparsers)


@hookimpl
def gateway_resolve_model(call: Call) -> Route | None:
    state = _state(call.ctx)
    return state.resolve(call) if state is not None else None


@hookimpl(tryfirst=True)
def gateway_prepare_attempt(call: Call, attempt: Attempt) -> None:
    if _translate.needs_translation(call, attempt):
        entry = call.ctx.config.models.get(attempt.route.model) if call.ctx is not None else None
        _translate.prepare(call, attempt, entry.max_output_tokens if entry else None)


@hookimpl(tryfirst=True)
def gateway_response_filter(call: Call, attempt: Attempt) -> ResponseFilter | None:
    if _translate.needs_translation(call, attempt):
        return _translate.response_filter(call, attempt)
    return None


@hookimpl
def gateway_list_models(principal: Principal | None, ctx: PluginHost) -> list[ModelInfo]:
    state = _state(ctx)
    return state.list_models(principal) if state is not None else []
