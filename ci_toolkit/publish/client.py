"""A small GitHub REST client for publishing: JSON in and out, retries with back-off, GitHub's rate-limit
headers honoured, and a time bound for the whole publication.

The token travels only in the Authorization header of requests to the API's own origin: never in a
message, a repr or a log line, and never to a host a `Link` header names elsewhere. `retry_delay` is the
whole retry decision, pure, so that it can be read and tested without a server.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from ci_toolkit.errors import ConfigError

if TYPE_CHECKING:
    import requests

TIMEOUT_ENV = "CI_TOOLKIT_GITHUB_TIMEOUT"
API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum page size: the fewest requests for a long thread
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MESSAGE_CHARS = 200  # GitHub's messages are short; an HTML error page is not, and stays out of the line
_WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")

log = logging.getLogger(__name__)


class PublishError(Exception):
    """A GitHub call that failed for good; the message is one line and never holds the token.

    `status` is the last HTTP status (None: no answer at all); `read_only` says the token may read but
    not write here (a 403 that is no rate limit, or a 404 on a write), as on a pull request from a fork.
    """

    def __init__(self, message: str, *, status: int | None = None, read_only: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.read_only = read_only


@dataclass(frozen=True)
class Policy:
    """How long to wait for GitHub. `timeout` bounds one call (connect and each read), `total` the whole
    publication; `attempts` counts every try of one call. Server errors and dropped connections back
    off from `base` doubling up to `cap`; a rate limit without a time to wait backs off from
    `rate_limit_wait` (GitHub asks for at least a minute)."""

    timeout: float = 10.0
    total: float = 120.0
    attempts: int = 5
    base: float = 1.0
    cap: float = 30.0
    rate_limit_wait: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Policy:
        raw = environ.get(TIMEOUT_ENV, "").strip()
        if not raw:
            return cls()
        try:
            total = float(raw)
        except ValueError:
            total = math.nan
        if not math.isfinite(total) or total <= 0:
            raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a positive number of seconds, e.g. 120")
        return cls(total=total)


class Retry(NamedTuple):
    """Wait `seconds`, then try again; `reason` says why, for the message when the wait is too long."""

    seconds: float
    reason: str


def retry_delay(
    status: int | None,
    headers: Mapping[str, str],
    message: str,
    attempt: int,
    *,
    policy: Policy,
    now: float,
    jitter: float,
) -> Retry | None:
    """Whether to try a failed call again, and after how long; None: do not.

    `status` None means no answer (connection refused or reset, a timeout). `headers` are the answer's
    (any case), `message` GitHub's `message` field, `attempt` the number of tries made so far (1 after
    the first), `now` the wall clock in epoch seconds (x-ratelimit-reset is one) and `jitter` in [0, 1).
    """
    lower = {key.lower(): value for key, value in headers.items()}
    if status in (403, 429):
        after = _seconds(lower.get("retry-after"))
        if after is not None:
            return Retry(after, "retry-after")
        reset = _seconds(lower.get("x-ratelimit-reset"))
        if lower.get("x-ratelimit-remaining", "").strip() == "0" and reset is not None:
            # The reset time has one-second resolution: a second more makes sure it has passed.
            return Retry(max(0.0, reset - now) + 1.0, "rate limit reset")
        if status == 429 or "rate limit" in message.lower():
            return Retry(_spread(policy.rate_limit_wait * 2 ** (attempt - 1), jitter), "rate limit")
        return None  # a permission refused: asking again changes nothing
    if status is None or status >= 500:
        step = min(policy.cap, policy.base * 2 ** (attempt - 1))
        return Retry(_spread(step, jitter), "no answer" if status is None else f"HTTP {status}")
    return None


def _spread(seconds: float, jitter: float) -> float:
    """Between `seconds` and 1.5 times it: clients failing together do not come back together."""
    return seconds * (1.0 + jitter / 2)


def _seconds(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class GitHub:
    """Calls to one GitHub API (api.github.com or a GitHub Enterprise Server's /api/v3) with one token.

    `sleep`, `clock` (monotonic, for the total bound), `wall` (epoch seconds, for x-ratelimit-reset)
    and `jitter` are injectable so that tests need not wait. `requests_made` counts every HTTP request
    sent, retries included.
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        policy: Policy = Policy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        import requests  # here, not at module level: `ci-toolkit --help` must not pay for it

        self.api_url = api_url.rstrip("/")
        self._origin = _origin(self.api_url)
        if self._origin is None:
            raise ConfigError(
                f"GitHub API URL {_show_origin(api_url)}: expected an http(s) URL such as https://api.github.com"
            )
        if self._origin[0] == "http" and self._origin[1] not in _LOOPBACK:
            raise ConfigError(
                f"GitHub API URL {_show_origin(api_url)}: plain http would send the token unencrypted; "
                "use https"
            )
        if not token:
            raise ConfigError("no GitHub token given: set GITHUB_TOKEN (or pass the token) to publish")
        self._auth = _bearer(token)
        self._scrub = _scrubber(token)
        self.policy = policy
        self._sleep, self._clock, self._wall, self._jitter = sleep, clock, wall, jitter
        self._deadline = clock() + policy.total
        self._requests = requests
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": user_agent(),
            }
        )
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"GitHub({self.api_url!r})"

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._call("GET", self.api_url + path, params=params)

    def post(self, path: str, payload: Mapping[str, Any]) -> Any:
        return self._call("POST", self.api_url + path, payload=payload)

    def patch(self, path: str, payload: Mapping[str, Any]) -> Any:
        return self._call("PATCH", self.api_url + path, payload=payload)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", self.api_url + path)

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following `Link: <...>; rel="next"` to the last page."""
        url: str | None = self.api_url + path
        query: Mapping[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        while url is not None:
            response = self._call("GET", url, params=query, want_response=True)
            items = _json(response, "GET", urlsplit(url).path)
            if not isinstance(items, list):
                raise PublishError(
                    f"GitHub GET {urlsplit(url).path}: expected a list, got {type(items).__name__}"
                )
            yield from items
            url = next_link(response.headers.get("Link", ""))
            query = None  # the next URL carries its own query
            if url is not None and _origin(url) != self._origin:
                raise PublishError(
                    f"GitHub GET {urlsplit(url).path}: the next page is on {_show_origin(url)}, not "
                    f"{_show_origin(self.api_url)}; refusing to send the token elsewhere"
                )

    def _call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
        want_response: bool = False,
    ) -> Any:
        path = urlsplit(url).path  # never the query, which may carry what is not ours to print
        attempt = 0
        while True:
            left = self._deadline - self._clock()
            timeout = min(self.policy.timeout, left)
            if left <= 0:
                raise PublishError(
                    f"GitHub {method} {path}: out of time, the {self.policy.total:g} s bound for publishing "
                    f"({TIMEOUT_ENV}) has passed ({_attempts(attempt)})"
                )
            attempt += 1
            self.requests_made += 1
            status, headers, message, failure = None, {}, "", ""
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=payload,
                    auth=self._auth,
                    timeout=timeout,
                )
            except self._requests.exceptions.SSLError:
                # A certificate problem does not go away on its own.
                raise PublishError(f"GitHub {method} {path}: TLS failed ({_attempts(attempt)})") from None
            except (
                self._requests.ConnectionError,
                self._requests.Timeout,
                self._requests.exceptions.ChunkedEncodingError,
            ) as exc:
                failure = _network_failure(exc, timeout)
                log.debug("GitHub %s %s: %s (attempt %d)", method, path, failure, attempt)
            else:
                log.debug("GitHub %s %s: %d (attempt %d)", method, path, response.status_code, attempt)
                if response.status_code < 300:
                    return response if want_response else _json(response, method, path)
                status, headers, message = response.status_code, response.headers, _message(response)
                failure = f"{status}{f' {message}' if message else ''}"
            retry = retry_delay(
                status,
                headers,
                message,
                attempt,
                policy=self.policy,
                now=self._wall(),
                jitter=self._jitter(),
            )
            read_only = (status == 403 and retry is None) or (status == 404 and method in _WRITE_METHODS)
            where = self._scrub(f"GitHub {method} {path}: {failure}")
            if retry is None:
                raise PublishError(f"{where} ({_attempts(attempt)})", status=status, read_only=read_only)
            if attempt >= self.policy.attempts:
                raise PublishError(f"{where} (gave up after {_attempts(attempt)})", status=status)
            left = self._deadline - self._clock()
            if retry.seconds >= left:
                raise PublishError(
                    f"{where} ({_attempts(attempt)}); the next try is {retry.seconds:.0f} s away "
                    f"({retry.reason}), past the {self.policy.total:g} s bound for publishing "
                    f"({left:.0f} s left; {TIMEOUT_ENV} sets it)",
                    status=status,
                )
            self._sleep(retry.seconds)


def _bearer(token: str) -> Callable[[requests.PreparedRequest], requests.PreparedRequest]:
    """The token as requests' `auth`: set on each request sent (and dropped by requests on a redirect to
    another host), so it is in no header dict, default or attribute anyone prints."""

    def attach(request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    attach.__qualname__ = attach.__name__ = "bearer"
    return attach


def _scrubber(token: str) -> Callable[[str], str]:
    """Blank the token out of a text: what a server echoes back is in our messages too."""
    return lambda text: text.replace(token, "***")


def next_link(header: str) -> str | None:
    """The URL of `rel="next"` in a Link header, or None on the last page."""
    for part in header.split(","):
        target, _, rest = part.partition(";")
        rels = {
            value.strip().strip('"')
            for name, _, value in (p.strip().partition("=") for p in rest.split(";"))
            if name.strip().lower() == "rel"
            for value in value.strip().strip('"').split()
        }
        target = target.strip()
        if "next" in rels and target.startswith("<") and target.endswith(">"):
            return target[1:-1]
    return None


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None for what is no http(s) URL."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _show_origin(url: str) -> str:
    """scheme://host[:port] of a URL: what a message may show of it (no path, query or user info)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme or '?'}://{host}{port}"


def _json(response: requests.Response, method: str, path: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise PublishError(
            f"GitHub {method} {path}: answered {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from None


def _message(response: requests.Response) -> str:
    """GitHub's `message` field, on one line; empty when the body is not GitHub's JSON."""
    try:
        data = response.json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str):
        return ""
    flat = " ".join(message.split())
    return flat if len(flat) <= _MESSAGE_CHARS else flat[: _MESSAGE_CHARS - 1] + "…"


def _network_failure(exc: Exception, timeout: float) -> str:
    # requests' own texts hold the full URL; the class says enough.
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    return f"connection failed ({type(exc).__name__})"


def _attempts(count: int) -> str:
    return f"{count} attempt{'' if count == 1 else 's'}"


def user_agent() -> str:
    from importlib import metadata

    try:
        return f"ci-toolkit/{metadata.version('ci-toolkit')}"
    except metadata.PackageNotFoundError:
        return "ci-toolkit"
