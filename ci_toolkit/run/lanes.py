"""Do the configured lanes partition the test suite? Pure: works on the assignment collect() returns.

A lane configuration drifts as tests are added: a new test whose markers no lane selects would silently
never run, and a test two lanes select runs twice (and, for `serial` tests, maybe in parallel). Both
are caught here before any lane starts, unless the configuration explicitly allows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.config import Config

Assignment = Mapping[str, Sequence[str]]  # nodeid -> names of the lanes selecting it

LIST_LIMIT = 10  # node ids named in one message; the rest are counted


@dataclass(frozen=True)
class LaneCheck:
    unselected: tuple[str, ...]  # node ids no lane selects
    overlapping: Mapping[str, tuple[str, ...]]  # node id -> the lanes (2 or more) selecting it
    empty: tuple[str, ...]  # lanes selecting no test and not allowed to (lane.allow_empty is false)
    counts: Mapping[str, int]  # lane -> number of tests it selects


def check(assignment: Assignment, config: Config) -> LaneCheck:
    counts = {lane.name: 0 for lane in config.lanes}
    unselected: list[str] = []
    overlapping: dict[str, tuple[str, ...]] = {}
    for nodeid, lanes in assignment.items():
        if not lanes:
            unselected.append(nodeid)
        elif len(lanes) > 1:
            overlapping[nodeid] = tuple(lanes)
        for name in lanes:
            if name in counts:
                counts[name] += 1
    empty = tuple(lane.name for lane in config.lanes if counts[lane.name] == 0 and not lane.allow_empty)
    return LaneCheck(unselected=tuple(unselected), overlapping=overlapping, empty=empty, counts=counts)


def problems(result: LaneCheck, config: Config) -> list[str]:
    """One self-contained line per problem, empty when the lanes may run."""
    where = _where(config)
    found: list[str] = []
    if result.unselected and not config.allow_unselected:
        found.append(
            f"{where}: {_tests(len(result.unselected))} selected by no lane: {_cap(result.unselected)}; "
            "select them in a lane's markers, or set allow_unselected = true"
        )
    if result.overlapping and not config.allow_overlap:
        shown = [f"{nodeid} ({', '.join(lanes)})" for nodeid, lanes in result.overlapping.items()]
        found.append(
            f"{where}: {_tests(len(shown))} selected by more than one lane: {_cap(shown)}; "
            "make the lanes' markers exclusive, or set allow_overlap = true"
        )
    markers = {lane.name: lane.markers for lane in config.lanes}
    for name in result.empty:
        found.append(
            f'{where}: lane "{name}" (markers {markers.get(name)!r}) selects no test; '
            "fix its markers, or set allow_empty = true on it"
        )
    return found


def _where(config: Config) -> str:
    if config.path is None:
        return "tool.ci-toolkit.lanes"
    try:
        label = str(config.path.relative_to(Path.cwd()))
    except ValueError:
        label = str(config.path)
    return f"{label}: tool.ci-toolkit.lanes"


def _tests(n: int) -> str:
    return f"{n} test{'s' if n != 1 else ''}"


def _cap(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LIST_LIMIT])
    more = len(items) - LIST_LIMIT
    return f"{shown} and {more} more" if more > 0 else shown
