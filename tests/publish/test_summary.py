"""The job summary: appended after what the step wrote before, never past GitHub's 1 MiB (1,048,576 bytes,
counted in bytes, not characters)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from publish_reports import failing_report

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.publish.summary import append, append_report
from ci_toolkit.report import markdown

MIB = 1_048_576


def test_appended_after_what_others_wrote(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("## lint\nall good\n")
    result = append_report(path, failing_report())
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## lint\nall good\n\n<!-- ci-toolkit:report -->\n")
    assert text.endswith(markdown.render(failing_report()))
    assert result.written == len(text.encode()) - len(b"## lint\nall good\n")
    assert result.left_out == ""


@pytest.mark.parametrize(
    ("before", "separator"), [(b"", b""), (b"x", b"\n\n"), (b"x\n", b"\n"), (b"x\n\n", b"")]
)
def test_our_markdown_starts_a_block_of_its_own(tmp_path: Path, before: bytes, separator: bytes) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(before)
    append(path, lambda max_bytes: "ours\n")
    assert path.read_bytes() == before + separator + b"ours\n"


def test_a_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    assert append(path, lambda max_bytes: "ours\n").written == 5
    assert path.read_text() == "ours\n"


@pytest.mark.parametrize("taken", [0, MIB // 2, MIB - 40_000, MIB - 3_000, MIB - 1_500])
def test_never_over_one_mib_with_multi_byte_characters(tmp_path: Path, taken: int) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"a" * (taken - 1) + b"\n" if taken else b"")
    report = failing_report(failures=3000)
    lane = report.lanes[0]
    # 4 bytes a character in every failure's row: a budget counted in characters would overflow.
    outcomes = tuple(dataclasses.replace(o, message="🔥" * 40 + o.message) for o in lane.outcomes)
    report = dataclasses.replace(report, lanes=(dataclasses.replace(lane, outcomes=outcomes),))
    asked: list[int] = []

    def render(max_bytes: int) -> str:
        asked.append(max_bytes)
        return markdown.render(report, max_bytes=max_bytes)

    result = append(path, render)
    assert path.stat().st_size <= MIB
    assert asked == [MIB - taken - (1 if taken else 0)]
    assert result.left_out == ""
    assert "🔥" in path.read_text(encoding="utf-8")


def test_a_render_over_its_budget_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"a" * (MIB - 1001) + b"\n")
    result = append(path, lambda max_bytes: "🔥" * max_bytes)  # as many characters as bytes allowed
    assert path.stat().st_size <= MIB
    assert "🔥" not in path.read_text(encoding="utf-8")
    assert result.left_out.endswith("too few for the report")


def test_the_markdown_renderer_fits_the_budget_in_bytes(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes("✅".encode() * ((MIB - 2_500) // 3) + b"\n")  # 3 bytes a character
    result = append_report(path, failing_report(failures=3000))
    assert path.stat().st_size <= MIB
    assert result.left_out == ""
    assert "left out to fit" in path.read_text(encoding="utf-8")


def test_no_room_for_the_verdict_leaves_a_note(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"a" * (MIB - 151) + b"\n")
    result = append_report(path, failing_report())
    assert "too few for the report" in result.left_out
    text = path.read_bytes()
    assert len(text) <= MIB
    note = "_ci-toolkit: the report is not here: the job summary had 149 of its 1048576 bytes left, too few"
    assert text.endswith(f"{note} for the report._\n".encode())
    assert result.written == len(text) - MIB + 150


@pytest.mark.parametrize("free", [0, 1, 50])
def test_no_room_for_a_note_writes_nothing(tmp_path: Path, free: int) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"a" * (MIB - free - 1) + b"\n")
    result = append_report(path, failing_report())
    assert result.written == 0 and result.left_out
    assert path.stat().st_size == MIB - free


def test_a_summary_that_is_already_over_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"a" * (MIB + 10))
    assert append(path, lambda max_bytes: "x").written == 0
    assert path.stat().st_size == MIB + 10


def test_an_unreadable_or_unwritable_summary_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CiToolkitError, match=r"^\$GITHUB_STEP_SUMMARY .*: cannot read it: Is a directory$"):
        append(tmp_path, lambda max_bytes: "x")
    full = Path("/dev/full")
    if full.exists():
        with pytest.raises(
            CiToolkitError, match=r"^\$GITHUB_STEP_SUMMARY /dev/full: cannot append to it: No space"
        ):
            append(full, lambda max_bytes: "x")


def test_notes_follow_the_report_and_the_report_makes_room_for_them(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    note = "⚠️ the pull-request comment was not posted: 502"
    limit = 4000  # far less than the whole report: it is trimmed, the note is kept whole

    result = append_report(path, failing_report(failures=300), notes=[note], limit=limit)

    text = path.read_text(encoding="utf-8")
    assert text.endswith(f"\n> {note}\n")
    assert text.startswith("<!-- ci-toolkit:report -->")
    assert len(text.encode()) <= limit and result.left_out == ""
