"""Turn the measurements into the added-latency figures, the ratios, the goal check, and the
stdout table / `latest.md` / `latest.json`."""

from __future__ import annotations

import json
from pathlib import Path

TARGETS = ("direct", "passthrough", "mitmproxy", "gateway")
DEFAULT_TARGETS = ("direct", "passthrough", "gateway")
PEERS = ("direct", "passthrough", "mitmproxy")  # what the gateway is compared with
PEER_LABELS = {"direct": "gw vs direct", "passthrough": "gw vs pass-through", "mitmproxy": "gw vs bare mitmproxy"}
GOALS = {
    "req_per_cpu_s": (">=", 1500.0, "≥ 1 500 req/s non-streaming on one core (req per CPU-second)"),
    "stream_added_ttfb_p50_ms": ("<=", 3.0, "≤ 3 ms added p50 streaming TTFB at 64 streams"),
}

# (key, label, decimals); the order of the table.
ROWS = (
    ("rps", "non-streaming req/s (c={concurrency})", 0),
    ("req_per_cpu_s", "req per CPU-second of the process under test", 0),
    ("p50_ms", "latency p50 ms (c={concurrency})", 2),
    ("p99_ms", "latency p99 ms (c={concurrency})", 2),
    ("added_p50_ms", "added p50 ms vs direct (c={concurrency})", 2),
    ("added_p99_ms", "added p99 ms vs direct (c={concurrency})", 2),
    ("c1_p50_ms", "latency p50 ms (c=1)", 2),
    ("c1_added_p50_ms", "added p50 ms vs direct (c=1)", 2),
    ("c1_added_p99_ms", "added p99 ms vs direct (c=1)", 2),
    ("stream_ttfb_p50_ms", "stream TTFB p50 ms ({streams} streams)", 2),
    ("stream_ttfb_p99_ms", "stream TTFB p99 ms ({streams} streams)", 2),
    ("stream_added_ttfb_p50_ms", "added stream TTFB p50 ms vs direct", 2),
    ("stream_added_ttfb_p99_ms", "added stream TTFB p99 ms vs direct", 2),
    ("stream_cpu_ms_per_stream", "CPU ms per stream (process under test)", 2),
    ("stream_duration_mean_ms", "mean stream duration ms (sanity)", 0),
    ("errors", "errors (non-2xx, socket, failed streams)", 0),
    ("foreign_cpu_share", "cores busy with other processes (noise)", 2),
)
_ADDED = (("added_p50_ms", "p50_ms"), ("added_p99_ms", "p99_ms"), ("c1_added_p50_ms", "c1_p50_ms"),
          ("c1_added_p99_ms", "c1_p99_ms"), ("stream_added_ttfb_p50_ms", "stream_ttfb_p50_ms"),
          ("stream_added_ttfb_p99_ms", "stream_ttfb_p99_ms"))
_RATIO_KEYS = ("rps", "req_per_cpu_s")
_DELTA_KEYS = ("p50_ms", "p99_ms", "c1_p50_ms", "c1_p99_ms", "stream_ttfb_p50_ms", "stream_ttfb_p99_ms")


def add_derived(targets: dict[str, dict]) -> None:
    """Added latency vs direct, in place (None when direct was not measured)."""
    direct = targets.get("direct")
    for figures in targets.values():
        for added, base in _ADDED:
            figures[added] = figures[base] - direct[base] if direct else None


def ratios(targets: dict[str, dict]) -> dict[str, dict]:
    gateway = targets.get("gateway")
    out: dict[str, dict] = {}
    for peer in PEERS:
        other = targets.get(peer)
        if not gateway or not other:
            continue
        entry = {f"{k}_ratio": gateway[k] / other[k] if other[k] else None for k in _RATIO_KEYS}
        entry.update({f"{k}_delta": gateway[k] - other[k] for k in _DELTA_KEYS})
        out[f"gateway_vs_{peer}"] = entry
    return out


def check_goals(targets: dict[str, dict]) -> dict[str, dict]:
    gateway = targets.get("gateway")
    out = {}
    for key, (op, limit, text) in GOALS.items():
        value = gateway.get(key) if gateway else None
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        out[key] = {"goal": text, "limit": limit, "op": op, "value": value, "met": met}
    return out


def _fmt(value, decimals: int) -> str:
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}".replace(",", " ")


def _ratio_cells(key: str, targets: dict[str, dict], decimals: int) -> list[str]:
    gateway = targets.get("gateway")
    cells = []
    for peer in _peers(targets):
        other = targets.get(peer)
        if not gateway or not other or gateway.get(key) is None or other.get(key) is None:
            cells.append("–")
        elif key in _RATIO_KEYS:
            cells.append(f"{gateway[key] / other[key]:.2f}×" if other[key] else "–")
        elif key in _DELTA_KEYS:
            cells.append(f"{gateway[key] - other[key]:+.{decimals}f}")
        else:
            cells.append("")
    return cells


def _goal_cell(key: str, goals: dict[str, dict]) -> str:
    goal = goals.get(key)
    if not goal:
        return ""
    verdict = {True: "met", False: "MISSED", None: "–"}[goal["met"]]
    return f"{goal['op']} {goal['limit']:g}: {verdict}"


def _peers(targets: dict[str, dict]) -> list[str]:
    return [p for p in PEERS if p in targets] if "gateway" in targets else []


def table_rows(result: dict) -> list[list[str]]:
    targets, meta = result["targets"], result["meta"]
    names = [t for t in TARGETS if t in targets]
    header = ["metric", *names, *(PEER_LABELS[p] for p in _peers(targets)), "goal (gateway)"]
    rows = [header]
    for key, label, decimals in ROWS:
        cells = [_fmt(targets[t].get(key), decimals) for t in names]
        rows.append([label.format(**meta), *cells, *_ratio_cells(key, targets, decimals),
                     _goal_cell(key, result["goals"])])
    return rows


def render_text(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(result: dict, rows: list[list[str]]) -> str:
    meta = result["meta"]
    out = ["# Gateway benchmark", "",
           f"{meta['started']} · {meta['cpus']} CPUs · load generator: {meta['load_generator']} · "
           f"{meta['duration']:g} s per phase · proxy under test pinned to core {meta['proxy_core']}, "
           f"load generator and mock on core {meta['load_core']}", "",
           "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    failed = result.get("failed") or {}
    if failed:
        out += ["", "Not measured:", *[f"- {name}: {msg.strip().splitlines()[-1] if msg.strip() else '?'}"
                                       for name, msg in failed.items()]]
    out += ["", "Notes:", *[f"- {n}" for n in meta["notes"]], ""]
    return "\n".join(out)


def write(result: dict, outdir: Path) -> tuple[Path, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    rows = table_rows(result)
    json_path, md_path = outdir / "latest.json", outdir / "latest.md"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    md_path.write_text(render_markdown(result, rows))
    return json_path, md_path
