"""Metering plugin: usage and cost, caps, logs, cache, error reports (issue 6).

So far it reads the provider's own usage from every answer (whole or streamed) into `call.usage`.
"""

from __future__ import annotations

import pluggy

from gateway.call import Attempt, Call, ResponseFilter
from plugins.metering._usage import UsageReader

hookimpl = pluggy.HookimplMarker("llm_gateway")


@hookimpl(trylast=True)
def gateway_response_filter(call: Call, attempt: Attempt) -> ResponseFilter:
    return UsageReader(call)
