"""Issue 9, "the coverage gate cannot be fooled": it judges exactly the coverage source, refuses nonsense.

Item 6: files measured outside `source` (`--cov=tests`, `addopts = "--cov=."`) never count, and a source file
no test imported counts at 0% even when the data does not name it (`--cov` alone, `coverage run` without
`--source`, a `coverage json` report). Items 15 and 12: a `coverage json` report whose numbers do not add
up, or that is not JSON a report can be (Infinity, nesting 100000 deep), is one line naming the file and the
entry, exit 2. Item 17: odd inputs (/dev/null, a directory, a FIFO, an unreadable file, an empty file, an
SQLite database that is not coverage data, a truncated .coverage, data from another project) get a true line.

Real files, real coverage data, real processes; tests that start `ci-toolkit` or pytest are marked e2e.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import TIMEOUT, Run, cli_env, run_ci_toolkit

from ci_toolkit.commands.judge import judge
from ci_toolkit.config import Config, CoverageConfig, Floor
from ci_toolkit.errors import ConfigError, DataError, ExitCode
from ci_toolkit.gate import covdata, datafile
from ci_toolkit.gate.measured import FileCoverage, Measure
from ci_toolkit.run import combine as merge

if TYPE_CHECKING:
    from conftest import SampleProject

Factory = Callable[..., "SampleProject"]

ONE_LANE = """
[tool.ci-toolkit]
workers = 0
"""
FAIL_UNDER_75 = """
[tool.ci-toolkit.coverage]
source = ["samplepkg"]
fail_under = 75
"""

# What the sample project's source files hold (see tests/conftest.py), as `coverage json` reports them.
SAMPLEPKG = ("samplepkg/__init__.py", "samplepkg/full.py", "samplepkg/partial.py", "samplepkg/unused.py")


def entry(
    statements: int,
    missing: Sequence[int] = (),
    *,
    branches: int = 0,
    missing_branches: Sequence[Sequence[int]] = (),
) -> dict[str, Any]:
    """One `coverage json` file entry, consistent in every field (executed lines are 1..statements)."""
    executed = [n for n in range(1, statements + 1) if n not in missing]
    return {
        "executed_lines": executed,
        "summary": {
            "covered_lines": len(executed),
            "num_statements": statements,
            "missing_lines": len(missing),
            "excluded_lines": 0,
            "num_branches": branches,
            "num_partial_branches": 0,
            "covered_branches": branches - len(missing_branches),
            "missing_branches": len(missing_branches),
        },
        "missing_lines": list(missing),
        "excluded_lines": [],
        "executed_branches": [[1, 1000 + n] for n in range(branches - len(missing_branches))],
        "missing_branches": [list(arc) for arc in missing_branches],
    }


def report_doc(files: Mapping[str, dict[str, Any]], *, branch: bool = False) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for key in ("covered_lines", "num_statements", "missing_lines", "excluded_lines"):
        totals[key] = sum(f["summary"][key] for f in files.values())
    return {"meta": {"format": 3, "branch_coverage": branch}, "files": dict(files), "totals": totals}


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def config_for(project: SampleProject, source: tuple[str, ...] = ("samplepkg",), **coverage: Any) -> Config:
    return project.config(coverage=CoverageConfig(source=source, branch=False, **coverage))


def one_error_line(run: Run, *names: str, code: int = ExitCode.USAGE_ERROR) -> str:
    assert run.code == code, run.describe()
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith("ci-toolkit: error: "), run.describe()
    for name in names:
        assert name in lines[0], run.describe()
    assert "Traceback" not in run.output and "internal error" not in run.output, run.describe()
    return lines[0]


def data_error(path: Path, root: Path, **kwargs: Any) -> str:
    """The one-line DataError `covdata.load` raises for *path*."""
    with pytest.raises(DataError) as info:
        covdata.load(path, root, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    return message


# -- item 6: only the source is judged ----------------------------------------------------------------------


def all_of_samplepkg_and_tests() -> dict[str, dict[str, Any]]:
    """A report of the sample project as `--cov=.` measures it: the tests, fully covered, inflate it."""
    return {
        "samplepkg/__init__.py": entry(0),
        "samplepkg/full.py": entry(6),
        "samplepkg/partial.py": entry(6, [3, 6]),
        "samplepkg/unused.py": entry(2, [1, 2]),
        "samplepkg/workers.py": entry(6, [3, 5]),
        "tests/conftest.py": entry(6),
        "tests/test_unit.py": entry(10),
        "tests/test_serial.py": entry(5),
        "tests/test_integration.py": entry(8),
    }


def test_the_gate_judges_only_the_source_of_a_json_report(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    project = sample_project_factory()
    report = write_json(tmp_path / "cov.json", report_doc(all_of_samplepkg_and_tests()))

    verdict = judge(report, config_for(project, fail_under=75))

    # samplepkg alone: 6 + 4 + 0 + 4 covered of 6 + 6 + 2 + 6; with the tests it would be 43/49, passing.
    assert verdict.total == Measure(14, 20)
    assert not verdict.passed
    assert [c.subject for c in verdict.of_kind("total")] == ["total"]


def test_a_floor_on_a_file_outside_the_source_matches_nothing(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    project = sample_project_factory()
    report = write_json(tmp_path / "cov.json", report_doc(all_of_samplepkg_and_tests()))

    verdict = judge(report, config_for(project, critical=(Floor("tests/test_unit.py", 100.0),)))

    (check,) = verdict.of_kind("pattern")
    assert check.subject == "tests/test_unit.py" and not check.passed
    assert verdict.of_kind("critical") == ()


@pytest.mark.e2e  # coverage.py analyses the file the report does not name (in a child when we are measured)
def test_a_source_file_missing_from_a_json_report_counts_at_zero(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    project = sample_project_factory()
    files = all_of_samplepkg_and_tests()
    del files["samplepkg/unused.py"]  # as `coverage run -m pytest` without --source leaves it out
    report = write_json(tmp_path / "cov.json", report_doc(files))

    verdict = judge(report, config_for(project, critical=(Floor("samplepkg/unused.py", 100.0),)))

    assert verdict.total == Measure(14, 20)
    (check,) = verdict.of_kind("critical")
    assert (check.subject, check.measure, check.missing_lines) == (
        "samplepkg/unused.py",
        Measure(0, 2),
        "1-2",
    )


@pytest.mark.parametrize(
    "source",
    [
        ("samplepkg",),
        ("samplepkg/",),
        ("./samplepkg",),
        ("samplepkg/full.py", "samplepkg.partial", "samplepkg"),
    ],
)
def test_a_source_is_a_package_or_a_path(
    sample_project_factory: Factory, tmp_path: Path, source: tuple[str, ...]
) -> None:
    project = sample_project_factory()
    report = write_json(tmp_path / "cov.json", report_doc(all_of_samplepkg_and_tests()))

    assert judge(report, config_for(project, source=source)).total == Measure(14, 20)


def test_a_source_narrower_than_the_package(sample_project_factory: Factory, tmp_path: Path) -> None:
    project = sample_project_factory()
    report = write_json(tmp_path / "cov.json", report_doc(all_of_samplepkg_and_tests()))

    # A module by dotted name and a file by path: just those two files, 6/6 and 4/6.
    assert judge(
        report, config_for(project, source=("samplepkg.full", "samplepkg/partial.py"))
    ).total == Measure(10, 12)


def test_a_src_layout_package_is_found_by_name(sample_project_factory: Factory, tmp_path: Path) -> None:
    project = sample_project_factory()
    (project.root / "src").mkdir()
    shutil.move(project.root / "samplepkg", project.root / "src" / "samplepkg")
    files = {
        name.replace("samplepkg/", "src/samplepkg/"): e for name, e in all_of_samplepkg_and_tests().items()
    }
    report = write_json(tmp_path / "cov.json", report_doc(files))

    assert judge(report, config_for(project, source=("samplepkg",))).total == Measure(14, 20)
    assert judge(report, config_for(project, source=("src/samplepkg",))).total == Measure(14, 20)
    # Nothing configured: detected from the layout, as `local` measures it.
    assert judge(report, config_for(project, source=())).total == Measure(14, 20)


def test_an_absolute_report_path_under_the_source_counts(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    project = sample_project_factory()
    files = {str(project.root / name): e for name, e in all_of_samplepkg_and_tests().items()}
    report = write_json(tmp_path / "cov.json", report_doc(files))

    assert judge(report, config_for(project)).total == Measure(14, 20)


def test_a_source_that_names_nothing_is_a_config_error(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    project = sample_project_factory()
    report = write_json(tmp_path / "cov.json", report_doc(all_of_samplepkg_and_tests()))

    with pytest.raises(ConfigError) as info:
        judge(report, config_for(project, source=("samplepkg", "nosuchpkg")))
    message = str(info.value)
    assert "tool.ci-toolkit.coverage.source" in message and '"nosuchpkg"' in message, message
    assert str(project.root / "pyproject.toml") in message and "\n" not in message


def test_without_any_source_to_judge_the_gate_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    report = write_json(tmp_path / "cov.json", report_doc({"app.py": entry(3)}))

    verdict = judge(report, Config(root=tmp_path, path=tmp_path / "pyproject.toml"))

    assert not verdict.passed
    (check,) = verdict.checks
    assert check.kind == "data" and "tool.ci-toolkit.coverage.source" in check.detail, check.detail


def test_no_data_at_all_still_fails_on_data(sample_project_factory: Factory) -> None:
    project = sample_project_factory()
    verdict = judge(None, config_for(project))
    assert not verdict.passed and [c.kind for c in verdict.checks] == ["data"]


def summary_coverage(run: Run, path: Path) -> dict[str, Any]:
    assert run.code == ExitCode.GATE_FAILED, run.describe()
    coverage: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["coverage"]
    return coverage


@pytest.mark.e2e
def test_measuring_more_than_the_source_does_not_move_the_verdict(sample_project_factory: Factory) -> None:
    """The issue's recipe: `local -- --cov=tests` lifted a failing total over its floor."""
    project = sample_project_factory(pyproject_extra=ONE_LANE + FAIL_UNDER_75)
    root = project.root

    baseline = summary_coverage(run_ci_toolkit("local", "--json", "a.json", cwd=root), root / "a.json")
    (total,) = [c for c in baseline["checks"] if c["kind"] == "total"]
    assert total["passed"] is False and 0 < total["percent"] < 75
    unused = [c for c in baseline["checks"] if c.get("subject") == "samplepkg/unused.py"]
    assert unused == []  # no floor names it, but it is in the total (0 of 2 lines)

    more = run_ci_toolkit("local", "--json", "b.json", "--", "--cov=tests", cwd=root)
    assert summary_coverage(more, root / "b.json") == baseline
    # `gate` on what that run measured, tests and all, judges the same.
    alone = run_ci_toolkit("gate", "--json", "c.json", ".ci-toolkit/.coverage", cwd=root)
    assert summary_coverage(alone, root / "c.json") == baseline

    # `--cov` without a value measures everything and lists no unimported file: unused.py still counts.
    everything = run_ci_toolkit("local", "--json", "d.json", "--", "--cov", cwd=root)
    assert summary_coverage(everything, root / "d.json") == baseline

    # `addopts = "--cov=."`, by environment: the same as in [tool.pytest.ini_options].
    env = cli_env(extra={"PYTEST_ADDOPTS": "--cov=."})
    addopts = run_ci_toolkit("local", "--json", "e.json", cwd=root, env=env)
    assert summary_coverage(addopts, root / "e.json") == baseline


