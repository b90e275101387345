"""Analysis by coverage.py: what each answer of the analysing process becomes, and which files it reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support import coverage_run

from ci_toolkit.errors import DataError
from ci_toolkit.gate import analysis
from ci_toolkit.gate.jsonreport import from_json
from ci_toolkit.gate.measured import CoverageReport


def answered(
    monkeypatch: pytest.MonkeyPatch, status: dict[str, Any], report: Any = None
) -> list[tuple[str, ...]]:
    """Make the analysis answer *status* (and write *report* as its JSON report); the calls made."""
    calls: list[tuple[str, ...]] = []

    def here(args: tuple[str, ...], root: Path) -> dict[str, Any]:
        calls.append(args)
        if report is not None:
            Path(args[1]).write_text(report if isinstance(report, str) else json.dumps(report))
        return status

    monkeypatch.setattr(analysis, "_analyse_here", here)
    return calls


def test_a_report_is_read_back_and_the_scope_handed_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = {"meta": {"branch_coverage": False}, "files": {}}
    calls = answered(monkeypatch, {"status": "ok"}, report)
    rc = tmp_path / "rc"
    scope = {"source": [str(tmp_path)], "known": []}
    assert analysis.analysis(Path("d"), tmp_path / "data", tmp_path, rc, scope) == report
    (data_file, _out, rcfile, scope_file) = calls[0]
    assert (data_file, rcfile, scope_file.endswith("scope.json")) == (str(tmp_path / "data"), str(rc), True)
    assert analysis.analysis(Path("d"), tmp_path / "data", tmp_path, None, None) == report
    assert calls[1][2:] == ("", "")


def test_no_data_is_no_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    answered(monkeypatch, {"status": "nodata", "message": "No data to report."})
    assert analysis.analysis(Path("d"), tmp_path / "data", tmp_path, None, None) is None


def test_an_unusable_report_is_a_data_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    answered(monkeypatch, {"status": "ok"}, "{not json")
    with pytest.raises(DataError, match=r"^d: coverage.py wrote no usable JSON report \("):
        analysis.analysis(Path("d"), tmp_path / "data", tmp_path, None, None)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            {"status": "source", "message": "No source for code: 'a.py'."},
            "d: No source for code: 'a.py'. (the data names a source file that is gone or changed); "
            "re-run the tests to refresh the coverage data",
        ),
        (
            {"status": "notpython", "message": "Couldn't parse\n  'a.py'"},
            "d: Couldn't parse 'a.py'; fix that file, or leave it out with coverage.py's `omit` setting",
        ),
        ({"status": "error", "message": "boom"}, "d: coverage.py could not analyse it: boom"),
        ({"status": "error"}, "d: coverage.py could not analyse it: unknown error"),
        ({"status": "foreign", "message": "{}"}, "d: coverage.py could not analyse it: {}"),  # no scope asked
    ],
)
def test_each_failure_is_one_line(
    status: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answered(monkeypatch, status)
    with pytest.raises(DataError) as info:
        analysis.analysis(Path("d"), tmp_path / "data", tmp_path, None, None)
    assert str(info.value) == message


def test_data_from_elsewhere_is_refused_naming_the_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    facts = {"example": "/ci/x.py", "gone": 2, "measured": 3}
    answered(monkeypatch, {"status": "foreign", "message": json.dumps(facts)})
    with pytest.raises(
        DataError, match=r"^d: none of the 3 files it names is under the coverage source \(pkg\)"
    ):
        analysis.analysis(Path("d"), tmp_path / "data", tmp_path, None, {"source": [str(tmp_path / "pkg")]})


def test_the_child_answers_on_its_last_line_else_its_last_words_are_kept() -> None:
    def proc(code: int, out: str, err: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], code, out, err)

    assert analysis._child_status(proc(0, 'noise\n{"status": "ok"}\n')) == {"status": "ok"}
    assert analysis._child_status(proc(0, "not json", "")) == {
        "status": "error",
        "message": "exit code 0: no output",
    }
    assert analysis._child_status(proc(0, "[1]", "")) == {
        "status": "error",
        "message": "exit code 0: no output",
    }
    assert analysis._child_status(proc(1, "", "Traceback\nImportError: plugin")) == {
        "status": "error",
        "message": "exit code 1: ImportError: plugin",
    }


def test_a_child_that_cannot_start_is_a_data_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(analysis.sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(DataError, match=r"^d: could not run coverage.py to analyse it \("):
        analysis._analyse_in_child(Path("d"), ("a", "b", "", ""), tmp_path)


def test_analysis_runs_in_a_child_while_this_process_is_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_TOOLKIT_ANALYSE_IN_CHILD", "1")
    assert analysis._analyse_here(("a", "b", "", ""), Path.cwd()) is None


def scoped(tmp_path: Path, measured: list[str], scope: dict[str, Any], omit: list[str] | None = None) -> Any:
    config = SimpleNamespace(run_omit=omit or [], include_namespace_packages=False)
    data = SimpleNamespace(measured_files=lambda: measured)
    return analysis._scoped_files(SimpleNamespace(get_data=lambda: data, config=config), scope)


def test_scoped_files_are_the_measured_ones_under_the_source_and_the_unexecuted(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in ("__init__.py", "a.py", "b.py", "c.py", "skip.py"):
        (pkg / name).write_text("")
    (tmp_path / "tests.py").write_text("")
    measured = [str(pkg / "a.py"), str(tmp_path / "tests.py")]
    scope = {"source": [str(pkg), str(tmp_path / "tests.py")], "known": [str(pkg / "b.py")]}
    files, facts = scoped(tmp_path, measured, scope, omit=["*/skip.py"])
    assert facts is None
    assert files == [*measured, str(pkg / "__init__.py"), str(pkg / "c.py")]


def test_scoped_files_tell_data_measured_elsewhere(tmp_path: Path) -> None:
    files, facts = scoped(tmp_path, ["/ci/a.py"], {"source": [str(tmp_path)]})
    assert (files, facts) == ([], {"example": "/ci/a.py", "gone": 1, "measured": 1})


# -- the analysis in parts, one process per core ----------------------------------------------------

_MODULE = """\
def f(x):
    if x > {n}:
        return "big"
    for i in range(x):
        if i == 3:
            break
    return "small"  # pragma: no cover
