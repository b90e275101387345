"""`pytest --ci-shard K/N`: shard selection at collection, in real pytest runs on a generated suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import run_ci_toolkit

from ci_toolkit import planning
from ci_toolkit import timing as timings
from ci_toolkit.pytest_plugin.history import shard_inputs
from ci_toolkit.pytest_plugin.shard import parse_shard, shard_from_env
from ci_toolkit.run.results import load_outcomes

if TYPE_CHECKING:
    from conftest import SampleProject

SUITE = {
    "tests/test_many.py": """\
        import pytest


        @pytest.mark.parametrize("n", range(12))
        def test_param(n):
            assert n >= 0


        class TestThings:
            def test_one(self):
                pass

            def test_two(self):
                pass


        @pytest.mark.xdist_group("db")
        def test_db_a():
            pass


        @pytest.mark.xdist_group("db")
        def test_db_b():
            pass
        """,
}
# 7 tests of the sample project, 12 + 2 + 2 here
TOTAL = 23
_CI_VARIABLES = (
    "CI_TOOLKIT_SHARD",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
)


# -- pure parts ----------------------------------------------------------------------------------


def test_parse_shard_accepts_k_of_n() -> None:
    assert parse_shard("1/4") == (1, 4)
    assert parse_shard(" 4/4 ") == (4, 4)
    assert parse_shard("1/1") == (1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/4", "--ci-shard 0/4: shard index must be 1-4"),
        ("5/4", "--ci-shard 5/4: shard index must be 1-4"),
        ("x/4", "--ci-shard x/4: expected K/N, shard K of N counted from 1 (e.g. 2/4)"),
        ("3", "--ci-shard 3: expected K/N, shard K of N counted from 1 (e.g. 2/4)"),
        ("1/0", "--ci-shard 1/0: the number of shards must be 1-256"),
        ("1/99999999", "--ci-shard 1/99999999: the number of shards must be 1-256"),
    ],
)
def test_parse_shard_rejects_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_shard(text)
    assert str(info.value) == message


def test_shard_from_env_knows_each_ci() -> None:
    assert shard_from_env({}) is None
    assert shard_from_env({"CI_TOOLKIT_SHARD": "2/3"}) == (2, 3, "CI_TOOLKIT_SHARD")
    # GitLab counts from 1, CircleCI and Buildkite from 0.
    assert shard_from_env({"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}) == (
        2,
        3,
        "CI_NODE_INDEX/CI_NODE_TOTAL",
    )
    assert shard_from_env({"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "2"})[:2] == (1, 2)  # type: ignore[index]
    assert shard_from_env({"BUILDKITE_PARALLEL_JOB": "3", "BUILDKITE_PARALLEL_JOB_COUNT": "4"})[:2] == (4, 4)  # type: ignore[index]
    # Ours first; a variable without its partner does not count.
    both = {"CI_TOOLKIT_SHARD": "1/2", "CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}
    assert shard_from_env(both) == (1, 2, "CI_TOOLKIT_SHARD")
    assert shard_from_env({"CI_NODE_INDEX": "1"}) is None


def test_shard_from_env_rejects_nonsense() -> None:
    with pytest.raises(
        ValueError, match=r"^CIRCLE_NODE_INDEX=4 CIRCLE_NODE_TOTAL=4: CIRCLE_NODE_INDEX must be 0-3$"
    ):
        shard_from_env({"CIRCLE_NODE_INDEX": "4", "CIRCLE_NODE_TOTAL": "4"})
    with pytest.raises(ValueError, match=r"^CI_NODE_INDEX=a CI_NODE_TOTAL=2: expected whole numbers$"):
        shard_from_env({"CI_NODE_INDEX": "a", "CI_NODE_TOTAL": "2"})
    with pytest.raises(ValueError, match=r"^CI_TOOLKIT_SHARD 3/2: shard index must be 1-2$"):
        shard_from_env({"CI_TOOLKIT_SHARD": "3/2"})


# -- real runs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, sample_project_maker: Callable[..., object]) -> Path:
    root = tmp_path_factory.mktemp("shards") / "project"
    sample_project_maker(root, files=SUITE)
    return root


def run(
    root: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in _CI_VARIABLES and not k.startswith("PYTEST_XDIST")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--ci-toolkit-results={out}", *args],
        cwd=root,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ran(path: Path) -> list[str]:
    return [o.nodeid for o in load_outcomes(path) if o.outcome == "passed"]


@pytest.mark.e2e
def test_shards_partition_the_suite_and_xdist_workers_agree(suite: Path, tmp_path: Path) -> None:
    shards = []
    for k in (1, 2, 3):
        proc = run(suite, tmp_path / f"{k}.json", f"--ci-shard={k}/3")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"ci-toolkit: shard {k}/3, planned here" in proc.stdout
        assert "deselected" in proc.stdout
        shards.append(ran(tmp_path / f"{k}.json"))
    everything = [nodeid for shard in shards for nodeid in shard]
    assert len(everything) == len(set(everything)) == TOTAL
    assert all(shards)
    # The xdist group stays in one shard.
    assert sum("test_db_a" in " ".join(s) and "test_db_b" in " ".join(s) for s in shards) == 1
    # Under xdist the workers select (they collect), and must select the same: xdist would abort otherwise.
    proc = run(suite, tmp_path / "x.json", "--ci-shard=2/3", "-n", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(ran(tmp_path / "x.json")) == sorted(shards[1])


@pytest.mark.e2e
def test_shards_follow_the_history_and_honour_marker_deselection(suite: Path, tmp_path: Path) -> None:
    # One slow test among fast ones: with a history saying so, it gets a shard to itself.
    slow = "tests/test_many.py::test_param[3]"
    full = run(suite, tmp_path / "all.json")
    assert full.returncode == 0, full.stdout + full.stderr
    observed = {
        nodeid: timings.Observation(0.0, 30.0 if nodeid == slow else 0.01, 0.0)
        for nodeid in ran(tmp_path / "all.json")
    }
    timings.save(
        tmp_path / "timings.json", timings.update(timings.empty(timings.project_name(suite)), observed)
    )
    selected = []
    for k in (1, 2):
        proc = run(
            suite, tmp_path / f"{k}.json", f"--ci-shard={k}/2", f"--ci-timings={tmp_path / 'timings.json'}"
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        selected.append(ran(tmp_path / f"{k}.json"))
    alone = [shard for shard in selected if slow in shard]
    assert alone == [[slow]]
    # -m first, then the split: the two shards partition what -m leaves.
    marked = [run(suite, tmp_path / f"m{k}.json", f"--ci-shard={k}/2", "-m", "integration") for k in (1, 2)]
    assert [p.returncode for p in marked] == [0, 0]
    assert sorted(ran(tmp_path / "m1.json") + ran(tmp_path / "m2.json")) == [
        "tests/test_integration.py::test_sign_positive",
        "tests/test_integration.py::test_sign_zero",
    ]


@pytest.mark.e2e
@pytest.mark.parametrize("spec", ["0/4", "5/4"])
def test_an_out_of_range_shard_is_a_usage_error(suite: Path, tmp_path: Path, spec: str) -> None:
    proc = run(suite, tmp_path / "r.json", f"--ci-shard={spec}")
    assert proc.returncode == 4
    assert f"ERROR: --ci-shard {spec}: shard index must be 1-4\n" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.e2e
def test_auto_reads_the_ci_environment_only_when_asked(suite: Path, tmp_path: Path) -> None:
    explicit = run(suite, tmp_path / "e.json", "--ci-shard=2/2")
    gitlab = run(
        suite, tmp_path / "g.json", "--ci-shard=auto", env={"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2"}
    )
    assert gitlab.returncode == explicit.returncode == 0, gitlab.stdout + gitlab.stderr
    assert "shard 2/2 (from CI_NODE_INDEX/CI_NODE_TOTAL)" in gitlab.stdout
    assert ran(tmp_path / "g.json") == ran(tmp_path / "e.json")
    # Without --ci-shard, a parallel CI job's variables change nothing.
    plain = run(suite, tmp_path / "p.json", env={"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2"})
    assert plain.returncode == 0 and len(ran(tmp_path / "p.json")) == TOTAL
    # auto outside a parallel job: everything runs, and the header says so.
    alone = run(suite, tmp_path / "a.json", "--ci-shard=auto")
    assert alone.returncode == 0 and len(ran(tmp_path / "a.json")) == TOTAL
    assert "no shard in the environment, running every test" in alone.stdout
    bad = run(suite, tmp_path / "b.json", "--ci-shard=auto", env={"CI_TOOLKIT_SHARD": "3/2"})
    assert bad.returncode == 4 and "ERROR: CI_TOOLKIT_SHARD 3/2: shard index must be 1-2" in bad.stderr


def write_plan(path: Path, tests: list[str], shards: int) -> Path:
    plan = planning.make_plan(tests, timings.Estimator(timings.empty("samplepkg")), shards)
    path.write_text(json.dumps(planning.to_json(plan)))
    return path


def collected_ids(root: Path, tmp_path: Path) -> list[str]:
    proc = run(root, tmp_path / "all.json")
    assert proc.returncode == 0
    return ran(tmp_path / "all.json")


@pytest.mark.e2e
def test_a_plan_is_followed_and_a_different_collection_is_refused(suite: Path, tmp_path: Path) -> None:
    ids = collected_ids(suite, tmp_path)
    plan = write_plan(tmp_path / "plan.json", ids, 2)
    shards = json.loads(plan.read_text())["shards"]
    for k in (1, 2):
        proc = run(suite, tmp_path / f"p{k}.json", f"--ci-shard={k}/2", f"--ci-plan={plan}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert sorted(ran(tmp_path / f"p{k}.json")) == sorted(shards[k - 1]["tests"])

    # A plan made from another collection: one test gone, one unknown.
    other = write_plan(tmp_path / "other.json", [*ids[1:], "tests/test_gone.py::test_x"], 2)
    for extra in ((), ("-n", "2")):
        proc = run(suite, tmp_path / "o.json", "--ci-shard=1/2", f"--ci-plan={other}", *extra)
        assert proc.returncode == 4, proc.stdout + proc.stderr
        output = proc.stdout + proc.stderr
        assert (
            f"--ci-plan {other}: the tests collected here differ from the plan's (2 ids: 1 not in the plan, "
            f"1 planned but not collected, e.g. +{ids[0]}, -tests/test_gone.py::test_x)"
        ) in output
        assert "INTERNALERROR" not in output and "Traceback" not in output

    wrong_count = run(suite, tmp_path / "w.json", "--ci-shard=1/3", f"--ci-plan={plan}")
    assert wrong_count.returncode == 4
    assert f"--ci-plan {plan}: the plan has 2 shards, not 3" in wrong_count.stderr
    (tmp_path / "junk.json").write_text("{}")
    junk = run(suite, tmp_path / "j.json", "--ci-shard=1/2", f"--ci-plan={tmp_path / 'junk.json'}")
    assert junk.returncode == 4 and "not a ci-toolkit plan manifest" in junk.stderr
    lonely = run(suite, tmp_path / "l.json", f"--ci-plan={plan}")
    assert lonely.returncode == 4 and "needs --ci-shard K/N (or auto)" in lonely.stderr


# -- the project's configured history ---------------------------------------------------------------

SLOW = "tests/test_many.py::test_param[3]"
UNKNOWN = "tests/test_unit.py::test_add_zero"  # left out of the histories below: estimated


def save_history(path: Path, root: Path, ids: list[str]) -> Path:
    """A history of every test in `ids` but UNKNOWN: SLOW takes 30 s, the others 10 ms."""
    observed = {
        nodeid: timings.Observation(0.0, 30.0 if nodeid == SLOW else 0.01, 0.0)
        for nodeid in ids
        if nodeid != UNKNOWN
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    timings.save(path, timings.update(timings.empty(timings.project_name(root)), observed))
    return path


def header(proc: subprocess.CompletedProcess[str], k: int) -> list[str]:
    return [line for line in proc.stdout.splitlines() if line.startswith(f"ci-toolkit: shard {k}/2")]


def both_shards(root: Path, tmp_path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Shards 1/2 and 2/2 of `root`, planned there: the tests each ran, and the lines each said of it."""
    selected, said = [], []
    for k in (1, 2):
        proc = run(root, tmp_path / f"{k}.json", f"--ci-shard={k}/2")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        selected.append(ran(tmp_path / f"{k}.json"))
        said.append(header(proc, k))
    return selected, said


