"""Timing history: smoothed per-test durations that planning and scheduling estimate from.

The package's public names, so that callers can `from ci_toolkit import timing as timings`: the model,
EWMA and merge (`smoothing`), the history file (`store`), observations from a run, JUnit XML or a
durations file (`observe`), what a session pays besides its tests (`sessions`), estimates (`estimate`), and
the modes durations are measured in (`modes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_toolkit.lazy import exports

if TYPE_CHECKING:
    from ci_toolkit.timing.estimate import DEFAULT, DEFAULT_CALL, LABELS, SOURCES, Estimator, file_of, in_mode
    from ci_toolkit.timing.modes import UNKNOWN, describe, lane_mode, lane_modes, local_mode, mode
    from ci_toolkit.timing.observe import (
        observations_from_durations,
        observations_from_file,
        observations_from_junit,
        observations_from_results,
    )
    from ci_toolkit.timing.reading import REPORTED_ENV, warn
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

# Each public name and the module that defines it, imported on first use (PEP 562): what needs one name
# (the run's environment, a pytest plugin reading the history) does not import every module of the package.
_HOMES = {
    "DEFAULT": "estimate",
    "DEFAULT_CALL": "estimate",
    "LABELS": "estimate",
    "SOURCES": "estimate",
    "Estimator": "estimate",
    "file_of": "estimate",
    "in_mode": "estimate",
    "UNKNOWN": "modes",
    "describe": "modes",
    "lane_mode": "modes",
    "lane_modes": "modes",
    "local_mode": "modes",
    "mode": "modes",
    "observations_from_durations": "observe",
    "observations_from_file": "observe",
    "observations_from_junit": "observe",
    "observations_from_results": "observe",
    "warn": "reading",
    "session_cost": "sessions",
    "MAX_SECONDS": "smoothing",
    "History": "smoothing",
    "Observation": "smoothing",
    "SessionCost": "smoothing",
    "SessionTiming": "smoothing",
    "TestTiming": "smoothing",
    "empty": "smoothing",
    "entries": "smoothing",
    "merge": "smoothing",
    "update": "smoothing",
    "HISTORY_VERSION": "store",
    "REPORTED_ENV": "reading",
    "TOOL": "store",
    "Located": "store",
    "beside": "store",
    "load": "store",
    "locate": "store",
    "project_name": "store",
    "read": "store",
    "read_own": "store",
    "save": "store",
    "tell": "store",
    "to_json": "store",
}


__getattr__ = exports(__name__, _HOMES, globals())


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
