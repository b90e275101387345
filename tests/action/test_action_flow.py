"""action.yml end to end: its steps run for real (tests/action/runner_sim.py) on a sample project, each
job in its own checkout directory, with real pytest subprocesses.

Mocked at the process/network boundary only, because they cannot exist here: the third-party actions
(cache, upload-/download-artifact, stood in by the simulator's folder copies), pip installing ci-toolkit
(the simulator's python3 shim; ci-toolkit is importable already) and api.github.com (the stand-in of
tests/publish/github_standin.py, real HTTP on 127.0.0.1).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from publish.github_standin import BOT, GitHubStandIn
from runner_sim import JobResult, Workflow
from support import git

pytestmark = pytest.mark.e2e

REPO = "octo/sample"
PR = 7
TOKEN = "ghs_" + "Zx9" * 12  # an installation token, as GitHub gives a workflow
CHILD_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the sample's pytest loads only what ci-toolkit names
_FEATURE = {
    "samplepkg/feature.py": """\
        def double(x):
            if x is None:
                return 0
            return 2 * x
        """,
    "tests/test_feature.py": """\
        from samplepkg.feature import double


        def test_double():
            assert double(2) == 4
        """,
}
TESTS = 8  # the sample's 7 and test_double
BROKEN = {"tests/test_broken.py": "def test_broken():\n    assert 1 + 1 == 3\n"}


class Repo:
    """The sample project as a git repository: base = the sample, head = the sample + a small feature."""

    def __init__(self, root: Path, maker: Callable[..., Any]) -> None:
        self.root = root
        maker(root)
        git(root, "init", "--quiet", "--initial-branch=main")
        git(root, "add", "-A")
        git(root, "commit", "--quiet", "-m", "base")
        self.base = git(root, "rev-parse", "HEAD")
        maker(root, files=_FEATURE)
        git(root, "add", "-A")
        git(root, "commit", "--quiet", "-m", "feature")
        self.head = git(root, "rev-parse", "HEAD")
        self._copies = 0

    def checkout(self, files: dict[str, str] | None = None) -> Path:
        """A fresh checkout directory of head, as actions/checkout leaves one per job."""
        self._copies += 1
        target = self.root.parent / f"checkout-{self._copies}"
        shutil.copytree(self.root, target, symlinks=True)
        for rel, text in (files or {}).items():
            (target / rel).write_text(text, encoding="utf-8")
        return target


def pr_event(repo: Repo, *, number: int = PR, head_repo: str = REPO) -> dict[str, Any]:
    return {
        "repository": {"full_name": REPO, "default_branch": "main"},
        "pull_request": {
            "number": number,
            "head": {"sha": repo.head, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"sha": repo.base, "ref": "main", "repo": {"full_name": REPO}},
        },
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("action-flow")


@pytest.fixture(scope="module")
def repo(workdir: Path, sample_project_maker: Callable[..., Any]) -> Repo:
    return Repo(workdir / "origin", sample_project_maker)


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_token(TOKEN, BOT)
        yield standin


def _push_workflow(root: Path, repo: Repo) -> Workflow:
    return Workflow(
        root, event_name="push", event={"repository": {"default_branch": "main"}}, sha=repo.head, token=TOKEN
    )


def _pr_workflow(
    root: Path, repo: Repo, github: GitHubStandIn, cache_root: Path | None = None, **event: Any
) -> Workflow:
    return Workflow(
        root,
        event_name="pull_request",
        event=pr_event(repo, **event),
        ref=f"refs/pull/{event.get('number', PR)}/merge",
        sha=repo.head,
        token=TOKEN,
        api_url=github.url,
        cache_root=cache_root,
    )


def _everything_written(results: list[JobResult], *places: Path) -> str:
    texts = [r.stdout + r.stderr + r.summary for r in results]
    for place in [*(r.home for r in results), *places]:
        for path in place.rglob("*"):
            if path.is_file():
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


# ---------------------------------------------------------------------------------------------------------
# One-line mode


@pytest.fixture(scope="module")
def one_line(workdir: Path, repo: Repo) -> tuple[Workflow, JobResult]:
    workflow = _push_workflow(workdir / "push-run", repo)
    return workflow, workflow.job(repo.checkout(), {"mode": "run"}, env=CHILD_ENV).run()


def test_one_line_mode_passes_with_outputs_and_summary(one_line: tuple[Workflow, JobResult]) -> None:
    workflow, job = one_line
    assert job.exit_code == 0, job.describe()
    assert job.outputs["verdict"] == "passed"
    assert job.outputs["passed"] == str(TESTS)
    assert job.outputs["failed"] == "0"
    assert float(job.outputs["coverage"]) > 0
    assert job.outputs["exit-code"] == "0"
    assert Path(job.outputs["report-path"]).is_file()
    assert "ci-toolkit: passed" in job.summary
    assert "lane" in job.summary
    assert job.step("verdict").outcome == "success"
    # A push to the default branch saves the timing history under a key unique to the run.
    assert workflow.cache.keys() == ["ci-toolkit-timings-main-4242-1"]
    assert workflow.artifacts.names() == []  # no shard, no pending comment


def test_one_line_mode_fails_on_a_failing_test(workdir: Path, repo: Repo) -> None:
    workflow = _push_workflow(workdir / "push-broken", repo)
    job = workflow.job(repo.checkout(BROKEN), {"mode": "run"}, env=CHILD_ENV).run()
    assert job.exit_code == 1, job.describe()
    assert job.step("verdict").outcome == "failure"
    assert job.step("verdict").exit_code == 1
    assert job.step("publish").outcome == "success"  # publishing never judges
    assert job.outputs["verdict"] == "failed"
    assert job.outputs["failed"] == "1"
    assert job.outputs["passed"] == str(TESTS)
    assert job.outputs["exit-code"] == "1"
    assert "::error file=tests/test_broken.py" in job.stdout
    assert "ci-toolkit: failed" in job.summary


# ---------------------------------------------------------------------------------------------------------
# plan -> 2 shards -> report, on a pull request


class Sharded:
    def __init__(self, workdir: Path, repo: Repo, github: GitHubStandIn, cache_root: Path) -> None:
        github.add_pr(REPO, PR, head_sha=repo.head)
        # The push run's cache: the plan starts from the default branch's timing history, as on GitHub.
        self.workflow = _pr_workflow(workdir / "pr-run", repo, github, cache_root)
        self.plan = self.workflow.job(repo.checkout(), {"mode": "plan", "shards": "2"}, env=CHILD_ENV).run()
        self.shards = [
            self.workflow.job(
                repo.checkout(), {"mode": "shard", "shard": str(k), "shards": "2"}, env=CHILD_ENV
            ).run()
            for k in (1, 2)
        ]
        self.report = self.report_job(repo)
        self.comments_after_first = github.comments(REPO, PR)
        self.rerun = self.report_job(repo)

    def report_job(self, repo: Repo, workflow: Workflow | None = None) -> JobResult:
        inputs = {"mode": "report", "shards": "2"}
        return (workflow or self.workflow).job(repo.checkout(), inputs, env=CHILD_ENV).run()

    @property
    def jobs(self) -> list[JobResult]:
        return [self.plan, *self.shards, self.report, self.rerun]


@pytest.fixture(scope="module")
def sharded(
    workdir: Path, repo: Repo, github: GitHubStandIn, one_line: tuple[Workflow, JobResult]
) -> Sharded:
    return Sharded(workdir, repo, github, one_line[0].cache.root)


def test_plan_job_outputs_a_two_shard_matrix(sharded: Sharded) -> None:
    plan = sharded.plan
    assert plan.exit_code == 0, plan.describe()
    assert plan.outputs["shards"] == "2"
    matrix = json.loads(plan.outputs["matrix"])
    assert sorted((e["shard"], e["shards"]) for e in matrix["include"]) == [(1, 2), (2, 2)]
    assert (
        plan.step("Restore the timing history").outputs["cache-matched-key"]
        == "ci-toolkit-timings-main-4242-1"
    )
    plan_artifact = sharded.workflow.artifacts.path("ci-toolkit-plan-attempt-1")
    assert {"plan.json", "matrix.json", "timings.json"} <= {p.name for p in plan_artifact.iterdir()}


def test_every_shard_uploads_its_output_dir_with_hidden_files(sharded: Sharded) -> None:
    for job in sharded.shards:
        assert job.exit_code == 0, job.describe()
        assert job.step("publish").outcome == "success"
    store = sharded.workflow.artifacts
    for k in (1, 2):
        artifact = store.path(f"ci-toolkit-shard-{k}-of-2-attempt-1")
        assert (artifact / ".coverage").is_file(), sorted(p.name for p in artifact.iterdir())
        assert (artifact / "run.json").is_file()


def test_report_job_merges_every_test_once_with_unsharded_coverage(
    sharded: Sharded, one_line: tuple[Workflow, JobResult]
) -> None:
    report = sharded.report
    assert report.exit_code == 0, report.describe()
    assert report.step("merge").outputs["exit-code"] == "0"
    assert report.outputs["verdict"] == "passed"
    assert report.outputs["passed"] == str(TESTS)
    assert report.outputs["failed"] == "0"
    assert report.outputs["coverage"] == one_line[1].outputs["coverage"]
    assert report.outputs["patch-coverage"] != ""  # the pull request's base reached merge --base
    assert "ci-toolkit: passed" in report.summary


def test_report_job_posts_one_comment_and_a_rerun_updates_it(sharded: Sharded, github: GitHubStandIn) -> None:
    first = sharded.comments_after_first
    assert len(first) == 1
    assert "ci-toolkit" in first[0]["body"]
    assert sharded.rerun.exit_code == 0, sharded.rerun.describe()
    assert [c["id"] for c in github.comments(REPO, PR)] == [first[0]["id"]]
    assert "ci-toolkit: pull-request comment " in sharded.rerun.step("publish").stdout
    # Shards never comment; only the report jobs talked to the API.
    assert github.count("POST") == 1


def test_a_later_run_on_the_pr_updates_the_comment(
    sharded: Sharded, repo: Repo, github: GitHubStandIn, workdir: Path
) -> None:
    first = sharded.comments_after_first[0]
    workflow = _pr_workflow(workdir / "pr-run-later", repo, github)
    workflow.run_id = "4243"
    job = workflow.job(repo.checkout(BROKEN), {"mode": "run"}, env=CHILD_ENV).run()
    assert job.exit_code == 1, job.describe()
    assert "ci-toolkit: pull-request comment updated" in job.step("publish").stdout
    now = github.comments(REPO, PR)
    assert [c["id"] for c in now] == [first["id"]]
    assert now[0]["body"] != first["body"]
    assert github.count("POST") == 1
    assert TOKEN not in _everything_written([job], workflow.root)


def test_the_token_appears_in_nothing_the_jobs_wrote(sharded: Sharded, repo: Repo) -> None:
    written = _everything_written(sharded.jobs, sharded.workflow.root, repo.root.parent)
    assert TOKEN not in written


def test_a_missing_shard_fails_the_report_job(sharded: Sharded, repo: Repo, workdir: Path) -> None:
    root = workdir / "pr-run-missing"
    shutil.copytree(sharded.workflow.artifacts.root, root / "artifacts")
    shutil.rmtree(root / "artifacts" / "ci-toolkit-shard-2-of-2-attempt-1")
    workflow = Workflow(root, event_name="push", event={"repository": {"default_branch": "main"}})
    job = sharded.report_job(repo, workflow)
    assert job.exit_code != 0, job.describe()
    assert job.step("verdict").outcome == "failure"
    assert job.outputs["verdict"] != "passed"
    assert "shard 2/2 missing" in job.stdout + job.stderr


# ---------------------------------------------------------------------------------------------------------
# A fork's pull request


def test_a_fork_pr_leaves_the_comment_as_an_artifact(
    workdir: Path, repo: Repo, github: GitHubStandIn
) -> None:
    github.add_pr(REPO, PR + 1, head_sha=repo.head, head_repo="someone/sample")
    workflow = _pr_workflow(workdir / "fork-run", repo, github, number=PR + 1, head_repo="someone/sample")
    before = github.count()
    job = workflow.job(repo.checkout(), {"mode": "run"}, env=CHILD_ENV).run()
    assert job.exit_code == 0, job.describe()
    assert github.count() == before  # not one request: the token is read-only for a fork
    assert github.comments(REPO, PR + 1) == []
    assert job.step("publish").outputs["pending-comment"]
    assert job.step("Upload the comment for the comment workflow").outcome == "success"
    assert workflow.artifacts.names() == ["ci-toolkit-pr-comment"]
    left = workflow.artifacts.path("ci-toolkit-pr-comment")
    assert any(p.is_file() for p in left.rglob("*"))
    assert TOKEN not in _everything_written([job], workflow.root)


def test_a_plan_from_history_needs_nothing_of_the_project(
    workdir: Path, repo: Repo, github: GitHubStandIn, one_line: tuple[Workflow, JobResult]
) -> None:
    """plan-from: history plans from the cached history alone: a checkout whose conftest.py cannot even
    be imported (the project not installed) still gets its matrix."""
    workflow = _pr_workflow(workdir / "pr-history-plan", repo, github, one_line[0].cache.root)
    checkout = repo.checkout({"tests/conftest.py": "raise ImportError('the project is not installed')\n"})

    plan = workflow.job(
        checkout, {"mode": "plan", "shards": "2", "plan-from": "history"}, env=CHILD_ENV
    ).run()

    assert plan.exit_code == 0, plan.describe()
    assert plan.outputs["shards"] == "2"
    names = {p.name for p in workflow.artifacts.path("ci-toolkit-plan-attempt-1").iterdir()}
    assert {"matrix.json", "timings.json"} <= names and "plan.json" not in names