@pytest.mark.e2e
def test_gate_on_data_measured_without_a_source_counts_unimported_files(
    sample_project_factory: Factory,
) -> None:
    project = sample_project_factory(pyproject_extra=FAIL_UNDER_75 + "\n[tool.coverage.run]\nbranch = true\n")
    root = project.root
    env = cli_env(extra={"COVERAGE_FILE": str(root / "measured.cov")})
    proc = subprocess.run(
        [sys.executable, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    measured = covdata.load(root / "measured.cov", root)
    assert "samplepkg/unused.py" not in {f.path for f in measured.files}  # the data does not name it

    run = run_ci_toolkit("gate", "--json", "v.json", "measured.cov", cwd=root)

    coverage = summary_coverage(run, root / "v.json")
    report = covdata.load(root / "measured.cov", root, source=(root / "samplepkg",))
    assert [f.path for f in report.files] == [*SAMPLEPKG, "samplepkg/workers.py"]
    unused = report.get("samplepkg/unused.py")
    assert unused is not None and (unused.covered, unused.total) == (0, 2)
    (total,) = [c for c in coverage["checks"] if c["kind"] == "total"]
    assert total["covered"] == report.total.covered and total["total"] == report.total.total


# -- items 15 and 12: a coverage json report that does not add up is refused, in one line ------------------

FULL = 'files["samplepkg/full.py"]'


def good_doc() -> dict[str, Any]:
    """A consistent branch report of one file: 6 statements, line 3 missing, 2 branches, 2->4 missing."""
    return report_doc(
        {"samplepkg/full.py": entry(6, [3], branches=2, missing_branches=[[2, 4]])}, branch=True
    )


def mutate(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    doc = copy.deepcopy(good_doc())
    change(doc)
    return doc


def f(doc: dict[str, Any]) -> dict[str, Any]:
    """The file entry of `good_doc`."""
    entry: dict[str, Any] = doc["files"]["samplepkg/full.py"]
    return entry


def s(doc: dict[str, Any]) -> dict[str, Any]:
    """Its summary."""
    summary: dict[str, Any] = f(doc)["summary"]
    return summary


NONSENSE: list[Any] = [
    # negative numbers
    pytest.param(
        lambda d: s(d).update(num_statements=-6), f"{FULL}.summary.num_statements", "-6", id="negative"
    ),
    pytest.param(
        lambda d: s(d).update(num_branches=-2), f"{FULL}.summary.num_branches", "-2", id="neg-branches"
    ),
    pytest.param(lambda d: f(d).update(missing_lines=[-3]), f"{FULL}.missing_lines[0]", "-3", id="neg-line"),
    pytest.param(lambda d: f(d).update(missing_lines=[0]), f"{FULL}.missing_lines[0]", "0", id="line-zero"),
    # more missing than statements; covered lines that are not statements
    pytest.param(
        lambda d: f(d).update(missing_lines=[3, 7, 8, 9, 10, 11, 12]),
        f"{FULL}.missing_lines",
        "7",
        id="more-missing",
    ),
    pytest.param(
        lambda d: f(d)["executed_lines"].append(3), f"{FULL}.executed_lines", "3", id="executed-and-missing"
    ),
    pytest.param(
        # Fewer than the statements: some are neither executed nor missing. (More is what coverage.py
        # writes where a line that is no statement ran, line 1 of an empty module on Python 3.10.)
        lambda d: f(d)["executed_lines"].pop(),
        f"{FULL}.executed_lines",
        "fewer",
        id="fewer-executed",
    ),
    pytest.param(
        lambda d: s(d).update(covered_lines=6), f"{FULL}.summary.covered_lines", "6", id="covered-count"
    ),
    pytest.param(
        lambda d: s(d).update(missing_lines=2), f"{FULL}.summary.missing_lines", "2", id="missing-count"
    ),
    pytest.param(
        lambda d: f(d).update(missing_lines=[3, 3]), f"{FULL}.missing_lines", "3", id="duplicate-line"
    ),
    pytest.param(
        lambda d: f(d).update(excluded_lines=[3]), f"{FULL}.excluded_lines", "3", id="excluded-missing"
    ),
    # non-integers, booleans as numbers, wrong types
    pytest.param(
        lambda d: s(d).update(num_statements=6.0), f"{FULL}.summary.num_statements", "6.0", id="float"
    ),
    pytest.param(
        lambda d: s(d).update(num_statements=6.5), f"{FULL}.summary.num_statements", "6.5", id="fraction"
    ),
    pytest.param(
        lambda d: s(d).update(num_statements="6"), f"{FULL}.summary.num_statements", '"6"', id="string"
    ),
    pytest.param(
        lambda d: s(d).update(num_statements=True), f"{FULL}.summary.num_statements", "true", id="bool"
    ),
    pytest.param(
        lambda d: s(d).update(num_statements=None), f"{FULL}.summary.num_statements", "null", id="null"
    ),
    pytest.param(
        lambda d: f(d).update(missing_lines=[True]), f"{FULL}.missing_lines[0]", "true", id="bool-line"
    ),
    pytest.param(
        lambda d: f(d).update(missing_lines="3"), f"{FULL}.missing_lines", '"3"', id="lines-a-string"
    ),
    pytest.param(lambda d: f(d).update(summary=[6]), f"{FULL}.summary", "[", id="summary-a-list"),
    pytest.param(
        lambda d: d["meta"].update(branch_coverage="yes"), "meta.branch_coverage", '"yes"', id="meta-bool"
    ),
    pytest.param(lambda d: d.update(files=[]), "files", "[", id="files-a-list"),
    pytest.param(lambda d: d.update(meta=None), "meta", "null", id="meta-null"),
    pytest.param(
        lambda d: f(d).update(missing_branches=[[2]]), f"{FULL}.missing_branches[0]", "[2]", id="arc-short"
    ),
    pytest.param(
        lambda d: f(d).update(missing_branches=["2->4"]), f"{FULL}.missing_branches[0]", "2->4", id="arc-str"
    ),
    pytest.param(
        lambda d: f(d).update(missing_branches=[[0, 4]]), f"{FULL}.missing_branches[0]", "0", id="arc-from-0"
    ),
    # missing keys
    pytest.param(lambda d: f(d).pop("summary"), FULL, '"summary"', id="no-summary"),
    pytest.param(
        lambda d: s(d).pop("num_statements"), f"{FULL}.summary", '"num_statements"', id="no-statements"
    ),
    pytest.param(lambda d: f(d).pop("missing_lines"), FULL, '"missing_lines"', id="no-missing-lines"),
    pytest.param(
        lambda d: s(d).pop("num_branches"), f"{FULL}.summary", '"num_branches"', id="no-num-branches"
    ),
    pytest.param(
        lambda d: f(d).pop("missing_branches"), FULL, '"missing_branches"', id="no-missing-branches"
    ),
    # branch counts that do not add up
    pytest.param(
        lambda d: s(d).update(num_branches=0), f"{FULL}.missing_branches", "1", id="more-missing-arcs"
    ),
    # (More executed arcs than branches is no damage: coverage.py before 7.6.2 lists arcs that are no
    # branches. The summary's covered count, num_branches - missing, no longer adds up.)
    pytest.param(
        lambda d: s(d).update(num_branches=1), f"{FULL}.summary.covered_branches", "1", id="arcs-sum"
    ),
    pytest.param(
        lambda d: s(d).update(covered_branches=2), f"{FULL}.summary.covered_branches", "2", id="covered-arcs"
    ),
    pytest.param(
        lambda d: s(d).update(missing_branches=0), f"{FULL}.summary.missing_branches", "0", id="missing-arcs"
    ),
    pytest.param(
        lambda d: f(d).update(executed_branches=[[2, 4]]),
        f"{FULL}.executed_branches",
        "2->4",
        id="arc-both-ways",
    ),
    pytest.param(
        lambda d: f(d).update(missing_branches=[[2, 4], [2, 4]]),
        f"{FULL}.missing_branches",
        "2->4",
        id="arc-twice",
    ),
    pytest.param(
        lambda d: f(d).update(missing_branches=[[9, 4]]), f"{FULL}.missing_branches[0]", "9", id="arc-from"
    ),
    # totals that are not the sum of the files
    pytest.param(lambda d: d["totals"].update(num_statements=60), "totals.num_statements", "60", id="totals"),
    # a file entry that is not an object; two names for one file
    pytest.param(
        lambda d: d["files"].update({"samplepkg/x.py": 3}), 'files["samplepkg/x.py"]', "3", id="entry-int"
    ),
    pytest.param(
        lambda d: d["files"].update({"samplepkg/x.py": None}), 'files["samplepkg/x.py"]', "null", id="null"
    ),
    pytest.param(
        lambda d: d["files"].update({"./samplepkg/full.py": f(d)}),
        'files["./samplepkg/full.py"]',
        FULL,
        id="twice",
    ),
    pytest.param(lambda d: d["files"].update({"": f(d)}), 'files[""]', "empty", id="no-name"),
    pytest.param(lambda d: d["files"].update({"a\0.py": f(d)}), 'files["a\\u0000.py"]', "NUL", id="nul-name"),
    pytest.param(lambda d: d.update(totals=[]), "totals", "[]", id="totals-a-list"),
    pytest.param(
        lambda d: f(d).update(missing_branches={}), f"{FULL}.missing_branches", "{}", id="arcs-a-dict"
    ),
    pytest.param(
        lambda d: s(d).update(covered_lines="5"), f"{FULL}.summary.covered_lines", '"5"', id="count-str"
    ),
]


@pytest.mark.parametrize(("change", "where", "shown"), NONSENSE)
def test_nonsense_in_a_coverage_json_report_is_one_line(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], where: str, shown: str
) -> None:
    path = write_json(tmp_path / "cov.json", mutate(change))

    message = data_error(path, tmp_path)

    assert f": {where}: " in message and shown in message, message
    assert message.endswith("regenerate it with `coverage json`"), message


def test_from_json_refuses_what_is_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"<json>: malformed coverage json report: \(top level\): expected an object"
    ):
        covdata.from_json([1], tmp_path)  # type: ignore[arg-type]


def test_a_value_too_deep_to_show_is_named_not_shown(tmp_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(100_000):  # built here, not parsed: deeper than any stack that could print it
        deep = [deep]
    doc = good_doc()
    s(doc)["num_statements"] = deep
    with pytest.raises(
        DataError, match=r"num_statements: expected a whole number >= 0, got a list nested too"
    ):
        covdata.from_json(doc, tmp_path)


def test_a_report_naming_a_symlink_loop_loads(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    doc = report_doc({str(tmp_path / "loop" / "a.py"): entry(1)})
    report = covdata.load(write_json(tmp_path / "cov.json", doc), tmp_path)
    assert [f.path for f in report.files] == ["loop/a.py"]


def test_a_consistent_report_loads(tmp_path: Path) -> None:
    path = write_json(tmp_path / "cov.json", good_doc())
    report = covdata.load(path, tmp_path)
    assert report.files == (
        FileCoverage("samplepkg/full.py", 6, missing_lines=(3,), branches=2, missing_branches=((2, 4),)),
    )


def test_every_problem_is_counted_in_the_one_line(tmp_path: Path) -> None:
    doc = good_doc()
    s(doc).update(num_statements=-1, num_branches=-1)
    message = data_error(write_json(tmp_path / "cov.json", doc), tmp_path)
    assert "(and " in message and " more problem" in message, message


def test_branch_fields_of_a_line_report_are_not_judged(tmp_path: Path) -> None:
    doc = good_doc()
    doc["meta"]["branch_coverage"] = False
    s(doc).update(num_branches="n/a")
    assert covdata.load(write_json(tmp_path / "cov.json", doc), tmp_path).total == Measure(5, 6)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(
            '{"meta": {}, "files": {"a.py": {"summary": {"num_statements": Infinity}, "missing_lines": []}}}',
            "Infinity",
            id="infinity",
        ),
        pytest.param(
            '{"meta": {}, "files": {"a.py": {"summary": {"num_statements": NaN}}}}', "NaN", id="nan"
        ),
        pytest.param("[" * 100_000 + "]" * 100_000, "nested", id="deep-array"),
        pytest.param('{"a":' * 100_000 + "1" + "}" * 100_000, "nested", id="deep-object"),
        pytest.param(
            '{"meta": {}, "files": {"a.py": {"summary": {"num_statements": 1' + "0" * 5000 + "}}}}",
            "digits",
            id="huge-number",
        ),
        pytest.param('{"meta": {}, "files": {', "line 1", id="cut-short"),
    ],
)
def test_json_a_report_cannot_be_is_one_line(tmp_path: Path, text: str, shown: str) -> None:
    path = tmp_path / "cov.json"
    path.write_text(text, encoding="utf-8")
    message = data_error(path, tmp_path)
    assert shown in message, message


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(
            '{"meta": {}, "files": {"a.py": {"summary": {"num_statements": Infinity}}}}', "Infinity", id="inf"
        ),
        pytest.param("[" * 100_000 + "]" * 100_000, "nested", id="deep"),
        pytest.param(
            json.dumps(report_doc({"samplepkg/full.py": entry(6, list(range(1, 9)))})),
            'files["samplepkg/full.py"].missing_lines',
            id="more-missing",
        ),
    ],
)
def test_gate_on_a_nonsense_report_exits_2_with_one_line(
    sample_project_factory: Factory, text: str, shown: str
) -> None:
    project = sample_project_factory(pyproject_extra=FAIL_UNDER_75)
    (project.root / "cov.json").write_text(text, encoding="utf-8")

    one_error_line(run_ci_toolkit("gate", "cov.json", cwd=project.root), "cov.json", shown)


