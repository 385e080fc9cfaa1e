"""The real coding agents, from npm at the versions pinned in `tests/agents/package-lock.json`.

They are installed once per lock file into a cache (`$GATEWAY_TEST_AGENTS_DIR`, default
`~/.cache/llm-gateway/agents-<lock hash>`), under a file lock so parallel test workers share one
install. Without `npm` on the machine the tests skip, saying so; a failed install is an error.
Every run gets a scratch HOME (and CODEX_HOME), so the agents read no user's settings.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
LOCK = HERE / "package-lock.json"


@dataclass(frozen=True)
class Agents:
    claude: Path
    codex: Path


def _install_dir() -> Path:
    configured = os.environ.get("GATEWAY_TEST_AGENTS_DIR")
    if configured:
        return Path(configured)
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    return Path.home() / ".cache" / "llm-gateway" / f"agents-{digest}"


@pytest.fixture(scope="session")
def agents() -> Agents:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Claude Code and Codex end-to-end tests need it")
    target = _install_dir()
    target.mkdir(parents=True, exist_ok=True)
    bins = target / "node_modules" / ".bin"
    with open(target / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (bins / "claude").exists() or not (bins / "codex").exists():
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(HERE / name, target / name)
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                                  cwd=target, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                pytest.fail(f"npm ci of the pinned agents failed:\n{done.stderr[-3000:]}")
    return Agents(bins / "claude", bins / "codex")


@pytest.fixture
def agent_home(tmp_path) -> dict[str, str]:
    """An environment with a scratch HOME and nothing of the caller's provider settings."""
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_", "CODEX_", "CLAUDE_"))}
    env.update(HOME=str(home), CODEX_HOME=str(home / ".codex"), NO_COLOR="1",
               DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
               DISABLE_TELEMETRY="1")
    return env


def claude_result(stdout: str) -> dict:
    """The JSON result line of `claude -p … --output-format json` (it may print notes first)."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON result in Claude Code's output:\n{stdout[-2000:]}")
