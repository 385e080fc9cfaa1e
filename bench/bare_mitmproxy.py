"""Calibration baseline: mitmproxy 11 embedded as a bare `Master` (the addons the gateway uses, plus a
no-op addon) in reverse mode to the upstream. Measures what the machine gives mitmproxy itself, so
the gateway's figures can be read against the "bare Master ≈ 1 500–2 100 req per CPU-second" peer.

    python bench/bare_mitmproxy.py --port 8002 --upstream http://127.0.0.1:9999
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile

from mitmproxy import options
from mitmproxy.addons import core, next_layer, proxyserver, tlsconfig
from mitmproxy.master import Master


class NoOp:
    def request(self, flow) -> None:
        pass

    def responseheaders(self, flow) -> None:
        flow.response.stream = True  # pass bodies through as they arrive, like the gateway

    def response(self, flow) -> None:
        pass


async def serve(host: str, port: int, upstream: str) -> None:
    opts = options.Options()
    master = Master(opts, event_loop=asyncio.get_running_loop())
    master.addons.add(core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig(),
                      NoOp())
    with tempfile.TemporaryDirectory(prefix="bare-mitm-") as confdir:
        opts.update(mode=[f"reverse:{upstream}@{host}:{port}"], connection_strategy="lazy",
                    confdir=confdir, keep_host_header=False)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        run = asyncio.create_task(master.run())
        print(f"bare mitmproxy listening on http://{host}:{port}", flush=True)
        await stop.wait()
        await master.addons.get("proxyserver").servers.update([])
        master.shutdown()
        await asyncio.wait([run], timeout=5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9999")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.upstream.rstrip("/")))