# -- item 17: odd inputs get a true line ---------------------------------------------------------------------


def test_dev_null_is_not_called_a_directory(tmp_path: Path) -> None:
    message = data_error(Path("/dev/null"), tmp_path)
    assert "directory" not in message and "character device" in message, message


def test_a_directory(tmp_path: Path) -> None:
    assert "is a directory" in data_error(tmp_path, tmp_path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "cov.fifo"
    os.mkfifo(fifo)
    message = data_error(fifo, tmp_path)  # opening it for reading would block forever
    assert "named pipe" in message and "directory" not in message, message


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    path.write_bytes(b"")
    assert "empty" in data_error(path, tmp_path)


def test_a_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / ".coverage"
    link.symlink_to(tmp_path / "gone")
    message = data_error(link, tmp_path)
    assert "broken symbolic link" in message and str(tmp_path / "gone") in message, message


def test_a_symlink_loop_and_a_path_through_a_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert "cannot be read (Too many levels of symbolic links)" in data_error(loop, tmp_path)
    (tmp_path / "file").write_text("x")
    assert "cannot be read (Not a directory)" in data_error(tmp_path / "file" / ".coverage", tmp_path)


def test_an_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        path = write_json(tmp_path / "cov.json", good_doc())
        path.chmod(0)
        message = data_error(path, tmp_path)
    else:  # root reads anything: the refusal is checked in a child that gave its privileges up
        shared = Path(tempfile.mkdtemp(prefix="ci-trust-gate-", dir="/tmp"))  # pytest's tmp is 0700
        try:
            shared.chmod(0o755)
            path = write_json(shared / "cov.json", good_doc())
            path.chmod(0)
            message = load_as_nobody(path)
        finally:
            shutil.rmtree(shared)
    assert message == f"{path}: cannot be read (Permission denied)", message


def load_as_nobody(path: Path) -> str:
    """What `covdata.load(path)` says in a forked child running as user and group 65534."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and never returns
        os.close(read_end)
        try:
            os.setgid(65534)
            os.setuid(65534)
            covdata.load(path, path.parent)
            text = "loaded"
        except DataError as exc:
            text = str(exc)
        except BaseException as exc:
            text = f"{type(exc).__name__}: {exc}"
        os.write(write_end, text.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def _app_db(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table users (name text)")
    db.close()


def test_an_sqlite_database_that_is_not_coverage_data(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    _app_db(path)
    before = path.read_bytes()
    message = data_error(path, tmp_path)
    assert "SQLite database" in message and "coverage.py" in message, message
    assert path.read_bytes() == before


@pytest.fixture(scope="module")
def real_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project root, .coverage) measured by coverage.py on a project with a package `pkg`."""
    root = tmp_path_factory.mktemp("measured")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def f(x):\n    if x:\n        return 1\n    return 2\n")
    (root / "main.py").write_text("from pkg.mod import f\nf(1)\n")
    env = {k: v for k, v in cli_env().items() if not k.startswith("COVERAGE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", "--source=pkg", "main.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, root / ".coverage"


@pytest.mark.e2e
def test_real_data_loads(real_data: tuple[Path, Path]) -> None:
    root, data = real_data
    report = covdata.load(data, root, source=(root / "pkg",))
    assert [f.path for f in report.files] == ["pkg/__init__.py", "pkg/mod.py"]


@pytest.mark.e2e
@pytest.mark.parametrize("cut", ["half", "page", "tail"])
def test_a_truncated_data_file_is_never_judged(
    real_data: tuple[Path, Path], tmp_path: Path, cut: str
) -> None:
    root, data = real_data
    whole = data.read_bytes()
    page = int.from_bytes(whole[16:18], "big")
    size = {"half": len(whole) // 2, "page": len(whole) - page, "tail": len(whole) - 100}[cut]
    truncated = tmp_path / ".coverage"
    truncated.write_bytes(whole[:size])

    message = data_error(truncated, root, source=(root / "pkg",))

    assert "truncated or damaged" in message and "re-run the tests" in message, message


@pytest.mark.e2e
def test_a_damaged_page_is_never_judged(real_data: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = real_data
    whole = bytearray(data.read_bytes())
    page = int.from_bytes(whole[16:18], "big")
    whole[page : 2 * page] = b"\xff" * page  # the second page (a table's root) overwritten, size intact
    damaged = tmp_path / ".coverage"
    damaged.write_bytes(bytes(whole))

    message = data_error(damaged, root, source=(root / "pkg",))

    assert "truncated or damaged" in message and "re-run the tests" in message, message


def test_an_impossible_page_size_is_damage(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    path.write_bytes(b"SQLite format 3\x00" + (1000).to_bytes(2, "big") + b"\x00" * 4078)
    assert "impossible page size, 1000" in data_error(path, tmp_path)


@pytest.mark.e2e
def test_a_data_file_a_writer_holds_locked(
    real_data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, data = real_data
    busy = tmp_path / ".coverage"
    shutil.copyfile(data, busy)
    monkeypatch.setattr(datafile, "_SQLITE_WAIT", 0.1)  # how long to wait for the writer, not what happens
    writer = sqlite3.connect(busy, isolation_level=None)
    try:
        writer.execute("begin exclusive")
        message = data_error(busy, root, source=(root / "pkg",))
    finally:
        writer.close()
    assert "cannot be read (database is locked" in message, message
    assert covdata.load(busy, root, source=(root / "pkg",)).files  # once the writer is done, it loads


@pytest.mark.e2e
def test_data_measured_in_another_project(real_data: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = real_data
    # Data naming files that exist nowhere here: measured in a checkout that is gone, or on another machine.
    foreign = tmp_path / "foreign.coverage"
    shutil.copyfile(data, foreign)
    with sqlite3.connect(foreign) as db:
        db.execute("update file set path = replace(path, ?, ?)", (str(root), "/nonexistent/checkout"))
    db.close()
    project = tmp_path / "here"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("")

    message = data_error(foreign, project, source=(project / "app",))

    assert "/nonexistent/checkout/pkg/" in message and "another" in message, message


def test_a_json_report_from_another_checkout(sample_project_factory: Factory, tmp_path: Path) -> None:
    project = sample_project_factory()
    files = {f"/nonexistent/checkout/{name}": e for name, e in all_of_samplepkg_and_tests().items()}
    report = write_json(tmp_path / "cov.json", report_doc(files))

    message = data_error(report, project.root, source=(project.root / "samplepkg",))

    assert "none of the 9 files it names is under the coverage source (samplepkg)" in message, message
    assert "/nonexistent/checkout/samplepkg/" in message and "another project or checkout" in message


@pytest.mark.e2e
def test_a_branch_report_missing_a_source_file_gets_it_with_its_branches(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    project = sample_project_factory()
    files = {name: e for name, e in all_of_samplepkg_and_tests().items() if name != "samplepkg/partial.py"}
    report = write_json(tmp_path / "cov.json", report_doc(files, branch=True))

    loaded = covdata.load(report, project.root, source=(project.root / "samplepkg",))

    partial = loaded.get("samplepkg/partial.py")
    assert partial is not None and loaded.has_branches
    assert (partial.statements, partial.branches, partial.covered) == (6, 4, 0)


@pytest.mark.e2e
def test_a_source_file_that_does_not_parse_is_named(sample_project_factory: Factory, tmp_path: Path) -> None:
    project = sample_project_factory()
    project.write("samplepkg/broken.py", "def (:\n")
    report = write_json(tmp_path / "cov.json", report_doc(all_of_samplepkg_and_tests()))

    message = data_error(report, project.root, source=(project.root / "samplepkg",))

    assert "broken.py" in message and "omit" in message, message


@pytest.mark.e2e
def test_gate_on_odd_inputs_is_one_line(sample_project_factory: Factory, tmp_path: Path) -> None:
    project = sample_project_factory(pyproject_extra=FAIL_UNDER_75)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _app_db(project.root / "app.db")
    (project.root / "empty.json").write_bytes(b"")
    for data, shown in (
        ("/dev/null", "character device"),
        (str(fifo), "named pipe"),
        ("app.db", "SQLite"),
        ("empty.json", "empty"),
        (str(project.root), "directory"),
    ):
        one_error_line(run_ci_toolkit("gate", data, cwd=project.root), data, shown)


# -- siblings ------------------------------------------------------------------------------------------------


def test_combining_line_data_with_branch_data_is_one_line(tmp_path: Path) -> None:
    from coverage import CoverageData

    lines, arcs = tmp_path / "lines" / ".coverage", tmp_path / "arcs" / ".coverage"
    for path in (lines, arcs):
        path.parent.mkdir()
    line_data = CoverageData(basename=str(lines))
    line_data.add_lines({str(tmp_path / "a.py"): [1, 2]})
    line_data.write()
    arc_data = CoverageData(basename=str(arcs))
    arc_data.add_arcs({str(tmp_path / "a.py"): [(-1, 1), (1, 2)]})
    arc_data.write()
    out = tmp_path / "out" / ".coverage"

    with pytest.raises(DataError) as info:
        merge.combine([lines, arcs], out)

    message = str(info.value)
    assert "\n" not in message and "branch" in message, message
    assert not out.exists() and sorted(p.name for p in out.parent.iterdir()) == []
