"""The sticky comment: found on any page, updated in place, created once, never left twice, never someone
else's.

Every test here talks real HTTP to tests/publish/github_standin.py, which stands in for github.com at
the network boundary; nothing of ci-toolkit is replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from github_standin import DENIED, Fault, GitHubStandIn
from github_standin import client as standin_client

from ci_toolkit.publish.client import GitHub, Policy, PublishError
from ci_toolkit.publish.comment import BOT, Outcome, author_for, upsert
from ci_toolkit.report.markdown import marker

REPO = "o/r"
PR = 7
GHS = "ghs_workflowtoken0123456789"  # the workflow's GITHUB_TOKEN: writes as github-actions[bot]
PAT = "ghp_personaltoken0123456789"  # a person's token: writes as that person
MARK = marker("report")
BODY = f"{MARK}\n## ✅ all good"


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_token(GHS, BOT)
        standin.add_token(PAT, "octocat")
        yield standin


def client(github: GitHubStandIn, token: str = GHS, policy: Policy | None = None) -> GitHub:
    return standin_client(github, token, policy=policy)


def publish(gh: GitHub, token: str = GHS, body: str = BODY, **kwargs: bool) -> Outcome:
    return upsert(gh, REPO, PR, body, marker=MARK, author=author_for(gh, token), **kwargs)


def bodies(github: GitHubStandIn) -> list[tuple[str, str]]:
    return [(c["user"]["login"], c["body"]) for c in github.comments(REPO, PR)]


def test_creates_the_comment_when_there_is_none(github: GitHubStandIn) -> None:
    gh = client(github)
    outcome = publish(gh)
    [comment] = github.comments(REPO, PR)
    assert outcome == Outcome("created", comment["id"], comment["html_url"])
    assert (comment["user"]["login"], comment["body"]) == (BOT, BODY)
    assert gh.requests_made == 3  # list, post, list again


def test_updates_ours_in_place(github: GitHubStandIn) -> None:
    [ours] = github.add_comments(REPO, PR, 1, login=BOT, body=f"{MARK}\nold")
    gh = client(github)
    outcome = publish(gh)
    assert (outcome.action, outcome.id) == ("updated", ours)
    assert bodies(github) == [(BOT, BODY)]
    assert github.count("PATCH", f"/repos/{REPO}/issues/comments/{ours}") == 1


def test_an_identical_body_is_not_sent_again(github: GitHubStandIn) -> None:
    github.add_comments(REPO, PR, 1, login=BOT, body=BODY)
    gh = client(github)
    assert publish(gh).action == "unchanged"
    assert gh.requests_made == 1 and github.count("PATCH") == 0


def test_update_only_creates_nothing(github: GitHubStandIn) -> None:
    gh = client(github)
    assert publish(gh, update_only=True) == Outcome("skipped")
    assert github.comments(REPO, PR) == [] and github.count("POST") == 0


def test_update_only_still_updates(github: GitHubStandIn) -> None:
    github.add_comments(REPO, PR, 1, login=BOT, body=f"{MARK}\nold")
    assert publish(client(github), update_only=True).action == "updated"


def test_ours_on_page_three_of_250_is_updated_in_four_requests(github: GitHubStandIn) -> None:
    """The requirement from issue 12: the first page is not the whole thread."""
    github.add_comments(REPO, PR, 230, login="reviewer", body="LGTM?")
    [ours] = github.add_comments(REPO, PR, 1, login=BOT, body=f"{MARK}\nold")
    github.add_comments(REPO, PR, 19, login="reviewer", body="nit")
    gh = client(github)
    outcome = publish(gh)
    assert (outcome.action, outcome.id) == ("updated", ours)
    assert gh.requests_made == 4
    assert [(r.method, r.query.get("page")) for r in github.log] == [
        ("GET", None),
        ("GET", "2"),
        ("GET", "3"),
        ("PATCH", None),
    ]
    rerun = client(github)
    assert publish(rerun).action == "unchanged"
    assert rerun.requests_made == 3
    assert len(github.comments(REPO, PR)) == 250
    assert [c["id"] for c in github.comments(REPO, PR) if MARK in c["body"]] == [ours]


def test_a_rerun_leaves_one_comment(github: GitHubStandIn) -> None:
    first = publish(client(github))
    second = publish(client(github), body=f"{BODY}\nand again")
    assert (first.action, second.action, second.id) == ("created", "updated", first.id)
    assert bodies(github) == [(BOT, f"{BODY}\nand again")]


def test_someone_elses_comment_with_our_marker_is_never_touched(github: GitHubStandIn) -> None:
    [theirs] = github.add_comments(REPO, PR, 1, login="mallory", body=f"{MARK}\nfake results")
    gh = client(github)
    outcome = publish(gh)
    assert outcome.action == "created" and outcome.id != theirs
    assert bodies(github) == [("mallory", f"{MARK}\nfake results"), (BOT, BODY)]
    assert [r for r in github.log if r.path.endswith(f"/{theirs}")] == []
    assert publish(client(github)).action == "unchanged"


def test_another_reports_marker_is_not_ours(github: GitHubStandIn) -> None:
    github.add_comments(REPO, PR, 1, login=BOT, body=f"{marker('nightly')}\nother")
    assert publish(client(github)).action == "created"
    assert len(github.comments(REPO, PR)) == 2


def test_of_several_of_ours_the_oldest_is_updated_and_none_deleted(github: GitHubStandIn) -> None:
    """Duplicates left by an older tool are not this call's to delete."""
    old = github.add_comments(REPO, PR, 2, login=BOT, body=f"{MARK}\nold")
    outcome = publish(client(github))
    assert (outcome.action, outcome.id) == ("updated", old[0])
    assert bodies(github) == [(BOT, BODY), (BOT, f"{MARK}\nold")]
    assert github.count("DELETE") == 0


