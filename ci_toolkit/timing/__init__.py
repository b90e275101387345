"""Timing history: smoothed per-test durations that planning and scheduling estimate from.

The package's public names, so that callers can `from ci_toolkit import timing as timings`: the model,
EWMA and merge (`smoothing`), the history file (`store`), observations from a run, JUnit XML or a
durations file (`observe`), and estimates (`estimate`).
"""

from __future__ import annotations

from ci_toolkit.timing.estimate import DEFAULT, DEFAULT_CALL, SOURCES, Estimator, file_of
from ci_toolkit.timing.observe import (
    observations_from_durations,
    observations_from_file,
    observations_from_junit,
    observations_from_results,
)
from ci_toolkit.timing.reading import warn
from ci_toolkit.timing.smoothing import MAX_SECONDS, History, Observation, TestTiming, empty, merge, update
from ci_toolkit.timing.store import (
    HISTORY_VERSION,
    REPORTED_ENV,
    TOOL,
    Located,
    beside,
    load,
    locate,
    project_name,
    read,
    read_own,
    save,
    tell,
    to_json,
)

__all__ = [
    "DEFAULT",
    "DEFAULT_CALL",
    "HISTORY_VERSION",
    "MAX_SECONDS",
    "REPORTED_ENV",
    "SOURCES",
    "TOOL",
    "Estimator",
    "History",
    "Located",
    "Observation",
    "TestTiming",
    "beside",
    "empty",
    "file_of",
    "load",
    "locate",
    "merge",
    "observations_from_durations",
    "observations_from_file",
    "observations_from_junit",
    "observations_from_results",
    "project_name",
    "read",
    "read_own",
    "save",
    "tell",
    "to_json",
    "update",
    "warn",
]
