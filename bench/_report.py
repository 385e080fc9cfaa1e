"""Turn the measurements into issue 13's table (one row per target), the goal check (ratios to
bare mitmproxy and to a direct call, met / not met) and the workers section; render them for
stdout, `latest.md` and `latest.json`."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path

TARGETS = ("direct", "passthrough", "mitmproxy", "gateway", "gateway_dlp")
LABELS = {"direct": "direct", "passthrough": "plain pass-through (aiohttp)",
          "mitmproxy": "bare mitmproxy, no-op addon", "gateway": "gateway",
          "gateway_dlp": "gateway, org with DLP on"}
GATEWAYS = ("gateway", "gateway_dlp")

NOTES = [
    "throughput, CPU-per-stream and stream first-byte goals: bare mitmproxy and the gateways run side "
    "by side and take turns under the same load (interleaved rounds: the c16 load, then the streams; "
    "the mock takes a streaming turn as direct), so the comparisons are not skewed by the machine's "
    "speed drifting between targets measured minutes apart; first byte p50 over direct is the median "
    "of the per-round differences, p99 the p99 of all the rounds' streams together; the per-target "
    "table's figures are from each target's own phases.",
    "req/s and latency: closed loop at a fixed concurrency over keep-alive connections; at saturation "
    "latency ≈ concurrency / throughput, so the c1 figures show the per-call overhead without queueing.",
    "p50/p99 of non-streaming calls include wrk's coordinated-omission correction (the Python "
    "fallback applies the same): a stall of S ms also counts the calls that connection would have "
    "sent meanwhile, so pauses (e.g. garbage collection) show in p99 as a user would feel them.",
    "CPU per request: utime+stime of the process under test (all threads, /proc/<pid>/stat) during "
    "the c16 phase ÷ requests — the mock provider for direct. The throughput goal compares its "
    "inverse (req per CPU-second), which equals req/s on an otherwise idle core and is not lowered "
    "when other processes share that core.",
    "stream TTFB: from sending the request to the arrival of the first SSE `data:` event; streams run "
    "back to back on every one of the concurrent connections, samples from the warm-up are dropped.",
    "RSS: VmRSS of the process under test right after its load (of each worker in the workers section).",
    "gateway: the normal `llm-gateway proxy` command (one process, auth on, all plugins from the entry "
    "points, SQLite in a temporary data dir, its per-call log line included); gateway_dlp: the same, "
    "with a key of an org that has DLP on (every prompt scanned, placeholders restored in the answer).",
]

Figures = dict[str, dict]


def _pair(a: str, b: str, decimals: int = 2) -> Callable[[dict], str]:
    return lambda f: f"{fmt(f.get(a), decimals)} / {fmt(f.get(b), decimals)}"


def _one(key: str, decimals: int) -> Callable[[dict], str]:
    return lambda f: fmt(f.get(key), decimals)


COLUMNS: tuple[tuple[str, Callable[[dict], str]], ...] = (
    ("req/s c16", _one("rps_c16", 0)),
    ("req/s c64", _one("rps_c64", 0)),
    ("p50 / p99 ms c1", _pair("c1_p50_ms", "c1_p99_ms")),
    ("p99 ms c16", _one("c16_p99_ms", 2)),
    ("stream TTFB p50 / p99 ms, {streams} streams", _pair("stream_ttfb_p50_ms", "stream_ttfb_p99_ms")),
    ("CPU ms per request", _one("cpu_ms_per_req", 3)),
    ("CPU ms per stream", _one("stream_cpu_ms_per_stream", 2)),
    ("RSS MB after load", _one("rss_mb", 0)),
    ("errors", _one("errors", 0)),
    ("foreign cores (noise)", _one("foreign_cpu_share", 2)),
)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


# (key, text, op, limit, unit, value(gateway figures, all targets)); the goals of issue 13.
GOALS: tuple[tuple[str, str, str, float, str, Callable[[dict, Figures], float | None]], ...] = (
    ("throughput_vs_mitmproxy", "non-streaming throughput c16 (req per CPU-second) vs bare mitmproxy, "
     "median of the interleaved rounds", ">=", 0.70, "×",
     lambda g, t: g.get("throughput_ratio_interleaved")
     or _ratio(t.get("mitmproxy", {}).get("cpu_ms_per_req"), g.get("cpu_ms_per_req"))),
    ("c1_p99_vs_mitmproxy", "p99 at 1 connection vs bare mitmproxy", "<=", 4.0, "×",
     lambda g, t: _ratio(g.get("c1_p99_ms"), t.get("mitmproxy", {}).get("c1_p99_ms"))),
    ("c16_p99_vs_mitmproxy", "p99 at 16 connections vs bare mitmproxy", "<=", 2.0, "×",
     lambda g, t: _ratio(g.get("c16_p99_ms"), t.get("mitmproxy", {}).get("c16_p99_ms"))),
    ("stream_ttfb_p50_added",
     "stream TTFB p50 over direct, ms (median of the interleaved rounds' differences)", "<=", 3.0, " ms",
     lambda g, t: _first(g.get("stream_ttfb_p50_added_interleaved"),
                         _diff(g.get("stream_ttfb_p50_ms"), t.get("direct", {}).get("stream_ttfb_p50_ms")))),
    ("stream_ttfb_p99", "stream TTFB p99, ms (all the interleaved rounds' streams)", "<=", 15.0, " ms",
     lambda g, t: _first(g.get("stream_ttfb_p99_interleaved"), g.get("stream_ttfb_p99_ms"))),
    ("stream_cpu_vs_mitmproxy", "CPU per stream vs bare mitmproxy, median of the interleaved rounds",
     "<=", 1.5, "×",
     lambda g, t: g.get("stream_cpu_ratio_interleaved")
     or _ratio(g.get("stream_cpu_ms_per_stream"), t.get("mitmproxy", {}).get("stream_cpu_ms_per_stream"))),
    ("rss_mb", "RSS of the proxy process after load, MB", "<=", 150.0, " MB", lambda g, t: g.get("rss_mb")),
)


def add_derived(targets: Figures, interleaved: dict | None = None) -> None:
    """CPU per request and req per CPU-second from the c16 phase, and the gateways' throughput
    ratio from the interleaved rounds (when they ran), in place."""
    for figures in targets.values():
        ok, cpu_s = figures.get("requests_c16"), figures.get("cpu_s_c16")
        figures["cpu_ms_per_req"] = cpu_s * 1000 / ok if ok and cpu_s else None
        figures["req_per_cpu_s"] = ok / cpu_s if ok and cpu_s else None
    for key, target_key in (("ratio_vs_mitmproxy", "throughput_ratio_interleaved"),
                            ("stream_ratio_vs_mitmproxy", "stream_cpu_ratio_interleaved"),
                            ("ttfb_p50_added", "stream_ttfb_p50_added_interleaved"),
                            ("ttfb_p99_ms", "stream_ttfb_p99_interleaved")):
        for name, ratio in ((interleaved or {}).get(key) or {}).items():
            if name in targets:
                targets[name][target_key] = ratio


def check_goals(targets: Figures) -> dict[str, dict]:
    """{target: {goal key: {goal, op, limit, value, met}}} for the gateway rows measured."""
    out: dict[str, dict] = {}
    for name in GATEWAYS:
        figures = targets.get(name)
        if figures is None:
            continue
        out[name] = {}
        for key, text, op, limit, unit, value_of in GOALS:
            value = value_of(figures, targets)
            met = None if value is None else (value >= limit if op == ">=" else value <= limit)
            out[name][key] = {"goal": text, "op": op, "limit": limit, "unit": unit, "value": value,
                              "met": met}
    return out


def fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}".replace(",", " ")


def _verdict(goal: dict) -> str:
    if goal["value"] is None:
        return "–"
    mark = {True: "met", False: "NOT MET", None: "–"}[goal["met"]]
    return f"{goal['value']:.2f}{goal['unit']} ({mark})"


def main_rows(result: dict) -> list[list[str]]:
    targets, meta = result["targets"], result["meta"]
    rows = [["", *(title.format(**meta) for title, _ in COLUMNS)]]
    rows += [[LABELS[t], *(cell(targets[t]) for _, cell in COLUMNS)] for t in TARGETS if t in targets]
    return rows


def goal_rows(result: dict) -> list[list[str]]:
    goals = result["goals"]
    names = [n for n in GATEWAYS if n in goals]
    rows = [["goal (issue 13)", "limit", *(LABELS[n] for n in names)]]
    for key, text, op, limit, unit, _ in GOALS:
        rows.append([text, f"{op} {limit:g}{unit}", *(_verdict(goals[n][key]) for n in names)])
    return rows


def round_rows(result: dict, figure: str = "cpu_ms_per_req", ratio_key: str = "ratio_vs_mitmproxy",
               title: str = "CPU ms per request") -> list[list[str]]:
    rounds = result.get("interleaved") or {}
    per_round, ratios = rounds.get(figure) or {}, rounds.get(ratio_key) or {}
    count = max((len(v) for v in per_round.values()), default=0)
    rows = [[title, *(f"round {i + 1}" for i in range(count)), "median",
             "vs bare mitmproxy (median of the rounds' ratios)"]]
    for name in (n for n in TARGETS if n in per_round):
        values = per_round[name]
        median = statistics.median(values) if values else None
        ratio = ratios.get(name)
        rows.append([LABELS[name], *(fmt(v, 3) for v in values), fmt(median, 3),
                     f"{ratio:.2f}×" if ratio else "–"])
    return rows


def ttfb_rows(result: dict) -> list[list[str]]:
    rounds = result.get("interleaved") or {}
    p50s, p99s = rounds.get("ttfb_p50_ms") or {}, rounds.get("ttfb_p99_ms") or {}
    added = rounds.get("ttfb_p50_added") or {}
    count = max((len(v) for v in p50s.values()), default=0)
    rows = [["stream TTFB p50 ms", *(f"round {i + 1}" for i in range(count)), "median",
             "over direct (median of the rounds' differences)", "p99 of all the rounds' streams"]]
    for name in (n for n in TARGETS if n in p50s):
        values = p50s[name]
        rows.append([LABELS[name], *(fmt(v, 2) for v in values),
                     fmt(statistics.median(values) if values else None, 2),
                     f"+{added[name]:.2f} ms" if name in added else "–", fmt(p99s.get(name), 2)])
    return rows


def worker_rows(result: dict) -> list[list[str]]:
    runs = result.get("workers") or []
    rows = [["--workers", "req/s c16", "CPU ms per request (all workers)", "vs 1 worker",
             "RSS MB per worker"]]
    base = next((r["cpu_ms_per_req"] for r in runs if r["workers"] == 1), None)
    for run in runs:
        ratio = _ratio(run["cpu_ms_per_req"], base)
        rows.append([str(run["workers"]), fmt(run["rps"], 0), fmt(run["cpu_ms_per_req"], 3),
                     f"{ratio:.2f}×" if ratio else "–", " / ".join(fmt(m, 0) for m in run["rss_mb"])])
    return rows


def render_text(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown(rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0]),
            *("| " + " | ".join(r) + " |" for r in rows[1:])]


def sections(result: dict) -> list[tuple[str, list[list[str]]]]:
    out = [("Per target", main_rows(result))]
    if result["goals"]:
        out.append(("Goals", goal_rows(result)))
    if (result.get("interleaved") or {}).get("cpu_ms_per_req"):
        rounds = result["interleaved"]
        out.append((f"Throughput in interleaved rounds ({rounds['rounds']} × {rounds['seconds']:g} s "
                     f"per target, 16 connections)", round_rows(result)))
        if rounds.get("cpu_ms_per_stream"):
            out.append((f"CPU per stream in the same rounds ({rounds['seconds']:g} s of streams per "
                         f"target and round)", round_rows(result, "cpu_ms_per_stream",
                                                          "stream_ratio_vs_mitmproxy", "CPU ms per stream")))
        if rounds.get("ttfb_p50_ms"):
            out.append(("Stream first byte in the same rounds (direct takes a turn too)",
                        ttfb_rows(result)))
    if result.get("workers"):
        out.append(("Workers (CPU per request should stay flat)", worker_rows(result)))
    return out


def render_stdout(result: dict) -> str:
    return "\n\n".join(f"{title}\n{render_text(rows)}" for title, rows in sections(result))


def render_markdown(result: dict) -> str:
    meta = result["meta"]
    out = ["# Gateway benchmark", "",
           f"{meta['started']} · {meta['cpus']} CPUs · load generator: {meta['load_generator']} · "
           f"{meta['duration']:g} s per phase · proxy under test pinned to core {meta['proxy_core']}, "
           f"load generator and mock on core {meta['load_core']}", ""]
    for title, rows in sections(result):
        out += [f"## {title}", "", *_markdown(rows), ""]
    failed = result.get("failed") or {}
    if failed:
        out += ["Not measured:", *[f"- {name}: {msg.strip().splitlines()[-1] if msg.strip() else '?'}"
                                   for name, msg in failed.items()], ""]
    out += ["Notes:", *[f"- {n}" for n in meta["notes"]], ""]
    return "\n".join(out)


def write(result: dict, outdir: Path) -> tuple[Path, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = outdir / "latest.json", outdir / "latest.md"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    md_path.write_text(render_markdown(result))
    return json_path, md_path
