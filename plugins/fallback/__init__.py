"""Fallback plugin: fallback chains, routing strategy, provider credentials (issue 4).

Not built yet: the core tries only the primary route and never retries.
"""

import pluggy

hookimpl = pluggy.HookimplMarker("llm_gateway")
