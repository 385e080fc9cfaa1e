"""A throwaway PostgreSQL cluster for one test session, from the server binaries on this machine.

`start()` runs `initdb` and `pg_ctl start` in a fresh temp dir on a free loopback port and returns a
`Cluster` (its URL, and `stop()`), or a `Missing` that says why it could not. initdb refuses to run
as root, so as root the cluster belongs to the unprivileged `nobody` account (the same trick
`.ci/run` used with its own user).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

RUN_AS = "nobody"


@dataclass(frozen=True)
class Missing:
    reason: str


@dataclass(frozen=True)
class Cluster:
    url: str
    root: Path
    bindir: Path
    version: str

    def stop(self) -> None:
        _run(self.bindir / "pg_ctl", "-D", self.root / "data", "-m", "immediate", "stop",
             check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for d in dirs:
        if os.access(Path(d, "initdb"), os.X_OK) and os.access(Path(d, "pg_ctl"), os.X_OK):
            return Path(d)
    return None


def start() -> Cluster | Missing:
    bindir = find_bindir()
    if bindir is None:
        return Missing("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); install "
                       "Debian's `postgresql` package or set GATEWAY_TEST_PG_URL")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return Missing("running as root without `runuser` to start PostgreSQL as another user")
    root = Path(tempfile.mkdtemp(prefix="gw-test-pg-"))
    try:
        return _start_in(bindir, root)
    except (OSError, subprocess.SubprocessError) as exc:
        log = _tail(root / "server.log")
        shutil.rmtree(root, ignore_errors=True)
        return Missing(f"PostgreSQL from {bindir} did not start: {exc} {log}".strip())


def _start_in(bindir: Path, root: Path) -> Cluster:
    if os.geteuid() == 0:
        shutil.chown(root, RUN_AS)
    port = _free_port()
    _run(bindir / "initdb", "-D", root / "data", "-U", "postgres", "--auth=trust", "-E", "UTF8",
         "--no-sync")
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=300 "
               f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    _run(bindir / "pg_ctl", "-D", root / "data", "-l", root / "server.log", "-w", "-t", "60",
         "-o", options, "start")
    version = subprocess.run([bindir / "postgres", "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    return Cluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", root, bindir, version)


def _run(*argv, check: bool = True) -> None:
    cmd = [str(a) for a in argv]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd="/", timeout=120)
    if check and done.returncode != 0:
        tail = " | ".join(done.stdout.strip().splitlines()[-3:])
        raise OSError(f"{Path(str(argv[0])).name} exited {done.returncode}: {tail}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])
    except OSError:
        return ""
