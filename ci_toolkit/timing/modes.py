"""The mode a duration was measured in (coverage off, line or branch; with xdist workers or not), and the
ratio that converts durations between two modes, learned from the tests measured in both. Pure.

A mode is a short string so that a history stays small and diffable: "branch", "line+xdist", "off".
"" is unknown: an entry of a version-1 history or an import from JUnit or pytest-split durations.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_toolkit.config import Config

COVERAGE_MODES = ("off", "line", "branch")
UNKNOWN = ""
_XDIST = "+xdist"
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
