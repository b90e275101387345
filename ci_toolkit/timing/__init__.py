"""Timing history: smoothed per-test durations that planning and scheduling estimate from.

The package's public names, so that callers can `from ci_toolkit import timing as timings`: the model,
EWMA and merge (`smoothing`), the history file (`store`), observations from a run, JUnit XML or a
durations file (`observe`), what a session pays besides its tests (`sessions`), estimates (`estimate`), and
the modes durations are measured in (`modes`).
"""

from __future__ import annotations

from ci_toolkit.timing.estimate import DEFAULT, DEFAULT_CALL, LABELS, SOURCES, Estimator, file_of, in_mode
from ci_toolkit.timing.modes import UNKNOWN, describe, lane_mode, lane_modes, local_mode, mode
from ci_toolkit.timing.observe import (
    observations_from_durations,
    observations_from_file,
    observations_from_junit,
    observations_from_results,
)
from ci_toolkit.timing.reading import warn
from ci_toolkit.timing.sessions import session_cost
from ci_toolkit.timing.smoothing import (
    MAX_SECONDS,
    History,
    Observation,
    SessionCost,
    SessionTiming,
    TestTiming,
    empty,
    entries,
    merge,
    update,
)
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
    "LABELS",
    "MAX_SECONDS",
    "REPORTED_ENV",
    "SOURCES",
    "TOOL",
    "UNKNOWN",
    "Estimator",
    "History",
    "Located",
    "Observation",
    "SessionCost",
    "SessionTiming",
    "TestTiming",
    "beside",
    "describe",
    "empty",
    "entries",
    "file_of",
    "in_mode",
    "lane_mode",
    "lane_modes",
    "load",
    "local_mode",
    "locate",
    "merge",
    "mode",
    "observations_from_durations",
    "observations_from_file",
    "observations_from_junit",
    "observations_from_results",
    "project_name",
    "read",
    "read_own",
    "save",
    "session_cost",
    "tell",
    "to_json",
    "update",
    "warn",
]
