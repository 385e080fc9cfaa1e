"""DLP plugin: redact before the provider, restore in the answer (issue 5). Not built yet."""

import pluggy

hookimpl = pluggy.HookimplMarker("llm_gateway")
