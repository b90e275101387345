"""The machine-readable summary (summary.json). Pure `to_dict`, plus `write` at the edge.

Schema, version 1 (fields are only ever added within a version; removing or changing one bumps it)::

    {
      "schema_version": 1,
      "passed": bool,                       # every lane ok and the coverage gate (if it ran) passed
      "tests": {"passed": int, "failed": int, "skipped": int},
                                            # as the terminal's last line: errors count as failed,
                                            # xfailed as skipped, xpassed as passed
      "lanes": [
        {
          "name": str,
          "ok": bool,
          "exit_code": int,                 # pytest's exit code for the lane
          "wall_time": float,               # seconds
          "skipped_reason": str | null,     # set when the lane did not run at all
          "junit_path": str | null,
          "counts": {"passed", "failed", "skipped", "error", "xfailed", "xpassed": int},
                                            # as pytest's own summary counts them (one per report: a
                                            # passing test whose teardown fails is a pass and an error)
          "failed": [{"nodeid": str, "outcome": "failed" | "error", "message": str}],
                                            # "error" too for a test that never reported its result
          "not_run": [str],                 # selected tests never run: the session stopped early
          "problems": [str]                 # why the lane is not ok beyond its tests: exit code,
                                            # INTERNALERROR, results missing
        }
      ],
      "coverage": null | {                  # null when coverage was not measured
        "passed": bool,
        "total": {"covered": int, "total": int, "percent": float},
        "checks": [
          {
            "kind": "data" | "total" | "file" | "group" | "critical" | "pattern",
            "subject": str,                 # file path, pattern, "total" or "data"
            "minimum": float | null,
            "covered": int | null, "total": int | null,
            "percent": float | null,        # full precision; decisions were made on the integers
            "passed": bool,
            "missing_lines": str,           # "12-14, 20" (file and critical checks, else "")
            "missing_branches": str,        # "20->22, 31->exit"
            "pattern": str,                 # the pattern that set the floor
            "origin": str,                  # "paths" | "groups" | "critical" | ""
            "detail": str
          }
        ]
      },
      "exit_code": int,                     # from `ci-toolkit local` and `gate` (extra)
      "services": [                         # services `local` started (extra; empty for `gate`)
        {"name": str, "backend": str, "seconds": float, "reused": bool, "detail": str}
      ],                                    # seconds: from start to ready, partly overlapping other work
      "services_waited": float,             # seconds the run stood still waiting for them (local only)
      ...                                   # keys from `extra`, at the top level
    }
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.files import atomic
from ci_toolkit.gate.measured import Measure
from ci_toolkit.gate.verdict import Check, Verdict
from ci_toolkit.report import overall_passed, total_counts
from ci_toolkit.run.results import LaneResult

SCHEMA_VERSION = 1
_OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")


def to_dict(
    lanes: Sequence[LaneResult],
    verdict: Verdict | None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary as plain JSON-ready data. *extra* keys go to the top level but may not replace ours."""
    counts = total_counts(lanes)
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "passed": overall_passed(lanes, verdict),
        "tests": {"passed": counts.passed, "failed": counts.failed, "skipped": counts.skipped},
        "lanes": [_lane(lane) for lane in lanes],
        "coverage": None if verdict is None else _coverage(verdict),
    }
    for key, value in (extra or {}).items():
        if key in data:
            raise ValueError(f"extra key {key!r} would replace a summary field")
        data[key] = value
    return data


def _lane(lane: LaneResult) -> dict[str, Any]:
    return {
        "name": lane.name,
        "ok": lane.ok,
        "exit_code": lane.exit_code,
        "wall_time": lane.wall_time,
        "skipped_reason": lane.skipped_reason,
        "junit_path": lane.junit_path,
        "counts": {outcome: lane.count(outcome) for outcome in _OUTCOMES},
        "failed": [{"nodeid": o.nodeid, "outcome": o.outcome, "message": o.message} for o in lane.failed],
        "not_run": [o.nodeid for o in lane.not_run],
        "problems": list(lane.problems),
    }


def _measure(m: Measure) -> dict[str, Any]:
    return {"covered": m.covered, "total": m.total, "percent": m.percent}


def _check(c: Check) -> dict[str, Any]:
    m = c.measure
    return {
        "kind": c.kind,
        "subject": c.subject,
        "minimum": c.minimum,
        "covered": m.covered if m is not None else None,
        "total": m.total if m is not None else None,
        "percent": m.percent if m is not None else None,
        "passed": c.passed,
        "missing_lines": c.missing_lines,
        "missing_branches": c.missing_branches,
        "pattern": c.pattern,
        "origin": c.origin,
        "detail": c.detail,
    }


def _coverage(verdict: Verdict) -> dict[str, Any]:
    return {
        "passed": verdict.passed,
        "total": _measure(verdict.total),
        "checks": [_check(c) for c in verdict.checks],
    }


def write(path: Path, data: Mapping[str, Any]) -> None:
    """Write *data* as indented JSON, atomically (a reader never sees half a summary). A regular file is
    replaced only when it is ours (ci_toolkit.outputs: checked before the run, and again now); a device
    or FIFO is written directly. A failure is one line (DataError), never a traceback."""
    from ci_toolkit.files import outputs

    path = Path(path)
    try:
        target, through_proc = atomic.resolve(path)
        problem = None if through_proc or not target.is_file() else outputs.replace_problem(target)
        if problem is not None:
            raise DataError(f"--json {path}: {problem}")
        atomic.write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"--json {path}: cannot write the JSON summary: {exc.strerror or exc}") from None
