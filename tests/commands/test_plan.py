"""`ci-toolkit plan` end to end: a real collection of a generated sample project, a real history file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SampleProject

from ci_toolkit import timing as timings
from ci_toolkit.commands.plan import command, parse_shards, render
from ci_toolkit.planning import fingerprint, from_json, make_plan

TESTS = SampleProject.UNIT + SampleProject.SERIAL + SampleProject.INTEGRATION
EXTRA = """
[tool.ci-toolkit]
workers = 0  # one lane without xdist: a test costs its shard its own seconds (planning.cost)
shard_overhead = 0.5
keep_together = ["tests/test_integration.py"]
"""


@pytest.fixture
def project(sample_project_factory: Callable[..., SampleProject]) -> SampleProject:
    project = sample_project_factory(pyproject_extra=EXTRA)
    known = {
        "tests/test_unit.py::test_add": 4.0,
        "tests/test_unit.py::test_parse_digits": 3.0,
        "tests/test_serial.py::test_sign_negative": 6.0,
        "tests/test_integration.py::test_sign_positive": 2.0,
    }
    history = timings.History(
        project="samplepkg",
        run=1,
        tests={
            nodeid: timings.TestTiming(0.0, seconds, 0.0, runs=1, last_seen=1)
            for nodeid, seconds in known.items()
        },
    )
    timings.save(project.root / ".ci-toolkit" / "timings.json", history)
    return project


def invoke(project: SampleProject, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, [*args, "--config", str(project.root / "pyproject.toml")])
    return result.exit_code, result.stdout, result.stderr


def test_text_shows_each_shard_the_bound_and_where_estimates_came_from(project: SampleProject) -> None:
    code, out, err = invoke(project, "--shards", "3")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Plan: 7 tests in 3 shards (timing history: .ci-toolkit/timings.json)"
    rows = [line.split() for line in lines[3:6]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert sum(int(row[1]) for row in rows) == 7
    # Unknown tests take their file's mean: test_unit.py 3.5 s, test_integration.py 2.0 s (kept together).
    # Work: 4 + 3 + 3.5 + 3.5 + 6 + 2 + 2 = 24 s; the serial test (6 s) alone in a shard.
    assert "makespan " in lines[7] and "ratio " in lines[7] and "overhead 0.5 s per shard" in lines[7]
    assert lines[-1] == "estimates: 4 tests from history, 3 without history (file mean: 3)"


def test_json_writes_the_manifest_pytest_reads(project: SampleProject, tmp_path: Path) -> None:
    out_file = tmp_path / "plan.json"
    code, out, _ = invoke(project, "--shards", "2", "--format", "json", "--output", str(out_file))
    assert (code, out) == (0, "")
    plan = from_json(json.loads(out_file.read_text()))
    assert plan.fingerprint == fingerprint(TESTS)
    assert sorted(n for shard in plan.shards for n in shard.tests) == sorted(TESTS)
    assert plan.overhead == 0.5 and plan.total == 24.0
    assert len({i for i, shard in enumerate(plan.shards) for n in shard.tests if "integration" in n}) == 1
    # The same plan as the library computes from the same history: deterministic.
    estimator = timings.Estimator(timings.load(project.root / ".ci-toolkit/timings.json", "samplepkg"))
    again = make_plan(
        reversed(TESTS), estimator, 2, overhead=0.5, keep_together=["tests/test_integration.py"]
    )
    assert again == plan


def test_auto_with_github_matrix_and_a_manifest(project: SampleProject, tmp_path: Path) -> None:
    manifest = tmp_path / "plan.json"
    # 24 s of work in units of 6, 4 (integration kept), 4, 3.5, 3.5, 3, 0.5 s overhead, target 9 s: three
    # shards leave 18 s for two (9.5 s), so four.
    code, out, err = invoke(
        project,
        "--shards",
        "auto",
        "--target-minutes",
        "0.15",
        "--format",
        "github-matrix",
        "--manifest",
        str(manifest),
    )
    assert (code, err) == (0, "")
    assert out.count("\n") == 1  # one line, for $GITHUB_OUTPUT
    matrix = json.loads(out)
    count = len(matrix["shard"])
    assert matrix["include"] == [{"shard": k, "shards": count} for k in range(1, count + 1)]
    plan = from_json(json.loads(manifest.read_text()))
    assert len(plan.shards) == count and plan.makespan <= 9.0
    assert count == 4


def test_auto_that_cannot_meet_the_target_says_so(project: SampleProject) -> None:
    code, out, err = invoke(project, "--shards", "auto", "--target-minutes", "0.05")  # 3 s < the 6 s test
    assert code == 0 and err == ""
    assert "auto: no shard count up to 64 meets the 3.0 s target" in out
    code, out, err = invoke(project, "--shards", "auto", "--target-minutes", "0.05", "--format", "json")
    assert code == 0 and json.loads(out)["version"] == 1
    assert (
        err.startswith("ci-toolkit: warning: no shard count up to 64 meets the 3.0 s target")
        and err.count("\n") == 1
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "x"], "expected a whole number 1-256 or \"auto\", got 'x'"),
        (["--shards", "0"], "expected a whole number 1-256, got 0"),
        (["--shards", "300"], "expected a whole number 1-256, got 300"),
        (["--shards", "auto"], "--shards auto needs --target-minutes M"),
        (["--shards", "2", "--target-minutes", "5"], "--target-minutes only applies to --shards auto"),
        (["--shards", "auto", "--target-minutes", "0"], "expected minutes > 0, got 0.0"),
        (["--shards", "2", "--format", "yaml"], "'yaml' is not one of"),
    ],
)
def test_bad_values_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(command, [*args, "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2
    assert message in result.stderr


def test_nothing_collected_exits_4(sample_project_factory: Callable[..., SampleProject]) -> None:
    project = sample_project_factory(
        files={"tests/test_unit.py": "", "tests/test_serial.py": "", "tests/test_integration.py": ""}
    )
    code, _, err = invoke(project, "--shards", "2")
    assert code == 4
    assert err.startswith("ci-toolkit: error: no tests collected")


def test_xdist_groups_from_the_collection_are_honoured(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    grouped = """\
        import pytest


        @pytest.mark.xdist_group("db")
        def test_{name}_1():
            pass


        @pytest.mark.xdist_group(name="db")
        def test_{name}_2():
            pass


        def test_{name}_free():
            pass
        """
    project = sample_project_factory(
        files={"tests/test_g1.py": grouped.format(name="a"), "tests/test_g2.py": grouped.format(name="b")}
    )
    code, out, _ = invoke(project, "--shards", "8", "--format", "json")
    assert code == 0
    shards = json.loads(out)["shards"]
    assert sum(1 for shard in shards if shard["tests"]) == 8  # 11 tests, 8 units: every shard used
    holding = [
        s["index"]
        for s in shards
        for n in s["tests"]
        if n.split("::")[1] in {"test_a_1", "test_a_2", "test_b_1", "test_b_2"}
    ]
    assert len(holding) == 4 and len(set(holding)) == 1


def test_shards_parse() -> None:
    assert parse_shards(" AUTO ") is None
    assert parse_shards("16") == 16


def test_render_names_every_estimate_source() -> None:
    est = {"tests/a.py::test_1": timings.TestTiming(0.0, 200.0, 0.0)}
    plan = make_plan(est, est.__getitem__, 2)
    text = render(plan, sources={"history": 0, "default": 2, "global": 1, "file": 0}, target_seconds=300)
    assert "Plan: 1 tests in 2 shards\n" in text
    assert "makespan 3.3 min" in text
    assert "auto: 2 shards, the fewest that meet the 5.0 min target" in text
    assert text.endswith(
        "estimates: 0 tests from history, 3 without history (default 1 s: 2, global median: 1)\n"
    )


def test_output_replaces_only_an_earlier_plan_output(project: SampleProject, tmp_path: Path) -> None:
    """Issue 9 (a sibling of `--json pyproject.toml`): `plan --output` and `--manifest` replaced any file."""
    out_file = tmp_path / "plan.out"
    out_file.write_text("Plan: 7 tests in 2 shards\n")  # an earlier table
    for fmt in ("json", "github-matrix", "text"):  # each replaces the one before: its own earlier output
        code, _, err = invoke(project, "--shards", "2", "--format", fmt, "--output", str(out_file))
        assert (code, err) == (0, ""), err
    pyproject = project.root / "pyproject.toml"
    before = pyproject.read_bytes()
    for option in ("--output", "--manifest"):
        code, _, err = invoke(project, "--shards", "2", option, str(pyproject))
        assert code == 2
        assert err == (
            f"ci-toolkit: error: {option} {pyproject}: exists and is not "
            f"{'a plan manifest' if option == '--manifest' else 'an earlier `ci-toolkit plan` output'}; "
            f"it is left as it is: remove it, or name another file for {option}\n"
        )
        assert pyproject.read_bytes() == before


# -- --from-history: the tests the history holds, nothing collected ------------------------------------------

BROKEN = {  # a project that is not installed: importing any of it fails
    "tests/conftest.py": "raise ImportError('the plan job has not installed samplepkg')\n",
    "samplepkg/__init__.py": "raise ImportError('not installed')\n",
}


def save_history(project: SampleProject, nodeids: tuple[str, ...], lane: str = "all") -> Path:
    """Every test 1-7 s (by position), recorded in `lane`, as `ci-toolkit local` records them."""
    path = project.root / ".ci-toolkit" / "timings.json"
    tests = {
        nodeid: timings.TestTiming(0.0, float(k), 0.0, runs=1, last_seen=1, lane=lane)
        for k, nodeid in enumerate(nodeids, 1)
    }
    timings.save(path, timings.History(project="samplepkg", run=1, tests=tests))
    return path


def test_from_history_imports_nothing_of_the_project(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    project = sample_project_factory(pyproject_extra=EXTRA, files=BROKEN)
    save_history(project, (*TESTS, "tests/test_gone.py::test_deleted_since"))
    code, _, err = invoke(project, "--shards", "2")
    assert code != 0 and "ImportError" in err  # collecting imports the conftest.py, and fails
    code, out, err = invoke(project, "--shards", "2", "--from-history")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Plan: 8 tests in 2 shards (timing history: .ci-toolkit/timings.json)"
    assert lines[-1] == "8 tests from the history, not collected"  # the stale id too: harmless for a count
    code, out, err = invoke(project, "--shards", "2", "--from-history", "--format", "github-matrix")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"shard": [1, 2], "include": [{"shard": k, "shards": 2} for k in (1, 2)]}


def test_from_history_plans_as_collecting_does_when_the_suite_is_unchanged(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    project = sample_project_factory(pyproject_extra=EXTRA)
    save_history(project, TESTS)
    # 28 s of work in units of 13 s (integration, kept together), 5, 4, 3, 2, 1; 0.5 s overhead a shard.
    counts = []
    for args in (["--shards", "auto", "--target-minutes", "0.23"], ["--shards", "2"]):
        results = [
            invoke(project, *args, *extra, "--format", fmt)
            for fmt in ("github-matrix", "text")
            for extra in ([], ["--from-history"])
        ]
        assert all(code == 0 and err == "" for code, _, err in results), results
        (_, collected_matrix, _), (_, history_matrix, _) = results[:2]
        assert history_matrix == collected_matrix
        (_, collected_table, _), (_, history_table, _) = results[2:]
        # The same shards, the same predictions; only where the tests came from differs.
        assert history_table.splitlines()[:-1] == collected_table.splitlines()[:-1]
        counts.append(len(json.loads(history_matrix)["shard"]))
    # auto, 13.8 s target: two shards take 14.5 s at best (13 + 1 | 5 + 4 + 3 + 2, each + 0.5), three 13.5 s.
    assert counts == [3, 2]


@pytest.mark.parametrize("tests", [None, ()], ids=["missing", "empty"])
def test_from_history_without_a_history_says_how_to_plan(
    sample_project_factory: Callable[..., SampleProject], tests: tuple[str, ...] | None
) -> None:
    project = sample_project_factory(files=BROKEN)
    path = project.root / ".ci-toolkit" / "timings.json"
    if tests is not None:
        save_history(project, tests)
    code, out, err = invoke(project, "--shards", "2", "--from-history", "--format", "github-matrix")
    assert (code, out) == (2, "")
    assert err == (
        f"ci-toolkit: error: no timing history at {path}: plan by collecting (drop --from-history) "
        "or restore the history\n"
    )


@pytest.mark.parametrize(
    ("args", "named"), [(["--format", "json"], "--format json"), (["--manifest", "plan.json"], "--manifest")]
)
def test_from_history_writes_no_manifest(tmp_path: Path, args: list[str], named: str) -> None:
    """pytest --ci-plan checks a manifest's fingerprint against its collection: history ids would not do."""
    manifest = tmp_path / "plan.json"
    args = [str(manifest) if arg == "plan.json" else arg for arg in args]
    result = CliRunner().invoke(
        command, ["--shards", "2", "--from-history", *args, "--config", str(tmp_path / "missing.toml")]
    )
    assert result.exit_code == 2
    assert (
        f"--from-history cannot write a plan manifest ({named}): pytest --ci-plan checks it against the "
        "collected tests; use --format github-matrix or text and let each shard plan the tests it collects"
    ) in result.stderr
    assert not manifest.exists()


def test_render_from_history_says_nothing_was_collected() -> None:
    est = {"tests/a.py::test_1": timings.TestTiming(0.0, 2.0, 0.0)}
    plan = make_plan(est, est.__getitem__, 1)
    text = render(plan, sources={"history": 1}, history="t.json", recorded=True, unlaned=1)
    assert text.startswith("Plan: 1 tests in 1 shard (timing history: t.json)\n")
    assert text.endswith(
        "1 tests from the history, not collected "
        "(1 recorded in no configured lane, priced at their whole time)\n"
    )
