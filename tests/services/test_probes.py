"""Readiness probes (probes.py, and each kind's protocol reader in kinds/) against real servers
(PostgreSQL 15, redis-server, mariadbd when installed) and against small real listeners that answer
the way a server does while it is not ready yet."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_docker import fake_server, local_servers

from ci_toolkit.services import probes
from ci_toolkit.services.kinds.mysql import handshake as mysql_ready
from ci_toolkit.services.kinds.postgres import ready as postgres_ready
from ci_toolkit.services.kinds.postgres import startup_message
from ci_toolkit.services.kinds.redis import ping as redis_ping
from ci_toolkit.services.probes import tcp_open

HOST = "127.0.0.1"


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[int]:
    """A real TCP listener on a free port speaking `request.param` (see fake_server.py)."""
    sock = fake_server.serve_in_thread(request.param)
    try:
        yield sock.getsockname()[1]
    finally:
        fake_server.stop(sock)


def closed_port() -> int:
    return local_servers.free_port()


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[str, int]]:
    with local_servers.running_postgres() as address:
        yield address


def test_real_postgres_is_ready(postgres: tuple[str, int]) -> None:
    result = postgres_ready(*postgres)
    assert result, result.detail
    assert result.detail == "server asked for authentication"


def test_real_postgres_is_up_whatever_role_the_probe_names(postgres: tuple[str, int]) -> None:
    """Readiness is about the server, not our credentials: its first answer is all the probe needs."""
    assert postgres_ready(*postgres, user="no_such_role", database="no_such_db")


def test_real_redis_ping_with_and_without_password(tmp_path: Path) -> None:
    with local_servers.running_redis(tmp_path, password="s3cret") as (host, port):
        assert redis_ping(host, port, "s3cret").detail == "PING answered +PONG"
        # Without the password the server still answers (-NOAUTH): it is up.
        anonymous = redis_ping(host, port)
        assert anonymous
        assert "NOAUTH" in anonymous.detail
        wrong_user = redis_ping(host, port, "s3cret", user="nobody")
        assert wrong_user  # the server answered (WRONGPASS, then NOAUTH): it is up


def test_real_mariadb_handshake(tmp_path: Path) -> None:
    with local_servers.running_mariadb(tmp_path) as (host, port):
        result = mysql_ready(host, port)
        assert result
        assert result.detail.startswith("handshake from server ")


@pytest.mark.parametrize(
    ("listener", "check", "ready", "detail"),
    [
        ("postgres", postgres_ready, True, "server asked for authentication"),
        ("postgres-starting", postgres_ready, False, "the database system is starting up"),
        ("postgres-denied", postgres_ready, True, 'role "nobody" does not exist'),
        ("garbage", postgres_ready, False, "unexpected first reply byte b'H'"),
        ("close", postgres_ready, False, "the server closed the connection"),
        ("redis", redis_ping, True, "+PONG"),
        ("redis-loading", redis_ping, False, "LOADING"),
        ("garbage", redis_ping, False, "PING answered 'HTTP/1.0 400 Bad Request'"),
        ("mysql", mysql_ready, True, "handshake from server 10.11.6-fake"),
        ("mysql-error", mysql_ready, True, "Too many connections"),
        ("close", mysql_ready, False, "the server closed the connection"),
        ("silent", tcp_open, True, "TCP connection accepted"),
    ],
    indirect=["listener"],
)
def test_probe_reads_the_first_answer(listener: int, check: object, ready: bool, detail: str) -> None:
    result = check(HOST, listener)  # type: ignore[operator]
    assert bool(result) is ready
    assert detail in result.detail


@pytest.mark.parametrize("listener", ["silent"], indirect=True)
@pytest.mark.parametrize("check", [postgres_ready, mysql_ready])
def test_a_server_that_never_answers_times_out(listener: int, check: object) -> None:
    result = check(HOST, listener, timeout=0.2)  # type: ignore[operator]
    assert not result
    assert result.detail == "no answer (timed out)"


@pytest.mark.parametrize("check", [tcp_open, postgres_ready, redis_ping, mysql_ready])
def test_nothing_listening_is_connection_refused(check: object) -> None:
    result = check(HOST, closed_port())  # type: ignore[operator]
    assert not result
    assert result.detail == "connection refused"


@pytest.mark.parametrize("listener", ["redis"], indirect=True)
def test_redis_probe_authenticates_first(listener: int) -> None:
    assert redis_ping(HOST, listener, "secret").detail == "PING answered +PONG"
    assert redis_ping(HOST, listener, "secret", user="app").detail == "PING answered +PONG"


def test_startup_message_is_protocol_3() -> None:
    message = startup_message("app", "appdb")
    assert int.from_bytes(message[:4], "big") == len(message)
    assert int.from_bytes(message[4:8], "big") == 196608
    assert b"user\0app\0database\0appdb\0" in message
    assert message.endswith(b"\0\0")


def test_wait_ready_returns_once_the_server_comes_up() -> None:
    """The server starts listening after the first failed probes; wait_ready keeps trying."""
    port = closed_port()
    attempts: list[probes.ProbeResult] = []
    server: list[socket.socket] = []

    def probe() -> probes.ProbeResult:
        result = redis_ping(HOST, port)
        attempts.append(result)
        if len(attempts) == 3 and not server:
            listener = fake_server.listen_on(port)
            server.append(listener)
            threading.Thread(target=fake_server.serve, args=("redis", listener), daemon=True).start()
        return result

    try:
        result = probes.wait_ready(probe, timeout=30, interval=0.01)
    finally:
        for sock in server:
            fake_server.stop(sock)
    assert result
    assert [bool(a) for a in attempts] == [False, False, False, True]


def test_redis_ping_over_a_unix_socket(tmp_path: Path) -> None:
    """The native backend's own check: the server's unix socket first (port None: a path)."""
    path = str(tmp_path / "redis.sock")
    assert not redis_ping(path, None)  # no socket there yet
    with local_servers.running_redis(tmp_path, password="pw", unix_socket=path):
        assert redis_ping(path, None, "pw").detail == "PING answered +PONG"


def test_wait_ready_gives_up_with_the_last_answer() -> None:
    result = probes.wait_ready(lambda: tcp_open(HOST, closed_port()), timeout=0.1, interval=0.01)
    assert not result
    assert result.detail == "connection refused"
