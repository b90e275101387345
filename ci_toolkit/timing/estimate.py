"""Estimates: seconds for any test, from its history, else from the nearest group of known tests it
belongs to (its file, a directory above it, its lane, the whole suite), else a default. Pure.

Asked for a mode (ci_toolkit.timing.modes), a test's history in that mode is used as it is; one measured
only in another mode is converted by the ratio learned from the tests measured in both, or, when too few
were, used unconverted and said to be so by its source.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from ci_toolkit.timing.modes import MIN_OVERLAP, UNKNOWN, ratio
from ci_toolkit.timing.smoothing import History, TestTiming, entries, mean

DEFAULT_CALL = 1.0  # seconds assumed for a test when nothing at all is known
DEFAULT = TestTiming(0.0, DEFAULT_CALL, 0.0, runs=0, last_seen=0)
SOURCES = ("history", "converted", "unconverted", "file", "directory", "lane", "global", "default")
# How `timings show` names the sources that are not self-explanatory.
LABELS = {"converted": "other mode, converted", "unconverted": "other mode, unconverted"}


class Estimator:
    """Seconds for any node id: its history, else the nearest group of known tests that it belongs to.

    Called for every collected test (thousands), so group means are computed once up front.
    """

    def __init__(
        self,
        history: History,
        lanes: Mapping[str, str] | None = None,
        *,
        mode: str | None = None,
        min_overlap: int = MIN_OVERLAP,
    ) -> None:
        """`mode` None takes each test's most recent entry, whatever its mode (what a history written
        by `ci-toolkit local` alone holds); a mode uses, converts or flags each test's entries (`in_mode`).
        """
        chosen = in_mode(history, mode, min_overlap) if mode is not None else {}
        self._from = {nodeid: source for nodeid, (_, source) in chosen.items()}
        self._known = {nodeid: timing for nodeid, (timing, _) in chosen.items()} or dict(history.tests)
        # Groups of another mode's unconverted times would pass them off as estimates of this one.
        usable = {nodeid: t for nodeid, t in self._known.items() if self._from.get(nodeid) != "unconverted"}
        self._lanes = dict(lanes or {})
        files: dict[str, list[TestTiming]] = {}
        dirs: dict[str, list[TestTiming]] = {}
        by_lane: dict[str, list[TestTiming]] = {}
        for nodeid, timing in (usable or self._known).items():
            path = file_of(nodeid)
            files.setdefault(path, []).append(timing)
            for parent in _parents(path):
                dirs.setdefault(parent, []).append(timing)
            lane = self._lanes.get(nodeid) or timing.lane
            if lane:
                by_lane.setdefault(lane, []).append(timing)
        self._files = {key: mean(group) for key, group in files.items()}
        self._dirs = {key: mean(group) for key, group in dirs.items()}
        self._by_lane = {key: mean(group) for key, group in by_lane.items()}
        self._global = _median(list((usable or self._known).values())) if self._known else None
        self._cache: dict[str, tuple[TestTiming, str]] = {}

    def __call__(self, nodeid: str) -> TestTiming:
        return self._lookup(nodeid)[0]

    def source(self, nodeid: str) -> str:
        """Where the estimate comes from: one of SOURCES."""
        return self._lookup(nodeid)[1]

    def _lookup(self, nodeid: str) -> tuple[TestTiming, str]:
        found = self._cache.get(nodeid)
        if found is None:
            found = self._cache[nodeid] = self._estimate(nodeid)
        return found

    def _estimate(self, nodeid: str) -> tuple[TestTiming, str]:
        known = self._known.get(nodeid)
        if known is not None:
            return known, self._from.get(nodeid, "history")
        path = file_of(nodeid)
        if path in self._files:
            return self._files[path], "file"
        for parent in _parents(path):
            if parent in self._dirs:
                return self._dirs[parent], "directory"
        lane = self._lanes.get(nodeid, "")
        if lane in self._by_lane:
            return self._by_lane[lane], "lane"
        if self._global is not None:
            return self._global, "global"
        return DEFAULT, "default"


def in_mode(history: History, mode: str, min_overlap: int = MIN_OVERLAP) -> dict[str, tuple[TestTiming, str]]:
    """Each test's seconds in `mode` and their source: "history" for an entry of that mode (or of an
    unknown one, taken as measured like the rest of the history), "converted" for the freshest entry of
    another mode times the learned ratio, "unconverted" when no other mode of the test has one."""
    by_test: dict[str, dict[str, TestTiming]] = {}
    for (nodeid, key), timing in entries(history).items():
        by_test.setdefault(nodeid, {})[key] = timing
    seconds = [{key: t.duration for key, t in timings.items()} for timings in by_test.values()]
    ratios: dict[str, float | None] = {}
    chosen: dict[str, tuple[TestTiming, str]] = {}
    for nodeid, timings in by_test.items():
        same = timings.get(mode) or timings.get(UNKNOWN)
        if same is not None:
            chosen[nodeid] = (same, "history")
            continue
        fresh = sorted(timings.values(), key=lambda t: (-t.last_seen, t.mode))
        for timing in fresh:
            if timing.mode not in ratios:
                ratios[timing.mode] = ratio(seconds, timing.mode, mode, min_overlap)
            factor = ratios[timing.mode]
            if factor is not None:
                chosen[nodeid] = (_scaled(timing, factor), "converted")
                break
        else:
            chosen[nodeid] = (fresh[0], "unconverted")
    return chosen


def _scaled(timing: TestTiming, factor: float) -> TestTiming:
    return replace(
        timing, setup=timing.setup * factor, call=timing.call * factor, teardown=timing.teardown * factor
    )


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@functools.lru_cache(maxsize=4096)
def _parents(path: str) -> tuple[str, ...]:
    """Nearest first, without the root: a mean over the whole project is what "global" is for. Cached:
    asked for every test, of a few hundred files."""
    return tuple(str(parent) for parent in PurePosixPath(path).parents if str(parent) != ".")


def _median(group: Sequence[TestTiming]) -> TestTiming:
    """The median duration, split into phases like the median test's, so setup-heavy suites stay so."""
    ordered = sorted(group, key=lambda t: (t.duration, t.setup, t.call))
    middle = ordered[(len(ordered) - 1) // 2]
    total = statistics.median(t.duration for t in ordered)
    if middle.duration <= 0:
        return TestTiming(0.0, total, 0.0, runs=0, last_seen=0)
    scale = total / middle.duration
    return TestTiming(middle.setup * scale, middle.call * scale, middle.teardown * scale, runs=0, last_seen=0)
