"""Every hook of the gateway, and nothing else.

The order of a call's life: `gateway_authenticate` → `gateway_resolve_model` →
`gateway_plan_candidates` → `gateway_admit` → `gateway_transform_request` → for each attempt
`gateway_prepare_attempt` (→ on failure before the first byte `gateway_retry`) →
`gateway_response_filter` → `gateway_call_complete` or `gateway_call_failed`.

Hooks that receive a `call` reach the process's context (a `gateway.host.PluginHost`) as
`call.ctx`; the others get a `ctx` argument. Keep plugin state there (e.g.
`ctx.extensions["routing"]`), never in module globals: tests run many gateways in one process.
A plugin's per-call state goes in `call.stash` (`gateway.stash.StashKey`); facts for other
plugins are typed fields of `Call`/`Attempt`. The stash is emptied once the end-of-call hooks
have run, so what a plugin keeps there (say, a filter that refers back to the call) never
keeps the call alive as a reference cycle.
A feature toggle (admin Gateway Settings → Features) is read from the caller:
`"<key>" in call.principal.features` (see `gateway.features`).

Where hooks run: the call hooks and `gateway_startup`/`gateway_shutdown` run in every proxy worker
process; the admin hooks (`gateway_admin_*`) run only in the admin process, once when its app is
built; `gateway_plugin_config_schema` runs in both. A plugin keeps Flask imports inside its admin
hooks, so proxy workers never load Flask.

Exceptions: a `gateway.errors.GatewayError` raised by a request-side hook refuses the call with its
status; any other exception is answered with a JSON 500 and logged with the request id. The call is
never forwarded after a hook raised (fail closed). Implementations may return an awaitable where the
docstring says so; the façade in `gateway.pluginmanager` awaits it.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.call import (
        Attempt,
        CachedAnswer,
        Call,
        Failure,
        LocalRequest,
        LocalResponse,
        ModelInfo,
        Principal,
        Provider,
        ResponseFilter,
        Route,
    )
    from gateway.config_schema import PluginSchema
    from gateway.errors import GatewayError
    from gateway.host import PluginHost
    from gateway.pluginmanager._types import AdminPages, SettingsSection

from gateway.markers import hookspec


@hookspec
def gateway_startup(ctx: PluginHost) -> None:
    """Once per process, after configuration and database are ready and before the first call.

    Start background work here (writers, pollers); keep `ctx` for later. Raising aborts the start.
    """


@hookspec
def gateway_shutdown(ctx: PluginHost) -> None:
    """Once per process after the listener closed and in-flight calls drained. Flush and stop.
    Exceptions are logged and the other implementations still run."""


@hookspec
def gateway_register_commands(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `llm-gateway` sub-commands. Set `func=callable(args, ctx) -> int` on each parser."""


@hookspec(firstresult=True)
def gateway_authenticate(call: Call, credential: str) -> Principal | Awaitable[Principal | None] | None:
    """Turn the presented key into a `Principal`. First non-None answer wins.

    The core's key store implements this `trylast`. Return None to let the next implementation try;
    raise `AuthenticationFailed`/`Forbidden` to refuse. May return an awaitable.
    """


@hookspec(firstresult=True)
def gateway_resolve_model(call: Call) -> Route | None:
    """Decide which model serves `call.requested_model` (aliases, agents, catalog). First answer
    wins; the core's fallback (`trylast`) understands `provider/model` and catalog names. Raise
    `BadRequest`/`NotFound` for a name that cannot be served."""


@hookspec(firstresult=True)
def gateway_provider(name: str, default: Provider | None, ctx: PluginHost) -> Provider | None:
    """The endpoint and credentials to use for provider `name`; `default` is what the environment
    and model_config.yaml give (None if unknown). First answer wins; the core answers `default`.
    Called for every attempt: keep it a dictionary lookup."""


@hookspec(firstresult=True)
def gateway_plan_candidates(call: Call, primary: Route) -> list[Route] | None:
    """The ordered routes to try, primary included (fallback chains, routing strategy). First answer
    wins; the core's default is `[primary]`."""


@hookspec
def gateway_admit(call: Call) -> Awaitable[None] | None:
    """Last check before any provider is contacted (caps, reservations, allowed models). Every
    implementation runs; raise a `GatewayError` (e.g. `PaymentRequired`) to refuse. Whatever is
    reserved here must be released in `gateway_call_complete`/`gateway_call_failed`. May return an
    awaitable."""


@hookspec
def gateway_transform_request(call: Call) -> None:
    """Once per call, in the client's format: change `call.body` in place (DLP redaction). Every
    implementation runs in hook order; raising refuses the call."""


@hookspec
def gateway_prepare_attempt(call: Call, attempt: Attempt) -> None:
    """Once per attempt: the core filled `attempt` with a same-format copy of `call.body`; change
    `attempt.body`, `attempt.path`, `attempt.headers` and set `attempt.wire_format` to the provider's
    format once translated. The core refuses the attempt if the wire formats still differ."""


