"""The throughput and CPU-per-stream goals, measured in interleaved rounds.

On a shared VM the CPU a request costs drifts by ±10 % over minutes, so two targets measured a few
minutes apart can differ by that much for no reason of their own. Here bare mitmproxy and the
gateways run side by side (pinned to the same core, idle while another one is loaded) and take
turns under the same non-streaming load: a warm-up round, then `rounds` rounds of a few seconds
each, in a rotating order. Each round gives one ratio per gateway (bare mitmproxy's CPU per
request over the gateway's, both from that round); the goal uses their median. With `streams`,
each target's turn in a round also runs the streaming load, and the CPU-per-stream goal uses the
median of those rounds' ratios the same way (bare mitmproxy's CPU per stream measured in its own
phase moved by ±20 % between runs: 3.9 to 5.7 ms).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from typing import Any

from bench import _procs
from bench._load import Call

BASELINE = "mitmproxy"


def measure(bench: Any, names: list[str], rounds: int, seconds: float,
            load: Callable[[Call, int, float, str], dict],
            streams: Callable[[Call, Callable[[], float]], float] | None = None) -> dict[str, Any]:
    """{"rounds": n, "seconds": s, "cpu_ms_per_req": {name: [per round]},
    "ratio_vs_mitmproxy": {gateway: median ratio}} for `names` (bare mitmproxy among them), and
    with `streams` (call, cpu → CPU ms per stream) "cpu_ms_per_stream" and
    "stream_ratio_vs_mitmproxy" (gateway over bare mitmproxy: lower is better)."""
    for name in names:
        if name.startswith("gateway"):
            bench.gateway_key(name)  # the CLI writes the database before the proxies start
    started: dict[str, tuple[_procs.Child, Call, Call]] = {}
    try:
        for name in names:
            child, url = bench.start_proxy(name)
            started[name] = (child, *bench.calls(url, name))
        per_round: dict[str, list[float]] = {name: [] for name in names}
        per_stream: dict[str, list[float]] = {name: [] for name in names}
        for number in range(rounds + 1):  # round 0 warms every target up and is not counted
            print(f"bench: interleaved round {number}/{rounds} …", file=sys.stderr, flush=True)
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                child, call, streamed = started[name]
                cpu0 = child.cpu()
                loaded = load(call, 16, seconds, f"round{number}-{name}")
                if number and loaded["ok"]:
                    per_round[name].append((child.cpu() - cpu0) * 1000 / loaded["ok"])
                if streams is not None:
                    ms = streams(streamed, child.cpu)
                    if number and ms:
                        per_stream[name].append(ms)
    finally:
        for child, *_ in started.values():
            bench.children.stop(child)
    out: dict[str, Any] = {"rounds": rounds, "seconds": seconds, "cpu_ms_per_req": per_round,
                           "ratio_vs_mitmproxy": _ratios(per_round, lambda b, g: b / g)}
    if streams is not None:
        out["cpu_ms_per_stream"] = per_stream
        out["stream_ratio_vs_mitmproxy"] = _ratios(per_stream, lambda b, g: g / b)
    return out


def _ratios(per_round: dict[str, list[float]], ratio: Callable[[float, float], float]
            ) -> dict[str, float]:
    """Per gateway: the median over the rounds of ratio(bare mitmproxy's figure, its own)."""
    return {name: statistics.median(ratio(b, g) for b, g in zip(per_round[BASELINE], values))
            for name, values in per_round.items()
            if name != BASELINE and values and per_round.get(BASELINE)}
