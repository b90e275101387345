"""The GitHub context from the runner's variables and real-shaped event files (trimmed to what we read)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.errors import ConfigError, DataError
from ci_toolkit.publish.context import GitHubContext, WorkflowRun, from_env


def _pull_request(head_repo: dict[str, Any] | None, base: str = "acme/app") -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": 42,
        "pull_request": {
            "number": 42,
            "head": {"sha": "a" * 40, "ref": "feature", "repo": head_repo},
            "base": {"sha": "b" * 40, "ref": "main", "repo": {"full_name": base}},
        },
        "repository": {"full_name": base, "default_branch": "main"},
    }


def _context(tmp_path: Path, event_name: str, event: Any, **extra: str) -> GitHubContext:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    env = {
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_SHA": "m" * 40,
        **extra,
    }
    return from_env(env)


def test_every_variable_is_read_and_no_token_is_kept(tmp_path: Path) -> None:
    env = {
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_API_URL": "https://ghe.example/api/v3/",
        "GITHUB_SERVER_URL": "https://ghe.example",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_RUN_ID": "123",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_SHA": "c" * 40,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_HEAD_REF": "",
        "GITHUB_BASE_REF": "",
        "GITHUB_TOKEN": "ghs_secret",
    }
    ctx = from_env(env)
    assert ctx.api_url == "https://ghe.example/api/v3"
    assert ctx.server_url == "https://ghe.example"
    assert ctx.workspace == tmp_path
    assert ctx.step_summary == tmp_path / "summary.md" and ctx.output == tmp_path / "output"
    assert (ctx.run_id, ctx.run_attempt, ctx.ref_name, ctx.head_ref) == ("123", "2", "main", "")
    assert ctx.event == {} and ctx.event_path is None
    assert "ghs_secret" not in repr(ctx)
    assert ctx.head_sha == "c" * 40 and ctx.pull_request_number is None and not ctx.is_fork


def test_defaults_outside_github_enterprise() -> None:
    ctx = from_env({"GITHUB_REPOSITORY": "acme/app"})
    assert (ctx.api_url, ctx.server_url) == ("https://api.github.com", "https://github.com")
    assert ctx.workspace is None and ctx.step_summary is None and ctx.output is None


@pytest.mark.parametrize("env", [{}, {"GITHUB_REPOSITORY": ""}, {"GITHUB_REPOSITORY": "  "}])
def test_outside_github_actions_is_one_config_line(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"^not running in GitHub Actions: GITHUB_REPOSITORY is not set"):
        from_env(env)


@pytest.mark.parametrize("value", ["acme", "acme/", "/app", "a/b/c"])
def test_a_repository_that_is_not_owner_name_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="is not owner/name"):
        from_env({"GITHUB_REPOSITORY": value})


def test_pull_request_from_the_same_repository(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "pull_request", _pull_request({"full_name": "acme/app"}))
    assert ctx.pull_request_number == 42
    assert not ctx.is_fork
    assert ctx.head_sha == "a" * 40  # the head, not GitHub's merge commit (GITHUB_SHA)
    assert ctx.default_branch == "main"
    assert ctx.workflow_run is None


def test_names_compare_case_insensitively(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "pull_request_target", _pull_request({"full_name": "ACME/App"}))
    assert ctx.pull_request_number == 42 and not ctx.is_fork


@pytest.mark.parametrize("head_repo", [{"full_name": "mallory/app"}, None, {}])
def test_a_fork_or_a_deleted_fork_is_a_fork(tmp_path: Path, head_repo: dict[str, Any] | None) -> None:
    ctx = _context(tmp_path, "pull_request", _pull_request(head_repo))
    assert ctx.is_fork
    assert ctx.pull_request_number == 42


def test_push(tmp_path: Path) -> None:
    event = {"ref": "refs/heads/main", "after": "c" * 40, "repository": {"default_branch": "trunk"}}
    ctx = _context(tmp_path, "push", event)
    assert ctx.pull_request_number is None
    assert not ctx.is_fork
    assert ctx.head_sha == "m" * 40
    assert ctx.default_branch == "trunk"


def test_workflow_run_of_a_pull_request(tmp_path: Path) -> None:
    event = {
        "action": "completed",
        "workflow_run": {
            "id": 987654321,
            "event": "pull_request",
            "head_sha": "d" * 40,
            "head_branch": "feature",
            "head_repository": {"full_name": "mallory/app"},
            "pull_requests": [{"number": 7, "head": {}, "base": {}}],
        },
        "repository": {"full_name": "acme/app", "default_branch": "main"},
    }
    ctx = _context(tmp_path, "workflow_run", event)
    assert ctx.workflow_run == WorkflowRun(
        987654321, "d" * 40, "pull_request", (7,), "mallory/app", "feature"
    )
    assert ctx.is_fork
    assert ctx.head_sha == "d" * 40
    assert ctx.pull_request_number is None  # the comment workflow finds it through workflow_run


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the GitHub event file"),
        ("{", "is not valid JSON"),
        (b"\xff\xfe", "is not UTF-8"),
        ("[1, 2]", "holds list, not a JSON object"),
    ],
)
def test_a_bad_event_file_is_one_data_line_naming_it(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "event.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as caught:
        from_env({"GITHUB_REPOSITORY": "acme/app", "GITHUB_EVENT_PATH": str(path)})
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_a_malformed_field_is_one_data_line(tmp_path: Path) -> None:
    event = _pull_request({"full_name": "acme/app"})
    event["pull_request"]["number"] = "42; rm -rf /"
    ctx = _context(tmp_path, "pull_request", event)
    with pytest.raises(DataError, match=r"event.json: pull_request.number is .*, not a whole number"):
        _ = ctx.pull_request_number
