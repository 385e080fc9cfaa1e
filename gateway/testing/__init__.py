"""A test kit for plugin authors, in the manner of mitmproxy's `tflow`/`taddons`.

    from gateway import testing

    call = testing.tcall(headers={"X-Team": "red"})            # a Call, like tflow.tflow()
    with testing.context(my_plugin) as tctx:                   # like taddons.context(addon)
        tctx.configure("my_plugin", {"header": "X-Team"})      # its plugins: section, validated
        tctx.run("gateway_transform_request", call=tctx.bind(call))

    with testing.gateway(my_plugin) as gw:                     # the whole pipeline, real sockets
        reply = gw.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=[...])
        gw.received[-1]["body"]                                # what the provider got

`context` gives real objects without sockets: a `GatewayContext` over a throwaway SQLite database
with `gateway_startup` run, the typed hooks and `run(hook, **kwargs)` for any single hook.
`gateway` runs the real proxy (mitmproxy embedded) in front of the bundled mock provider (which
echoes the last user text and records every request), with an organization `acme`, a user
`dev@acme.test` and an app `bot`, and a key for each. A plugin is an object or module with
hook implementations, a `(name, plugin)` pair, or the path of a plugin file (loaded as
`--plugins-dir` would, under its stem).
"""

from gateway.testing._calls import tcall, tprincipal
from gateway.testing._context import PluginContext, context
from gateway.testing._gateway import TestGateway, gateway

__all__ = ["PluginContext", "TestGateway", "context", "gateway", "tcall", "tprincipal"]
