"""`bench/run.py --quick` runs end to end and reports every target, the goals and the workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"direct", "passthrough", "mitmproxy", "gateway", "gateway_dlp"}


@pytest.mark.slow
def test_bench_quick_reports_every_target(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-install",
                           "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    assert set(result["targets"]) == TARGETS
    for name, figures in result["targets"].items():
        for key in ("rps_c16", "rps_c64", "cpu_ms_per_req", "c1_p99_ms", "c16_p99_ms",
                    "stream_ttfb_p50_ms", "stream_ttfb_p99_ms"):
            assert figures[key] > 0, f"{name}.{key} = {figures[key]!r}"
        if name != "direct":
            assert figures["rss_mb"] > 0, name
    # The harness and the baselines must be clean; the gateway's own errors are its tests' business
    # (the figures above already prove that most of its calls succeeded).
    for name in ("direct", "passthrough", "mitmproxy"):
        assert result["targets"][name]["errors"] == 0, result["targets"][name].get("stream_failures")
    assert set(result["goals"]) == {"gateway", "gateway_dlp"}
    assert all(goal["value"] is not None for goal in result["goals"]["gateway"].values())
    rounds = result["interleaved"]
    assert set(rounds["ratio_vs_mitmproxy"]) == {"gateway", "gateway_dlp"}
    assert all(len(v) == rounds["rounds"] for v in rounds["cpu_ms_per_req"].values())
    assert result["targets"]["gateway"]["throughput_ratio_interleaved"] > 0
    assert set(rounds["stream_ratio_vs_mitmproxy"]) == {"gateway", "gateway_dlp"}
    assert all(len(v) == rounds["rounds"] for v in rounds["cpu_ms_per_stream"].values())
    assert result["targets"]["gateway_dlp"]["stream_cpu_ratio_interleaved"] > 0
    assert set(rounds["ttfb_p50_added"]) == {"gateway", "gateway_dlp"}
    assert all(len(v) == rounds["rounds"] for v in rounds["ttfb_p50_ms"].values())
    assert set(rounds["ttfb_p50_ms"]) == {"direct", "mitmproxy", "gateway", "gateway_dlp"}
    assert result["targets"]["gateway"]["stream_ttfb_p99_interleaved"] > 0
    assert [run["workers"] for run in result["workers"]] == [1, 2]
    assert all(len(run["rss_mb"]) == run["workers"] for run in result["workers"])
    markdown = (tmp_path / "latest.md").read_text()
    assert "| bare mitmproxy, no-op addon |" in markdown and "## Goals" in markdown
    assert "## Throughput in interleaved rounds" in markdown
    assert "## CPU per stream in the same rounds" in markdown
    assert "## Stream first byte in the same rounds" in markdown
