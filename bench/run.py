"""Issue 13's benchmark in one run: the gateway (and the gateway for an org with DLP on) against
the same mock provider called directly, through a plain aiohttp pass-through and through bare
mitmproxy with a no-op addon:

    .venv/bin/python bench/run.py [--duration 8] [--quick] [--only gateway] [--no-workers]

Per target: non-streaming req/s at 16 and 64 connections (wrk, keep-alive), p50/p99 at 1 and 16,
streaming time-to-first-SSE-event at 64 concurrent streams, CPU per request and per stream of the
process under test, and its RSS after the load; then the goals as ratios (met / not met), and
CPU per request at `--workers 1` and `2`. The proxy under test runs on core 0; the load
generator, this script and the mock provider on core 1. Writes bench/results/latest.{json,md}.
All traffic stays on 127.0.0.1; every child process is stopped on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _load, _procs, _report, _rounds, _workers  # noqa: E402
from bench._load import Call  # noqa: E402

BUSY_WARNING = 0.25  # cores used by foreign processes, on average, before the figures are flagged
LEVELS = (16, 64)  # non-streaming connections measured per target


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the gateway against its baselines (issue 13).")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each phase")
    parser.add_argument("--streams", type=int, default=64, help="concurrent streams")
    parser.add_argument("--chunk-delay-ms", type=int, default=50, help="mock delay between SSE chunks")
    parser.add_argument("--stream-words", type=int, default=20, help="words in the streamed answer")
    parser.add_argument("--only", action="append", choices=_report.TARGETS,
                        help="measure only this target (repeatable)")
    parser.add_argument("--with-mitmproxy", action="store_true", help=argparse.SUPPRESS)  # now the default
    parser.add_argument("--max-workers", type=int, default=2, help="workers section: 1 … N (0: skip)")
    parser.add_argument("--no-workers", action="store_true", help="skip the workers section")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved throughput rounds (bare mitmproxy and the gateways; 0: skip)")
    parser.add_argument("--round-seconds", type=float, default=4.0, help="seconds per target and round")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all: a smoke test")
    parser.add_argument("--load-generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="never try to apt-get install wrk")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.streams = 1.0, 0.3, min(args.streams, 16)
        args.chunk_delay_ms, args.stream_words = 10, 8
        args.rounds, args.round_seconds = min(args.rounds, 1), 1.0
    if args.duration <= 0 or args.duration > 600 or args.streams < 1 or args.max_workers < 0:
        parser.error("--duration must be in (0, 600], --streams at least 1, --max-workers at least 0")
    wanted = set(args.only or _report.TARGETS)
    args.targets = [t for t in _report.TARGETS if t in wanted]
    args.worker_counts = [] if args.no_workers else list(range(1, args.max_workers + 1))
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, children: _procs.Children, workdir: Path) -> None:
        self.args, self.children, self.workdir = args, children, workdir
        cpus = sorted(os.sched_getaffinity(0))
        self.proxy_core, self.load_core = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
        self.wrk = None
        self.keys: dict[str, str] = {}
        if args.load_generator != "python":
            self.wrk = _procs.ensure_wrk(allow_install=not args.no_install)
            if self.wrk is None and args.load_generator == "wrk":
                raise RuntimeError("wrk is not installed and could not be installed")

    # -- processes ---------------------------------------------------------------------------------

    def start_mock(self) -> None:
        self.mock_port = _procs.free_port()
        self.mock = self.children.start("mock", [sys.executable, "-m", "gateway.cli", "mock-provider",
                                                 "--port", str(self.mock_port)], self.load_core)
        _procs.wait_listening(self.mock, self.mock_port)
        self.mock_url = f"http://{_procs.LOOPBACK}:{self.mock_port}"
        # A global switch, not the X-Mock-Chunk-Delay-Ms header: the gateway drops unknown headers.
        _post_json(self.mock_url + "/_mock/config", {"chunk_delay_ms": self.args.chunk_delay_ms})

    def gateway_env(self) -> dict[str, str]:
        data = self.workdir / "gateway-data"
        return {**os.environ, "GATEWAY_DATA_DIR": str(data), "GATEWAY_DATABASE_URL": f"sqlite:///{data}/gw.db",
                "GATEWAY_CONFIG": str(ROOT / "model_config.yaml"), "OPENAI_BASE_URL": self.mock_url + "/v1",
                "OPENAI_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": self.mock_url,
                "ANTHROPIC_API_KEY": "sk-bench", "OLLAMA_BASE_URL": self.mock_url}

    def start_proxy(self, name: str, workers: int = 1, pinned: bool = True) -> tuple[_procs.Child, str]:
        port = _procs.free_port()
        core = self.proxy_core if pinned else None
        if name in ("passthrough", "mitmproxy"):
            script = "passthrough.py" if name == "passthrough" else "bare_mitmproxy.py"
            argv = [sys.executable, str(ROOT / "bench" / script), "--port", str(port),
                    "--upstream", self.mock_url]
            child = self.children.start(name, argv, core)
        else:
            argv = [sys.executable, "-m", "gateway.cli", "proxy", "--host", _procs.LOOPBACK,
                    "--port", str(port), "--workers", str(workers)]
            child = self.children.start(f"{name}-w{workers}", argv, core, env=self.gateway_env())
        _procs.wait_listening(child, port)
        return child, f"http://{_procs.LOOPBACK}:{port}"

    def gateway_key(self, name: str) -> str:
        """A key of a user in the org `bench` (DLP off) or `bench-dlp` (DLP on), created once."""
        if name not in self.keys:
            env, dlp = self.gateway_env(), name == "gateway_dlp"
            org = "bench-dlp" if dlp else "bench"
            _procs.run_cli(["orgs", "create", org, "--name", org, *(["--dlp"] if dlp else [])], env)
            _procs.run_cli(["users", "create", f"b@{org}.test", "--name", "B", "--org", org], env)
            self.keys[name] = _procs.run_cli(["keys", "create", "--user", f"b@{org}.test"],
                                             env).strip().splitlines()[-1]
        return self.keys[name]

    # -- measuring ---------------------------------------------------------------------------------

    def calls(self, base_url: str, name: str) -> tuple[Call, Call]:
        gateway = name.startswith("gateway")
        key = self.gateway_key(name) if gateway else "sk-bench"
        model = "openai/gpt-4o-mini" if gateway else "gpt-4o-mini"
        url = base_url + "/v1/chat/completions"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        # An e-mail address in the prompt: with DLP on it is replaced and restored on every call.
        # Each request's text carries its own number (VARY): every prompt is scanned afresh.
        vary = _load.VARY.decode()
        plain = {"model": model, "messages": [{"role": "user", "content":
                                               f"hello, I am ada@example.com (message {vary})"}]}
        words = " ".join(f"word{i}" for i in range(self.args.stream_words))
        streamed = {"model": model, "stream": True,
                    "messages": [{"role": "user", "content": f"{words} ({vary})"}]}
        return (Call(url, json.dumps(plain).encode(), headers),
                Call(url, json.dumps(streamed).encode(), headers))

    def non_streaming(self, call: Call, concurrency: int, duration: float, tag: str) -> dict:
        if self.wrk:
            return _load.wrk_load(self.wrk, call, concurrency, duration, self.workdir, tag)
        return _load.python_load(call, concurrency, duration)

    def measure(self, name: str, under_test: _procs.Child, plain: Call, streamed: Call) -> dict:
        """Figures for one target, plus `foreign_cpu_share`: the average number of cores busy with
        processes other than ours (other work on the machine makes the latencies unreliable)."""
        ours = [under_test] if under_test is self.mock else [under_test, self.mock]
        busy0, own0, wall0 = _procs.system_busy_seconds(), self._ours(ours), time.monotonic()
        figures = self._measure(name, under_test, plain, streamed)
        foreign = (_procs.system_busy_seconds() - busy0) - (self._ours(ours) - own0)
        figures["foreign_cpu_share"] = max(0.0, foreign / (time.monotonic() - wall0))
        if figures["errors"]:
            print(f"bench: {name}: {figures['errors']} errors {figures['stream_failures'] or ''}; "
                  f"its log ends with:\n{under_test.log_tail(15)}", file=sys.stderr, flush=True)
        if figures["foreign_cpu_share"] > BUSY_WARNING:
            print(f"bench: warning: other processes used {figures['foreign_cpu_share']:.2f} cores during "
                  f"{name}; latency figures are unreliable (CPU per request is not affected)",
                  file=sys.stderr, flush=True)
        return figures

    @staticmethod
    def _ours(children: list[_procs.Child]) -> float:
        return _procs.own_seconds() + sum(c.cpu() for c in children)

    def _measure(self, name: str, under_test: _procs.Child, plain: Call, streamed: Call) -> dict:
        args, figures, errors = self.args, {}, 0
        _preflight(plain, streamed)
        _load.python_load(plain, 16, args.warmup)
        for level in LEVELS:
            print(f"bench: {name}: non-streaming, {level} connections …", file=sys.stderr, flush=True)
            cpu0 = under_test.cpu()
            loaded = self.non_streaming(plain, level, args.duration, f"{name}-c{level}")
            figures.update({f"rps_c{level}": loaded["rps"], f"c{level}_p50_ms": loaded["p50_ms"],
                            f"c{level}_p99_ms": loaded["p99_ms"], f"requests_c{level}": loaded["ok"],
                            f"cpu_s_c{level}": under_test.cpu() - cpu0})
            errors += loaded["non_2xx"] + loaded["socket_errors"]
        print(f"bench: {name}: one connection …", file=sys.stderr, flush=True)
        single = self.non_streaming(plain, 1, max(1.0, args.duration / 2), f"{name}-c1")
        figures.update(rps_c1=single["rps"], c1_p50_ms=single["p50_ms"], c1_p99_ms=single["p99_ms"])
        print(f"bench: {name}: {args.streams} streams …", file=sys.stderr, flush=True)
        streams = _load.stream_load(streamed, args.streams, args.warmup, args.duration, under_test.cpu)
        figures.update({
            "stream_ttfb_p50_ms": streams["ttfb_p50_ms"], "stream_ttfb_p99_ms": streams["ttfb_p99_ms"],
            "stream_count": streams["streams"], "stream_frames_mean": streams["frames_mean"],
            "stream_duration_mean_ms": streams["duration_mean_ms"],
            "stream_cpu_ms_per_stream": streams["cpu_ms_per_stream"], "stream_failures": streams["failures"],
            "errors": errors + single["non_2xx"] + single["socket_errors"] + streams["failed"]})
        return figures

    def run(self) -> dict:
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        _procs.pin_self(self.load_core)
        self.start_mock()
        targets: dict[str, dict] = {}
        failed: dict[str, str] = {}
        for name in self.args.targets:
            try:
                targets[name] = self.run_target(name)
            except (RuntimeError, OSError, urllib.error.URLError) as exc:
                # One broken target (say, a gateway that does not start) must not lose the others.
                failed[name] = str(exc)[-4000:]
                print(f"bench: {name} failed: {exc}", file=sys.stderr, flush=True)
        interleaved = self.interleaved(failed)
        workers: list[dict] = []
        if self.args.worker_counts:
            _procs.pin_self(None)
            try:
                workers = _workers.measure(self, self.args.worker_counts, self.non_streaming)
            except (RuntimeError, OSError, urllib.error.URLError) as exc:
                failed["workers"] = str(exc)[-4000:]
                print(f"bench: workers failed: {exc}", file=sys.stderr, flush=True)
        _report.add_derived(targets, interleaved)
        return {"meta": self.meta(started), "targets": targets, "failed": failed,
                "goals": _report.check_goals(targets), "workers": workers, "interleaved": interleaved}

    def interleaved(self, failed: dict[str, str]) -> dict:
        names = [n for n in ("mitmproxy", *_report.GATEWAYS) if n in self.args.targets]
        if self.args.rounds <= 0 or len(names) < 2 or names[0] != "mitmproxy":
            return {}
        try:
            direct = None
            if "direct" in self.args.targets:
                direct = (self.calls(self.mock_url, "direct")[1], self.mock.cpu)
            return _rounds.measure(self, names, self.args.rounds, self.args.round_seconds,
                                   self.non_streaming, self.round_streams, direct)
        except (RuntimeError, OSError, urllib.error.URLError) as exc:
            failed["interleaved"] = str(exc)[-4000:]
            print(f"bench: interleaved rounds failed: {exc}", file=sys.stderr)
            return {}

    def round_streams(self, streamed: Call, cpu: Callable[[], float]) -> dict:
        """The streaming figures of one target's turn in an interleaved round."""
        warmup = min(1.0, self.args.warmup)  # the process is warm: this staggers the streams
        return _load.stream_load(streamed, self.args.streams, warmup, self.args.round_seconds, cpu)

    def run_target(self, name: str) -> dict:
        if name == "direct":
            return self.measure(name, self.mock, *self.calls(self.mock_url, name))
        if name.startswith("gateway"):
            self.gateway_key(name)  # the CLI writes the database before the proxy starts
        child, url = self.start_proxy(name)
        try:
            figures = self.measure(name, child, *self.calls(url, name))
            figures["rss_mb"] = _procs.rss_mb(child.pid)
            return figures
        finally:
            self.children.stop(child)

    def meta(self, started: str) -> dict:
        a = self.args
        return {"started": started, "cpus": os.cpu_count(), "proxy_core": self.proxy_core,
                "load_core": self.load_core, "load_generator": "wrk" if self.wrk else "python-aiohttp",
                "duration": a.duration, "warmup": a.warmup, "levels": list(LEVELS), "streams": a.streams,
                "chunk_delay_ms": a.chunk_delay_ms, "stream_words": a.stream_words, "quick": a.quick,
                "python": sys.version.split()[0], "notes": _report.NOTES}


def _preflight(plain: Call, streamed: Call) -> None:
    """One call of each kind must succeed before load is put on a target."""
    for call in (plain, streamed):
        request = urllib.request.Request(call.url, data=call.body, headers=call.headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as resp:
            body = resp.read()
        if resp.status != 200 or not body:
            raise RuntimeError(f"preflight {call.url} answered {resp.status}: {body[:300]!r}")


def _post_json(url: str, doc: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        resp.read()


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        children = _procs.Children(Path(tmp))
        try:
            result = Bench(args, children, Path(tmp)).run()
        except KeyboardInterrupt:
            print("bench: interrupted", file=sys.stderr)
            return 130
        except (RuntimeError, OSError, urllib.error.URLError) as exc:
            print(f"bench: failed: {exc}", file=sys.stderr)
            return 1
        finally:
            children.stop_all()
    json_path, md_path = _report.write(result, args.out)
    print(_report.render_stdout(result))
    print(f"\nwrote {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path} "
          f"and {md_path.name}")
    if result["failed"]:
        print(f"bench: not measured: {', '.join(result['failed'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
