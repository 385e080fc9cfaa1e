"""The throughput and CPU-per-stream goals, measured in interleaved rounds.

On a shared VM the CPU a request costs drifts by ±10 % over minutes, so two targets measured a few
minutes apart can differ by that much for no reason of their own. Here bare mitmproxy and the
gateways run side by side (pinned to the same core, idle while another one is loaded) and take
turns under the same non-streaming load: a warm-up round, then `rounds` rounds of a few seconds
each, in a rotating order. Each round gives one ratio per gateway (bare mitmproxy's CPU per
request over the gateway's, both from that round); the goal uses their median. With `streams`,
each target's turn in a round also runs the streaming load, and the CPU-per-stream goal uses the
median of those rounds' ratios the same way (bare mitmproxy's CPU per stream measured in its own
phase moved by ±20 % between runs: 3.9 to 5.7 ms). With `direct` (the mock's own URL) the mock
takes a streaming turn in every round too, and the first-byte goals use the median over the
rounds of each gateway's p50 minus direct's, and the p99 of all the rounds' streams together.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from typing import Any

from bench import _procs
from bench._load import Call, percentile

BASELINE = "mitmproxy"
DIRECT = "direct"


def measure(bench: Any, names: list[str], rounds: int, seconds: float,
            load: Callable[[Call, int, float, str], dict],
            streams: Callable[[Call, Callable[[], float]], dict] | None = None,
            direct: tuple[Call, Callable[[], float]] | None = None) -> dict[str, Any]:
    """{"rounds": n, "seconds": s, "cpu_ms_per_req": {name: [per round]},
    "ratio_vs_mitmproxy": {gateway: median ratio}} for `names` (bare mitmproxy among them); with
    `streams` (call, cpu → the stream load's figures) "cpu_ms_per_stream",
    "stream_ratio_vs_mitmproxy" (gateway over bare mitmproxy: lower is better), "ttfb_p50_ms"
    (per round) and "ttfb_p99_ms" (all rounds); with `direct` (the mock's streamed call and CPU)
    also "ttfb_p50_added" (gateway: median of its p50 minus direct's, round by round)."""
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
        turns = [*names, DIRECT] if streams is not None and direct is not None else names
        p50s: dict[str, list[float]] = {name: [] for name in turns}
        ttfbs: dict[str, list[float]] = {name: [] for name in turns}
        for number in range(rounds + 1):  # round 0 warms every target up and is not counted
            print(f"bench: interleaved round {number}/{rounds} …", file=sys.stderr, flush=True)
            shift = number % len(turns)
            for name in turns[shift:] + turns[:shift]:
                if name == DIRECT:
                    assert streams is not None and direct is not None
                    streamed, cpu = direct
                else:
                    child, call, streamed = started[name]
                    cpu = child.cpu
                    cpu0 = cpu()
                    loaded = load(call, 16, seconds, f"round{number}-{name}")
                    if number and loaded["ok"]:
                        per_round[name].append((cpu() - cpu0) * 1000 / loaded["ok"])
                if streams is not None:
                    figures = streams(streamed, cpu)
                    if number and figures["streams"]:
                        if name != DIRECT:
                            per_stream[name].append(figures["cpu_ms_per_stream"])
                        p50s[name].append(figures["ttfb_p50_ms"])
                        ttfbs[name].extend(figures["ttfb_ms"])
    finally:
        for child, *_ in started.values():
            bench.children.stop(child)
    out: dict[str, Any] = {"rounds": rounds, "seconds": seconds, "cpu_ms_per_req": per_round,
                           "ratio_vs_mitmproxy": _ratios(per_round, lambda b, g: b / g)}
    if streams is not None:
        out["cpu_ms_per_stream"] = per_stream
        out["stream_ratio_vs_mitmproxy"] = _ratios(per_stream, lambda b, g: g / b)
        out["ttfb_p50_ms"] = p50s
        out["ttfb_p99_ms"] = {name: percentile(values, 99) for name, values in ttfbs.items() if values}
        if p50s.get(DIRECT):
            out["ttfb_p50_added"] = {
                name: statistics.median(g - d for g, d in zip(values, p50s[DIRECT]))
                for name, values in p50s.items() if name not in (DIRECT, BASELINE) and values}
    return out


def _ratios(per_round: dict[str, list[float]], ratio: Callable[[float, float], float]
            ) -> dict[str, float]:
    """Per gateway: the median over the rounds of ratio(bare mitmproxy's figure, its own)."""
    return {name: statistics.median(ratio(b, g) for b, g in zip(per_round[BASELINE], values))
            for name, values in per_round.items()
            if name != BASELINE and values and per_round.get(BASELINE)}