"""


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project root, branch data file) of 7 modules, some run with both branches, one never imported."""
    root = tmp_path_factory.mktemp("parts")
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for n in range(7):
        (pkg / f"m{n}.py").write_text(_MODULE.format(n=n))
    (root / "drive.py").write_text(
        "from pkg import m0, m1, m2, m3, m4, m5\nm0.f(9)\nm1.f(0)\nm2.f(2)\nm3.f(5)\n"
    )
    (root / "pyproject.toml").write_text('[tool.coverage.report]\nomit = ["*/m5.py"]\n')
    data = coverage_run(root, "drive.py", root / "data.cov")
    return root, data


@pytest.mark.e2e
@pytest.mark.parametrize("scoped", [False, True])
def test_the_report_in_parts_is_the_serial_report(measured: tuple[Path, Path], scoped: bool) -> None:
    root, data = measured
    scope = {"source": [str(root / "pkg")], "known": []} if scoped else None

    def report(parts: int) -> CoverageReport:
        found = analysis.analysis(Path("d"), data, root, None, scope, parts=parts)
        assert found is not None
        return from_json(found, root)

    serial = report(1)
    assert ("pkg/m6.py" in [f.path for f in serial.files]) is scoped  # never imported: scoped adds it
    assert "pkg/m5.py" not in [f.path for f in serial.files]  # omitted by the project's configuration
    assert serial.has_branches
    for parts in (2, 3, 9):  # 9: more parts than files, some of them empty
        assert report(parts) == serial


@pytest.mark.e2e
def test_a_part_that_fails_fails_the_analysis(measured: tuple[Path, Path]) -> None:
    root, data = measured
    (root / "pkg" / "m3.py").rename(root / "pkg" / "gone.py")
    try:
        with pytest.raises(DataError, match=r"^d: .*m3\.py.*re-run the tests"):
            analysis.analysis(Path("d"), data, root, None, None, parts=3)
    finally:
        (root / "pkg" / "gone.py").rename(root / "pkg" / "m3.py")


@pytest.mark.e2e
def test_parts_with_nothing_to_report_are_no_report(measured: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = measured
    rc = tmp_path / "rc"
    rc.write_text("[report]\nomit = */*.py\n")
    assert analysis.analysis(Path("d"), data, root, rc, None, parts=2) is None


def test_one_part_per_core_with_enough_files_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert analysis.parts_for(0) == 1
    assert analysis.parts_for(analysis._PART_FILES * 2 + 1) == 2
    assert analysis.parts_for(analysis._PART_FILES * 100) == 4