@hookspec(firstresult=True)
def gateway_cache_lookup(
        call: Call, attempt: Attempt) -> CachedAnswer | Awaitable[CachedAnswer | None] | None:
    """Before the provider is contacted for `attempt`: a stored provider answer to replay instead.
    First answer wins. The replayed answer runs through the response filters exactly like a live
    one (translation, DLP restore, metering), so store answers as the provider sent them. To have
    this call's answer stored, set `call.store_answer = True`. May return an awaitable
    (do database reads in `call.ctx.executor`)."""


@hookspec
def gateway_cache_store(call: Call, attempt: Attempt, answer: CachedAnswer) -> None:
    """A 2xx answer finished and `call.store_answer` was set: keep `answer` (the raw
    provider bytes, at most 8 MiB). Exceptions are logged."""


@hookspec(firstresult=True)
def gateway_retry(call: Call, attempt: Attempt, failure: Failure) -> bool | None:
    """An attempt failed before any byte reached the client. Return True to try the next candidate,
    False to give up now. First answer wins; default: give up. Must not block."""


@hookspec
def gateway_response_filter(call: Call, attempt: Attempt) -> ResponseFilter | None:
    """The provider answered 2xx. Return a `ResponseFilter` to see or change the answer (whole JSON
    or stream events); filters are chained in hook order, so translation uses `tryfirst` and
    metering `trylast`. A whole answer is offered as bytes first (`ResponseFilter.on_bytes`) while
    no filter has changed its parsed form. Exceptions inside a filter end the answer with an error
    event."""


@hookspec
def gateway_call_complete(call: Call) -> None:
    """The answer was sent (fully, or cut short when `call.client_disconnected`). `call.usage`,
    `call.status` and the attempts are final. Every implementation runs; exceptions are logged."""


@hookspec
def gateway_call_failed(call: Call, error: GatewayError) -> None:
    """The call was refused or failed; `error` is what the client got, and `call.status` its
    status (a provider's own status stays on `call.attempt.status`). Every implementation runs;
    exceptions are logged."""


@hookspec
def gateway_list_models(principal: Principal | None, ctx: PluginHost) -> list[ModelInfo] | None:
    """Entries for `/v1/models` that this principal may use. Results of all implementations are
    concatenated (duplicates by id are dropped, first wins)."""


@hookspec(firstresult=True)
def gateway_local_request(request: LocalRequest, ctx: PluginHost) -> LocalResponse | None:
    """A request to a path the proxy answers itself (not a provider call), e.g. `GET /metrics`,
    `POST /v1/error-reports`. `request.principal` is set when a valid key was presented. First
    answer wins; None → 404. Raise `GatewayError` for an error in the API's shape."""


@hookspec
def gateway_response_headers(call: Call) -> dict[str, Any] | None:
    """Extra headers for the answer, merged over the core's `X-Gateway-*` headers."""


@hookspec
def gateway_plugin_config_schema() -> type | PluginSchema | dict[str, Any] | None:
    """The schema of this plugin's part of model_config.yaml: a pydantic model (subclass
    `gateway.pluginmanager.ConfigSection`) for its settings (`plugins: {<plugin name>: …}`), or a
    `PluginSchema(settings=…, sections=…)` whose `sections` model has one field per top-level
    section the plugin owns (its validators get the core's `ModelConfig` as `info.context`).
    Still accepted for settings: a dataclass type, or a mapping of field name → type or
    `(type, default)`. Each implementation describes its own plugin (the name it is registered
    under: entry-point name or file stem). The whole file is validated at every process start (a
    bad value stops the start with an error naming the key; a section no plugin declares is an
    error) and after every edit (a bad edit is logged and the last good config stays). Read
    settings with `gateway.pluginmanager.plugin_config(ctx, name)`, sections with
    `ctx.config.sections_of(Model)`. Raising stops the start."""


@hookspec
def gateway_admin_pages() -> AdminPages | None:
    """Admin process only, once per app: a Flask blueprint for this plugin's pages and the
    navigation links to them (`AdminPages`). The blueprint is registered like the built-in areas,
    so every view is behind sign-in, the role guard (declare roles with
    `admin_web.access.allow(...)`; an undeclared view answers 403), CSRF protection and the
    Content-Security-Policy. Raising stops the admin's start."""


@hookspec
def gateway_admin_settings_section(config: Any) -> SettingsSection | None:
    """Admin process only, whenever the Settings page is shown: this plugin's section there
    (`SettingsSection`: a title, rows of text, a link to one of its pages). `config` is the
    plugin's validated configuration (see `gateway_plugin_config_schema`). Exceptions are logged
    and the section shows that it failed."""
