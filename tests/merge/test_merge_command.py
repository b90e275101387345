"""`ci-toolkit merge` on shards written here (no pytest runs): completeness, bad input, exit codes, and
that bad input leaves the output dir as it was."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import coverage
import pytest
from click.testing import CliRunner, Result

from ci_toolkit import planning
from ci_toolkit.commands.merge import command as merge
from ci_toolkit.merge import shards as shards_mod
from ci_toolkit.run.exchange import plan as manifest
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.run.exchange.results import Results, Session, TestOutcome
from ci_toolkit.timing import TestTiming

TESTS = ("tests/test_a.py::test_one", "tests/test_a.py::test_two", "tests/test_b.py::test_three")
ELSEWHERE = "/home/runner/work/proj/proj"


def make_plan(tests: Sequence[str] = TESTS, n: int = 2) -> planning.Plan:
    return planning.make_plan(list(tests), lambda _: TestTiming(0.0, 1.0, 0.0), n)


def write_shard(
    folder: Path,
    k: int,
    n: int,
    plan: planning.Plan,
    *,
    lines: Mapping[str, Sequence[int]] | None = None,
    failed: Sequence[str] = (),
    coverage_name: str = ".coverage",
) -> Path:
    folder.mkdir(parents=True)
    manifest.write(folder / "plan.json", plan)
    tests = plan.shards[k - 1].tests if k <= len(plan.shards) else ()
    doc = {"version": 1, "shard": k, "shards": n, "wall_time": 1.0, "lanes": {"main": 1.0}}
    (folder / "run.json").write_text(json.dumps(doc))
    outcomes = tuple(
        TestOutcome(t, "failed" if t in failed else "passed", call=0.5, message="boom" if t in failed else "")
        for t in tests
    )
    counts = {"passed": sum(o.outcome == "passed" for o in outcomes), "failed": len(failed)}
    session = Session(exitstatus=1 if failed else 0, selected=len(outcomes))
    results_file.write(folder / "results" / "main.json", Results(outcomes, counts, session))
    data = coverage.CoverageData(basename=str(folder / coverage_name))
    data.add_lines({f"{ELSEWHERE}/{name}": set(ln) for name, ln in (lines or {"pkg/mod.py": [1, 2]}).items()})
    data.write()
    return folder


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "here"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("A = 1\nB = 2\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0"\n\n'
        '[tool.ci-toolkit.coverage]\nsource = ["pkg"]\nfail_under = 90\n'
    )
    monkeypatch.chdir(root)
    return root


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(merge, ["--no-color", *map(str, args)])


def error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("ci-toolkit: error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_two_shards_in_one_download_folder_merge(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "dl" / "shard-1" / ".ci-toolkit", 1, 2, plan, lines={"pkg/mod.py": [1]})
    write_shard(tmp_path / "dl" / "shard-2", 2, 2, plan, lines={"pkg/mod.py": [2]}, coverage_name="coverage")
    result = run(tmp_path / "dl")
    assert result.exit_code == 0, result.output
    assert "merged 2 shards" in result.output
    data = coverage.CoverageData(basename=str(project / ".ci-toolkit" / ".coverage"))
    data.read()
    assert data.measured_files() == {str(project / "pkg" / "mod.py")}
    assert sorted(data.lines(str(project / "pkg" / "mod.py")) or []) == [1, 2]
    merged = results_file.read(project / ".ci-toolkit" / "results" / "main.json")
    assert sorted(t.nodeid for t in merged.tests) == sorted(TESTS)


def test_a_failed_test_in_any_shard_exits_1(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "s1", 1, 2, plan, lines={"pkg/mod.py": [1, 2]})
    write_shard(tmp_path / "s2", 2, 2, plan, failed=plan.shards[1].tests[:1])
    assert run(tmp_path / "s1", tmp_path / "s2").exit_code == 1


def test_the_gate_exits_3(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "s1", 1, 2, plan, lines={"pkg/mod.py": [1]})
    write_shard(tmp_path / "s2", 2, 2, plan, lines={"pkg/mod.py": [1]})
    assert run(tmp_path / "s1", tmp_path / "s2").exit_code == 3


def test_a_folder_without_a_shard_is_named(project: Path, tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    result = run(tmp_path / "empty")
    assert result.exit_code == 2
    assert f"{tmp_path / 'empty'}: no shard here" in error_line(result)


def test_two_shards_claiming_the_same_k(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan)
    write_shard(tmp_path / "b", 1, 2, plan)
    write_shard(tmp_path / "c", 2, 2, plan)
    result = run(tmp_path / "a", tmp_path / "b", tmp_path / "c", "--allow-partial")
    assert result.exit_code == 2
    assert "shard 1 found twice" in error_line(result)


def test_shards_of_different_plans(project: Path, tmp_path: Path) -> None:
    write_shard(tmp_path / "a", 1, 2, make_plan())
    write_shard(tmp_path / "b", 2, 2, make_plan(TESTS[:2]))
    result = run(tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 2
    assert "plan fingerprints differ" in error_line(result)


def test_a_missing_shard_fails_unless_partial(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan, lines={"pkg/mod.py": [1, 2]})
    result = run(tmp_path / "a")
    assert result.exit_code == 2
    assert "shard 2/2 missing (found 1 of 2)" in error_line(result)
    result = run(tmp_path / "a", "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "partial merge (--allow-partial): shard 2/2 missing" in result.output


def test_expect_shards_overrides_the_shards(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan)
    write_shard(tmp_path / "b", 2, 2, plan)
    result = run(tmp_path / "a", tmp_path / "b", "--expect-shards", "3")
    assert result.exit_code == 2
    assert "shard 3/3 missing" in error_line(result)


def test_a_corrupt_coverage_file_is_named_and_partial_merges_the_rest(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan, lines={"pkg/mod.py": [1, 2]})
    write_shard(tmp_path / "b", 2, 2, plan)
    (tmp_path / "b" / ".coverage").write_bytes(b"not sqlite at all" * 100)
    out = project / ".ci-toolkit"
    out.mkdir()
    (out / ".ci-toolkit-output").write_text(
        "# ci-toolkit output directory: ci-toolkit deletes and rewrites the run artefacts it made here.\n"
    )
    (out / ".coverage").write_text("previous run")
    result = run(tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 2
    assert str(tmp_path / "b" / ".coverage") in error_line(result)
    assert (out / ".coverage").read_text() == "previous run"  # nothing already written destroyed
    result = run(tmp_path / "a", tmp_path / "b", "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "not a readable coverage data file" in result.output


def test_unmappable_paths_fail_unless_partial(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan, lines={"pkg/mod.py": [1, 2], "pkg/gone.py": [1]})
    write_shard(tmp_path / "b", 2, 2, plan)
    result = run(tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 2
    line = error_line(result)
    assert f"1 measured path(s) name no file in {project}: {ELSEWHERE}/pkg/gone.py" in line
    assert run(tmp_path / "a", tmp_path / "b", "--allow-partial").exit_code == 0


def test_a_shard_that_failed_before_writing_data(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan)
    (tmp_path / "b").mkdir()
    manifest.write(tmp_path / "b" / "plan.json", plan)
    result = run(tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 2
    assert "its run failed before writing its data" in error_line(result)


def test_junit_of_another_tool_with_missing_attributes_is_merged(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    for k, name in ((1, "a"), (2, "b")):
        write_shard(tmp_path / name, k, 2, plan)
        (tmp_path / name / "junit").mkdir()
        (tmp_path / name / "junit" / "main.xml").write_text(f'<testsuite><testcase name="t{k}"/></testsuite>')
    assert run(tmp_path / "a", tmp_path / "b").exit_code == 0
    text = (project / ".ci-toolkit" / "junit" / "main.xml").read_text()
    assert 'name="t1"' in text and 'name="t2"' in text
    (tmp_path / "b" / "junit" / "main.xml").write_text("<testsuite")
    result = run(tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 2 and "not a JUnit XML file" in error_line(result)


# -- completeness, pure ----------------------------------------------------------------------------------


def shard(k: int | None, n: int = 3, plan: planning.Plan | None = None) -> shards_mod.Shard:
    from ci_toolkit.run.exchange.run_record import RunRecord

    record = None if k is None else RunRecord(k, n, {"main": 1.0})
    return shards_mod.Shard(Path(f"/dl/s{k}"), record, plan)


def messages(found: Sequence[shards_mod.Shard], expect: int | None = None) -> list[str]:
    return [p.message for p in shards_mod.check(found, expect)]


def test_complete_shards_have_no_problem() -> None:
    assert messages([shard(1), shard(2), shard(3)]) == []
    assert messages([shard(1), shard(2)], expect=2) == []


def test_completeness_problems() -> None:
    assert messages([shard(1), shard(3)]) == [
        "shard 2/3 missing (found 2 of 3): did every shard's job upload its artifact?"
    ]
    assert messages([shard(1), shard(2), shard(3), shard(4)], expect=3) == [
        "shard 4/3 (/dl/s4): more shards than the 3 expected"
    ]
    assert "disagree" in messages([shard(1, 2), shard(2, 3)])[0]
    problems = shards_mod.check([shard(None), shard(1, 1)])
    assert [p.partial_ok for p in problems] == [True]
    assert "failed before writing its data" in problems[0].message


def test_a_shard_killed_before_combining_is_read_from_its_lanes(project: Path, tmp_path: Path) -> None:
    plan = make_plan()
    write_shard(tmp_path / "a", 1, 2, plan, lines={"pkg/mod.py": [1]})
    write_shard(tmp_path / "b", 2, 2, plan, lines={"pkg/mod.py": [2]})
    (tmp_path / "b" / "coverage" / "main").mkdir(parents=True)
    (tmp_path / "b" / ".coverage").rename(tmp_path / "b" / "coverage" / "main" / ".coverage")
    assert run(tmp_path / "a", tmp_path / "b").exit_code == 0
    data = coverage.CoverageData(basename=str(project / ".ci-toolkit" / ".coverage"))
    data.read()
    assert sorted(data.lines(str(project / "pkg" / "mod.py")) or []) == [1, 2]


def test_a_folder_that_does_not_exist(project: Path, tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere")
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere'}: no such directory" in error_line(result)


def test_a_shard_with_planned_tests_and_no_results_failed_before_its_data(tmp_path: Path) -> None:
    plan = make_plan(n=2)
    found = [shard(1, 2, plan), shard(2, 2, plan)]
    problems = shards_mod.check(found)
    assert [p.message for p in problems] == [
        "shard 1/2 (/dl/s1): its run failed before writing its data (no test results)",
        "shard 2/2 (/dl/s2): its run failed before writing its data (no test results)",
    ]
