"""`ci-toolkit publish --github` end to end: a real `ci-toolkit local` run on a sample project with a failing
test, then the real command as a subprocess, with the files a GitHub runner provides and the GitHub API
stand-in (tests/publish/github_standin.py, real HTTP on 127.0.0.1) in place of github.com: github.com
cannot be reached from here, so it is replaced at the network boundary and nothing of ci-toolkit is.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_standin import Fault, GitHubStandIn
from support import Run, cli_env, run_ci_toolkit

pytestmark = pytest.mark.e2e

REPO = "acme/shop"
TOKEN = "ghs_publishTokenThatMustNeverLeak0123456789"
HEAD = "c" * 40
FAILING = """
def test_fails():
    value = 1
    assert value == 2, "one is not two"
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, sample_project_maker: Any) -> Path:
    """One real run, with a failing test, whose output dir every test copies."""
    project = sample_project_maker(
        tmp_path_factory.mktemp("publish") / "project", files={"tests/test_broken.py": FAILING}
    )
    run = run_ci_toolkit("local", cwd=project.root)
    assert run.code == 1, run.describe()
    return project.root


@pytest.fixture
def workspace(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "workspace"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_token(TOKEN, "github-actions[bot]")
        standin.add_pr(REPO, 7, head_sha=HEAD, head_repo=REPO)
        yield standin


def pull_request(number: int = 7, *, head_repo: str = REPO) -> dict[str, Any]:
    return {
        "pull_request": {
            "number": number,
            "head": {"sha": HEAD, "repo": {"full_name": head_repo}},
            "base": {"sha": "b" * 40, "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


class Runner:
    """The files and variables a GitHub runner gives a step."""

    def __init__(self, root: Path, api_url: str, event_name: str, event: dict[str, Any]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.output = root / "github_output"
        self.summary = root / "step_summary"
        self.event_path = root / "event.json"
        self.event_path.write_text(json.dumps(event), encoding="utf-8")
        for path in (self.output, self.summary):
            path.touch()
        self.api_url = api_url
        self.event_name = event_name

    def env(self, workspace: Path, **extra: str) -> dict[str, str]:
        return cli_env(
            extra={
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": REPO,
                "GITHUB_EVENT_NAME": self.event_name,
                "GITHUB_EVENT_PATH": str(self.event_path),
                "GITHUB_OUTPUT": str(self.output),
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_API_URL": self.api_url,
                "GITHUB_TOKEN": TOKEN,
                "CI_TOOLKIT_GITHUB_TIMEOUT": "3",
                **extra,
            }
        )

    def outputs(self) -> dict[str, str]:
        values: dict[str, str] = {}
        lines = iter(self.output.read_text(encoding="utf-8").splitlines())
        for line in lines:
            if "<<" in line:
                name, delimiter = line.split("<<", 1)
                body = []
                for inner in lines:
                    if inner == delimiter:
                        break
                    body.append(inner)
                values[name] = "\n".join(body)
            elif "=" in line:
                name, value = line.split("=", 1)
                values[name] = value
        return values


def publish(workspace: Path, runner: Runner, *args: str, **extra: str) -> Run:
    return run_ci_toolkit("publish", "--github", *args, cwd=workspace, env=runner.env(workspace, **extra))


def ours(github: GitHubStandIn, number: int = 7) -> list[dict[str, Any]]:
    return [c for c in github.comments(REPO, number) if "<!-- ci-toolkit:" in c["body"]]


def test_a_pull_request_gets_one_comment_the_summary_outputs_and_annotations(
    workspace: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    runner = Runner(tmp_path / "runner", github.url, "pull_request", pull_request())

    first = publish(workspace, runner)
    again = publish(workspace, runner)

    assert first.code == 0 and again.code == 0, first.describe() + again.describe()
    assert len(ours(github)) == 1
    assert "comment created" in first.stdout and "comment" in again.stdout
    values = runner.outputs()
    assert values["verdict"] == "failed"
    assert values["failed"] == "1"
    assert int(values["passed"]) > 0
    assert Path(values["report-path"]).name == "report.json"
    summary = runner.summary.read_text(encoding="utf-8")
    assert "ci-toolkit" in summary and "one is not two" in summary
    errors = [line for line in first.stdout.splitlines() if line.startswith("::error ")]
    assert any("file=tests/test_broken.py" in line and "line=4" in line for line in errors), first.stdout


def test_a_push_posts_no_comment(workspace: Path, github: GitHubStandIn, tmp_path: Path) -> None:
    runner = Runner(tmp_path / "runner", github.url, "push", {"repository": {"default_branch": "main"}})

    run = publish(workspace, runner)

    assert run.code == 0, run.describe()
    assert github.count() == 0
    assert runner.outputs()["verdict"] == "failed"


def test_a_fork_leaves_the_comment_for_the_comment_workflow(
    workspace: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    runner = Runner(tmp_path / "runner", github.url, "pull_request", pull_request(head_repo="fork/shop"))

    run = publish(workspace, runner, "--pending-dir", str(tmp_path / "pending"))

    assert run.code == 0, run.describe()
    assert github.count(method="POST") == 0 and github.count(method="PATCH") == 0
    assert runner.outputs()["pending-comment"] == str((tmp_path / "pending").resolve())
    assert (tmp_path / "pending" / "comment.md").read_text(encoding="utf-8").startswith("<!-- ci-toolkit:")
    assert "comment workflow" in runner.summary.read_text(encoding="utf-8")

    # The comment workflow, on workflow_run, checks the artifact against the run and posts it.
    poster = Runner(
        tmp_path / "poster",
        github.url,
        "workflow_run",
        {"workflow_run": {"id": 1, "head_sha": HEAD, "event": "pull_request", "pull_requests": []}},
    )
    github.add_pr(REPO, 7, head_sha=HEAD, head_repo="fork/shop")
    posted = publish(workspace, poster, "--from-pending", str(tmp_path / "pending"))
    assert posted.code == 0, posted.describe()
    assert len(ours(github)) == 1


def test_a_pending_comment_for_another_commit_is_refused(
    workspace: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    runner = Runner(tmp_path / "runner", github.url, "pull_request", pull_request(head_repo="fork/shop"))
    assert publish(workspace, runner, "--pending-dir", str(tmp_path / "pending")).code == 0
    poster = Runner(
        tmp_path / "poster",
        github.url,
        "workflow_run",
        {"workflow_run": {"id": 1, "head_sha": "d" * 40, "event": "pull_request", "pull_requests": []}},
    )

    run = publish(workspace, poster, "--from-pending", str(tmp_path / "pending"))

    assert run.code == 2, run.describe()
    assert len(run.stderr.strip().splitlines()) == 1
    assert github.count(method="POST") == 0


def test_a_read_only_token_falls_back_to_the_comment_workflow(
    workspace: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    github.add_token(TOKEN, "github-actions[bot]", read_only=True)
    runner = Runner(tmp_path / "runner", github.url, "pull_request", pull_request())

    run = publish(workspace, runner, "--pending-dir", str(tmp_path / "pending"))

    assert run.code == 0, run.describe()
    assert (tmp_path / "pending" / "comment.json").is_file()
    assert "pending-comment" in runner.outputs()


def test_github_down_is_a_warning_and_the_summary_still_says_everything(
    workspace: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    github.inject(*[Fault(status=502) for _ in range(50)])
    runner = Runner(tmp_path / "runner", github.url, "pull_request", pull_request())

    run = publish(workspace, runner, CI_TOOLKIT_GITHUB_TIMEOUT="2")

    assert run.code == 0, run.describe()
    assert any(line.startswith("::warning ") for line in run.stdout.splitlines()), run.stdout
    summary = runner.summary.read_text(encoding="utf-8")
    assert "one is not two" in summary and "not posted" in summary
    assert runner.outputs()["verdict"] == "failed"


def test_the_token_never_appears_in_anything_written(
    workspace: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    """Success, a fork, a failing API and a bad pending folder, each with CI_TOOLKIT_DEBUG=1."""
    runs: list[Run] = []
    runner = Runner(tmp_path / "runner", github.url, "pull_request", pull_request())
    runs.append(publish(workspace, runner, CI_TOOLKIT_DEBUG="1"))
    github.inject(*[Fault(status=502) for _ in range(50)], Fault(reset=True))
    runs.append(publish(workspace, runner, CI_TOOLKIT_DEBUG="1", CI_TOOLKIT_GITHUB_TIMEOUT="2"))
    fork = Runner(tmp_path / "fork", github.url, "pull_request", pull_request(head_repo="fork/shop"))
    runs.append(publish(workspace, fork, "--pending-dir", str(tmp_path / "pending"), CI_TOOLKIT_DEBUG="1"))
    runs.append(publish(workspace, fork, "--from-pending", str(tmp_path / "nowhere"), CI_TOOLKIT_DEBUG="1"))

    for run in runs:
        assert TOKEN not in run.output, run.describe()
    for path in [*tmp_path.rglob("*"), *(workspace / ".ci-toolkit").rglob("*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    for request in github.log:
        assert TOKEN not in request.path + json.dumps(request.query)


def test_outside_github_actions_it_says_so_in_one_line(workspace: Path) -> None:
    run = run_ci_toolkit("publish", "--github", cwd=workspace)

    assert run.code == 2, run.describe()
    assert len(run.stderr.strip().splitlines()) == 1
    assert "GITHUB_REPOSITORY" in run.stderr