@pytest.mark.e2e
def test_without_ci_timings_the_configured_history_plans_the_shards_as_ci_toolkit_plan_does(
    sample_project_factory: Callable[..., SampleProject], tmp_path: Path
) -> None:
    # workers = 0: `ci-toolkit plan` then prices each test as a plain pytest session does (no xdist share).
    project = sample_project_factory(
        files=SUITE, pyproject_extra='\n[tool.ci-toolkit]\nworkers = 0\ntimings = "ci/history.json"\n'
    )
    ids = collected_ids(project.root, tmp_path)
    save_history(project.root / "ci" / "history.json", project.root, ids)
    selected, said = both_shards(project.root, tmp_path)
    assert said == [
        [
            f"ci-toolkit: shard {k}/2, planned here, history: ci/history.json",
            f"ci-toolkit: shard {k}/2: 1 of {TOTAL} tests without history: estimated",
        ]
        for k in (1, 2)
    ]
    assert [shard for shard in selected if SLOW in shard] == [[SLOW]]
    assert sorted(selected[0] + selected[1]) == sorted(ids) and len(ids) == TOTAL
    # Every xdist worker plans the same split from the same file.
    workers = run(project.root, tmp_path / "x.json", "--ci-shard=2/2", "-n", "2")
    assert workers.returncode == 0, workers.stdout + workers.stderr
    assert sorted(ran(tmp_path / "x.json")) == sorted(selected[1])
    # The very split `ci-toolkit plan` makes from that history.
    planned = run_ci_toolkit("plan", "--shards", "2", "--format", "json", cwd=project.root)
    assert planned.code == 0, planned.describe()
    shards = json.loads(planned.stdout)["shards"]
    assert [sorted(shard["tests"]) for shard in shards] == [sorted(tests) for tests in selected]


