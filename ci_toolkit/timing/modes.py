"""The mode a duration was measured in (coverage off, line or branch; with xdist workers or not), and the
ratio that converts durations between two modes, learned from the tests measured in both. Pure.

A mode is a short string so that a history stays small and diffable: "branch", "line+xdist", "off".
"" is unknown: an entry of a version-1 history or an import from JUnit or pytest-split durations.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_toolkit.config import Config, Lane

COVERAGE_MODES = ("off", "line", "branch")
UNKNOWN = ""
_XDIST = "+xdist"
# pytest arguments that leave a lane without coverage, whatever --cov it has (pytest-cov off or not loaded).
_NO_COVERAGE = frozenset({"--no-cov", "-pno:cov", "-pno:pytest_cov", "no:cov", "no:pytest_cov"})
# Fewer tests measured in both modes than this, and one odd test could set the ratio for the whole suite.
MIN_OVERLAP = 5


def mode(coverage: str, workers: int) -> str:
    """The mode of a run: coverage "off", "line" or "branch", under xdist when `workers` > 0."""
    if coverage not in COVERAGE_MODES:
        raise ValueError(f"coverage mode must be one of {', '.join(COVERAGE_MODES)}, not {coverage!r}")
    return coverage + (_XDIST if workers > 0 else "")


def local_mode(config: Config, workers: int = 0) -> str:
    """The mode `ci-toolkit local` measures a lane of `workers` xdist workers in: always under coverage,
    of branches when the configuration says so."""
    return mode("branch" if config.coverage.branch else "line", workers)


def lane_mode(config: Config, lane: Lane, workers: int = 0, extra_args: Sequence[str] = ()) -> str:
    """The mode `ci-toolkit local` runs `lane` in (`local_mode`), as its pytest arguments (the project's,
    the lane's, then `extra_args`, the command line's) leave it: "off" after a `--no-cov` or `-p no:cov`,
    branch coverage after a `--cov-branch`."""
    args = (*config.pytest_args, *lane.pytest_args, *extra_args)
    if any(arg in _NO_COVERAGE for arg in args):
        return mode("off", workers)
    if "--cov-branch" in args:
        return mode("branch", workers)
    return local_mode(config, workers)


def lane_modes(config: Config, workers: Mapping[str, int], extra_args: Sequence[str] = ()) -> dict[str, str]:
    """Each configured lane's mode (`lane_mode`), `workers`: each lane's xdist workers."""
    return {
        lane.name: lane_mode(config, lane, workers.get(lane.name, 0), extra_args) for lane in config.lanes
    }


def is_mode(text: object) -> bool:
    if not isinstance(text, str):
        return False
    coverage = text.removesuffix(_XDIST)
    return text == UNKNOWN or coverage in COVERAGE_MODES


def describe(key: str) -> str:
    """For people: "coverage branch, xdist", "no coverage", "unknown mode"."""
    if key == UNKNOWN:
        return "unknown mode"
    coverage = key.removesuffix(_XDIST)
    text = "no coverage" if coverage == "off" else f"coverage {coverage}"
    return text + (", xdist" if key.endswith(_XDIST) else "")


def ratio(
    durations: Iterable[Mapping[str, float]], source: str, target: str, minimum: int = MIN_OVERLAP
) -> float | None:
    """How much longer a test takes in `target` than in `source`: the median of the per-test ratios over
    the tests measured in both (each item: one test's {mode: seconds}); None with fewer than `minimum`
    such tests. Tests of 0 s in `source` say nothing about a ratio and are left out."""
    ratios = [
        seconds[target] / seconds[source]
        for seconds in durations
        if source in seconds and target in seconds and seconds[source] > 0
    ]
    return statistics.median(ratios) if len(ratios) >= max(1, minimum) else None
