"""Load generators: wrk with a Lua script (non-streaming), a Python aiohttp fallback, and the
streaming time-to-first-byte client. Every loop is bounded by a deadline and a count."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

MAX_REQUESTS_PER_WORKER = 1_000_000
MAX_STREAMS_PER_WORKER = 100_000
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)


VARY = b"#N"  # in a call's body: replaced by the request's own number, so no two bodies are alike


@dataclass(frozen=True)
class Call:
    url: str
    body: bytes
    headers: dict[str, str]

    def body_for(self, number: int) -> bytes:
        """The body of the `number`th request: every request's text is its own (a gateway that
        remembers texts it saw, like DLP's scanner, gets no help from repetition here)."""
        return self.body.replace(VARY, str(number).encode())


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def co_corrected(latencies: list[float], expected_ms: float, cap: int = 5_000_000) -> list[float]:
    """wrk's coordinated-omission correction (`stats_correct`), so both generators report the same
    kind of tail: a call that took L > 2·expected also stands for the calls its connection would
    have sent meanwhile, with latencies L − expected, L − 2·expected, … down to expected."""
    if expected_ms <= 0:
        return latencies
    out = list(latencies)
    for value in latencies:
        if value < 2 * expected_ms:
            continue
        missing = value - expected_ms
        while missing > expected_ms and len(out) < cap:
            out.append(missing)
            missing -= expected_ms
    return out


# ---- non-streaming: wrk -------------------------------------------------------------------------

_LUA = """
wrk.method = "POST"
{headers}
local before, after, number = [==[{before}]==], [==[{after}]==], 0
request = function()
  number = number + 1
  return wrk.format(nil, nil, nil, before .. number .. after)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local f = io.open([==[{out}]==], "w")
  f:write(string.format('{{"requests": %.0f, "duration_s": %.6f, "non_2xx": %.0f, ' ..
    '"socket_errors": %.0f, "p50_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f, "max_ms": %.3f}}',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.mean / 1e3, latency.max / 1e3))
  f:close()
end
"""


def _lua_script(call: Call, out: Path) -> str:
    headers = "\n".join(f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in call.headers.items())
    before, _, after = call.body.decode().partition(VARY.decode())
    return _LUA.format(before=before, after=after, headers=headers, out=out)


def wrk_load(wrk: str, call: Call, concurrency: int, duration: float, workdir: Path, tag: str) -> dict:
    script, out = workdir / f"wrk-{tag}.lua", workdir / f"wrk-{tag}.json"
    out.unlink(missing_ok=True)
    script.write_text(_lua_script(call, out))
    argv = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(script), call.url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = json.loads(out.read_text())
    result["ok"] = result["requests"] - result["non_2xx"]
    result["rps"] = result["ok"] / result["duration_s"] if result["duration_s"] else 0.0
    return result


# ---- non-streaming: Python fallback -------------------------------------------------------------

async def _python_load(call: Call, concurrency: int, duration: float) -> dict:
    latencies: list[float] = []
    errors = {"non_2xx": 0, "socket_errors": 0}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=CLIENT_TIMEOUT) as session:
        start = time.perf_counter()
        deadline = start + duration

        numbers = itertools.count(1)

        async def worker() -> None:
            for _ in range(MAX_REQUESTS_PER_WORKER):
                if time.perf_counter() >= deadline:
                    return
                t0 = time.perf_counter()
                body = call.body_for(next(numbers))
                try:
                    async with session.post(call.url, data=body, headers=call.headers) as resp:
                        await resp.read()
                        good = 200 <= resp.status < 300
                except (TimeoutError, aiohttp.ClientError):
                    errors["socket_errors"] += 1
                    continue
                if good:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors["non_2xx"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    per_connection = len(latencies) // concurrency
    tail = co_corrected(latencies, elapsed * 1000 / per_connection) if per_connection else latencies
    return {"requests": len(latencies) + errors["non_2xx"], "ok": len(latencies), "duration_s": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": percentile(tail, 50),
            "p99_ms": percentile(tail, 99),
            "mean_ms": statistics.fmean(latencies) if latencies else 0.0,
            "max_ms": max(latencies, default=0.0), **errors}


def python_load(call: Call, concurrency: int, duration: float) -> dict:
    return asyncio.run(_python_load(call, concurrency, duration))


# ---- streaming: time to the first SSE event ------------------------------------------------------

async def _stream_once(session: aiohttp.ClientSession, call: Call,
                       number: int) -> tuple[float, float, int] | str:
    """(ttfb_ms, total_ms, frames), or why the stream failed. TTFB ends when the first `data:`
    line (the first SSE chunk) has arrived, not at the response headers."""
    body = call.body_for(number)
    t0 = time.perf_counter()
    async with session.post(call.url, data=body, headers=call.headers) as resp:
        if resp.status != 200:
            await resp.read()
            return f"HTTP {resp.status}"
        ttfb, received = None, bytearray()
        async for data in resp.content.iter_any():
            received += data
            if ttfb is None and b"data:" in received:
                ttfb = (time.perf_counter() - t0) * 1000
    if ttfb is None:
        return "no SSE event"
    return ttfb, (time.perf_counter() - t0) * 1000, received.count(b"data:")


async def _stream_load(call: Call, streams: int, warmup: float, duration: float,
                       cpu: Callable[[], float]) -> dict:
    samples: list[tuple[float, float, int]] = []
    failures: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=streams)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=connector, timeout=CLIENT_TIMEOUT) as session:
        measure_from = time.perf_counter() + warmup
        deadline = measure_from + duration
        cpu_marks: list[float] = []
        loop.call_later(warmup, lambda: cpu_marks.append(cpu()))
        numbers = itertools.count(1)

        async def worker(index: int) -> None:
            # Staggered over the warm-up, so that the chunk timers of the streams do not line up.
            await asyncio.sleep(warmup * index / streams)
            for _ in range(MAX_STREAMS_PER_WORKER):
                started = time.perf_counter()
                if started >= deadline:
                    return
                try:
                    sample = await _stream_once(session, call, next(numbers))
                except (TimeoutError, aiohttp.ClientError) as exc:
                    sample = f"{type(exc).__name__}: {exc}"[:160]
                if started >= measure_from:
                    if isinstance(sample, str):
                        failures[sample] += 1
                    else:
                        samples.append(sample)

        await asyncio.gather(*(worker(i) for i in range(streams)))
        cpu_used = cpu() - (cpu_marks[0] if cpu_marks else 0.0)
    ttfbs = [s[0] for s in samples]
    return {"streams": len(samples), "failed": sum(failures.values()), "failures": dict(failures),
            "ttfb_p50_ms": percentile(ttfbs, 50),
            "ttfb_p99_ms": percentile(ttfbs, 99), "ttfb_ms": ttfbs,
            "duration_mean_ms": statistics.fmean(s[1] for s in samples) if samples else 0.0,
            "frames_mean": statistics.fmean(s[2] for s in samples) if samples else 0.0,
            "cpu_ms_per_stream": cpu_used * 1000 / len(samples) if samples else 0.0}


def stream_load(call: Call, streams: int, warmup: float, duration: float, cpu: Callable[[], float]) -> dict:
    return asyncio.run(_stream_load(call, streams, warmup, duration, cpu))
