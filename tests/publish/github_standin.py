"""A stand-in for github.com's REST API: real HTTP on 127.0.0.1, for tests of code that publishes to GitHub.

It stands in for github.com at the network boundary; nothing of ci-toolkit is replaced. Use it as a
context manager (or call `start()` / `close()`):

    with GitHubStandIn() as github:
        github.add_token("ghs_abc", "github-actions[bot]")        # read_only=True: 403 on every write
        github.add_pr("o/r", 7, head_sha="a" * 40, head_repo="fork/r")
        github.add_comments("o/r", 7, 250, login="someone", body="hi")   # -> their ids, oldest first
        client = GitHub(github.url, "ghs_abc", ...)

Endpoints, as GitHub answers them:
    GET    /user                                   the token's login (401 unknown token; a `ghs_` token,
                                                   an installation token, gets 403 like on GitHub)
    GET    /repos/{o}/{r}/issues/{n}/comments      oldest first; per_page (default 30, at most 100), page;
                                                   Link header with rel="next" and rel="last"
    POST   /repos/{o}/{r}/issues/{n}/comments      {"body": ...}: 201; more than 65,536 characters: 422
    PATCH  /repos/{o}/{r}/issues/comments/{id}     {"body": ...}: 200 (404 for an unknown id)
    DELETE /repos/{o}/{r}/issues/comments/{id}     204
    GET    /repos/{o}/{r}/pulls/{n}                head.sha, head.repo.full_name, base.repo.full_name
Every answer carries x-ratelimit-* headers with plenty remaining. `link_base` (default: `url`) is what
Link headers point at; set it to another origin to test that a client refuses to follow.

Faults: `inject(*faults)` queues `Fault`s; each request takes the first queued fault that matches its
method and path prefix and is answered by it instead (a status with headers and a JSON message), or
answered late (`delay`: the request is served at once, its answer sent `delay` seconds later — a write
still happens, as on GitHub when a client gave up waiting), or held at a `barrier` until as many
requests reached it (to make a race certain), or cut off (`reset`: the socket is closed without an
answer, and the request is not served). `pending_faults()` says how many are still queued.

Inspection: `log` (every request as `Request(method, path, query, login, headers)`, in arrival order),
`count(method=None, path=None)` (requests with that method and path prefix), `comments(repo, n)` (the
thread as stored, oldest first), `comment(id)`. All state is behind one lock: requests are served on
threads.

`FakeTime` is a clock for clients under test: its `sleep` records each delay and moves both its
monotonic `clock` and its `wall` clock on, so retries wait for nothing. `client(standin, token,
policy=None, time=None, jitter=0.0)` is a ci_toolkit GitHub client for the stand-in on such a clock.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ci_toolkit.publish.client import GitHub, Policy

MAX_BODY = 65_536
BOT = "github-actions[bot]"
DENIED = "Resource not accessible by integration"
_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_PULL = re.compile(r"^/repos/([^/]+/[^/]+)/pulls/(\d+)$")


@dataclass(frozen=True)
class Fault:
    """What the next request matching `method` and `path` (a prefix; None: any) gets instead of its answer.

    `status` (with `headers` and a JSON `message`) answers it; `delay` seconds pass between serving it
    and sending the answer; `barrier` holds it until the barrier's other parties arrive; `reset` closes
    the connection without an answer.
    """

    status: int | None = None
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    barrier: threading.Barrier | None = None
    method: str | None = None
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    login: str | None
    headers: dict[str, str]


@dataclass(frozen=True)
class _Token:
    login: str
    read_only: bool
    installation: bool  # a `ghs_` token, as the workflow's GITHUB_TOKEN


class FakeTime:
    """Injectable time for a client: `sleep` records and advances, nothing really waits."""

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self.now = 0.0
        self.epoch = wall
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.epoch + self.now


def client(
    standin: GitHubStandIn,
    token: str,
    *,
    policy: Policy | None = None,
    time: FakeTime | None = None,
    jitter: float = 0.0,
) -> GitHub:
    """A client of the stand-in whose waits between retries are `time`'s (a fresh FakeTime by default)."""
    time = time or FakeTime()
    return GitHub(
        standin.url,
        token,
        policy=policy or Policy(),
        sleep=time.sleep,
        clock=time.clock,
        wall=time.wall,
        jitter=lambda: jitter,
    )


