"""`bench/run.py --quick` runs end to end and reports the three targets with positive figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick_reports_three_targets(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-install",
                           "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    assert set(result["targets"]) == {"direct", "passthrough", "gateway"}
    for name, figures in result["targets"].items():
        for key in ("rps", "req_per_cpu_s", "p50_ms", "p99_ms", "stream_ttfb_p50_ms", "stream_ttfb_p99_ms"):
            assert figures[key] > 0, f"{name}.{key} = {figures[key]!r}"
    # The harness and the baselines must be clean; the gateway's own errors are its tests' business
    # (the figures above already prove that most of its calls succeeded).
    for name in ("direct", "passthrough"):
        assert result["targets"][name]["errors"] == 0, result["targets"][name].get("stream_failures")
    assert set(result["ratios"]) == {"gateway_vs_direct", "gateway_vs_passthrough"}
    assert set(result["goals"]) == {"req_per_cpu_s", "stream_added_ttfb_p50_ms"}
    assert "| metric |" in (tmp_path / "latest.md").read_text()
