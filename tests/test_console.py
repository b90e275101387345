"""What ci-toolkit assumes about the terminal, and the status line: its text (pure), when it is drawn,
and on a real pseudo-terminal in a child process."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci_toolkit.console import LaneProgress, StatusLine, clock, interactive, status_text, wants_color


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI", "TERM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


def test_clock() -> None:
    assert [clock(s) for s in (0, 5.9, 65, 3599, 3600, 3725, -1)] == [
        "0:00", "0:05", "1:05", "59:59", "1:00:00", "1:02:05", "0:00",
    ]  # fmt: skip


def test_status_text_shows_each_lane_done_of_total_and_the_time() -> None:
    lanes = [
        LaneProgress("unit", 120, 340, 62.0),
        LaneProgress("db", None, 50, 3.0),  # nothing reported yet: 0 of its total
        LaneProgress("slow", 7, None, 1.0),  # no total known (no lanes check)
        LaneProgress("new", None, None, 0.0),
        LaneProgress("over", 60, 50, 0.0),  # a rounded percentage never shows more than the total
    ]
    assert status_text(lanes, 134.0, 200) == (
        "lanes: unit 120/340 1:02, db 0/50 0:03, slow 7 tests 0:01, new 0:00, over 50/50 0:00 | 2:14"
    )
    assert status_text([], 5.0, 80) == "0:05"


def test_status_text_never_wraps() -> None:
    lanes = [LaneProgress(f"lane{n}", n, 100, 1.0) for n in range(20)]
    for width in (80, 20, 4, 1, 0):
        text = status_text(lanes, 1.0, width)
        assert len(text) <= max(0, width - 1)
    assert status_text(lanes, 1.0, 20).endswith("...")


def test_interactive_only_on_a_terminal_outside_ci(plain_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert interactive(Tty())
    assert not interactive(io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not interactive(closed)
    monkeypatch.setenv("TERM", "dumb")
    assert not interactive(Tty())
    monkeypatch.setenv("TERM", "xterm")
    for value in ("true", "True", "1"):
        monkeypatch.setenv("CI", value)
        assert not interactive(Tty())
    monkeypatch.setenv("CI", "false")
    assert interactive(Tty())


def test_colour_follows_the_flag_else_the_terminal_and_no_color(
    plain_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert wants_color(io.StringIO(), True) and not wants_color(Tty(), False)
    assert wants_color(Tty(), None) and not wants_color(io.StringIO(), None)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_color(Tty(), None)


def test_the_status_line_is_redrawn_in_place_and_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Tty()
    line = StatusLine(out, enabled=True)
    monkeypatch.setattr(line, "width", lambda: 80)
    line.clear()
    assert out.getvalue() == ""  # nothing shown: nothing to clear
    line.show([LaneProgress("unit", 1, 2, 0.0)], 0.0)
    line.show([LaneProgress("unit", 2, 2, 1.0)], 1.0)
    line.clear()
    assert out.getvalue() == "\r\x1b[Klanes: unit 1/2 0:00 | 0:00\r\x1b[Klanes: unit 2/2 0:01 | 0:01\r\x1b[K"


def test_a_disabled_status_line_writes_nothing() -> None:
    out = Tty()
    line = StatusLine(out, enabled=False)
    line.show([LaneProgress("unit", 1, 2, 0.0)], 0.0)
    line.clear()
    assert out.getvalue() == ""


def test_colour_dims_the_line_and_no_color_or_ci_turn_it_off(
    plain_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = StatusLine.for_stream(Tty())
    assert line.enabled and line.color
    monkeypatch.setenv("NO_COLOR", "1")
    line = StatusLine.for_stream(Tty())
    assert line.enabled and not line.color
    monkeypatch.setenv("CI", "true")
    assert not StatusLine.for_stream(Tty()).enabled


_CHILD = """\
import sys
from ci_toolkit.console import LaneProgress, StatusLine
line = StatusLine.for_stream(sys.stderr)
line.show([LaneProgress("unit", 3, 4, 2.0)], 2.0)
line.clear()
print("after", flush=True)
"""


def run_on_a_pty(cmd: list[str], cwd: Path | None, env: dict[str, str]) -> tuple[int, bytes]:
    """Run `cmd` with a pseudo-terminal as its stdin, stdout and stderr: (exit code, what it wrote)."""
    main, child = os.openpty()
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    data = b""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 0.1)[0]:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # every writer closed its end (Linux: EIO)
                    break
                if not chunk:
                    break
                data += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    return proc.wait(), data


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("ci", ["", "true"])
def test_on_a_real_terminal_the_line_is_drawn_and_cleared_but_not_in_ci(ci: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "TERM")}
    env.update({"TERM": "xterm", "COLUMNS": "80", "NO_COLOR": "1", **({"CI": ci} if ci else {})})
    code, output = run_on_a_pty([sys.executable, "-c", _CHILD], None, env)
    assert code == 0, output
    if ci:
        assert output.replace(b"\r\n", b"\n") == b"after\n"
    else:
        assert output.replace(b"\r\n", b"\n") == b"\r\x1b[Klanes: unit 3/4 0:02 | 0:02\r\x1b[Kafter\n"
