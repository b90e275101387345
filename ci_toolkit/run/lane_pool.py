"""Lanes at the same time: which lanes may start now (pure), and whose output the terminal shows.

A lane with `concurrent = true` may run alongside other such lanes, so that a core a one-process lane
leaves idle (a `workers = 0` lane of pure unit tests, a lane of two slow tests) does work. Every other
lane runs alone, as lanes always did. Two lanes overlap only when

- both are `concurrent`,
- they share no service (per-worker databases are named gw0, gw1, ... in every lane: two xdist lanes on
  one server would share them, and two lanes without xdist would share the service's own database), and
- their workers fit the machine: a lane takes `max(1, workers)` of `os.cpu_count()` slots, because more
  processes than cores make every test slower and the timing history wrong.

Lanes start in configuration order; a concurrent lane that does not fit yet lets later ones that do
start first, but a lane that must run alone is a barrier: nothing after it starts before it has.

The terminal shows one lane at a time, live, as pytest writes it. A lane started while another has the
terminal writes to a log file; when the terminal is free, that log is shown whole, then followed live
until the lane ends. So the output reads lane by lane, in start order, and is never interleaved.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ci_toolkit.config import Lane


def weight(workers: int) -> int:
    """Slots a lane takes: its xdist workers, or one process without xdist."""
    return max(1, workers)


def may_join(lane: Lane, running: Sequence[Lane], *, slots: int, workers: Callable[[Lane], int]) -> bool:
    """Whether `lane` may start while `running` run."""
    if not running:
        return True
    if not lane.concurrent or not all(other.concurrent for other in running):
        return False
    busy = {name for other in running for name in other.services}
    if busy.intersection(lane.services):
        return False
    return sum(weight(workers(other)) for other in running) + weight(workers(lane)) <= slots


def startable(
    pending: Sequence[Lane], running: Sequence[Lane], *, slots: int, workers: Callable[[Lane], int]
) -> list[Lane]:
    """The pending lanes to start now, in order (see the module docstring)."""
    chosen: list[Lane] = []
    for lane in pending:
        if may_join(lane, [*running, *chosen], slots=slots, workers=workers):
            chosen.append(lane)
        elif not lane.concurrent:
            break  # it runs alone, at its place: nothing overtakes it
    return chosen


@dataclass
class _Entry:
    name: str
    text: str  # printed when the entry reaches the terminal (a lane's header line, or a note)
    log: Path | None  # None: writes to the terminal itself (or is only `text`)
    done: bool = False
    offset: int = 0  # bytes of `log` already shown


class LaneOutput:
    """Hands the terminal to one lane at a time (see the module docstring)."""

    def __init__(self, logs: Path, out: TextIO | None = None) -> None:
        self.logs = logs
        self.out = out
        self._queue: list[_Entry] = []

    @property
    def _stream(self) -> TextIO:
        return self.out if self.out is not None else sys.stdout

    def start(self, name: str, header: str) -> Path | None:
        """A lane starts: None when it may write to the terminal, else the log file it must write to."""
        if not self._queue:
            self._print(header)
            self._queue.append(_Entry(name, "", None))
            return None
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        log.unlink(missing_ok=True)
        self._queue.append(_Entry(name, header, log))
        return log

    def say(self, line: str) -> None:
        """A line of ours, shown now or, when a lane has the terminal, after the lanes before it."""
        if not self._queue:
            self._print(line)
        else:
            self._queue.append(_Entry("", line, None, done=True))

    def finish(self, name: str) -> None:
        for entry in self._queue:
            if entry.name == name and not entry.done:
                entry.done = True
                break
        self.pump()

    def pump(self) -> None:
        """Show what the lane at the head has written since, and move on past lanes that ended."""
        while self._queue:
            head = self._queue[0]
            if head.log is not None:
                self._copy(head)
            if not head.done:
                return
            self._queue.pop(0)
            if self._queue:
                self._print(self._queue[0].text)

    def _copy(self, entry: _Entry) -> None:
        assert entry.log is not None
        try:
            with entry.log.open("rb") as log:
                log.seek(entry.offset)
                data = log.read()
        except FileNotFoundError:
            return
        if data:
            entry.offset += len(data)
            stream = self._stream
            stream.flush()
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode(errors="replace"))
                stream.flush()

    def _print(self, line: str) -> None:
        if line:
            print(line, file=self._stream, flush=True)
