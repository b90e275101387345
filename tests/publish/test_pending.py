"""The fork path's artifact: written and read back, its shape checked, and checked against the run and
the pull request before anything is posted.

`validate` talks real HTTP to tests/publish/github_standin.py, which stands in for github.com at the
network boundary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_standin import Fault, GitHubStandIn, client

from ci_toolkit.errors import DataError
from ci_toolkit.publish import pending
from ci_toolkit.publish.client import PublishError
from ci_toolkit.publish.pending import Pending
from ci_toolkit.report.markdown import marker

REPO = "octo/app"
SHA = "a" * 40
OTHER_SHA = "b" * 40
TOKEN = "ghs_workflowrun0123456789"
BODY = f"{marker('report')}\n## ✅ all good\n"


def artifact(directory: Path, **overrides: Any) -> Path:
    fields: dict[str, Any] = {
        "body": BODY,
        "repository": REPO,
        "number": 12,
        "head_sha": SHA,
        "key": "report",
        **overrides,
    }
    pending.write(directory, **fields)
    return directory


def test_round_trip(tmp_path: Path) -> None:
    directory = artifact(tmp_path / "out" / "comment")
    assert pending.read(directory) == Pending(
        body=BODY, repository=REPO, number=12, head_sha=SHA, key="report"
    )
    assert (directory / "comment.md").read_text(encoding="utf-8") == BODY
    assert json.loads((directory / "comment.json").read_text(encoding="utf-8")) == {
        "version": 1,
        "repository": REPO,
        "number": 12,
        "head_sha": SHA,
        "key": "report",
    }


def edit_meta(directory: Path, **changes: Any) -> None:
    path = directory / "comment.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(changes)
    path.write_text(json.dumps({k: v for k, v in meta.items() if v is not ...}), encoding="utf-8")


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"version": 2}, "comment.json: version 2 is not 1"),
        ({"repository": ...}, 'comment.json: "repository" must be owner/name, got None'),
        ({"repository": "just-a-name"}, '"repository" must be owner/name'),
        ({"number": "12"}, "\"number\" must be a pull-request number, got '12'"),
        ({"number": True}, '"number" must be a pull-request number, got True'),
        ({"number": 0}, '"number" must be a pull-request number'),
        ({"head_sha": "main"}, '"head_sha" must be a commit SHA'),
        ({"head_sha": SHA + "\n"}, '"head_sha" must be a commit SHA'),
        ({"key": "a b"}, '"key" must be letters'),
        ({"key": "x" * 500}, "got 'xxxxxxxx"),
        ({"key": "nightly"}, "comment.md: lacks the marker line <!-- ci-toolkit:nightly -->"),
    ],
)
def test_a_malformed_meta_file_is_one_line_naming_it(
    tmp_path: Path, changes: dict[str, Any], says: str
) -> None:
    directory = artifact(tmp_path)
    edit_meta(directory, **changes)
    with pytest.raises(DataError, match="^" + str(tmp_path)) as caught:
        pending.read(directory)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("comment.json", b"{not json", "comment.json: not valid JSON"),
        ("comment.json", b"[1, 2]", "comment.json: expected a JSON object"),
        ("comment.json", b" " * 5000, "comment.json: larger than 4096 bytes"),
        ("comment.md", b"\xff\xfe", "comment.md: not UTF-8 text"),
        ("comment.md", (marker("report") + "\n" + "x" * 65_536).encode(), "comment.md: 65563 characters"),
    ],
)
def test_a_malformed_file_is_one_line_naming_it(tmp_path: Path, name: str, content: bytes, says: str) -> None:
    directory = artifact(tmp_path)
    (directory / name).write_bytes(content)
    with pytest.raises(DataError) as caught:
        pending.read(directory)
    assert says in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["comment.md", "comment.json"])
def test_a_missing_file_is_named(tmp_path: Path, name: str) -> None:
    directory = artifact(tmp_path)
    (directory / name).unlink()
    with pytest.raises(DataError, match=f"{name}: missing; the artifact should hold"):
        pending.read(directory)


# -- validate, against the stand-in ----------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_token(TOKEN, "github-actions[bot]")
        standin.add_pr(REPO, 12, head_sha=SHA, head_repo="forker/app")
        standin.add_pr(REPO, 13, head_sha=SHA, head_repo="forker/app", base_repo="forker/app")
        yield standin


def check(github: GitHubStandIn, number: int = 12, **run: Any) -> int:
    gh = client(github, TOKEN)
    claim = Pending(
        body=BODY, repository=run.pop("claimed_repository", REPO), number=number, head_sha=SHA, key="r"
    )
    arguments: dict[str, Any] = {
        "repository": REPO,
        "run_head_sha": SHA,
        "run_event": "pull_request",
        "run_pull_requests": [],
        **run,
    }
    return pending.validate(gh, claim, **arguments)


def test_a_fork_pull_request_checks_out(github: GitHubStandIn) -> None:
    assert check(github) == 12
    assert check(github, run_pull_requests=[12, 40]) == 12
    assert github.count("GET", f"/repos/{REPO}/pulls/12") == 2


@pytest.mark.parametrize(
    ("number", "run", "says"),
    [
        (12, {"claimed_repository": "evil/app"}, "repository 'evil/app' is not this workflow's repository"),
        (12, {"run_event": "push"}, "the triggering run was a 'push' run, not a pull_request one"),
        (12, {"run_head_sha": OTHER_SHA}, f"head_sha {SHA} is not the triggering run's head {OTHER_SHA}"),
        (12, {"run_pull_requests": [40]}, "pull request #12 is not the run's (#40)"),
        (99, {}, f"pull request #99 does not exist in {REPO}"),
        (13, {}, "pull request #13 is into 'forker/app', not 'octo/app'"),
    ],
)
def test_each_mismatch_is_one_line_saying_which(
    github: GitHubStandIn, number: int, run: dict[str, Any], says: str
) -> None:
    with pytest.raises(DataError) as caught:
        check(github, number, **run)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_pull_request_pushed_to_since_is_refused(github: GitHubStandIn) -> None:
    """The artifact and the run agree, but the pull request's head moved on: this comment is stale."""
    github.add_pr(REPO, 12, head_sha=OTHER_SHA, head_repo="forker/app")
    with pytest.raises(
        DataError, match=f"pull request #12's head is {OTHER_SHA}, not the triggering run's {SHA}"
    ):
        check(github)


def test_an_api_failure_stays_a_publish_error(github: GitHubStandIn) -> None:
    github.inject(Fault(status=401, message="Bad credentials"))
    with pytest.raises(PublishError, match="401 Bad credentials"):
        check(github)
