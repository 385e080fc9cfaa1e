"""What metering costs: the same gateway with the metering plugin blocked
(`GATEWAY_DISABLE_PLUGINS=metering`) and with it on (request log, rollups, metrics; and on with a
weekly cap on the caller, so every call also reserves and settles in the ledger).

    .venv/bin/python bench/metering_overhead.py [--duration 10] [--rounds 2] [--quick]

Each variant is the normal `llm-gateway proxy` process (one worker, SQLite in a fresh temporary
data dir, every other plugin loaded) pinned to core 0; wrk (or the Python load generator) and the
mock provider share core 1. Variants run in turns (off, on, capped, off, on, capped, …) so a
noisy neighbour hits them alike; the best round of each counts. Non-streaming requests at a fixed
concurrency: req/s, and requests per CPU-second of the proxy. Writes
bench/results/metering_overhead.{json,md}. Traffic stays on 127.0.0.1; every child is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _load, _procs  # noqa: E402
from bench._load import Call  # noqa: E402

VARIANTS = {"off": "metering blocked", "on": "metering on (no cap)",
            "capped": "metering on, caller has a weekly cap (reserve + settle per call)"}
TARGET = 0.15


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2, help="turns of off/on/capped")
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 1.0, 0.3, 1
    if not 0 < args.duration <= 600 or args.rounds < 1 or args.concurrency < 1:
        p.error("--duration must be in (0, 600], --rounds and --concurrency at least 1")
    return args


class Run:
    def __init__(self, args: argparse.Namespace, children: _procs.Children, workdir: Path) -> None:
        self.args, self.children, self.workdir = args, children, workdir
        cpus = sorted(os.sched_getaffinity(0))
        self.proxy_core, self.load_core = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
        self.wrk = shutil.which("wrk")

    def env(self, variant: str, data: Path) -> dict[str, str]:
        env = {**os.environ, "GATEWAY_DATA_DIR": str(data),
               "GATEWAY_DATABASE_URL": f"sqlite:///{data}/gw.db",
               "GATEWAY_CONFIG": str(ROOT / "model_config.yaml"),
               "OPENAI_BASE_URL": self.mock_url + "/v1", "OPENAI_API_KEY": "sk-bench",
               "ANTHROPIC_BASE_URL": self.mock_url, "ANTHROPIC_API_KEY": "sk-bench",
               "OLLAMA_BASE_URL": self.mock_url, "GATEWAY_LOG_LEVEL": "WARNING"}
        env.pop("GATEWAY_DISABLE_PLUGINS", None)
        if variant == "off":
            env["GATEWAY_DISABLE_PLUGINS"] = "metering"
        return env

    def start_mock(self) -> None:
        port = _procs.free_port()
        self.mock = self.children.start("mock", [sys.executable, "-m", "gateway.cli", "mock-provider",
                                                 "--port", str(port)], self.load_core)
        _procs.wait_listening(self.mock, port)
        self.mock_url = f"http://{_procs.LOOPBACK}:{port}"

    def measure(self, variant: str, index: int) -> dict:
        data = self.workdir / f"{variant}-{index}"
        env = self.env(variant, data)
        _procs.run_cli(["orgs", "create", "bench", "--name", "Bench"], env)
        cap = ["--weekly-cap", "1000000"] if variant == "capped" else []
        _procs.run_cli(["users", "create", "b@bench.test", "--name", "B", "--org", "bench", *cap], env)
        key = _procs.run_cli(["keys", "create", "--user", "b@bench.test"], env).strip().splitlines()[-1]
        port = _procs.free_port()
        argv = [sys.executable, "-m", "gateway.cli", "proxy", "--host", _procs.LOOPBACK,
                "--port", str(port)]
        child = self.children.start(f"gateway-{variant}-{index}", argv, self.proxy_core, env=env)
        try:
            _procs.wait_listening(child, port)
            body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
            call = Call(f"http://{_procs.LOOPBACK}:{port}/v1/chat/completions",
                        json.dumps(body).encode(),
                        {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            _load.python_load(call, self.args.concurrency, self.args.warmup)
            cpu0 = child.cpu()
            if self.wrk:
                loaded = _load.wrk_load(self.wrk, call, self.args.concurrency, self.args.duration,
                                        self.workdir, f"{variant}-{index}")
            else:
                loaded = _load.python_load(call, self.args.concurrency, self.args.duration)
            cpu_s = child.cpu() - cpu0
        finally:
            self.children.stop(child)
        errors = loaded["non_2xx"] + loaded["socket_errors"]
        return {"rps": loaded["rps"], "p50_ms": loaded["p50_ms"], "p99_ms": loaded["p99_ms"],
                "req_per_cpu_s": loaded["ok"] / cpu_s if cpu_s > 0 else None, "errors": errors,
                "logged_rows": _count_rows(data / "gw.db") if variant != "off" else None,
                "requests": loaded["ok"]}

    def run(self) -> dict:
        _procs.pin_self(self.load_core)
        self.start_mock()
        rounds: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for i in range(self.args.rounds):
            for variant in VARIANTS:
                print(f"bench: round {i + 1}: {VARIANTS[variant]} …", file=sys.stderr, flush=True)
                rounds[variant].append(self.measure(variant, i))
        best = {v: max(runs, key=lambda r: r["rps"]) for v, runs in rounds.items()}
        return {"meta": {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
                         "load_generator": "wrk" if self.wrk else "python-aiohttp",
                         "duration": self.args.duration, "concurrency": self.args.concurrency,
                         "rounds": self.args.rounds},
                "rounds": rounds, "best": best, "overhead": _overhead(best)}


def _count_rows(db: Path) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM request_logs").fetchone()[0]
    except sqlite3.Error:
        return None


def _overhead(best: dict) -> dict:
    off = best["off"]
    out = {}
    for variant in ("on", "capped"):
        row = best[variant]
        out[variant] = {
            "throughput_cost": 1 - row["rps"] / off["rps"] if off["rps"] else None,
            "cpu_cost": (1 - row["req_per_cpu_s"] / off["req_per_cpu_s"])
            if row["req_per_cpu_s"] and off["req_per_cpu_s"] else None}
    out["target"] = TARGET
    out["met"] = out["on"]["throughput_cost"] is not None and out["on"]["throughput_cost"] <= TARGET
    return out


def render(result: dict) -> str:
    best, over = result["best"], result["overhead"]
    lines = ["# Metering overhead", "",
             f"{result['meta']['started']} · {result['meta']['cpus']} CPUs · "
             f"{result['meta']['load_generator']} · c={result['meta']['concurrency']} · "
             f"{result['meta']['duration']:g} s × {result['meta']['rounds']} round(s), best round", "",
             "| variant | req/s | req per CPU-second | p50 ms | p99 ms | errors | rows logged | "
             "throughput cost vs off |", "|---|---|---|---|---|---|---|---|"]
    for v, label in VARIANTS.items():
        r = best[v]
        cost = "" if v == "off" else f"{over[v]['throughput_cost'] * 100:.1f} %"
        rows = "-" if r["logged_rows"] is None else r["logged_rows"]
        lines.append(f"| {label} | {r['rps']:.0f} | {r['req_per_cpu_s'] or 0:.0f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {rows} | {cost} |")
    verdict = "met" if over["met"] else "MISSED"
    lines += ["", f"Goal: metering + logging costs at most {TARGET:.0%} of throughput: **{verdict}** "
              f"({over['on']['throughput_cost'] * 100:.1f} %; with a cap on every call: "
              f"{over['capped']['throughput_cost'] * 100:.1f} %).",
              f"CPU per request (less sensitive to other load on the machine): "
              f"{_pct(over['on']['cpu_cost'])} with metering on, {_pct(over['capped']['cpu_cost'])} "
              f"with a cap on every call."]
    return "\n".join(lines) + "\n"


def _pct(share: float | None) -> str:
    # cpu_cost is the drop in requests per CPU-second; as CPU per request that is 1/(1-x) - 1.
    return "n/a" if share is None else f"+{(1 / (1 - share) - 1) * 100:.1f} %"


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt()))
    with tempfile.TemporaryDirectory(prefix="gw-metering-bench-") as tmp:
        children = _procs.Children(Path(tmp))
        try:
            result = Run(args, children, Path(tmp)).run()
        except KeyboardInterrupt:
            print("bench: interrupted", file=sys.stderr)
            return 130
        except (RuntimeError, OSError) as exc:
            print(f"bench: failed: {exc}", file=sys.stderr)
            return 1
        finally:
            children.stop_all()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metering_overhead.json").write_text(json.dumps(result, indent=2, default=str))
    text = render(result)
    (args.out / "metering_overhead.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
