"""A stand-in for the payment provider, which cannot be reached from here (nor should tests charge cards).

It is faked at the network boundary: a real HTTP server on 127.0.0.1, so the app's real HTTP client code
(httpx, headers, timeouts, status handling) runs exactly as in production. It implements the two
endpoints the app uses, deduplicates by Idempotency-Key as the real provider does, declines the test
card "tok_declined", and can be told to misbehave: answer the next request with anything (a 503, a
non-JSON page), or hold it until the client has given up. It records every request it receives, so a
test can check how many charges reached the provider, not only what the API answered.

One server per test process (an xdist worker), started once; reset() between tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk_test_example"
DECLINED_SOURCE = "tok_declined"
_AMOUNT = re.compile(r"\d+\.\d{2}")
_HOLD_LIMIT = 30.0  # seconds a held request waits for reset() at most, so a forgotten one cannot hang


@dataclass(frozen=True)
class Recorded:
    path: str
    idempotency_key: str | None
    body: Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # sent as is, so a test can send something that is not JSON


def json_answer(status: int, body: Any) -> Answer:
    return Answer(status, json.dumps(body).encode())


HOLD = Answer(0, b"")  # queued like an answer: hold the request, answer nothing until reset()


class FakeProvider:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-provider", daemon=True)
        self._release = threading.Event()
        self.reset()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._release.set()  # let a held request go: its client gave up long ago
            self._release = threading.Event()
            self._requests: list[Recorded] = []
            self._queued: deque[Answer] = deque()
            self._answers: dict[tuple[str, str], Answer] = {}
            self._charges: dict[str, Decimal] = {}
            self._refunded: dict[str, Decimal] = {}
            self._ids = 0

    # What tests set up --------------------------------------------------------------------------

    def answer_next(self, status: int, body: Any) -> None:
        """The next request gets this answer, whatever it asks (bytes are sent as they are)."""
        with self._lock:
            self._queued.append(
                Answer(status, body) if isinstance(body, bytes) else json_answer(status, body)
            )

    def hold_next(self) -> None:
        """The next request gets no answer until reset(): longer than any client timeout in the tests."""
        with self._lock:
            self._queued.append(HOLD)

    # What tests check ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    # The provider's behaviour -------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        key = headers.get("idempotency-key")
        with self._lock:
            self._requests.append(Recorded(path, key, body))
            queued = self._queued.popleft() if self._queued else None
            release = self._release
            if queued is None:
                return self._serve(path, headers, key, body)
        if queued is HOLD:
            release.wait(_HOLD_LIMIT)  # outside the lock: other requests, and reset(), go on meanwhile
            return json_answer(503, {"error": "held by the test, released"})
        return queued

    def _serve(self, path: str, headers: dict[str, str], key: str | None, body: Any) -> Answer:
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return json_answer(401, {"error": "invalid_api_key"})
        if not key:
            return json_answer(400, {"error": "missing Idempotency-Key"})
        if (path, key) in self._answers:  # a retry: the first answer, and nothing happens again
            return self._answers[(path, key)]
        if not isinstance(body, dict):
            return json_answer(400, {"error": "expected a JSON object"})
        if path == "/v1/charges":
            answer = self._charge(body)
        elif path == "/v1/refunds":
            answer = self._refund(body)
        else:
            return json_answer(404, {"error": f"no such endpoint {path}"})
        self._answers[(path, key)] = answer
        return answer

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids:06d}"

    def _charge(self, body: dict[str, Any]) -> Answer:
        amount, source = body.get("amount"), body.get("source")
        if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount) or not source:
            return json_answer(400, {"error": "amount (as 12.50) and source are required"})
        if source == DECLINED_SOURCE:
            return json_answer(402, {"error": "card_declined", "decline_reason": "insufficient_funds"})
        charge_id = self._next_id("ch")
        self._charges[charge_id] = Decimal(amount)
        self._refunded[charge_id] = Decimal("0.00")
        return json_answer(201, {"id": charge_id, "amount": amount, "currency": body.get("currency")})

    def _refund(self, body: dict[str, Any]) -> Answer:
        charge_id, amount = body.get("charge"), body.get("amount")
        if charge_id not in self._charges:
            return json_answer(404, {"error": f"no such charge {charge_id}"})
        if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount):
            return json_answer(400, {"error": "amount (as 12.50) is required"})
        if self._refunded[charge_id] + Decimal(amount) > self._charges[charge_id]:
            return json_answer(400, {"error": "refunds would exceed the charge"})
        self._refunded[charge_id] += Decimal(amount)
        return json_answer(201, {"id": self._next_id("re"), "charge": charge_id, "amount": amount})


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a held request must not keep the test process alive

    def __init__(self, fake: FakeProvider) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = fake.handle(self.path, headers, raw)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            pass  # the client stopped waiting (a held request): nobody is left to tell

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded, not printed
