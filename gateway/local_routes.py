"""Requests the proxy answers itself: `/healthz`, `/v1/models`, harmless client probes
(`HEAD /api/hello` from Claude Code, `/api/ps` from Ollama's clients), and whatever plugins serve
through `gateway_local_request` (metrics, error reports). Anything else is an unknown endpoint:
answered 404 and made visible by `gateway.unknown_endpoints`."""

from __future__ import annotations

import json

from mitmproxy import http

from gateway.apierrors import error_body, format_for_path
from gateway.call import ApiFormat, LocalRequest, ModelInfo
from gateway.errors import AuthenticationFailed, GatewayError, NotFound
from gateway.headers import safe
from gateway.pipeline import Pipeline, endpoint_for
from gateway.unknown_endpoints import UnknownEndpoints
from gateway.validation import clean_path

_EPOCH_ISO = "1970-01-01T00:00:00Z"


class LocalRoutes:
    paths = frozenset({"/healthz", "/metrics", "/v1/error-reports", "/api/hello", "/api/ps"})

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.hooks = pipeline.hooks
        self.unknown = UnknownEndpoints(pipeline)

    async def answer(self, flow: http.HTTPFlow, path: str, request_id: str) -> None:
        req = flow.request
        fmt = ApiFormat.ANTHROPIC if "anthropic-version" in req.headers else format_for_path(path)
        headers = {"x-gateway-request-id": request_id}
        try:
            status, ctype, body = await self._dispatch(flow, path, request_id, fmt)
        except GatewayError as exc:
            status, ctype, body = exc.status, "application/json", error_body(fmt, exc)
            headers.update(exc.headers)
            if exc.status in (404, 405):
                await self.unknown.seen(req.method, path, req.headers, request_id, exc)
        flow.response = http.Response.make(status, body,
                                           safe({"content-type": ctype, **headers}))

    async def _dispatch(self, flow: http.HTTPFlow, path: str, request_id: str,
                        fmt: ApiFormat) -> tuple[int, str, bytes]:
        req = flow.request
        if path == "/healthz" and req.method == "GET":
            return 200, "application/json", b'{"status":"ok"}'
        if path == "/api/hello" and req.method in ("GET", "HEAD"):
            return 200, "text/plain", b""
        if path == "/api/ps" and req.method == "GET":
            return 200, "application/json", b'{"models":[]}'  # nothing loaded by the gateway
        principal = await self.pipeline.principal_for(req.headers, request_id)
        if path in ("/v1/models", "/api/tags") and req.method == "GET":
            if principal is None:
                raise AuthenticationFailed("missing or invalid API key")
            models = self.hooks.list_models(principal, self.pipeline.ctx)
            if path == "/api/tags":
                return 200, "application/json", ollama_tags_body(models)
            return 200, "application/json", models_body(models, fmt)
        local = LocalRequest(method=req.method, path=path, headers=req.headers,
                             body=req.get_content(strict=False) or b"", request_id=request_id,
                             principal=principal)
        answer = self.hooks.local_request(local, self.pipeline.ctx)
        if answer is None:
            endpoint_for(req.method, path)  # raises: 404 unknown path, 405 known path
            raise NotFound(f"unknown endpoint {clean_path(req.method)[:10]} {clean_path(path)}")
        return answer.status, answer.content_type, answer.body


def ollama_tags_body(models: list[ModelInfo]) -> bytes:
    """`GET /api/tags` for Ollama's own clients: the catalog's ollama/* models, bare names."""
    names = [m.id.split("/", 1)[1] for m in models if m.id.startswith("ollama/")]
    return json.dumps({"models": [{"name": n, "model": n, "modified_at": _EPOCH_ISO, "size": 0,
                                   "digest": "", "details": {}} for n in names]}).encode()


def models_body(models: list[ModelInfo], fmt: ApiFormat) -> bytes:
    if fmt is ApiFormat.ANTHROPIC:
        data = [{"type": "model", "id": m.id, "display_name": m.display_name or m.id,
                 "created_at": _EPOCH_ISO} for m in models]
        return json.dumps({"data": data, "has_more": False,
                           "first_id": data[0]["id"] if data else None,
                           "last_id": data[-1]["id"] if data else None}).encode()
    listed = [{"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by}
              for m in models]
    return json.dumps({"object": "list", "data": listed}).encode()
