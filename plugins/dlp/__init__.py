"""DLP plugin: redact sensitive values before the provider sees them, restore them in the answer
(streaming-safe), per organization/app rules, audited bypass, fail closed (issue 5).

Protected calls get placeholders such as `[EMAIL_1]` in place of each value; the provider reasons
about them by reference and the client gets the original values back. Raw values never leave the
process and are never stored (events keep keyed hashes). `call.dlp_scope` tells the
response cache which view of the request it keys on: "off", "bypass" or "<org|app>:<id>:<rules>".
"""

from __future__ import annotations

import argparse
from collections.abc import Generator

from gateway.call import Attempt, Call, Endpoint, ResponseFilter
from gateway.host import PluginHost
from gateway.pluginmanager import PluginSchema, hookimpl
from plugins.dlp import (
    _models,  # noqa: F401  (registers the tables on the metadata)
    _ruleset,
)
from plugins.dlp._config import DlpSections
from plugins.dlp._restore import RestoreFilter
from plugins.dlp._state import PLACEHOLDERS, DlpState

# The plugin's whole surface: its hook implementations (helpers live in private modules).
__all__ = ["gateway_plugin_config_schema", "gateway_startup", "gateway_shutdown",
           "gateway_register_commands", "gateway_transform_request", "gateway_response_filter"]

NAME = "dlp"
NO_TEXT_ANSWERS = (Endpoint.EMBEDDINGS, Endpoint.COUNT_TOKENS)  # vectors, counts: nothing to restore


@hookimpl
def gateway_plugin_config_schema() -> PluginSchema:
    return PluginSchema(sections=DlpSections)  # dlp:


@hookimpl
def gateway_startup(ctx: PluginHost) -> None:
    _ruleset.load()  # compile the gitleaks rules now, not during the first protected call
    state = DlpState(ctx)
    state.reload()
    ctx.extensions[NAME] = state
    ctx.on_change(state.reload)
    state.writer.start()


@hookimpl
def gateway_shutdown(ctx: PluginHost) -> None:
    state: DlpState | None = ctx.extensions.get(NAME)
    if state is not None:
        state.writer.stop()


@hookimpl
def gateway_register_commands(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from plugins.dlp._cli import register

    register(subparsers)


@hookimpl(wrapper=True, tryfirst=True)
def gateway_transform_request(call: Call) -> Generator[None, list[object], list[object]]:
    """Redact before every other implementation runs: a wrapper's first half runs ahead of all
    plain implementations (`tryfirst` ones included), so no plugin sees the client's raw text."""
    state: DlpState | None = call.ctx.extensions.get(NAME) if call.ctx is not None else None
    if state is not None:
        state.transform(call)
    return (yield)  # the other implementations' results, unchanged


@hookimpl
def gateway_response_filter(call: Call, attempt: Attempt) -> ResponseFilter | None:
    placeholders = call.stash.get(PLACEHOLDERS)
    if not placeholders or call.endpoint in NO_TEXT_ANSWERS:
        return None
    return RestoreFilter(placeholders)
