"""DLP quality on the project's own corpus (issue 14): recall and precision per type on the
generated pastes (prose, chat, code, logs, CSV, JSON) and on the hand-written samples, look-alike
samples altered, and the 64 KB scan median (bench/dlp_scan.py's measurement, one core).

    .venv/bin/python bench/dlp_corpus.py [--seed 14] [--runs 50] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dlp_scan import measure  # noqa: E402
from plugins.dlp._scanner import DEFAULT_RULES, Scanner  # noqa: E402
from tests.plugins import dlp_paste_corpus as C  # noqa: E402

RECALL_TARGET, ALTERED_TARGET, SCAN_TARGET_MS = 0.99, 0.01, 50.0


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def table(name: str, result: dict) -> str:
    lines = [f"{name}: {result['values']} values, recall {result['recall']:.4f}; "
             f"look-alike samples altered {len(result['altered'])} of {result['lookalikes']}",
             f"  {'TYPE':<14}{'VALUES':>7}{'RECALL':>8}{'FINDS':>7}{'PRECISION':>10}"]
    for kind, row in result["per_type"].items():
        lines.append(f"  {kind:<14}{row['values']:>7}{_fmt(row['recall']):>8}{row['finds']:>7}"
                     f"{_fmt(row['precision']):>10}")
    lines += [f"  missed {kind}: {value[:60]!r}" for kind, value in result["misses"][:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scanner = Scanner(DEFAULT_RULES)
    generated = C.score(scanner, *C.generate(seed=args.seed))
    handwritten = C.score(scanner, *C.handwritten())
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    scan = measure(65536, args.runs)
    ok = (all(r["recall"] is None or r["recall"] >= RECALL_TARGET
              for r in generated["per_type"].values())
          and len(generated["altered"]) <= ALTERED_TARGET * generated["lookalikes"]
          and scan["median_cpu_ms"] <= SCAN_TARGET_MS)
    if args.json:
        drop = ("misses", "altered")
        print(json.dumps({"generated": {k: v for k, v in generated.items() if k not in drop},
                          "handwritten": {k: v for k, v in handwritten.items() if k not in drop},
                          "altered": [len(generated["altered"]), len(handwritten["altered"])],
                          "scan_64k": scan, "within_targets": ok}))
    else:
        print(table(f"generated corpus (seed {args.seed})", generated))
        print(table("hand-written samples", handwritten))
        print(f"64 KB prompt scan: median {scan['median_cpu_ms']:.2f} ms CPU "
              f"({scan['median_wall_ms']:.2f} ms wall), p90 {scan['p90_cpu_ms']:.2f} ms "
              f"(target <= {SCAN_TARGET_MS:g} ms)")
        print("within targets" if ok else "MISSED a target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
