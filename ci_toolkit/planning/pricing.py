"""Prices from the timing history for the cost model: each test in the mode its lane runs in, and the overhead
every shard pays once. Pure.

A shard runs one pytest session per lane (one in all under plain `pytest --ci-shard`). Each session pays its
start-up and its session-scoped fixtures once, whatever tests it runs; the history learns both per mode
(ci_toolkit.timing.sessions). `shard_overhead = "auto"` sums them over the shard's sessions; a mode the
history has not measured takes the median of the modes it has, and with none at all, FALLBACK seconds a
session.
A configured number is used as it is.

`ci-toolkit plan` and `ci-toolkit local --shard` both price with `lane_pricing`, through the one call that
fills it from the configuration (ci_toolkit.run.runner.shard_pricing), so that what `plan` predicts is what
a shard runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ci_toolkit.planning.cost import shard_estimate
from ci_toolkit.timing.estimate import Estimator
from ci_toolkit.timing.smoothing import History, TestTiming

AUTO = "auto"
# Seconds a pytest session is taken to pay before its first test until the history has measured one: about
# what interpreter, plugins and collection take for a small project.
FALLBACK = 2.0
SOURCES = ("configured", "learned", "learned, other mode", "fallback")


@dataclass(frozen=True)
class Overhead:
    seconds: float
    source: str  # one of SOURCES
    sessions: int = 1  # the pytest sessions a shard runs, each paying it

    def describe(self) -> str:
        if self.source == "configured":
            return "shard_overhead"
        return f'shard_overhead "auto": {self.source}'


def shard_overhead(setting: float | str, history: History, modes: Sequence[str]) -> Overhead:
    """What each shard pays once: `setting` (the `shard_overhead` key) when a number; for "auto", the
    learned cost of one session of each of `modes` (one per session a shard runs)."""
    if setting != AUTO:
        return Overhead(float(setting), "configured", len(modes))
    learned = {mode: t.total for mode, t in history.sessions.items()}
    if not learned:
        return Overhead(FALLBACK * len(modes), "fallback", len(modes))
    typical = statistics.median(learned.values())
    seconds = sum(learned.get(mode, typical) for mode in modes)
    exact = all(mode in learned for mode in modes)
    return Overhead(seconds, "learned" if exact else "learned, other mode", len(modes))


class LaneEstimator:
    """Each test's seconds in the mode of the lane it runs in (the first of its lanes), from an Estimator per
    mode; a test of no lane, from the history as it is (no mode)."""

    def __init__(self, history: History, lanes: Mapping[str, str], modes: Mapping[str, str]) -> None:
        self._lanes = dict(lanes)
        self._modes = dict(modes)
        self._by_mode = {mode: Estimator(history, lanes, mode=mode) for mode in sorted(set(modes.values()))}
        self._any = Estimator(history, lanes)

    def _of(self, nodeid: str) -> Estimator:
        mode = self._modes.get(self._lanes.get(nodeid, ""))
        return self._any if mode is None else self._by_mode[mode]

    def __call__(self, nodeid: str) -> TestTiming:
        return self._of(nodeid)(nodeid)

    def source(self, nodeid: str) -> str:
        return self._of(nodeid).source(nodeid)


@dataclass(frozen=True)
class Pricing:
    estimate: Callable[[str], TestTiming]  # a test's seconds for the shard that runs it (cost.shard_estimate)
    estimator: LaneEstimator  # each test's own seconds, and where they come from
    overhead: Overhead


def lane_pricing(
    history: History,
    assignment: Mapping[str, Sequence[str]],
    lane_shares: Mapping[str, float],
    modes: Mapping[str, str],
    setting: float | str,
    sessions: Sequence[str] | None = None,
) -> Pricing:
    """Prices for planning the tests of `assignment` ({nodeid: lane names}) in lanes of `lane_shares`
    (cost.shares), each measured in its mode of `modes` ({lane: mode}); `setting`: the `shard_overhead` key;
    `sessions`: one lane per pytest session a shard starts (lanes that share a session pay one start-up),
    every lane of `modes` when None."""
    estimator = LaneEstimator(history, {t: lanes[0] for t, lanes in assignment.items() if lanes}, modes)
    return Pricing(
        estimate=shard_estimate(estimator, assignment, lane_shares),
        estimator=estimator,
        overhead=shard_overhead(
            setting, history, [modes[lane] for lane in (modes if sessions is None else sessions)]
        ),
    )
