"""Routing plugin: which model really serves a call (aliases, agents, catalog, translation).

Not built yet (issue 3): the core's defaults resolve `provider/model` and catalog names.
"""

import pluggy

hookimpl = pluggy.HookimplMarker("llm_gateway")
