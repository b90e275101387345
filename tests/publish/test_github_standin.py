"""The GitHub stand-in itself answers as github.com does where our tests lean on it; it stands in for
github.com at the network boundary. Plain `requests` calls, so that no client logic hides its answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from github_standin import DENIED, Fault, GitHubStandIn

COMMENTS = "/repos/o/r/issues/3/comments"


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_token("ghp_person", "octocat")
        standin.add_token("ghs_install", "github-actions[bot]")
        standin.add_token("ghs_readonly", "github-actions[bot]", read_only=True)
        yield standin


def call(
    github: GitHubStandIn, method: str, path: str, token: str = "ghp_person", **kwargs: object
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, github.url + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_identities(github: GitHubStandIn) -> None:
    assert call(github, "GET", "/user").json()["login"] == "octocat"
    assert call(github, "GET", "/user", token="ghs_install").status_code == 403
    assert call(github, "GET", "/user", token="nope").json() == {"message": "Bad credentials"}


def test_paging_defaults_to_30_and_links_next_and_last(github: GitHubStandIn) -> None:
    github.add_comments("o/r", 3, 65, login="someone", body="x")
    first = call(github, "GET", COMMENTS)
    assert len(first.json()) == 30
    assert first.headers["Link"] == (
        f'<{github.url}{COMMENTS}?per_page=30&page=2>; rel="next", '
        f'<{github.url}{COMMENTS}?per_page=30&page=3>; rel="last"'
    )
    last = call(github, "GET", COMMENTS, params={"per_page": 500, "page": 1})
    assert len(last.json()) == 65 and "Link" not in last.headers  # per_page is capped at 100


def test_writes_and_their_refusals(github: GitHubStandIn) -> None:
    created = call(github, "POST", COMMENTS, json={"body": "hi"})
    assert created.status_code == 201 and created.json()["user"]["login"] == "octocat"
    path = f"/repos/o/r/issues/comments/{created.json()['id']}"
    assert call(github, "POST", COMMENTS, json={"body": "x" * 65_537}).status_code == 422
    refused = call(github, "PATCH", path, token="ghs_readonly", json={"body": "no"})
    assert (refused.status_code, refused.json()["message"]) == (403, DENIED)
    assert call(github, "PATCH", path, json={"body": "edited"}).json()["body"] == "edited"
    assert call(github, "DELETE", path).status_code == 204
    assert call(github, "DELETE", path).status_code == 404
    assert github.comments("o/r", 3) == []


def test_pull_requests(github: GitHubStandIn) -> None:
    github.add_pr("o/r", 3, head_sha="c" * 40, head_repo="fork/r")
    pull = call(github, "GET", "/repos/o/r/pulls/3").json()
    assert (pull["head"]["sha"], pull["head"]["repo"]["full_name"], pull["base"]["repo"]["full_name"]) == (
        "c" * 40,
        "fork/r",
        "o/r",
    )
    assert call(github, "GET", "/repos/o/r/pulls/4").status_code == 404


def test_faults_apply_to_matching_requests_in_order(github: GitHubStandIn) -> None:
    github.inject(
        Fault(status=502, method="POST"),
        Fault(status=429, headers={"retry-after": "5"}, path="/user"),
        Fault(reset=True, path="/user"),
    )
    assert call(github, "GET", COMMENTS).status_code == 200  # matches none
    limited = call(github, "GET", "/user")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "5")
    with pytest.raises(requests.ConnectionError):
        call(github, "GET", "/user")
    assert call(github, "POST", COMMENTS, json={"body": "x"}).status_code == 502
    assert github.pending_faults() == 0 and github.comments("o/r", 3) == []
    assert [(r.method, r.path) for r in github.log][-1] == ("POST", COMMENTS)
    assert github.count("GET", "/user") == 2
