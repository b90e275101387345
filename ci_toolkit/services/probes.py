"""Readiness probes: what every kind's probe is made of, and waiting until one succeeds.

A TCP connect alone proves little (docker-proxy accepts connections before the container's server
listens, and PostgreSQL accepts them while it is still recovering), so each kind (kinds/) reads its
server's first real answer with these helpers. Probes never raise: they return a `ProbeResult`, falsy
when not ready, whose `detail` says what was seen, for the timeout message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

DEFAULT_TIMEOUT = 1.0

if TYPE_CHECKING:
    import socket


@dataclass(frozen=True)
class ProbeResult:
    ready: bool
    detail: str

    def __bool__(self) -> bool:
        return self.ready


def connect(host: str, port: int | None, timeout: float) -> socket.socket:
    """A connected socket; `port` None: `host` is the path of a unix socket."""
    import socket  # here: the configuration imports this module, and socket costs it milliseconds

    if port is None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(host)
        except BaseException:
            sock.close()
            raise
        return sock
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        chunks += chunk
    return bytes(chunks)


def recv_line(sock: socket.socket, limit: int = 4096) -> bytes:
    line = bytearray()
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        line += chunk
        if len(line) > limit:
            raise ConnectionError("reply line too long")
    return bytes(line[:-2])


def failure(exc: BaseException) -> ProbeResult:
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
        with connect(host, port, timeout):
            return ProbeResult(True, "TCP connection accepted")
    except OSError as exc:
        return failure(exc)


def wait_ready(probe: Callable[[], ProbeResult], timeout: float, *, interval: float = 0.05) -> ProbeResult:
    """Probe until ready or `timeout` seconds pass. Returns the last result, whose detail says what
    was seen."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return result
        # Back off gently: fast first answers, without hammering a server that is slow to start.
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 0.5)