def test_two_jobs_publishing_at_once_leave_one_comment(github: GitHubStandIn) -> None:
    """Both jobs find no comment and post at the same moment (the stand-in holds both POSTs until each has
    arrived): the later one sees the earlier, deletes its own and leaves the oldest."""
    for number in range(1, 6):
        barrier = threading.Barrier(2)
        github.inject(*[Fault(method="POST", barrier=barrier)] * 2)
        outcomes: list[Outcome] = []
        errors: list[BaseException] = []

        def job(
            outcomes: list[Outcome] = outcomes, errors: list[BaseException] = errors, n: int = number
        ) -> None:
            gh = client(github)
            try:
                outcomes.append(upsert(gh, REPO, n, BODY, marker=MARK, author=BOT))
            except BaseException as exc:  # reported below, not lost on the thread
                errors.append(exc)

        threads = [threading.Thread(target=job) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        [survivor] = github.comments(REPO, number)
        assert sorted(o.action for o in outcomes) == ["created", "unchanged"]
        assert {o.id for o in outcomes} == {survivor["id"]}
        assert github.count("POST", f"/repos/{REPO}/issues/{number}/") == 2
        assert github.pending_faults() == 0


def test_a_post_that_timed_out_but_landed_leaves_one_comment(github: GitHubStandIn) -> None:
    """GitHub created the comment after the client stopped waiting; the retry posts a second, which the
    check after posting removes."""
    github.inject(Fault(method="POST", delay=0.5))
    gh = client(github, policy=Policy(timeout=0.1, attempts=3, base=0.01))
    outcome = publish(gh)
    [comment] = github.comments(REPO, PR)
    assert (outcome.action, outcome.id, comment["body"]) == ("unchanged", comment["id"], BODY)
    assert github.count("POST") == 2 and github.count("DELETE") == 1


def test_a_read_only_token_fails_saying_so(github: GitHubStandIn) -> None:
    github.add_token("ghs_forkrun", BOT, read_only=True)
    gh = client(github, token="ghs_forkrun")
    with pytest.raises(PublishError) as caught:
        publish(gh, token="ghs_forkrun")
    assert caught.value.read_only and caught.value.status == 403
    assert DENIED in str(caught.value) and "\n" not in str(caught.value)


def test_a_body_over_githubs_limit_is_a_caller_bug(github: GitHubStandIn) -> None:
    gh = client(github)
    with pytest.raises(ValueError, match="65536"):
        publish(gh, body=MARK + "\n" + "x" * 65_536)
    with pytest.raises(ValueError, match="marker"):
        publish(gh, body="no marker")
    assert gh.requests_made == 0


# -- author_for ---------------------------------------------------------------------------------------


def test_an_explicit_author_wins(github: GitHubStandIn) -> None:
    gh = client(github, token=PAT)
    assert author_for(gh, PAT, "my-app[bot]")() == "my-app[bot]"
    assert gh.requests_made == 0


def test_an_installation_token_is_github_actions_without_asking(github: GitHubStandIn) -> None:
    gh = client(github)
    assert author_for(gh, GHS)() == BOT
    assert gh.requests_made == 0


def test_a_personal_token_asks_once_and_only_when_needed(github: GitHubStandIn) -> None:
    gh = client(github, token=PAT)
    assert publish(gh, token=PAT).action == "created"  # no marker found: nobody asked
    assert github.count("GET", "/user") == 0
    assert publish(gh, token=PAT, body=f"{BODY}\nnew").action == "updated"
    assert github.count("GET", "/user") == 1
    author = author_for(gh, PAT)
    assert (author(), author()) == ("octocat", "octocat")
    assert github.count("GET", "/user") == 2


def test_a_403_from_user_means_an_installation(github: GitHubStandIn) -> None:
    github.inject(Fault(status=403, message=DENIED, path="/user"))
    assert author_for(client(github, token=PAT), PAT)() == BOT


def test_other_failures_of_user_are_not_guessed_around(github: GitHubStandIn) -> None:
    github.inject(Fault(status=401, message="Bad credentials", path="/user"))
    with pytest.raises(PublishError, match="401 Bad credentials"):
        author_for(client(github, token=PAT), PAT)()


def test_a_wrong_author_still_leaves_one_comment(github: GitHubStandIn) -> None:
    """Told the wrong login (a GitHub App writes as <slug>[bot]), each run would post anew; the comment
    GitHub answers with names the real author, and the check after posting keeps the oldest."""
    first = upsert(client(github), REPO, PR, BODY, marker=MARK, author="someone-else")
    second = upsert(client(github), REPO, PR, BODY, marker=MARK, author="someone-else")
    assert (first.action, second.action, second.id) == ("created", "unchanged", first.id)
    assert len(github.comments(REPO, PR)) == 1
