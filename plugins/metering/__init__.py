"""Metering plugin: usage and cost, caps (reserve → settle), request logs and rollups, the response
cache, error reports and Prometheus metrics (issue 6). Only hook implementations live here; each
delegates to the private modules beside it. Per-process state is `ctx.extensions["metering"]`.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable

from gateway.call import Attempt, CachedAnswer, Call, LocalRequest, LocalResponse, ResponseFilter
from gateway.errors import AuthenticationFailed, GatewayError
from gateway.host import PluginHost
from gateway.pluginmanager import PluginSchema, hookimpl
from plugins.metering import _calls, _commands, _error_reports, _metrics, _models  # noqa: F401
from plugins.metering._config import MeteringSections
from plugins.metering._state import KEY, Metering, state_of

# The plugin's whole surface: its hook implementations (helpers live in private modules).
__all__ = ["gateway_plugin_config_schema", "gateway_startup", "gateway_shutdown",
           "gateway_register_commands", "gateway_admit", "gateway_transform_request",
           "gateway_prepare_attempt", "gateway_cache_lookup", "gateway_cache_store",
           "gateway_response_filter", "gateway_call_complete", "gateway_call_failed",
           "gateway_local_request"]

@hookimpl
def gateway_plugin_config_schema() -> PluginSchema:
    return PluginSchema(sections=MeteringSections)  # metering:


@hookimpl
def gateway_startup(ctx: PluginHost) -> None:
    state = Metering(ctx)
    ctx.extensions[KEY] = state
    state.start()


@hookimpl
def gateway_shutdown(ctx: PluginHost) -> None:
    state = state_of(ctx)
    if state is not None:
        state.stop()


@hookimpl
def gateway_register_commands(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _commands.register(subparsers)


@hookimpl
def gateway_admit(call: Call) -> Awaitable[None] | None:
    state = state_of(call.ctx)
    return _calls.admit(state, call) if state is not None else None


@hookimpl(tryfirst=True)  # after DLP's wrapper; asks for stream usage so translated streams carry it
def gateway_transform_request(call: Call) -> None:
    if state_of(call.ctx) is not None:
        _calls.ask_for_stream_usage(call)


@hookimpl(trylast=True)  # after routing translated the body into the provider's format
def gateway_prepare_attempt(call: Call, attempt: Attempt) -> None:
    if state_of(call.ctx) is not None:
        _calls.prepare(call, attempt)


@hookimpl
def gateway_cache_lookup(
        call: Call, attempt: Attempt) -> CachedAnswer | Awaitable[CachedAnswer | None] | None:
    state = state_of(call.ctx)
    return _calls.cache_lookup(state, call, attempt) if state is not None else None


@hookimpl
def gateway_cache_store(call: Call, attempt: Attempt, answer: CachedAnswer) -> None:
    state = state_of(call.ctx)
    if state is not None:
        _calls.cache_store(state, call, attempt, answer)


@hookimpl(trylast=True)  # sees the answer in the client's format, after translation and DLP
def gateway_response_filter(call: Call, attempt: Attempt) -> ResponseFilter | None:
    state = state_of(call.ctx)
    return _calls.response_filter(state, call) if state is not None else None


@hookimpl
def gateway_call_complete(call: Call) -> None:
    state = state_of(call.ctx)
    if state is not None:
        _calls.complete(state, call)


@hookimpl
def gateway_call_failed(call: Call, error: GatewayError) -> None:
    state = state_of(call.ctx)
    if state is not None:
        _calls.failed(state, call, error)


@hookimpl
def gateway_local_request(request: LocalRequest, ctx: PluginHost) -> LocalResponse | None:
    state = state_of(ctx)
    if state is None:
        return None
    if request.path == "/metrics" and request.method == "GET":
        if not _metrics.allowed(request, ctx.settings.metrics_token):
            raise AuthenticationFailed("/metrics needs GATEWAY_METRICS_TOKEN as a bearer token, "
                                       "or a super-admin's key")
        return LocalResponse(200, state.metrics.render(), _metrics.CONTENT_TYPE)
    if request.path == "/v1/error-reports":
        record, answer = _error_reports.client_report(request)
        state.writer.put(record)
        return answer
    return None
