"""Readiness probes: a real connection from the host, speaking just enough of each server's protocol.

A TCP connect alone proves little (docker-proxy accepts connections before the container's server
listens, and PostgreSQL accepts them while it is still recovering), so each kind reads the server's
first real answer. Probes never raise: they return a `ProbeResult`, falsy when not ready, whose
`detail` says what was seen, for the timeout message.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TIMEOUT = 1.0
# SQLSTATE 57P03 cannot_connect_now: starting up, shutting down, in recovery, too early in a hot standby.
_PG_NOT_YET = "57P03"
# Redis replies that mean "alive but not serving yet".
_REDIS_NOT_YET = ("-LOADING", "-BUSY", "-MASTERDOWN")


@dataclass(frozen=True)
class ProbeResult:
    ready: bool
    detail: str

    def __bool__(self) -> bool:
        return self.ready


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        chunks += chunk
    return bytes(chunks)


def _recv_line(sock: socket.socket, limit: int = 4096) -> bytes:
    line = bytearray()
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        line += chunk
        if len(line) > limit:
            raise ConnectionError("reply line too long")
    return bytes(line[:-2])


def _failure(exc: BaseException) -> ProbeResult:
    if isinstance(exc, TimeoutError):
        return ProbeResult(False, "no answer (timed out)")
    if isinstance(exc, ConnectionRefusedError):
        return ProbeResult(False, "connection refused")
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return ProbeResult(False, "the server closed the connection")
    return ProbeResult(False, str(exc) or type(exc).__name__)


def tcp_open(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Whether something accepts TCP connections (the only check possible for a custom service)."""
    try:
        with _connect(host, port, timeout):
            return ProbeResult(True, "TCP connection accepted")
    except OSError as exc:
        return _failure(exc)


def redis_ping(
    host: str, port: int, password: str = "", timeout: float = DEFAULT_TIMEOUT, *, user: str = ""
) -> ProbeResult:
    """PING over RESP (after AUTH when a password is set; `user` for a Redis 6 ACL user); +PONG, or
    an auth error, means it serves."""
    try:
        with _connect(host, port, timeout) as sock:
            if password:
                sock.sendall(_resp_command("AUTH", *([user] if user else []), password))
                reply = _recv_line(sock).decode("utf-8", "replace")
                if reply.startswith(_REDIS_NOT_YET):
                    return ProbeResult(False, f"server answered {reply!r}")
            sock.sendall(_resp_command("PING"))
            reply = _recv_line(sock).decode("utf-8", "replace")
    except (OSError, ConnectionError) as exc:
        return _failure(exc)
    if reply == "+PONG":
        return ProbeResult(True, "PING answered +PONG")
    if reply.startswith(_REDIS_NOT_YET) or not reply.startswith("-"):
        return ProbeResult(False, f"PING answered {reply!r}")
    # -NOAUTH / -WRONGPASS: the server is up; a wrong password is for the tests to report.
    return ProbeResult(True, f"PING answered {reply!r}")


def _resp_command(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def postgres_startup_message(user: str, database: str | None = None) -> bytes:
    """A protocol 3.0 StartupMessage, as libpq sends it first on a plain connection."""
    params = {"user": user, "database": database or user, "application_name": "ci-toolkit-probe"}
    body = struct.pack("!I", 196608)  # protocol 3.0
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def postgres_ready(
    host: str,
    port: int,
    user: str = "postgres",
    database: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeResult:
    """Send a StartupMessage and read the first reply: 'R' (an authentication request) means the server
    accepts sessions; 'E' means it is up unless the error is 57P03 (starting up / shutting down)."""
    try:
        with _connect(host, port, timeout) as sock:
            sock.sendall(postgres_startup_message(user, database))
            kind = _recv_exactly(sock, 1)
            if kind == b"R":
                return ProbeResult(True, "server asked for authentication")
            if kind != b"E":
                return ProbeResult(False, f"unexpected first reply byte {kind!r}")
            (length,) = struct.unpack("!I", _recv_exactly(sock, 4))
            fields = _pg_error_fields(_recv_exactly(sock, min(max(length - 4, 0), 65536)))
    except (OSError, ConnectionError) as exc:
        return _failure(exc)
    message = fields.get("M", "")
    if fields.get("C") == _PG_NOT_YET:
        return ProbeResult(False, f"server answered: {message}")
    return ProbeResult(True, f"server answered an error, so it is up: {message}")


def _pg_error_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def mysql_ready(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Read the server's initial handshake packet (protocol 10). An error packet instead (too many
    connections, host not allowed) still means the server is up and answering."""
    try:
        with _connect(host, port, timeout) as sock:
            header = _recv_exactly(sock, 4)
            length = int.from_bytes(header[:3], "little")
            payload = _recv_exactly(sock, min(length, 65536))
    except (OSError, ConnectionError) as exc:
        return _failure(exc)
    if not payload:
        return ProbeResult(False, "empty handshake packet")
    if payload[0] == 10:
        version = payload[1:].split(b"\0", 1)[0].decode("utf-8", "replace")
        return ProbeResult(True, f"handshake from server {version}")
    if payload[0] == 0xFF:
        message = payload[3:].decode("utf-8", "replace").lstrip("#")
        return ProbeResult(True, f"server answered an error, so it is up: {message}")
    return ProbeResult(False, f"unexpected handshake protocol byte {payload[0]}")


def probe_for(
    kind: str, host: str, port: int, *, user: str = "", password: str = "", database: str = ""
) -> Callable[[], ProbeResult]:
    """The readiness check for a kind, bound to one address (custom: a TCP connect)."""
    if kind == "postgres":
        return lambda: postgres_ready(host, port, user or "postgres", database or None)
    if kind == "redis":
        return lambda: redis_ping(host, port, password, user=user)
    if kind in ("mysql", "mariadb"):
        return lambda: mysql_ready(host, port)
    return lambda: tcp_open(host, port)


def describe(kind: str) -> str:
    """What the probe for a kind does, for timeout messages."""
    return {
        "postgres": "a PostgreSQL StartupMessage",
        "redis": "a Redis PING",
        "mysql": "a MySQL handshake read",
        "mariadb": "a MySQL handshake read",
    }.get(kind, "a TCP connect")


def wait_ready(
    probe: Callable[[], ProbeResult],
    timeout: float,
    *,
    interval: float = 0.05,
    abort: Callable[[], str | None] | None = None,
) -> ProbeResult:
    """Probe until ready or `timeout` seconds pass; `abort` returning a reason (e.g. "the process
    exited") stops early. Returns the last result, whose detail says what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if abort is not None:
            reason = abort()
            if reason:
                return ProbeResult(False, reason)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return result
        # Back off gently: fast first answers, without hammering a server that is slow to start.
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 0.5)