class GitHubStandIn:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._tokens: dict[str, _Token] = {}
        self._threads: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._where: dict[int, tuple[str, int]] = {}
        self._pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self._log: list[Request] = []
        self._next_id = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.link_base = ""

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> GitHubStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True  # a held or slow request must not keep close() waiting
        port = self._server.server_address[1]
        self.url = self.link_base = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="github-standin", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            for fault in self._faults:
                if fault.barrier is not None:
                    fault.barrier.abort()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    # -- seeding -----------------------------------------------------------------------------------

    def add_token(self, token: str, login: str, *, read_only: bool = False) -> None:
        with self._lock:
            self._tokens[token] = _Token(login, read_only, token.startswith("ghs_"))

    def add_pr(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        head_repo: str | None = None,
        base_repo: str | None = None,
    ) -> None:
        with self._lock:
            self._pulls[(repo, number)] = {
                "number": number,
                "state": "open",
                "head": {"sha": head_sha, "repo": {"full_name": head_repo or repo}},
                "base": {"repo": {"full_name": base_repo or repo}},
            }

    def add_comments(self, repo: str, number: int, count: int, *, login: str, body: str) -> list[int]:
        with self._lock:
            return [self._create(repo, number, login, body)["id"] for _ in range(count)]

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    # -- inspection --------------------------------------------------------------------------------

    @property
    def log(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for request in self.log
            if (method is None or request.method == method)
            and (path is None or request.path.startswith(path))
        )

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(json.dumps(c)) for c in self._threads.get((repo, number), [])]

    def comment(self, comment_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._find(comment_id)
            return json.loads(json.dumps(found)) if found else None

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    # -- the API (called by the handler, on its thread) ------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    return self._faults.pop(index)
        return None

    def _record(self, request: Request) -> None:
        with self._lock:
            self._log.append(request)

    def _login(self, authorization: str) -> _Token | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        with self._lock:
            return self._tokens.get(token.strip())

    def _create(self, repo: str, number: int, login: str, body: str) -> dict[str, Any]:
        self._next_id += 1
        comment_id = self._next_id
        stamp = f"2026-01-01T00:00:{comment_id % 60:02d}Z"
        comment = {
            "id": comment_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            "created_at": stamp,
            "updated_at": stamp,
        }
        self._threads.setdefault((repo, number), []).append(comment)
        self._where[comment_id] = (repo, number)
        return comment

    def _find(self, comment_id: int) -> dict[str, Any] | None:
        where = self._where.get(comment_id)
        thread = self._threads.get(where, []) if where else []
        return next((c for c in thread if c["id"] == comment_id), None)

    def _answer(
        self, method: str, path: str, query: dict[str, str], token: _Token | None, payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        """(status, extra headers, JSON body) for one request."""
        if token is None:
            return 401, {}, {"message": "Bad credentials"}
        if path == "/user" and method == "GET":
            return _user(token)
        if method in ("POST", "PATCH", "DELETE") and token.read_only:
            return 403, {}, {"message": DENIED}
        if match := _COMMENTS.match(path):
            repo, number = match[1], int(match[2])
            if method == "GET":
                return self._list(path, query, repo, number)
            if method == "POST":
                problem = _bad_body(payload)
                if problem:
                    return 422, {}, {"message": problem}
                with self._lock:
                    return 201, {}, self._create(repo, number, token.login, payload["body"])
        if match := _COMMENT.match(path):
            return self._change(method, int(match[2]), payload)
        if (match := _PULL.match(path)) and method == "GET":
            with self._lock:
                pull = self._pulls.get((match[1], int(match[2])))
            return (200, {}, pull) if pull else (404, {}, {"message": "Not Found"})
        return 404, {}, {"message": "Not Found"}

    def _list(
        self, path: str, query: dict[str, str], repo: str, number: int
    ) -> tuple[int, dict[str, str], Any]:
        try:
            per_page = min(100, max(1, int(query.get("per_page", "30"))))
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            return 422, {}, {"message": "Invalid request."}
        with self._lock:
            thread = list(self._threads.get((repo, number), []))
        last = max(1, -(-len(thread) // per_page))
        links = []
        if page < last:
            links.append(f'<{self.link_base}{path}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{self.link_base}{path}?per_page={per_page}&page={last}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, headers, thread[(page - 1) * per_page : page * per_page]

    def _change(self, method: str, comment_id: int, payload: Any) -> tuple[int, dict[str, str], Any]:
        if method == "PATCH":
            problem = _bad_body(payload)
            if problem:
                return 422, {}, {"message": problem}
        with self._lock:
            found = self._find(comment_id)
            if found is None or method not in ("PATCH", "DELETE"):
                return 404, {}, {"message": "Not Found"}
            if method == "DELETE":
                self._threads[self._where.pop(comment_id)].remove(found)
                return 204, {}, None
            found["body"] = payload["body"]
            found["updated_at"] = "2026-01-02T00:00:00Z"
            return 200, {}, dict(found)


def _user(token: _Token) -> tuple[int, dict[str, str], Any]:
    if token.installation:
        # An installation token (the workflow's GITHUB_TOKEN) is no user: GitHub answers 403.
        return 403, {}, {"message": DENIED}
    return 200, {}, {"login": token.login, "type": "User"}


def _bad_body(payload: Any) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
        return 'Invalid request. "body" wasn\'t supplied.'
    if len(payload["body"]) > MAX_BODY:
        return "Validation Failed: body is too long (maximum is 65536 characters)"
    return ""


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None  # answered as a missing body, as GitHub does


def _handler_for(standin: GitHubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as GitHub: a client's connection reuse is exercised

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            token = standin._login(self.headers.get("Authorization", ""))
            standin._record(
                Request(
                    method,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    token.login if token else None,
                    {key.lower(): value for key, value in self.headers.items()},
                )
            )
            fault = standin._take_fault(method, parts.path) or Fault()
            if fault.barrier is not None:
                # Broken (a party never came, or close()): let it through; the test's own check decides.
                with contextlib.suppress(threading.BrokenBarrierError):
                    fault.barrier.wait(timeout=30)
            if fault.reset:
                self._reset()
                return
            if fault.status is not None:
                answer: tuple[int, dict[str, str], Any] = (
                    fault.status,
                    dict(fault.headers),
                    {"message": fault.message},
                )
            else:
                answer = standin._answer(method, parts.path, dict(parse_qsl(parts.query)), token, _json(raw))
            if fault.delay and standin._closing.wait(fault.delay):
                return
            self._send(*answer)

        def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                # Real GitHub sends these on every answer; a fault's headers replace them.
                lower = {key.lower() for key in headers}
                for key, value in (("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "4999")):
                    if key not in lower:
                        self.send_header(key, value)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client gave up waiting

        def _reset(self) -> None:
            # SO_LINGER 0: closing sends RST, a connection reset rather than a polite end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

    return Handler
