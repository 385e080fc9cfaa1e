"""Helpers for the example plugins' tests: each example is tested as a dropped-in file and as a
pip-installed package (built offline from its pyproject, installed into a temp target)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.gateway_fixtures import ROOT

EXAMPLES = ROOT / "examples" / "plugins"


def example_file(name: str) -> Path:
    return EXAMPLES / name / f"{name}.py"


@contextlib.contextmanager
def installed(name: str, target: Path) -> Iterator[Path]:
    """`pip install` the example's folder into `target` and put it on sys.path (and only for the
    duration: other tests of this worker must not load its entry point). Built from a copy, so
    the build leaves nothing in the source tree."""
    source = shutil.copytree(EXAMPLES / name, target.parent / f"{name}-src")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=120)
    sys.path.insert(0, str(target))
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        sys.modules.pop(name, None)
