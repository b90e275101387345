"""Observations: what a run's results, a pytest-split durations file or JUnit XML say tests took."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.run.results import TestOutcome
from ci_toolkit.timing.observe import (
    observations_from_durations,
    observations_from_file,
    observations_from_junit,
    observations_from_results,
)
from ci_toolkit.timing.smoothing import Observation


def test_only_tests_that_really_ran_are_observed() -> None:
    outcomes = [
        TestOutcome(f"t.py::{name}", name, setup=0.1, call=1.0, teardown=0.2)
        for name in ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
    ]
    observed = observations_from_results(outcomes, "unit")
    assert set(observed) == {"t.py::passed", "t.py::failed", "t.py::xfailed", "t.py::xpassed"}
    assert observed["t.py::failed"] == Observation(0.1, 1.0, 0.2, "unit")


def test_a_durations_file_is_told_apart_from_junit(tmp_path: Path) -> None:
    durations = tmp_path / ".test_durations"
    durations.write_text('\ufeff {"t.py::a": 1.5, "t.py::b": 0}', encoding="utf-8")
    assert observations_from_file(durations, tmp_path, "unit") == {
        "t.py::a": Observation(0.0, 1.5, 0.0, "unit"),
        "t.py::b": Observation(0.0, 0.0, 0.0, "unit"),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.xml", None, "missing.xml: no such file"),
        (
            "bad.json",
            '{"t.py::a": "slow"}',
            'bad.json: not a pytest-split durations file ({"node id": seconds, ...})',
        ),
        ("broken.json", "{", "broken.json: unreadable durations file: Expecting property name"),
        ("broken.xml", "<testsuite><testcase", "broken.xml: not a JUnit XML file: "),
        ("html.xml", "<html><body/></html>", "html.xml: not a JUnit XML file: Invalid format."),
    ],
)
def test_unusable_import_files_are_one_line_data_errors(
    name: str, content: str | None, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        observations_from_file(path, tmp_path)
    assert str(info.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(info.value)


def test_the_readers_name_missing_and_unreadable_files(tmp_path: Path) -> None:
    for read, what in (
        (lambda p: observations_from_junit(p, tmp_path), "JUnit XML file"),
        (lambda p: observations_from_durations(p), "durations file"),
    ):
        with pytest.raises(DataError, match=f"^{tmp_path}/none: no such {what}$"):
            read(tmp_path / "none")
        with pytest.raises(DataError, match=f"^{tmp_path}: unreadable {what}: Is a directory$"):
            read(tmp_path)
    with pytest.raises(DataError, match=f"^{tmp_path}: unreadable: Is a directory$"):
        observations_from_file(tmp_path, tmp_path)


def test_junit_cases_whose_file_is_gone_are_skipped_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_here.py").write_text("")
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_here" name="test_a" time="1.5"/>'
        '<testcase classname="tests.test_gone" name="test_b" time="2"/>'
        '<testcase classname="tests.test_gone.TestX" name="test_c" file="tests/test_gone.txt"/>'
        '<testcase classname="tests.test_here" name="test_e" time="0.5"><error message="x"/></testcase>'
        '<testcase classname="" name="tests.test_here" time="0.5"/>'
        "</testsuite></testsuites>"
    )
    assert observations_from_junit(junit, tmp_path, "unit") == {
        "tests/test_here.py::test_a": Observation(0.0, 1.5, 0.0, "unit")
    }
    assert capsys.readouterr().err == (
        f"ci-toolkit: warning: {junit}: 2 test case(s) whose file was not found under {tmp_path} "
        "were skipped\n"
    )


def test_junit_times_that_are_not_seconds_are_skipped_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "test_a.py").write_text("")
    junit = tmp_path / "junit.xml"
    cases = [("ok", 'time="1.5"'), ("untimed", ""), ("nan", 'time="nan"'), ("text", 'time="slow"')]
    junit.write_text(
        "<testsuite>"
        + "".join(f'<testcase classname="test_a" name="{name}" {time}/>' for name, time in cases)
        + "</testsuite>"
    )
    assert observations_from_junit(junit, tmp_path) == {
        "test_a.py::ok": Observation(0.0, 1.5, 0.0),
        "test_a.py::untimed": Observation(0.0, 0.0, 0.0),
    }
    assert capsys.readouterr().err == (
        f"ci-toolkit: warning: {junit}: 2 test case(s) with a time that is not a number of seconds "
        '0-1000000 were skipped (e.g. "nan")\n'
    )
    junit.write_text('<testsuite><testcase classname="test_a" name="t" time="-1"/></testsuite>')
    with pytest.raises(DataError, match=r": no usable test time: 1 test case\(s\) with a time that is not"):
        observations_from_junit(junit, tmp_path)


def test_durations_that_are_not_seconds_are_skipped_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    durations = tmp_path / "durations.json"
    durations.write_text('{"t.py::a": 2, "t.py::b": -1, "t.py::c": "1"}')
    assert observations_from_durations(durations) == {"t.py::a": Observation(0.0, 2.0, 0.0)}
    assert capsys.readouterr().err == (
        f"ci-toolkit: warning: {durations}: 2 duration(s) that are not a number of seconds 0-1000000 were "
        "skipped (e.g. 't.py::b': -1)\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"t.py::a": ' + b"1" * 5000 + b"}", "unreadable durations file: a number too long"),
        (
            b'{"t.py::a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "unreadable durations file: nested too deeply",
        ),
        (b'{"t.py::a": 1, "\xff": 2}', "unreadable durations file: 'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_a_durations_file_json_cannot_read_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    durations = tmp_path / "durations.json"
    durations.write_bytes(content)
    with pytest.raises(DataError) as info:
        observations_from_file(durations, tmp_path)
    assert str(info.value).startswith(f"{durations}: {message}")


def test_an_import_file_that_is_a_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(DataError, match=r": unreadable: not a regular file$"):
        observations_from_file(tmp_path / "fifo", tmp_path)
