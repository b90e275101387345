"""Tiny listeners that speak just enough of a server protocol for the readiness probes.

Used in-process by the probe tests (``serve_in_thread``) and as a separate process by the stand-in
``docker`` (``python fake_server.py PROTOCOL PORT_FILE``), which plays a container's published port.

Protocols: redis (AUTH/PING -> +OK/+PONG), redis-loading (-LOADING), postgres (answers a startup
message with an MD5 authentication request), postgres-starting (57P03 "starting up"), postgres-denied
(28000, the server is up but refuses the role), mysql (protocol-10 handshake), mysql-error (error
packet 1040), silent (accepts, never answers), close (accepts and closes at once), garbage.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
from pathlib import Path


def _pg_error(code: str, message: str, severity: str = "FATAL") -> bytes:
    body = b"".join(
        key + value.encode() + b"\0" for key, value in ((b"S", severity), (b"C", code), (b"M", message))
    )
    body += b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def _read_pg_startup(conn: socket.socket) -> bytes:
    header = conn.recv(4, socket.MSG_WAITALL)
    (length,) = struct.unpack("!I", header)
    return conn.recv(length - 4, socket.MSG_WAITALL)


def _mysql_packet(payload: bytes, seq: int = 0) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def handle(protocol: str, conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the probe hung up first: nothing to answer
        _handle(protocol, conn)


def _handle(protocol: str, conn: socket.socket) -> None:
    with conn:
        if protocol == "silent":
            while conn.recv(4096):  # read everything, answer nothing, until the client gives up
                pass
            return
        if protocol == "close":
            return
        if protocol == "garbage":
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            return
        if protocol.startswith("postgres"):
            _read_pg_startup(conn)
            if protocol == "postgres":
                conn.sendall(b"R" + struct.pack("!II", 12, 5) + b"salt")
            elif protocol == "postgres-starting":
                conn.sendall(_pg_error("57P03", "the database system is starting up"))
            else:
                conn.sendall(_pg_error("28000", 'role "nobody" does not exist'))
            conn.recv(1)
            return
        if protocol == "mysql":
            payload = b"\x0a" + b"10.11.6-fake\0" + struct.pack("<I", 7) + b"abcdefgh\0" + b"\0" * 20
            conn.sendall(_mysql_packet(payload))
            conn.recv(1)
            return
        if protocol == "mysql-error":
            conn.sendall(_mysql_packet(b"\xff" + struct.pack("<H", 1040) + b"#08004Too many connections"))
            return
        _serve_redis(protocol, conn)


def _serve_redis(protocol: str, conn: socket.socket) -> None:
    buffer = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buffer += chunk
        # Each probe command is small; answer once per complete RESP array seen.
        while b"\r\n" in buffer and buffer.startswith(b"*"):
            count = int(buffer[1 : buffer.index(b"\r\n")])
            lines = buffer.split(b"\r\n")
            needed = 1 + 2 * count
            if len(lines) <= needed:
                break
            command = lines[2].upper()
            buffer = b"\r\n".join(lines[needed:])
            if protocol == "redis-loading":
                conn.sendall(b"-LOADING Redis is loading the dataset in memory\r\n")
            elif command == b"AUTH":
                conn.sendall(b"+OK\r\n")
            else:
                conn.sendall(b"+PONG\r\n")


def serve(protocol: str, listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:  # listener closed: stop serving
            return
        threading.Thread(target=handle, args=(protocol, conn), daemon=True).start()


def listen_on(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: a free one)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    return listener


def serve_in_thread(protocol: str) -> socket.socket:
    """A listener on a free port served by a daemon thread; `stop` it."""
    listener = listen_on()
    threading.Thread(target=serve, args=(protocol, listener), daemon=True).start()
    return listener


def stop(listener: socket.socket) -> None:
    """Stop listening now: close() alone leaves the port open while a thread still waits in accept()."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


if __name__ == "__main__":
    protocol_name, port_file = sys.argv[1], Path(sys.argv[2])
    server = listen_on()
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.getsockname()[1]))
    tmp.replace(port_file)
    serve(protocol_name, server)