@pytest.mark.e2e
def test_a_broken_configuration_plans_without_history_and_says_so_in_one_line(
    sample_project_factory: Callable[..., SampleProject], tmp_path: Path
) -> None:
    project = sample_project_factory(files=SUITE, pyproject_extra="\n[tool.ci-toolkit]\nbogus = 1\n")
    ids = collected_ids(project.root, tmp_path)
    save_history(project.root / ".ci-toolkit" / "timings.json", project.root, ids)
    selected, said = both_shards(project.root, tmp_path)
    for k, (first, count) in enumerate(said, 1):
        assert first.startswith(
            f"ci-toolkit: shard {k}/2, planned here, history: none "
            "(pyproject.toml: tool.ci-toolkit.bogus: unknown key; valid keys: "
        )
        assert count == f"ci-toolkit: shard {k}/2: {TOTAL} of {TOTAL} tests without history: estimated"
    # Both shards fall back alike: still every test exactly once.
    assert sorted(selected[0] + selected[1]) == sorted(ids)


@pytest.mark.e2e
def test_a_missing_or_unusable_history_is_no_history(
    sample_project_factory: Callable[..., SampleProject], tmp_path: Path
) -> None:
    project = sample_project_factory(files=SUITE)
    missing = run(project.root, tmp_path / "m.json", "--ci-shard=1/2")
    assert missing.returncode == 0, missing.stdout + missing.stderr
    assert header(missing, 1)[0] == (
        "ci-toolkit: shard 1/2, planned here, history: none (.ci-toolkit/timings.json not found)"
    )
    assert "warning" not in missing.stderr
    project.write(".ci-toolkit/timings.json", "{not json")
    corrupt = run(project.root, tmp_path / "c.json", "--ci-shard=1/2")
    assert corrupt.returncode == 0, corrupt.stdout + corrupt.stderr
    assert header(corrupt, 1)[0] == (
        "ci-toolkit: shard 1/2, planned here, history: none (.ci-toolkit/timings.json not usable)"
    )
    # Said as everywhere else in ci-toolkit: one warning line naming the file; the file is left alone.
    warnings = [line for line in corrupt.stderr.splitlines() if line.startswith("ci-toolkit: warning:")]
    assert len(warnings) == 1 and "timings.json: timing history is not valid JSON" in warnings[0]
    assert (project.root / ".ci-toolkit" / "timings.json").read_text() == "{not json"
    assert ran(tmp_path / "c.json") == ran(tmp_path / "m.json")
    # Under xdist too: the controller says it, not every worker again.
    workers = run(project.root, tmp_path / "x.json", "--ci-shard=1/2", "-n", "2")
    assert workers.returncode == 0, workers.stdout + workers.stderr
    assert workers.stderr.count("ci-toolkit: warning:") == 1, workers.stderr


