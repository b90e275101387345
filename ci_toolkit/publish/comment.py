"""The one sticky pull-request comment: found again by its hidden marker line and its author, updated in
place, created only when there is none, and never left twice when two jobs publish at once.

Every page of the thread is read (a busy pull request has its comment far past the first page), and a
comment is ours only when it holds the marker AND was written by the login the token writes as: someone
else quoting the marker is never touched. Only a comment this call created is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ci_toolkit.publish.client import GitHub, PublishError

MAX_BODY = 65_536  # GitHub refuses a longer comment body (422)
BOT = "github-actions[bot]"  # whom the workflow's GITHUB_TOKEN writes as
# An installation token (the workflow's GITHUB_TOKEN, a GitHub App's) is no user: GET /user answers 403.
_INSTALLATION_PREFIX = "ghs_"

Action = Literal["created", "updated", "unchanged", "skipped"]


@dataclass(frozen=True)
class Outcome:
    action: Action
    id: int | None = None
    html_url: str | None = None


def upsert(
    gh: GitHub,
    repo: str,
    number: int,
    body: str,
    *,
    marker: str,
    author: str | Callable[[], str],
    update_only: bool = False,
) -> Outcome:
    """Make the pull request's comment with `marker` by `author` read `body`; `author` is a login or a
    callable giving it, called only once a comment with the marker is found."""
    if len(body) > MAX_BODY:
        raise ValueError(f"comment body has {len(body)} characters; GitHub takes at most {MAX_BODY}")
    if not has_marker(body, marker):
        raise ValueError(f"comment body lacks its marker line {marker!r}")
    login = _once(author)
    ours = find(gh, repo, number, marker, login)
    if ours:
        return _update(gh, repo, ours[0], body)
    if update_only:
        return Outcome("skipped")
    created = gh.post(f"/repos/{repo}/issues/{number}/comments", {"body": body})
    # Another job may have posted in the same moment: the oldest of ours stays, this call's goes. The
    # new comment says who we really write as, should `author` have been wrong.
    writer = str((created.get("user") or {}).get("login") or "") or login()
    ours = find(gh, repo, number, marker, lambda: writer)
    oldest = min([*ours, created], key=lambda comment: comment["id"])
    if oldest["id"] == created["id"]:
        return Outcome("created", created["id"], created.get("html_url"))
    gh.delete(f"/repos/{repo}/issues/comments/{created['id']}")
    return _update(gh, repo, oldest, body)


def find(gh: GitHub, repo: str, number: int, marker: str, login: Callable[[], str]) -> list[dict[str, Any]]:
    """Our comments on the thread, oldest (lowest id) first; `login` is asked only if one has the marker."""
    marked = [
        comment
        for comment in gh.pages(f"/repos/{repo}/issues/{number}/comments")
        if has_marker(comment.get("body") or "", marker)
    ]
    if not marked:
        return []
    me = login().casefold()  # logins are case-insensitive on GitHub
    return sorted(
        (c for c in marked if str((c.get("user") or {}).get("login", "")).casefold() == me),
        key=lambda c: c["id"],
    )


def has_marker(body: str, marker: str) -> bool:
    return any(line.strip() == marker for line in body.splitlines())


def author_for(gh: GitHub, token: str, explicit: str | None = None) -> Callable[[], str]:
    """Whom comments made with `token` are by: `explicit` (`publish --author`, CI_TOOLKIT_COMMENT_AUTHOR)
    when given; github-actions[bot] for an installation token; else GET /user, asked once when first
    needed (a 403 there also means an installation's token). A GitHub App's own token writes as
    `<app-slug>[bot]`: that one needs `explicit`."""
    if explicit:
        return lambda: explicit
    if token.startswith(_INSTALLATION_PREFIX):
        return lambda: BOT

    def ask() -> str:
        try:
            user = gh.get("/user")
        except PublishError as exc:
            if exc.status != 403:
                raise
            return BOT
        name = user.get("login") if isinstance(user, dict) else None
        if not isinstance(name, str) or not name:
            raise PublishError("GitHub GET /user: the answer has no login")
        return name

    return _once(ask)


def _update(gh: GitHub, repo: str, comment: dict[str, Any], body: str) -> Outcome:
    if comment.get("body") == body:
        return Outcome("unchanged", comment["id"], comment.get("html_url"))
    updated = gh.patch(f"/repos/{repo}/issues/comments/{comment['id']}", {"body": body})
    return Outcome("updated", comment["id"], (updated or comment).get("html_url"))


def _once(author: str | Callable[[], str]) -> Callable[[], str]:
    """`author` as a callable that asks at most once."""
    if isinstance(author, str):
        return lambda: author
    known: list[str] = []

    def login() -> str:
        if not known:
            known.append(author())
        return known[0]

    return login
