"""The "plain pass-through" baseline: a minimal aiohttp reverse proxy that streams bytes through.

    python bench/passthrough.py --port 8001 --upstream http://127.0.0.1:9999
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

# Hop-by-hop headers, plus the ones aiohttp recomputes for each side.
HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                 "transfer-encoding", "content-length", "host"})


def _end_to_end(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP}


def make_app(upstream: str) -> web.Application:
    async def client(app: web.Application):
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
        app["client"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        yield
        await app["client"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with request.app["client"].request(request.method, upstream + request.path_qs, data=body,
                                                 headers=_end_to_end(request.headers),
                                                 allow_redirects=False) as up:
            resp = web.StreamResponse(status=up.status, headers=_end_to_end(up.headers))
            resp.content_length = up.content_length
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.cleanup_ctx.append(client)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9999 (no trailing slash)")
    args = parser.parse_args()
    web.run_app(make_app(args.upstream.rstrip("/")), host=args.host, port=args.port, access_log=None,
                print=lambda _: print(f"passthrough listening on http://{args.host}:{args.port}", flush=True))
