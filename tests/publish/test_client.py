"""The GitHub REST client: paging, the retry decision, the bounds, and the token kept to itself.

Tests that talk HTTP use tests/publish/github_standin.py, which stands in for github.com at the network
boundary (real HTTP on 127.0.0.1); `FakeTime` replaces only the waiting between retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from github_standin import DENIED, FakeTime, Fault, GitHubStandIn
from github_standin import client as standin_client

from ci_toolkit.errors import ConfigError
from ci_toolkit.publish.client import TIMEOUT_ENV, GitHub, Policy, PublishError, Retry, next_link, retry_delay

TOKEN = "ghp_s3cr3tT0kenValue0123456789abcdef"
COMMENTS = "/repos/o/r/issues/1/comments"
FAST = Policy(timeout=5.0, total=120.0, attempts=4, base=0.5, cap=4.0, rate_limit_wait=60.0)


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_token(TOKEN, "octocat")
        yield standin


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


def client(github: GitHubStandIn, time_: FakeTime, policy: Policy = FAST, token: str = TOKEN) -> GitHub:
    return standin_client(github, token, policy=policy, time=time_)


# -- retry_delay, pure ------------------------------------------------------------------------------


def decide(
    status: int | None, headers: dict[str, str] | None = None, message: str = "", attempt: int = 1
) -> Retry | None:
    return retry_delay(status, headers or {}, message, attempt, policy=FAST, now=1000.0, jitter=0.0)


def test_server_errors_and_silence_back_off_exponentially_to_the_cap() -> None:
    assert [decide(502, attempt=n).seconds for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert decide(None) == Retry(0.5, "no answer")
    assert decide(503).reason == "HTTP 503"


def test_jitter_spreads_a_wait_by_up_to_half() -> None:
    spread = retry_delay(500, {}, "", 1, policy=FAST, now=0.0, jitter=0.99)
    assert spread is not None and 0.5 < spread.seconds < 0.75


def test_retry_after_is_honoured_first_in_any_case() -> None:
    assert decide(403, {"Retry-After": "7"}, "secondary rate limit") == Retry(7.0, "retry-after")
    assert decide(429, {"retry-after": "0"}) == Retry(0.0, "retry-after")


def test_an_exhausted_primary_limit_waits_for_its_reset() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030"}
    assert decide(403, headers, "API rate limit exceeded") == Retry(31.0, "rate limit reset")
    assert decide(403, {**headers, "X-RateLimit-Reset": "900"}).seconds == 1.0  # already past


def test_a_rate_limit_without_a_time_waits_a_minute_and_more() -> None:
    assert decide(429) == Retry(60.0, "rate limit")
    assert (
        decide(403, {"x-ratelimit-remaining": "12"}, "You have exceeded a secondary rate limit").seconds == 60
    )
    assert decide(429, attempt=3).seconds == 240.0


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_client_errors_are_final(status: int) -> None:
    assert decide(status) is None


def test_a_403_that_is_no_rate_limit_is_final() -> None:
    assert decide(403, {"x-ratelimit-remaining": "4999"}, DENIED) is None
    assert decide(403, {"retry-after": "soon"}, DENIED) is None  # not a number of seconds: ignored


def test_next_link() -> None:
    header = '<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'
    assert next_link(header) == "https://api.github.com/x?page=2"
    assert next_link('<https://api.github.com/x?page=1>; rel="prev first"') is None
    assert next_link("") is None


# -- Policy -----------------------------------------------------------------------------------------


def test_policy_total_from_the_environment() -> None:
    assert Policy.from_env({}) == Policy()
    assert Policy.from_env({TIMEOUT_ENV: " 30 "}).total == 30.0


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf", "nan"])
def test_a_bad_timeout_is_one_line_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{TIMEOUT_ENV}=") as caught:
        Policy.from_env({TIMEOUT_ENV: value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://github.example", "not a url", "http://github.example.com/api/v3"])
def test_an_unusable_api_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="GitHub API URL"):
        GitHub(url, TOKEN)


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="token"):
        GitHub("https://api.github.com", "")


# -- against the stand-in -----------------------------------------------------------------------------


def test_pages_follows_link_next_across_three_pages(github: GitHubStandIn, time_: FakeTime) -> None:
    ids = github.add_comments("o/r", 1, 250, login="someone", body="hi")
    gh = client(github, time_)
    assert [c["id"] for c in gh.pages(COMMENTS)] == ids
    assert gh.requests_made == 3
    assert [r.query for r in github.log] == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
        {"per_page": "100", "page": "3"},
    ]


def test_requests_carry_githubs_headers_and_the_token_only_as_bearer(
    github: GitHubStandIn, time_: FakeTime
) -> None:
    assert client(github, time_).get("/user") == {"login": "octocat", "type": "User"}
    headers = github.log[0].headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"].startswith("ci-toolkit")


def test_writes_return_parsed_json_and_a_delete_none(github: GitHubStandIn, time_: FakeTime) -> None:
    gh = client(github, time_)
    created = gh.post(COMMENTS, {"body": "one"})
    assert gh.patch(f"/repos/o/r/issues/comments/{created['id']}", {"body": "two"})["body"] == "two"
    assert gh.delete(f"/repos/o/r/issues/comments/{created['id']}") is None
    assert github.comments("o/r", 1) == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=502, message="Server Error"),
        Fault(status=503),
        Fault(reset=True),
        Fault(status=403, headers={"retry-after": "3"}, message="You have exceeded a secondary rate limit"),
        Fault(status=429),
        Fault(status=403, message="API rate limit exceeded for user ID 1."),
    ],
    ids=["502", "503", "reset", "403-retry-after", "429", "403-rate-limit-text"],
)
def test_a_passing_failure_is_retried(github: GitHubStandIn, time_: FakeTime, fault: Fault) -> None:
    github.inject(fault)
    gh = client(github, time_)
    assert gh.get("/user")["login"] == "octocat"
    assert gh.requests_made == 2 and github.count("GET", "/user") == 2
    assert len(time_.sleeps) == 1


def test_retry_after_sets_the_wait(github: GitHubStandIn, time_: FakeTime) -> None:
    github.inject(Fault(status=429, headers={"Retry-After": "17"}))
    client(github, time_).get("/user")
    assert time_.sleeps == [17.0]


def test_a_rate_limit_without_headers_waits_at_least_a_minute(github: GitHubStandIn, time_: FakeTime) -> None:
    github.inject(Fault(status=429), Fault(status=403, message="secondary rate limit"))
    client(github, time_, Policy(total=600.0, rate_limit_wait=60.0)).get("/user")
    assert time_.sleeps == [60.0, 120.0]


def test_an_exhausted_limit_waits_until_its_reset(github: GitHubStandIn, time_: FakeTime) -> None:
    reset = int(time_.wall()) + 45
    github.inject(
        Fault(
            status=403,
            message="API rate limit exceeded",
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )
    )
    client(github, time_).get("/user")
    assert time_.sleeps == [46.0]


def test_a_slow_answer_times_out_and_is_retried(github: GitHubStandIn, time_: FakeTime) -> None:
    github.inject(Fault(delay=5.0, method="GET"))
    gh = client(github, time_, Policy(timeout=0.2, total=120.0, attempts=3, base=0.5))
    assert gh.get("/user")["login"] == "octocat"
    assert gh.requests_made == 2


def test_a_403_that_is_no_rate_limit_is_not_retried(github: GitHubStandIn, time_: FakeTime) -> None:
    github.add_token("ghs_readonly", "github-actions[bot]", read_only=True)
    gh = client(github, time_, token="ghs_readonly")
    with pytest.raises(PublishError) as caught:
        gh.post(COMMENTS, {"body": "hi"})
    assert caught.value.status == 403 and caught.value.read_only
    assert str(caught.value) == f"GitHub POST {COMMENTS}: 403 {DENIED} (1 attempt)"
    assert gh.requests_made == 1 and time_.sleeps == []


def test_a_404_is_read_only_on_a_write_only(github: GitHubStandIn, time_: FakeTime) -> None:
    gh = client(github, time_)
    with pytest.raises(PublishError) as on_read:
        gh.get("/repos/o/r/pulls/99")
    with pytest.raises(PublishError) as on_write:
        gh.patch("/repos/o/r/issues/comments/99", {"body": "x"})
    assert (on_read.value.status, on_read.value.read_only) == (404, False)
    assert (on_write.value.status, on_write.value.read_only) == (404, True)
    assert gh.requests_made == 2


def test_a_validation_error_names_githubs_message(github: GitHubStandIn, time_: FakeTime) -> None:
    gh = client(github, time_)
    with pytest.raises(PublishError, match=r": 422 Validation Failed: body is too long") as caught:
        gh.post(COMMENTS, {"body": "x" * 65_537})
    assert caught.value.status == 422 and not caught.value.read_only


def test_attempts_are_bounded(github: GitHubStandIn, time_: FakeTime) -> None:
    github.inject(*[Fault(status=502, message="Server Error")] * 10)
    gh = client(github, time_)
    with pytest.raises(PublishError) as caught:
        gh.get("/user")
    assert str(caught.value) == "GitHub GET /user: 502 Server Error (gave up after 4 attempts)"
    assert caught.value.status == 502
    assert gh.requests_made == 4 and time_.sleeps == [0.5, 1.0, 2.0]


def test_no_answer_at_all_is_bounded_too(github: GitHubStandIn, time_: FakeTime) -> None:
    github.inject(*[Fault(reset=True)] * 10)
    with pytest.raises(
        PublishError, match=r"^GitHub GET /user: connection failed \(\w+\) \(gave up after 4"
    ) as caught:
        client(github, time_).get("/user")
    assert caught.value.status is None


def test_a_wait_past_the_total_bound_fails_at_once(github: GitHubStandIn, time_: FakeTime) -> None:
    github.inject(Fault(status=403, headers={"retry-after": "3600"}, message="secondary rate limit"))
    gh = client(github, time_)
    with pytest.raises(
        PublishError, match=r"the next try is 3600 s away \(retry-after\), past the 120 s bound"
    ):
        gh.get("/user")
    assert gh.requests_made == 1 and time_.sleeps == []


def test_the_total_bound_covers_the_whole_publication(github: GitHubStandIn, time_: FakeTime) -> None:
    """One client is one publication: time spent on an earlier call counts against the later ones."""
    gh = client(github, time_, Policy(total=10.0, attempts=10, base=2.0, cap=100.0))
    github.inject(Fault(status=502), Fault(status=502))
    gh.get("/user")  # waits 2 + 4 of its 10 s
    github.inject(Fault(status=502), Fault(status=502))
    with pytest.raises(
        PublishError, match=r"next try is 4 s away \(HTTP 502\), past the 10 s bound .*\(2 s left"
    ):
        gh.get("/user")  # waits 2 s more, then would need 4 of the 2 left
    time_.sleep(10)
    with pytest.raises(PublishError, match=r"^GitHub GET /user: out of time, the 10 s bound"):
        gh.get("/user")
    assert time_.sleeps == [2.0, 4.0, 2.0, 10]
    assert gh.requests_made == 5


def test_a_next_link_to_another_host_is_refused(github: GitHubStandIn, time_: FakeTime) -> None:
    github.add_comments("o/r", 1, 150, login="someone", body="hi")
    github.link_base = github.url.replace("127.0.0.1", "localhost")  # the same server, by another name
    gh = client(github, time_)
    with pytest.raises(PublishError, match="refusing to send the token elsewhere"):
        list(gh.pages(COMMENTS))
    assert len(github.log) == 1  # the token never went to "localhost"


def test_the_token_is_never_in_an_error_a_repr_or_a_log(
    github: GitHubStandIn, time_: FakeTime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_TOOLKIT_DEBUG", "1")
    caplog.set_level(logging.DEBUG)
    gh = client(github, time_, Policy(timeout=0.2, total=120.0, attempts=2, base=0.1))
    texts = [repr(gh), str(vars(gh))]
    github.add_comments("o/r", 1, 150, login="someone", body="hi")
    github.inject(
        Fault(status=502, message=f"echo {TOKEN}"),
        Fault(status=502),
        Fault(reset=True),
        Fault(reset=True),
        Fault(delay=3.0),
        Fault(delay=3.0),
        Fault(status=401, message="Bad credentials"),
    )
    calls = [
        lambda: gh.get("/user"),
        lambda: gh.get("/user"),
        lambda: gh.get("/user"),
        lambda: gh.get("/user?since=secret-query"),
        lambda: gh.post(COMMENTS, {"body": "x" * 70_000}),
    ]
    for call in calls:
        with pytest.raises(PublishError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), str(caught.value.args)]
    github.link_base = f"http://{TOKEN}@localhost:1"
    with pytest.raises(PublishError) as caught:
        list(gh.pages(COMMENTS))
    texts += [str(caught.value), repr(caught.value), caplog.text]
    assert [text for text in texts if TOKEN in text] == []
    assert "secret-query" not in "".join(texts[:-1])  # a query stays out of our messages
    assert "GitHub GET /user" in caplog.text  # the debug log is there, only without the token
