"""What ci-toolkit's own output may assume about the terminal it writes to, and the one status line it
redraws there while lanes run (never in a CI log, a pipe or a dumb terminal)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

_CLEAR = "\r\x1b[K"  # back to the line's start, and erase to its end
_DIM, _RESET = "\x1b[2m", "\x1b[0m"


def wants_color(stream: TextIO, flag: bool | None) -> bool:
    """--color/--no-color when given; else colour on a terminal, unless NO_COLOR is set (no-color.org)."""
    if flag is not None:
        return flag
    return not os.environ.get("NO_COLOR") and stream.isatty()


def interactive(stream: TextIO) -> bool:
    """Whether a line may be redrawn in place on `stream`: a terminal someone watches, not a CI log
    (CI runners set CI=true, and some give the job a pseudo-terminal) nor a terminal without cursor
    control (TERM=dumb, as in Emacs' shell)."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False


@dataclass(frozen=True)
class LaneProgress:
    """One running lane as the status line shows it: tests done of total (None: not known yet)."""

    name: str
    done: int | None
    total: int | None
    elapsed: float


def clock(seconds: float) -> str:
    """Elapsed time as m:ss, or h:mm:ss from an hour on."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_text(lanes: Sequence[LaneProgress], elapsed: float, width: int) -> str:
    """The status line: each running lane's tests done/total and time, then the run's time; cut to
    `width` - 1 characters, since a line that wraps cannot be redrawn in place."""
    parts = []
    for lane in lanes:
        if lane.total is None:
            count = "" if lane.done is None else f" {lane.done} tests"
        else:
            count = f" {min(lane.done or 0, lane.total)}/{lane.total}"
        parts.append(f"{lane.name}{count} {clock(lane.elapsed)}")
    text = f"lanes: {', '.join(parts)} | {clock(elapsed)}" if parts else f"{clock(elapsed)}"
    room = max(0, width - 1)
    if len(text) > room:
        text = text[: max(0, room - 3)] + "..." if room > 3 else text[:room]
    return text


class StatusLine:
    """One line at the bottom of an interactive terminal, redrawn in place, cleared before anything
    else is written; it writes nothing at all when `enabled` is false."""

    def __init__(self, stream: TextIO, *, enabled: bool, color: bool = False) -> None:
        self.stream = stream
        self.enabled = enabled
        self.color = color
        self.shown = False

    @classmethod
    def for_stream(cls, stream: TextIO) -> StatusLine:
        on = interactive(stream)
        return cls(stream, enabled=on, color=on and wants_color(stream, None))

    def width(self) -> int:
        return shutil.get_terminal_size().columns

    def show(self, lanes: Sequence[LaneProgress], elapsed: float) -> None:
        if not self.enabled:
            return
        text = status_text(lanes, elapsed, self.width())
        if self.color:
            text = f"{_DIM}{text}{_RESET}"
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line (if shown), so what is written next starts on a clean line."""
        if self.shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self.shown = False
