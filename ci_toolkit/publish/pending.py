"""The fork path: a comment left as an artifact for a trusted workflow to post.

On a pull request from a fork the token cannot write, so the report job writes the comment's body
(comment.md) and where it belongs (comment.json) into a directory it uploads; an `on: workflow_run`
workflow, which never runs the pull request's code, downloads it and posts it. What a fork's run wrote
is untrusted: `read` checks its shape and `validate` checks it against what GitHub itself says about the
run and the pull request before anything is posted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.files import atomic
from ci_toolkit.publish.client import GitHub, PublishError
from ci_toolkit.publish.comment import MAX_BODY, has_marker
from ci_toolkit.report.markdown import marker

VERSION = 1
BODY_FILE = "comment.md"
META_FILE = "comment.json"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1, or SHA-256 object names
_KEY = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
_META_BYTES = 4096  # a few short fields; anything larger is not ours
_SHOWN = 60
_UTF8_MAX = 4  # bytes per character, so the body's byte bound follows from its character bound


@dataclass(frozen=True)
class Pending:
    body: str
    repository: str
    number: int
    head_sha: str
    key: str


def write(directory: Path, *, body: str, repository: str, number: int, head_sha: str, key: str) -> None:
    """Write the artifact's two files into `directory` (created if need be)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"version": VERSION, "repository": repository, "number": number, "head_sha": head_sha, "key": key}
    atomic.write_text(directory / BODY_FILE, body)
    atomic.write_text(directory / META_FILE, json.dumps(meta, indent=2) + "\n")


def read(directory: Path) -> Pending:
    """The artifact in `directory`, its shape checked; DataError (one line, naming the file) if not."""
    directory = Path(directory)
    meta_path, body_path = directory / META_FILE, directory / BODY_FILE
    try:
        meta = json.loads(_read(meta_path, _META_BYTES))
    except ValueError as exc:
        raise DataError(
            f"{meta_path}: not valid JSON ({exc}); expected what `ci-toolkit publish` wrote"
        ) from None
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: expected a JSON object")
    if meta.get("version") != VERSION:
        raise DataError(f"{meta_path}: version {_show(meta.get('version'))} is not {VERSION}")
    repository = _field(meta, "repository", str, _REPOSITORY, meta_path, "owner/name")
    head_sha = _field(meta, "head_sha", str, _SHA, meta_path, "a commit SHA in lowercase hex")
    key = _field(meta, "key", str, _KEY, meta_path, "letters, digits and . _ : / -")
    number = meta.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise DataError(f'{meta_path}: "number" must be a pull-request number, got {_show(number)}')
    body = _read(body_path, MAX_BODY * _UTF8_MAX)
    if len(body) > MAX_BODY:
        raise DataError(f"{body_path}: {len(body)} characters; a comment holds at most {MAX_BODY}")
    if not has_marker(body, marker(key)):
        raise DataError(f"{body_path}: lacks the marker line {marker(key)} for key {key!r}")
    return Pending(body=body, repository=repository, number=number, head_sha=head_sha, key=key)


def validate(
    gh: GitHub,
    pending: Pending,
    *,
    repository: str,
    run_head_sha: str,
    run_event: str,
    run_pull_requests: Collection[int],
) -> int:
    """The pull request to comment on, once the artifact agrees with the run that made it and with GitHub.

    `repository` is the workflow's own; `run_head_sha`, `run_event` and `run_pull_requests` (numbers)
    describe the triggering run, from the workflow_run event. For a fork's pull request GitHub lists no
    pull requests on the run, so the pull request's own head, read from the API, is the real check.
    """
    if pending.repository.casefold() != repository.casefold():
        raise DataError(
            f"{META_FILE}: repository {pending.repository!r} is not this workflow's repository {repository!r}"
        )
    if run_event != "pull_request":
        raise DataError(
            f"the triggering run was a {run_event!r} run, not a pull_request one: nothing to post"
        )
    if pending.head_sha != run_head_sha:
        raise DataError(
            f"{META_FILE}: head_sha {pending.head_sha} is not the triggering run's head {run_head_sha}"
        )
    if run_pull_requests and pending.number not in run_pull_requests:
        listed = ", ".join(f"#{n}" for n in sorted(run_pull_requests))
        raise DataError(f"{META_FILE}: pull request #{pending.number} is not the run's ({listed})")
    try:
        pull = gh.get(f"/repos/{repository}/pulls/{pending.number}")
    except PublishError as exc:
        if exc.status == 404:
            raise DataError(
                f"{META_FILE}: pull request #{pending.number} does not exist in {repository}"
            ) from None
        raise
    head = _path(pull, "head", "sha")
    if head != run_head_sha:
        raise DataError(
            f"pull request #{pending.number}'s head is {head}, not the triggering run's {run_head_sha} "
            "(pushed to since, or not this run's pull request)"
        )
    base = _path(pull, "base", "repo", "full_name")
    if not isinstance(base, str) or base.casefold() != repository.casefold():
        raise DataError(f"pull request #{pending.number} is into {base!r}, not {repository!r}")
    return pending.number


def _read(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: missing; the artifact should hold {BODY_FILE} and {META_FILE}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise DataError(f"{path}: larger than {limit} bytes; not a comment artifact")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def _field(
    meta: dict[str, Any], name: str, kind: type, pattern: re.Pattern[str], path: Path, want: str
) -> Any:
    value = meta.get(name)
    if not isinstance(value, kind) or not pattern.fullmatch(value):
        raise DataError(f'{path}: "{name}" must be {want}, got {_show(value)}')
    return value


def _show(value: Any) -> str:
    """A value from the artifact, short: a fork's run wrote it, and it may be anything."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _path(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data
