"""Analysis by coverage.py: what each answer of the analysing process becomes, and which files it reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.gate import analysis


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
