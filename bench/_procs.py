"""Child processes of the benchmark: start them pinned to a core, wait until they listen, read
their CPU time, and stop every one of them on the way out (also on Ctrl-C and on errors)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPBACK = "127.0.0.1"


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def pin_self(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # After the ")" closing the command name, field 3 (state) is index 0: utime is 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def own_seconds() -> float:
    """CPU seconds of this process and of its reaped children (wrk, CLI commands)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Child:
    def __init__(self, name: str, proc: subprocess.Popen, log: Path) -> None:
        self.name, self.proc, self.log = name, proc, log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Children:
    """Every process the benchmark started; `stop_all` ends them (by pid, never by name)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.live: list[Child] = []

    def start(self, name: str, argv: list[str], core: int | None, env: dict[str, str] | None = None) -> Child:
        if core is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(core), *argv]
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            # Own session: Ctrl-C reaches only us, and we stop the children in order.
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=ROOT, start_new_session=True)
        child = Child(name, proc, log)
        self.live.append(child)
        return child

    def stop(self, child: Child, timeout: float = 10.0) -> None:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
            try:
                child.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(timeout=5)
        if child in self.live:
            self.live.remove(child)

    def stop_all(self) -> None:
        for child in list(reversed(self.live)):
            try:
                self.stop(child)
            except (OSError, subprocess.SubprocessError) as exc:
                print(f"bench: could not stop {child.name} (pid {child.pid}): {exc}", file=sys.stderr)


def wait_listening(child: Child, port: int, timeout: float = 60.0) -> None:
    """Until `port` accepts a connection; fails early if the child died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.log_tail()}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not listen on port {port} within {timeout:.0f}s:\n"
                       f"{child.log_tail()}")


def run_cli(argv: list[str], env: dict[str, str], timeout: float = 60.0) -> str:
    """`python -m gateway.cli …`; returns stdout, raises with stderr on failure."""
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *argv], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"llm-gateway {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def ensure_wrk(allow_install: bool) -> str | None:
    """Path to wrk; tries `apt-get install -y wrk` once when missing and allowed."""
    found = shutil.which("wrk")
    if found or not allow_install or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("bench: wrk not found, trying apt-get install -y wrk …", file=sys.stderr)
    install = ["apt-get", "install", "-y", "wrk"]
    for argv in (install, ["apt-get", "update"], install):
        try:
            subprocess.run(argv, capture_output=True, timeout=300,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (OSError, subprocess.TimeoutExpired):
            return None
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


def rss_mb(pid: int) -> float | None:
    """Resident set size of one process, MB (VmRSS of /proc/<pid>/status)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            line = next(line for line in fh if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        return None
