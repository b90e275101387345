"""The timing history model: smoothed per-test durations, one more run folded in (EWMA), histories merged.

Pure: no I/O. Every duration from outside must be a number of seconds 0-MAX_SECONDS (`is_seconds`), which
keeps NaN and Infinity out of every file and every sum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ci_toolkit.config import Config

# The longest duration taken for a measurement (11.6 days): anything longer, like NaN, Infinity or a
# negative number, is a damaged or hostile input. It also keeps every sum a plan or report makes finite.
MAX_SECONDS = 1_000_000.0


@dataclass(frozen=True)
class TestTiming:
    """Smoothed seconds per phase of one test."""

    __test__ = False  # not a pytest test class, whatever its name says
    setup: float
    call: float
    teardown: float
    runs: int = 1  # how many runs contributed
    last_seen: int = 0  # History.run when last observed
    lane: str = ""  # the lane it last ran in ("" unknown)

    @property
    def duration(self) -> float:
        return self.setup + self.call + self.teardown


@dataclass(frozen=True)
class History:
    project: str  # pyproject [project].name, else the root directory's name
    run: int = 0  # runs merged so far (monotonic)
    tests: Mapping[str, TestTiming] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """One run's measured seconds for one test."""

    setup: float
    call: float
    teardown: float
    lane: str = ""


def empty(project: str) -> History:
    return History(project=project, run=0, tests={})


def is_seconds(value: Any) -> bool:
    """A duration worth keeping: a number, neither NaN nor negative nor absurdly long (see MAX_SECONDS)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_SECONDS


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def update(
    history: History,
    observed: Mapping[str, Observation],
    *,
    alpha: float = Config.timings_alpha,
    prune_after: int = Config.timings_prune_after,
) -> History:
    """One more run: EWMA per phase, so recent runs count most and one slow outlier fades.

    *alpha* and *prune_after* are the configuration's `timings_alpha` and `timings_prune_after`.
    """
    run = history.run + 1
    tests = dict(history.tests)
    for nodeid, obs in observed.items():
        old = tests.get(nodeid)
        if old is None:
            tests[nodeid] = TestTiming(obs.setup, obs.call, obs.teardown, 1, run, obs.lane)
        else:
            tests[nodeid] = TestTiming(
                _ewma(alpha, obs.setup, old.setup),
                _ewma(alpha, obs.call, old.call),
                _ewma(alpha, obs.teardown, old.teardown),
                old.runs + 1,
                run,
                obs.lane or old.lane,
            )
    kept = {nodeid: t for nodeid, t in tests.items() if run - t.last_seen <= prune_after}
    return History(project=history.project, run=run, tests=dict(sorted(kept.items())))


def _ewma(alpha: float, new: float, old: float) -> float:
    return alpha * new + (1 - alpha) * old


def merge(histories: Sequence[History]) -> History:
    """Several shards' or runs' histories of one project as one: the freshest entry of each test wins.

    Shards of one CI run share a run number, so ties are the normal case for tests that ran in two
    shards (e.g. both lanes); they are averaged.
    """
    if not histories:
        raise ValueError("merge() needs at least one history")
    project = histories[0].project
    by_test: dict[str, list[TestTiming]] = {}
    for history in histories:
        for nodeid, timing in history.tests.items():
            by_test.setdefault(nodeid, []).append(timing)
    tests: dict[str, TestTiming] = {}
    for nodeid, entries in sorted(by_test.items()):
        newest = max(t.last_seen for t in entries)
        best = [t for t in entries if t.last_seen == newest]
        if len(best) == 1:
            tests[nodeid] = best[0]
        else:
            lane = next((t.lane for t in best if t.lane), "")
            tests[nodeid] = replace(mean(best), runs=max(t.runs for t in best), last_seen=newest, lane=lane)
    return History(project=project, run=max(h.run for h in histories), tests=tests)


def mean(group: Sequence[TestTiming]) -> TestTiming:
    """The phase-wise mean of *group*, as an estimate: of no run, never seen, in no lane."""
    n = len(group)
    return TestTiming(
        sum(t.setup for t in group) / n,
        sum(t.call for t in group) / n,
        sum(t.teardown for t in group) / n,
        runs=0,
        last_seen=0,
    )
