"""One native start in progress, as the kinds and the native backend share it.

A kind's `native_server` sets its server up inside the run's temp dir (initdb, mariadb-install-db, an
init file) with `Run.setup`, and describes the server to launch as a `NativeServer`; the native backend
launches it on a free port, waits until it is ready and stops it. Every process started here carries
MARKER=<temp dir> in its environment, which is how the backend finds what a killed start left.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit.services.base import Endpoint, Note, ServiceError, ServiceSpec

LOG_NAME = "server.log"
MARKER = "CI_TOOLKIT_SERVICE_ROOT"  # in the environment of every process started for a service


class StartFailed(Exception):
    """A start that cannot succeed; the backend turns it into ServiceError with the log tail."""


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account a server runs as when we are root (initdb and mariadbd refuse root)."""

    name: str
    uid: int
    gid: int


def unprivileged_user(preferred: str) -> RunAs | None:
    """None unless we are root; then `preferred` if that account exists, else `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in (preferred, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(name, entry.pw_uid, entry.pw_gid)
    raise ServiceError(
        f'running as root, but neither a "{preferred}" nor a "nobody" account exists to run servers'
    )


def as_user(run_as: RunAs | None) -> dict[str, Any]:
    """subprocess keyword arguments that run a command as `run_as` (nothing when None)."""
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def server_env(root: Path | None = None) -> dict[str, str]:
    """The environment for a server and our own clients of it."""
    # libpq/mysql variables in our environment must not redirect our own tools; C locale and UTC
    # make the new cluster the same everywhere (and spare initdb its time-zone search).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL", MARKER))}
    env.update({"LC_ALL": "C", "LANG": "C", "TZ": "UTC"})
    if root is not None:
        env[MARKER] = str(root)  # how stop() finds what a killed start left running
    return env


def identity(pid: int) -> str | None:
    """What tells this process from a later one given the same pid: its start time (None: gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        stat = ""
    if stat:
        fields = stat[stat.rindex(")") + 2 :].split()
        return None if fields[0] in ("Z", "X") else f"linux:{fields[19]}"
    # No /proc (macOS): ps reports the start time to the second, which is enough next to the pid.
    try:
        out = subprocess.run(
            ["ps", "-o", "stat=,lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out or out.startswith("Z"):
        return None
    return "ps:" + out.split(None, 1)[-1]


@dataclass(frozen=True)
class NativeServer:
    """What a kind tells the native backend to launch once its set-up is done."""

    argv: Callable[[int], list[str]]  # the server's command line for a port
    ready: Callable[[Endpoint], bool]  # a real connection succeeds
    credentials: tuple[str, str, str]  # (user, password, database) while starting
    handle: Mapping[str, Any] = field(default_factory=dict)  # noted, and kept in the endpoint's handle
    run_as: RunAs | None = None  # launch as this account (a server that drops privileges itself: None)
    # After ready: e.g. create the configured database; a StartFailed fails the start.
    finish: Callable[[Endpoint], Endpoint] | None = None
    # A user's command may daemonize: its launcher exiting 0 is no failure, and the process that
    # answers on the port (if it is ours) becomes the server.
    may_daemonize: bool = False


class Run:
    """One start in progress: its temp dir, log, deadline and the server process once launched.

    `reuse_cache` and `save_cache` say whether a kind may copy a cached set-up result instead of
    making it (postgres: a pristine initdb), and whether it saves one for later starts.
    """

    def __init__(
        self,
        spec: ServiceSpec,
        root: Path,
        deadline: float,
        note: Note,
        *,
        reuse_cache: bool = True,
        save_cache: bool = False,
    ) -> None:
        self.spec = spec
        self.root = root
        self.deadline = deadline
        self.note = note
        self.reuse_cache = reuse_cache
        self.save_cache = save_cache
        self.log = root / LOG_NAME
        self.log.touch(mode=0o600)
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def launch(self, argv: list[str], run_as: RunAs | None) -> subprocess.Popen[bytes]:
        self._offset = self.log.stat().st_size
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                env=server_env(self.root), start_new_session=True, **as_user(run_as),
            )  # fmt: skip
        pid = self.proc.pid
        self.note({"pid": pid, "pgid": pid, "started": identity(pid)})
        return self.proc

    def setup(self, argv: list[str], run_as: RunAs | None, failure: str) -> None:
        """Run a set-up command to completion, its output appended to the server log."""
        with self.log.open("ab") as log:
            try:
                code = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                    env=server_env(self.root), timeout=max(self.deadline - time.monotonic(), 0.1),
                    check=False, **as_user(run_as),
                ).returncode  # fmt: skip
            except subprocess.TimeoutExpired:
                raise StartFailed(f"{failure}: not done within {self.spec.ready_timeout:g} s") from None
        if code != 0:
            raise StartFailed(f"{failure} (exit code {code})")

    def new_log_text(self) -> str:
        with self.log.open("rb") as log:
            log.seek(self._offset)
            return log.read().decode(errors="replace")

    def tail(self, lines: int = 6) -> str:
        try:
            text = self.log.read_bytes()[-8192:].decode(errors="replace")
        except OSError:
            return "(no log)"
        kept = [line.strip()[:300] for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept) or "(empty log)"
