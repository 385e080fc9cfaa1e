"""The workers section: `llm-gateway proxy --workers N` at N = 1 … max, each under the same
non-streaming load, reporting the CPU per request summed over the worker processes (it should stay
flat as N grows) and each worker's RSS. Not pinned: the workers need every core, so the load
generator shares them and req/s is only a sanity figure."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import _procs
from bench._load import Call


def worker_pids(supervisor: int, expected: int, timeout: float = 30.0) -> list[int]:
    """The proxy processes: the supervisor's children when it has `expected` of them (N > 1), the
    process itself for N = 1 (`llm-gateway proxy` then serves in-process)."""
    if expected == 1:
        return [supervisor]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _children(supervisor)
        if len(pids) >= expected:
            return pids
        time.sleep(0.1)
    raise RuntimeError(f"--workers {expected}: found {len(_children(supervisor))} worker processes")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def measure(bench, counts: list[int], load: Callable[[Call, int, float, str], dict]) -> list[dict]:
    """One run per worker count; `bench` starts the gateway and builds the calls (bench/run.py)."""
    runs = []
    for count in counts:
        print(f"bench: workers: --workers {count} …", file=sys.stderr, flush=True)
        child, url = bench.start_proxy("gateway", workers=count, pinned=False)
        try:
            pids = worker_pids(child.pid, count)
            _procs.wait_listening(child, int(url.rsplit(":", 1)[1]))
            plain, _ = bench.calls(url, "gateway")
            load(plain, 16, bench.args.warmup, f"workers{count}-warm")
            cpu0 = sum(_procs.cpu_seconds(p) for p in pids)
            result = load(plain, 16, bench.args.duration, f"workers{count}")
            cpu = sum(_procs.cpu_seconds(p) for p in pids) - cpu0
            runs.append({"workers": count, "rps": result["rps"], "requests": result["ok"],
                         "errors": result["non_2xx"] + result["socket_errors"], "cpu_s": cpu,
                         "cpu_ms_per_req": cpu * 1000 / result["ok"] if result["ok"] else None,
                         "rss_mb": [_procs.rss_mb(p) for p in pids]})
        finally:
            bench.children.stop(child)
    return runs
