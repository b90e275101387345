"""Where a publish runs: the GITHUB_* variables the Actions runner sets and the event that started the
workflow, read once at the edge (`from_env`) so that everything after it is pure.

The token is never part of the context: whoever needs it reads it where it is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ci_toolkit.errors import ConfigError, DataError

API_URL = "https://api.github.com"
SERVER_URL = "https://github.com"
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class WorkflowRun:
    """The run a `workflow_run` event is about: the workflow that tested a pull request's code."""

    id: int
    head_sha: str
    event: str  # what triggered that run: "pull_request", "push", ...
    pull_requests: tuple[int, ...]  # numbers; empty for a fork's pull request (GitHub lists none)
    head_repository: str  # "owner/name" the tested code came from; "" when GitHub gives none
    head_branch: str


@dataclass(frozen=True)
class GitHubContext:
    repository: str  # "owner/name"
    api_url: str = API_URL
    server_url: str = SERVER_URL
    event_name: str = ""
    event: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    event_path: Path | None = None  # named in errors about the event
    workspace: Path | None = None
    step_summary: Path | None = None
    output: Path | None = None
    run_id: str = ""
    run_attempt: str = ""
    sha: str = ""  # GITHUB_SHA: for a pull request, the merge commit GitHub made, not the head
    ref: str = ""
    ref_name: str = ""
    head_ref: str = ""
    base_ref: str = ""

    @property
    def is_pull_request(self) -> bool:
        return self.event_name in _PULL_REQUEST_EVENTS

    @property
    def pull_request_number(self) -> int | None:
        if not self.is_pull_request:
            return None
        return self._number(("pull_request", "number"))

    @property
    def is_fork(self) -> bool:
        """Whether the code under test comes from another repository than this one, whose token is then
        read-only (pull_request) or must not run that code (pull_request_target, workflow_run)."""
        if self.is_pull_request:
            head = _dig(self.event, "pull_request", "head", "repo")
            if not isinstance(head, Mapping):
                return True  # the fork was deleted: GitHub sends null
            base = _dig(self.event, "pull_request", "base", "repo", "full_name")
            return _other_repo(head.get("full_name"), base if isinstance(base, str) else self.repository)
        run = self.workflow_run
        if run is not None:
            return _other_repo(run.head_repository, self.repository)
        return False

    @property
    def head_sha(self) -> str:
        """The commit whose code was tested: a pull request's head, not GitHub's merge commit."""
        if self.is_pull_request:
            return self._text(("pull_request", "head", "sha")) or self.sha
        run = self.workflow_run
        if run is not None and run.head_sha:
            return run.head_sha
        return self.sha

    @property
    def default_branch(self) -> str:
        return self._text(("repository", "default_branch"))

    @property
    def workflow_run(self) -> WorkflowRun | None:
        """The run a workflow_run event is about; None for every other event."""
        if self.event_name != "workflow_run":
            return None
        prs = _dig(self.event, "workflow_run", "pull_requests")
        if not isinstance(prs, list):
            prs = []
        numbers = tuple(self._number(("workflow_run", "pull_requests", i, "number")) for i in range(len(prs)))
        run_id = self._number(("workflow_run", "id"))
        return WorkflowRun(
            id=0 if run_id is None else run_id,
            head_sha=self._text(("workflow_run", "head_sha")),
            event=self._text(("workflow_run", "event")),
            pull_requests=tuple(n for n in numbers if n is not None),
            head_repository=self._text(("workflow_run", "head_repository", "full_name")),
            head_branch=self._text(("workflow_run", "head_branch")),
        )

    def _number(self, keys: tuple[str | int, ...]) -> int | None:
        value = _dig(self.event, *keys)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._bad(keys, value, "a whole number")
        return value

    def _text(self, keys: tuple[str | int, ...]) -> str:
        value = _dig(self.event, *keys)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._bad(keys, value, "a string")
        return value

    def _bad(self, keys: tuple[str | int, ...], value: object, what: str) -> DataError:
        where = self.event_path or "the GitHub event (GITHUB_EVENT_PATH)"
        key = ".".join(str(k) for k in keys)
        return DataError(
            f"{where}: {key} is {json.dumps(value)[:80]}, not {what}; is it GitHub's event file?"
        )


def from_env(environ: Mapping[str, str]) -> GitHubContext:
    """The context of the running GitHub Actions job; a ConfigError (one line) when this is not one, a
    DataError naming the event file when it cannot be read."""
    repository = _var(environ, "GITHUB_REPOSITORY")
    if not repository:
        raise ConfigError(
            "not running in GitHub Actions: GITHUB_REPOSITORY is not set "
            "(publishing to GitHub reads the GITHUB_* variables the Actions runner sets)"
        )
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise ConfigError(f"GITHUB_REPOSITORY={repository!r} is not owner/name")
    event_path = _path(environ, "GITHUB_EVENT_PATH")
    return GitHubContext(
        repository=repository,
        api_url=(_var(environ, "GITHUB_API_URL") or API_URL).rstrip("/"),
        server_url=(_var(environ, "GITHUB_SERVER_URL") or SERVER_URL).rstrip("/"),
        event_name=_var(environ, "GITHUB_EVENT_NAME"),
        event=MappingProxyType(read_event(event_path) if event_path is not None else {}),
        event_path=event_path,
        workspace=_path(environ, "GITHUB_WORKSPACE"),
        step_summary=_path(environ, "GITHUB_STEP_SUMMARY"),
        output=_path(environ, "GITHUB_OUTPUT"),
        run_id=_var(environ, "GITHUB_RUN_ID"),
        run_attempt=_var(environ, "GITHUB_RUN_ATTEMPT"),
        sha=_var(environ, "GITHUB_SHA"),
        ref=_var(environ, "GITHUB_REF"),
        ref_name=_var(environ, "GITHUB_REF_NAME"),
        head_ref=_var(environ, "GITHUB_HEAD_REF"),
        base_ref=_var(environ, "GITHUB_BASE_REF"),
    )


def read_event(path: Path) -> dict[str, Any]:
    """The event file's JSON object; anything else is one DataError line naming the file."""
    what = "the GitHub event file (GITHUB_EVENT_PATH)"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {what} is not UTF-8 (bad byte at offset {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: {what} is not valid JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: {what} holds {type(doc).__name__}, not a JSON object")
    return doc


def _var(environ: Mapping[str, str], name: str) -> str:
    # The runner sets some variables empty rather than not at all (GITHUB_HEAD_REF on a push).
    return environ.get(name, "").strip()


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    value = _var(environ, name)
    return Path(value) if value else None


def _dig(doc: Any, *keys: str | int) -> Any:
    """doc[k1][k2]...; None as soon as a level is missing or not a container of that kind."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(doc, list) or key >= len(doc):
                return None
        elif not isinstance(doc, Mapping):
            return None
        doc = doc[key] if isinstance(key, int) else doc.get(key)
    return doc


def _other_repo(head: object, base: object) -> bool:
    """Whether `head` is another repository than `base` (unknown counts as another: the safe side).
    GitHub's owner and repository names are case-insensitive."""
    if not isinstance(head, str) or not head:
        return True
    return not isinstance(base, str) or head.casefold() != base.casefold()