# -- shard_inputs, on real files -------------------------------------------------------------------


def test_shard_inputs_read_the_configured_settings_and_history(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    project = sample_project_factory(
        pyproject_extra='\n[tool.ci-toolkit]\ntimings = "h.json"\nkeep_together = ["module"]\n'
        "shard_overhead = 7\n"
    )
    save_history(project.root / "h.json", project.root, [SLOW])
    inputs = shard_inputs(project.root, project.root / "pyproject.toml", None)
    assert (inputs.origin, inputs.keep_together, inputs.overhead) == ("h.json", ("module",), 7.0)
    assert list(inputs.history.tests) == [SLOW]
    # --ci-timings wins over the configuration; a path outside the rootdir is shown as it is.
    other = save_history(project.root.parent / "other.json", project.root, [UNKNOWN, SLOW])
    given = shard_inputs(project.root, None, other)
    assert given.origin == str(other) and given.overhead == 7.0


def test_shard_inputs_with_a_broken_configuration_still_use_the_given_history(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    project = sample_project_factory(pyproject_extra="\n[tool.ci-toolkit]\nshard_overhead = -1\n")
    given = save_history(project.root / "given.json", project.root, [SLOW])
    inputs = shard_inputs(project.root, project.root / "pyproject.toml", given)
    assert inputs.origin == (
        "given.json; defaults for the rest (pyproject.toml: tool.ci-toolkit.shard_overhead: "
        'expected a number of seconds >= 0 or "auto", got -1)'
    )
    assert list(inputs.history.tests) == [SLOW]


def test_shard_inputs_without_a_pyproject_use_the_defaults(tmp_path: Path) -> None:
    inputs = shard_inputs(tmp_path, None, None)
    assert inputs.origin == "none (.ci-toolkit/timings.json not found)"
    assert inputs.history.project == tmp_path.name and not inputs.history.tests


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "off"),
        ({"cov_source": None}, "off"),
        ({"cov_source": ["app"]}, "line"),
        ({"cov_source": [True], "cov_branch": True}, "branch"),
        ({"cov_source": ["app"], "no_cov": True}, "off"),
    ],
)
def test_a_shard_asks_the_history_for_its_own_coverage_mode(options: dict, expected: str) -> None:
    """Durations `local` recorded under coverage are not a plain session's: the mode picks which to use."""
    from types import SimpleNamespace

    from ci_toolkit.pytest_plugin.shard import _coverage_mode

    assert _coverage_mode(SimpleNamespace(option=SimpleNamespace(**options))) == expected  # type: ignore[arg-type]


def test_the_duration_scheduler_uses_the_configured_history_without_ci_timings(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    """`pytest -n 2 --ci-scheduler duration` without --ci-timings: the project's history, not none."""
    from ci_toolkit.pytest_plugin.history import estimator

    project = sample_project_factory(pyproject_extra='\n[tool.ci-toolkit]\ntimings = "h.json"\n')
    save_history(project.root / "h.json", project.root, [SLOW])

    assert estimator(None, project.root, project.root / "pyproject.toml").source(SLOW) == "history"
    given = save_history(project.root.parent / "given.json", project.root, [UNKNOWN])
    assert estimator(given, project.root).source(SLOW) != "history"  # --ci-timings wins
