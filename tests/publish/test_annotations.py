"""Annotations from a report, and the workflow-command lines they become: order, GitHub's 10-per-level
budget, paths relative to the repository, and escaping that no test id or message can break out of."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from publish_reports import failing_report, passing_report
from support import run_ci_toolkit

from ci_toolkit.publish.annotations import Annotation, collect, command, render
from ci_toolkit.report import json_report
from ci_toolkit.run.results import LaneResult, TestOutcome

ROOT = Path("/w/repo/proj")  # the project, a folder of the repository
WORKSPACE = Path("/w/repo")
# What the runner takes as one command: "::" name, optional properties, "::", then the data to the end.
_COMMAND = re.compile(r"::(?P<level>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<data>.*)")


def _parse(line: str) -> tuple[str, dict[str, str], str]:
    """A command line read back the way the runner reads it, unescaped."""
    match = _COMMAND.fullmatch(line)
    assert match is not None, line
    props = {}
    for prop in filter(None, (match["props"] or "").split(",")):
        key, _, value = prop.partition("=")
        props[key] = _unescape(value)
    return match["level"], props, _unescape(match["data"])


def _unescape(text: str) -> str:
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def test_most_important_first_failed_tests_then_critical_files_then_changed_lines() -> None:
    found = collect(failing_report(), root=ROOT, workspace=WORKSPACE)
    assert [(a.level, a.title) for a in found] == [
        ("error", "failed: tests/test_a.py::test_x"),
        ("error", "error: tests/test_a.py::test_db"),
        ("error", "critical file below 100%"),
        ("error", "critical file below 99.5%"),
        ("warning", "changed lines not covered"),
        ("warning", "changed lines not covered"),
    ]
    test_x, test_db, auth, pay, changed, outside = found
    assert (test_x.file, test_x.line, test_x.message) == ("proj/tests/test_a.py", 7, "assert 1 == 2")
    assert (test_db.file, test_db.line) == ("proj/tests/test_a.py", 0)  # where it failed is unknown
    assert (auth.file, auth.line, auth.end_line) == ("proj/src/app/auth.py", 12, 14)
    assert auth.message == "src/app/auth.py: 80.00% covered, floor 100%; not run: lines 12-14, 20"
    # Only a branch is missing: pinned to the line it starts from.
    assert (pay.file, pay.line, pay.end_line) == ("proj/src/app/pay.py", 7, 7)
    assert pay.message.endswith("not run: branches 7->9")
    assert (changed.file, changed.line, changed.end_line) == ("proj/src/app/auth.py", 12, 14)
    # Outside the workspace: GitHub could not place it, so no file and no line, the path in the message.
    assert (outside.file, outside.line) == ("", 0)
    assert outside.message.startswith("../../outside/x.py: 2 of 2 changed lines")


def test_changed_lines_are_errors_when_the_patch_check_failed() -> None:
    found = collect(failing_report(patch_floor=80), root=ROOT, workspace=WORKSPACE)
    assert {a.level for a in found} == {"error"}


def test_without_a_workspace_paths_stay_relative_to_the_project() -> None:
    found = collect(failing_report(), root=ROOT, workspace=None)
    assert found[0].file == "tests/test_a.py"
    assert found[-1].file == ""


def test_a_passing_run_has_none() -> None:
    assert collect(passing_report(), root=ROOT, workspace=WORKSPACE) == []
    assert render([]) == []


def test_the_command_line_format() -> None:
    auth = collect(failing_report(), root=ROOT, workspace=WORKSPACE)[2]
    assert command(auth) == (
        "::error file=proj/src/app/auth.py,line=12,endLine=14,title=critical file below 100%25::"
        "src/app/auth.py: 80.00%25 covered, floor 100%25; not run: lines 12-14, 20"
    )
    assert command(Annotation("warning", "plain")) == "::warning::plain"
    # A line without a file means nothing to GitHub; an end line before the start is left out.
    assert command(Annotation("error", "m", line=3)) == "::error::m"
    assert command(Annotation("error", "m", file="a.py", line=3, end_line=3)) == "::error file=a.py,line=3::m"


def test_at_most_ten_of_each_level_then_one_notice_counting_the_rest() -> None:
    found = collect(failing_report(failures=14), root=ROOT, workspace=WORKSPACE)
    assert sum(a.level == "error" for a in found) == 16 and sum(a.level == "warning" for a in found) == 2
    lines = render(found)
    parsed = [_parse(line) for line in lines]
    levels = [level for level, _, _ in parsed]
    assert levels.count("error") == 10 and levels.count("warning") == 2 and levels[-1] == "notice"
    assert len(lines) == 13
    # The most important ten are the ones kept: the failed tests, in order.
    assert [props["title"] for _, props, _ in parsed[:3]] == [
        "failed: tests/test_a.py::test_x",
        "error: tests/test_a.py::test_db",
        "failed: tests/test_b.py::test_0",
    ]
    assert parsed[-1][2] == (
        "6 more annotations are not shown (6 errors): GitHub shows 10 of each kind per step; "
        "the job summary lists them"
    )
    assert len(render(found, limit=1)) == 3  # one error, one warning, the notice


def test_notices_leave_room_for_the_count() -> None:
    notices = [Annotation("notice", f"n{i}") for i in range(10)]
    lines = render(notices)
    assert len(lines) == 10
    assert "1 more annotation is not shown (1 notice)" in lines[-1]
    assert render(notices[:9]) == [f"::notice::n{i}" for i in range(9)]


HOSTILE_IDS = [
    "tests/test_x.py::test_a[100%]",
    "tests/test_x.py::test_a[a,b=c]",
    "tests/test_x.py::test_a[x::error::pwned]",
    "tests/test_x.py::test_a[line\nbreak]",
    "tests/test_x.py::test_a[cr\rhere%0A]",
    "tests/test_x.py::test_a[\x1b[31mred]",
]


@pytest.mark.parametrize("nodeid", HOSTILE_IDS)
def test_hostile_ids_and_messages_stay_inside_their_command(nodeid: str) -> None:
    message = f"{nodeid}\n::error file=/etc/passwd::injected"
    outcome = TestOutcome(nodeid, "failed", message=message, path="tests/test_x.py", line=3)
    report = dataclasses.replace(passing_report(gate=False), lanes=(LaneResult("l", 1, 1.0, (outcome,)),))
    [line] = render(collect(report, root=ROOT, workspace=WORKSPACE))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    level, props, data = _parse(line)
    assert level == "error"
    assert set(props) == {"file", "line", "title"}
    assert (props["file"], props["line"]) == ("proj/tests/test_x.py", "3")
    # Read back, the title is the id and the message its first line (control characters shown as
    # escapes, never acted on).
    assert props["title"] == f"failed: {_shown(nodeid)}"
    assert data == _shown(message.splitlines()[0])
    assert "::error file=/etc/passwd" not in line


def _shown(text: str) -> str:
    return text.replace("\n", "\\x0a").replace("\r", "\\x0d").replace("\x1b", "\\x1b")


def test_escaping_of_every_special_character() -> None:
    line = command(Annotation("error", "100% a,b: c\r\nd", title="t: a,b%", file="dir,x/a:b.py", line=2))
    assert line == "::error file=dir%2Cx/a%3Ab.py,line=2,title=t%3A a%2Cb%25::100%25 a,b: c\\x0d\\x0ad"
    assert command(Annotation("notice", "a\nb")).endswith("::a\\x0ab")


def test_messages_and_titles_are_bounded() -> None:
    line = command(Annotation("error", "x" * 5000, title="t" * 500, file="a.py", line=1))
    _, props, data = _parse(line)
    assert len(data) == 1000 and data.endswith("…")
    assert len(props["title"]) == 200


FAILING = """\
    def test_breaks():
        total = 1 + 1
        assert total == 3
    """


@pytest.mark.e2e
def test_a_real_failing_test_is_pinned_to_its_assert(sample_project_factory: Callable[..., Any]) -> None:
    """`ci-toolkit local` on a project with a failing test: report.json says where it failed, and the
    annotation points there, relative to the repository the project is a folder of."""
    project = sample_project_factory(files={"tests/test_breaks.py": FAILING})
    run = run_ci_toolkit("local", "--no-color", cwd=project.root)
    assert run.code == 1, run.describe()
    saved = json.loads((project.root / ".ci-toolkit" / "report.json").read_text())
    [failed] = [entry for lane in saved["lanes"] for entry in lane["failed"]]
    assert failed["nodeid"] == "tests/test_breaks.py::test_breaks"
    assert (failed["path"], failed["line"]) == ("tests/test_breaks.py", 3)
    report = json_report.load(project.root / ".ci-toolkit" / "report.json")
    [first, *_] = render(collect(report, root=project.root, workspace=project.root.parent))
    assert first.startswith(
        f"::error file={project.root.name}/tests/test_breaks.py,line=3,"
        "title=failed%3A tests/test_breaks.py%3A%3Atest_breaks::"
    )
    assert "assert 2 == 3" in first
