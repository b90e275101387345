"""The timing history file: saved sorted and rounded, read back, bad files and entries warned about."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.timing.smoothing import History, TestTiming, empty
from ci_toolkit.timing.store import REPORTED_ENV, Located, load, locate, project_name, read, read_own, save


def test_save_writes_sorted_rounded_versioned_json_and_load_reads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "timings.json"
    original = History(
        "app",
        4,
        {"b.py::t": TestTiming(0.123456, 2.0, 0.00001, 3, 4, "unit"), "a.py::t": TestTiming(0, 1, 0, 1, 2)},
    )
    save(path, original)
    doc = json.loads(path.read_text())
    assert doc == {
        "version": 2,
        "tool": "ci-toolkit",
        "project": "app",
        "run": 4,
        "tests": {
            "a.py::t": {"setup": 0, "call": 1, "teardown": 0, "runs": 1, "last_seen": 2, "lane": ""},
            "b.py::t": {
                "setup": 0.1235,
                "call": 2.0,
                "teardown": 0.0,
                "runs": 3,
                "last_seen": 4,
                "lane": "unit",
            },
        },
    }
    assert path.read_text().index('"a.py::t"') < path.read_text().index('"b.py::t"')
    # One test a line: a committed history diffs and merges a test at a time.
    lines = path.read_text().splitlines()
    assert [line.strip()[:9] for line in lines if "::t" in line] == ['"a.py::t"', '"b.py::t"']
    assert all(json.loads("{" + line.strip().rstrip(",") + "}") for line in lines if "::t" in line)
    assert [p.name for p in path.parent.iterdir()] == ["timings.json"]  # no temporary file left
    loaded = load(path, "app")
    assert loaded.tests["b.py::t"] == TestTiming(0.1235, 2.0, 0.0, 3, 4, "unit")
    assert loaded.run == 4


def test_a_missing_history_is_empty_without_a_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(tmp_path / "none.json", "app") == empty("app")
    assert capsys.readouterr() == ("", "")


def _doc(**changes: object) -> str:
    doc: dict[str, object] = {"version": 1, "tool": "ci-toolkit", "project": "app", "run": 1, "tests": {}}
    doc.update(changes)
    return json.dumps(doc)


BAD_HISTORIES = [
    pytest.param("{not json", "timing history is not valid JSON (Expecting property name", id="corrupt"),
    pytest.param("", "timing history is not valid JSON (Expecting value at line 1)", id="empty-file"),
    pytest.param("[1, 2]", "not a ci-toolkit timing history", id="a-list"),
    pytest.param(
        json.dumps({"tests/test_a.py::test_x": 1.25, "tests/test_a.py::test_y": 0.5}),
        "looks like a pytest-split durations file, not a ci-toolkit timing history "
        "(convert it with `ci-toolkit timings import`)",
        id="pytest-split",
    ),
    pytest.param(_doc(tool="other"), "not a ci-toolkit timing history", id="foreign-tool"),
    pytest.param(
        _doc(version=3),
        "timing history version 3 is not supported (this ci-toolkit reads versions 1-2)",
        id="newer",
    ),
    pytest.param(_doc(run=-1), 'malformed timing history (needs "project", "run" and "tests")', id="bad-run"),
    pytest.param(_doc(tests=[]), "malformed timing history", id="tests-a-list"),
    pytest.param(
        _doc(project="other"), "timing history is for project 'other', not 'app'", id="other-project"
    ),
]


@pytest.mark.parametrize(("text", "reason"), BAD_HISTORIES)
def test_a_bad_history_is_one_warning_line_and_empty(
    text: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text(text, encoding="utf-8")
    assert load(path, "app") == empty("app")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"ci-toolkit: warning: {path}: {reason}")
    beside = tmp_path / "timings.ci-toolkit-app.json"  # where ours goes: the file is never written over
    assert err.endswith(f"; left as it is: this project's history is kept in {beside} instead\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param({"call": "slow"}, "phase seconds must be numbers 0-1000000", id="bad-seconds"),
        pytest.param(
            {"call": 1, "runs": 1.5},
            "runs and last_seen must be whole numbers >= 0, lane a string",
            id="bad-runs",
        ),
        pytest.param(3, "expected an object", id="entry"),
    ],
)
def test_a_bad_entry_is_dropped_with_one_warning_line(
    entry: object, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text(_doc(tests={"a.py::t": entry, "a.py::u": {"call": 2.0}}), encoding="utf-8")
    assert load(path, "app") == History("app", 1, {"a.py::u": TestTiming(0.0, 2.0, 0.0, 1, 0, "")})
    assert capsys.readouterr() == (
        "",
        f"ci-toolkit: warning: {path}: 1 malformed timing history entry dropped, e.g. 'a.py::t': {reason}\n",
    )


def test_an_unreadable_history_is_a_warning_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bytes.json").write_bytes(b"\xff\xfe{")
    assert load(tmp_path / "bytes.json", "app") == empty("app")
    assert load(tmp_path, "app") == empty("app")  # a directory
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert all(
        line.startswith("ci-toolkit: warning: ") and "unreadable timing history" in line for line in lines
    )


def test_project_name_comes_from_pyproject_or_the_directory(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    assert project_name(tmp_path / "proj") == "proj"
    (tmp_path / "proj" / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert project_name(tmp_path / "proj") == "shop"
    (tmp_path / "proj" / "pyproject.toml").write_text("[project\n")
    assert project_name(tmp_path / "proj") == "proj"
    (tmp_path / "proj" / "pyproject.toml").write_text("[tool.x]\n")
    assert project_name(tmp_path / "proj") == "proj"


def test_a_history_that_is_not_ours_is_read_from_and_saved_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text("[1]")
    ours = History("app", 2, {"a.py::t": TestTiming(0.0, 1.0, 0.0, 1, 2)})
    save(tmp_path / "timings.ci-toolkit-app.json", ours)
    located = locate(path, "app")
    assert located == Located(ours, tmp_path / "timings.ci-toolkit-app.json")
    assert capsys.readouterr().err == (
        f"ci-toolkit: warning: {path}: not a ci-toolkit timing history; left as it is: "
        f"this project's history is read from and saved to {located.target}\n"
    )


def test_entries_dropped_beside_a_history_that_is_not_ours_are_told_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings"
    path.write_text("[1]")
    (tmp_path / "timings.ci-toolkit-app.json").write_text(_doc(tests={"a.py::t": 3}))
    assert locate(path, "app") == Located(History("app", 1), tmp_path / "timings.ci-toolkit-app.json")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith(f"is read from and saved to {tmp_path}/timings.ci-toolkit-app.json")
    assert lines[1] == (
        f"ci-toolkit: warning: {tmp_path}/timings.ci-toolkit-app.json: 1 malformed timing history entry "
        "dropped, e.g. 'a.py::t': expected an object"
    )


def test_when_neither_file_is_ours_nothing_is_used_or_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text("[1]")
    (tmp_path / "timings.ci-toolkit-app.json").write_text(_doc(project="other"))
    assert locate(path, "app") == Located(empty("app"), None)
    assert capsys.readouterr().err.endswith(
        "both left as they are: no timing history used or saved (move one away)\n"
    )


def test_a_history_is_not_warned_about_where_the_run_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text("[1]")
    monkeypatch.setenv(REPORTED_ENV, str(path))
    assert load(path, "app") == empty("app")
    assert capsys.readouterr().err == ""


def test_a_fifo_is_not_read_as_a_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "timings.json")
    assert load(tmp_path / "timings.json", "app") == empty("app")
    assert ": unreadable timing history: not a regular file; left as it is" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "reason"),
    [("1" * 5000, "a number too long"), ("[" * 100_000 + "]" * 100_000, "nested too deeply")],
)
def test_json_python_cannot_read_is_not_a_history(text: str, reason: str, tmp_path: Path) -> None:
    (tmp_path / "h.json").write_text(text)
    with pytest.raises(DataError, match=rf": timing history is not valid JSON \({reason}\)$"):
        read(tmp_path / "h.json", "app")


def test_the_strict_readers_refuse_what_is_not_a_history_and_name_it(tmp_path: Path) -> None:
    (tmp_path / "h.json").write_text(_doc(project="other"))
    with pytest.raises(DataError, match=r"^.*/h.json: timing history is for project 'other', not 'app'$"):
        read(tmp_path / "h.json", "app")
    assert read(tmp_path / "h.json").project == "other"  # any project
    with pytest.raises(FileNotFoundError):
        read(tmp_path / "none.json")
    assert read_own(tmp_path / "none.json", "app") == empty("app")
    with pytest.raises(DataError) as info:
        read_own(tmp_path / "h.json", "app")
    assert str(info.value) == (
        f"{tmp_path}/h.json: refuse to write over a file that is not ours (timing history is for project "
        "'other', not 'app'); name a new file or this project's timing history"
    )
