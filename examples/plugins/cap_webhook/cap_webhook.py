"""Tell another system when a call is refused at a spending cap: every 402 (`PaymentRequired`)
becomes a JSON POST to a configured URL, sent from a background thread so the refused client
never waits for the webhook. Settings, in model_config.yaml:

    plugins:
      cap_webhook:
        url: https://hooks.example.com/llm-caps     # required
        timeout: 5.0                                # seconds per POST
        headers: {Authorization: Bearer …}          # sent with every POST
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from gateway.errors import PaymentRequired
from gateway.pluginmanager import ConfigSection, hookimpl, plugin_config

NAME = "cap_webhook"
log = logging.getLogger(NAME)


class Config(ConfigSection):  # a pydantic model; errors never echo values (headers hold secrets)
    url: str
    timeout: float = 5.0
    headers: dict[str, str] = {}


@hookimpl
def gateway_plugin_config_schema() -> type[ConfigSection]:
    return Config


@hookimpl
def gateway_startup(ctx) -> None:
    ctx.extensions[NAME] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=NAME)


@hookimpl
def gateway_shutdown(ctx) -> None:
    ctx.extensions[NAME].shutdown(wait=True)  # send what is queued before the process ends


@hookimpl
def gateway_call_failed(call, error) -> None:
    if not isinstance(error, PaymentRequired):
        return
    config: Config = plugin_config(call.ctx, NAME)
    principal = call.principal
    event = {"event": "cap_reached", "time": time.time(), "request_id": call.request_id,
             "message": error.message, "model": call.requested_model,
             "user": principal.user_email if principal else None,
             "app": principal.app_slug if principal else None,
             "org": principal.org_slug if principal else None}
    call.ctx.extensions[NAME].submit(_post, config, event)


def _post(config: Config, event: dict) -> None:
    request = urllib.request.Request(
        config.url, data=json.dumps(event).encode(), method="POST",
        headers={"Content-Type": "application/json", **config.headers})
    try:
        with urllib.request.urlopen(request, timeout=config.timeout) as answer:
            answer.read()
    except OSError as exc:  # the receiver is down: log it, the gateway carries on
        log.warning("cap webhook to %s failed: %s", config.url, exc)
