"""covdata.load on real coverage data, made by running pytest-cov / coverage.py on sample projects."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.gate.covdata import CoverageReport, FileCoverage, from_json, load

pytestmark = pytest.mark.e2e

SAMPLE_A = """\
DEBUG_ONLY = False


def sign(x):
    if x > 0:
        return 1
    return -1


def debug_dump():  # pragma: no cover
    print("never")
    return None


def parse(text):
    if DEBUG_ONLY:
        print("debugging", text)
    return text.strip()
"""

SAMPLE_TEST = """\
from pkg.a import parse, sign


def test_it():
    assert sign(3) == 1
    assert parse(" x ") == "x"
"""

SAMPLE_PYPROJECT = """\
[tool.coverage.report]
exclude_also = ["if DEBUG_ONLY:"]
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything an enclosing pytest or coverage run put there."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COV_CORE_", "COVERAGE_", "PYTEST_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project root, data file): pytest-cov run with `source` set; pkg/never.py is never imported.

    The data file lives outside the project under a name coverage.py would never choose, so `load`
    can only recognise it by its content.
    """
    root = tmp_path_factory.mktemp("proj")
    write(
        root,
        {
            "pyproject.toml": SAMPLE_PYPROJECT,
            "pkg/__init__.py": "",
            "pkg/a.py": SAMPLE_A,
            "pkg/never.py": "def unused():\n    return 1\n",
            "tests/test_a.py": SAMPLE_TEST,
        },
    )
    data = tmp_path_factory.mktemp("data") / "results.bin"
    args = ["-m", "pytest", "-q", "-p", "no:ci_toolkit", "-p", "no:cacheprovider", "tests"]
    run(
        [*args, "--cov=pkg", "--cov-branch", "--cov-report="],
        cwd=root,
        COVERAGE_FILE=str(data),
    )
    assert data.exists()
    return root, data


@pytest.fixture(scope="module")
def loaded(sample: tuple[Path, Path]) -> CoverageReport:
    root, data = sample
    return load(data, root)


def test_paths_are_relative_to_root_and_sorted(loaded: CoverageReport) -> None:
    assert [f.path for f in loaded.files] == ["pkg/__init__.py", "pkg/a.py", "pkg/never.py"]
    assert loaded.has_branches


def test_never_imported_file_is_in_the_data_at_zero(loaded: CoverageReport) -> None:
    # coverage.py adds unexecuted files under `source` to the saved data, so a critical module that no
    # test imports fails the gate instead of vanishing from it.
    never = loaded.get("pkg/never.py")
    assert never == FileCoverage("pkg/never.py", statements=2, missing_lines=(1, 2))
    assert never.covered == 0 and never.total == 2


def test_pragma_and_exclude_also_are_respected(loaded: CoverageReport) -> None:
    a = loaded.get("pkg/a.py")
    assert a is not None
    # lines 10-12: `# pragma: no cover`; 16-17: the project's `exclude_also = ["if DEBUG_ONLY:"]`
    assert a.excluded_lines == (10, 11, 12, 16, 17)
    assert a.statements == 7
    assert a.missing_lines == (7,)
    assert (a.branches, a.missing_branches) == (2, ((5, 7),))
    assert (a.covered, a.total) == (7, 9)
    empty = loaded.get("pkg/__init__.py")
    assert empty is not None and empty.total == 0 and empty.measure.percent == 100.0


def test_agrees_with_coverage_json(sample: tuple[Path, Path], loaded: CoverageReport, tmp_path: Path) -> None:
    root, data = sample
    out = tmp_path / "report.txt"  # any name: detection is by content
    run(["-m", "coverage", "json", f"--data-file={data}", "-o", str(out)], cwd=root)
    assert load(out, root) == loaded


def test_config_is_found_from_root_not_the_cwd(
    sample: tuple[Path, Path], loaded: CoverageReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".coveragerc").write_text("[report]\nomit = *\n")
    monkeypatch.chdir(tmp_path)
    root, data = sample
    assert load(data, root) == loaded


def test_explicit_config_file(sample: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = sample
    rc = tmp_path / "rc.ini"
    rc.write_text("[report]\nomit = */never.py\n")
    report = load(data, root, config_file=rc)
    assert [f.path for f in report.files] == ["pkg/__init__.py", "pkg/a.py"]
    # Without the project's exclude_also the DEBUG_ONLY block counts again.
    assert report.get("pkg/a.py").excluded_lines == (10, 11, 12)


def test_everything_omitted_gives_an_empty_report(sample: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = sample
    rc = tmp_path / "rc.ini"
    rc.write_text("[report]\nomit = *\n")
    assert load(data, root, config_file=rc) == CoverageReport(files=(), has_branches=True)


def test_coverage_error_becomes_data_error(sample: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = sample
    rc = tmp_path / "rc.ini"
    rc.write_text("[report]\nfail_under = not-a-number\n")
    with pytest.raises(DataError, match=r"results\.bin: coverage\.py could not analyse it: .*not-a-number"):
        load(data, root, config_file=rc)


def test_crash_in_coverage_becomes_one_line_data_error(sample: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = sample
    rc = tmp_path / "rc.ini"
    rc.write_text("[run]\nplugins = no_such_coverage_plugin_xyz\n")
    with pytest.raises(DataError) as info:
        load(data, root, config_file=rc)
    message = str(info.value)
    assert "could not analyse it: " in message and "no_such_coverage_plugin_xyz" in message
    assert "\n" not in message


def test_wrong_schema_version(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    with sqlite3.connect(path) as db:
        db.execute("create table coverage_schema (version integer)")
        db.execute("insert into coverage_schema (version) values (1)")
    db.close()
    with pytest.raises(DataError, match=r"not a usable coverage data file .*wrong schema.*re-run the tests"):
        load(path, tmp_path)


def test_vanished_source_file_fails_closed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"mod.py": "def f():\n    return 1\n", "main.py": "import mod\nmod.f()\n"})
    run(["-m", "coverage", "run", "--branch", "--source=.", "main.py"], cwd=root, COVERAGE_FILE=".coverage")
    assert {f.path for f in load(root / ".coverage", root).files} == {"main.py", "mod.py"}
    (root / "mod.py").unlink()
    with pytest.raises(DataError) as info:
        load(root / ".coverage", root)
    message = str(info.value)
    assert "mod.py" in message and "re-run the tests" in message and "\n" not in message


def test_data_file_without_measured_files_is_empty(tmp_path: Path) -> None:
    from coverage import CoverageData

    path = tmp_path / ".coverage"
    data = CoverageData(basename=str(path))
    data.add_lines({})
    data.write()
    assert path.exists()
    assert load(path, tmp_path) == CoverageReport(files=(), has_branches=False)


def _not_coverage_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table t (x)")
    db.close()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("notes.txt", lambda p: p.write_text("hello\n")),
        ("empty", lambda p: p.write_bytes(b"")),
        ("garbage.bin", lambda p: p.write_bytes(bytes(range(256)))),
        ("other.json", lambda p: p.write_text('{"files": {}}')),
        ("list.json", lambda p: p.write_text("[1, 2]")),
        ("app.db", _not_coverage_sqlite),
        ("truncated.db", lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)),
    ],
)
def test_not_coverage_data(tmp_path: Path, name: str, make) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    make(path)
    before = path.read_bytes()
    with pytest.raises(DataError) as info:
        load(path, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a coverage data file or coverage json report (")
    assert "\n" not in message
    assert path.read_bytes() == before  # never "repaired" into a coverage file


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nope", tmp_path)
    with pytest.raises(DataError, match="is a directory"):
        load(tmp_path, tmp_path)


def test_malformed_coverage_json(tmp_path: Path) -> None:
    path = tmp_path / "cov.json"
    path.write_text(json.dumps({"meta": {}, "files": {"a.py": {"missing_lines": []}}}))
    with pytest.raises(DataError, match=r'cov\.json: malformed coverage json report: files\["a\.py"\]: no "'):
        load(path, tmp_path)


def test_json_paths_relative_to_root_else_absolute(tmp_path: Path) -> None:
    root = tmp_path / "root"
    entry = {"summary": {"num_statements": 3, "num_branches": 2}, "missing_lines": [3, 1]}
    entry["missing_branches"] = [[2, -1]]
    doc = {
        "meta": {"branch_coverage": True},
        "files": {
            str(root / "pkg" / "x.py"): entry,
            "pkg/./y.py": entry,
            "/elsewhere/z.py": entry,
        },
    }
    report = from_json(doc, root)
    assert [f.path for f in report.files] == ["/elsewhere/z.py", "pkg/x.py", "pkg/y.py"]
    x = report.get("pkg/x.py")
    assert x == FileCoverage("pkg/x.py", 3, missing_lines=(1, 3), branches=2, missing_branches=((2, -1),))
    assert (x.covered_lines, x.covered_branches) == (1, 1)
    assert report.get("missing") is None


def test_json_without_branches_ignores_branch_fields(tmp_path: Path) -> None:
    doc = {"meta": {}, "files": {"a.py": {"summary": {"num_statements": 1}, "missing_lines": []}}}
    report = from_json(doc, tmp_path)
    assert not report.has_branches
    assert report.files == (FileCoverage("a.py", 1),)


def test_data_file_copied_elsewhere_still_loads(sample: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = sample
    copy = tmp_path / "x"
    shutil.copy(data, copy)
    assert [f.path for f in load(copy, root).files][-1] == "pkg/never.py"


def test_a_json_report_is_judged_on_its_source_with_unnamed_files_at_zero(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"pkg/__init__.py": "", "pkg/a.py": "x = 1\n", "pkg/b.py": "x = 1\ny = 2\n", "t.py": "z = 3\n"},
    )
    entry = {"executed_lines": [1], "missing_lines": [], "summary": {"num_statements": 1}}
    report = tmp_path / "cov.json"
    report.write_text(
        json.dumps({"meta": {}, "files": {"pkg/a.py": entry, "pkg/__init__.py": entry, "t.py": entry}})
    )
    assert [f.path for f in load(report, tmp_path).files] == ["pkg/__init__.py", "pkg/a.py", "t.py"]
    assert load(report, tmp_path, source=()).files == ()
    judged = load(report, tmp_path, source=(tmp_path / "pkg",))
    assert [(f.path, f.statements, f.missing_lines) for f in judged.files] == [
        ("pkg/__init__.py", 1, ()),
        ("pkg/a.py", 1, ()),
        ("pkg/b.py", 2, (1, 2)),  # never named by the report: analysed, nothing covered
    ]
    everything = load(report, tmp_path, source=(tmp_path / "pkg" / "a.py", tmp_path / "pkg" / "__init__.py"))
    assert [f.path for f in everything.files] == ["pkg/__init__.py", "pkg/a.py"]  # nothing left to analyse


def test_a_json_report_measured_elsewhere_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/a.py": "x = 1\n"})
    entry = {"executed_lines": [1], "missing_lines": [], "summary": {"num_statements": 1}}
    report = tmp_path / "cov.json"
    report.write_text(json.dumps({"meta": {}, "files": {"/ci/build/pkg/a.py": entry}}))
    with pytest.raises(DataError, match=r"none of the 1 files it names is under the coverage source \(pkg\)"):
        load(report, tmp_path, source=(tmp_path / "pkg",))


def test_executed_lines_that_are_no_statements_are_as_coverage_py_reports_them(tmp_path: Path) -> None:
    """On Python 3.10 coverage.py records line 1 of an empty module as run: its JSON report lists it as
    executed although the file has no statement. That is a real report, not a damaged one."""
    write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "x = 1\n"})
    empty = {"executed_lines": [1], "missing_lines": [], "summary": {"num_statements": 0, "covered_lines": 0}}
    one = {"executed_lines": [1], "missing_lines": [], "summary": {"num_statements": 1, "covered_lines": 1}}
    report = tmp_path / "cov.json"
    report.write_text(json.dumps({"meta": {}, "files": {"pkg/__init__.py": empty, "pkg/a.py": one}}))
    loaded = load(report, tmp_path)
    assert [(f.path, f.statements, f.missing_lines) for f in loaded.files] == [
        ("pkg/__init__.py", 0, ()),
        ("pkg/a.py", 1, ()),
    ]
