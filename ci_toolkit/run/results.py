"""Test outcomes of one lane, as recorded by our pytest plugin: the results file's writer and reader.

A results file (version 2) holds one entry per test with its worst outcome, the counts pytest's own
terminal summary shows (one per report, so a passing test whose teardown fails counts as one passed and
one error, exactly as pytest says), and what the session as a whole did: its exit status, internal errors,
why it stopped early, and whether it ran tests at all (`--collect-only`). From that, ci-toolkit decides
whether a lane is green on its own evidence rather than on pytest's exit code alone: a test that was
selected but never reported, or an INTERNALERROR that pytest(-xdist) logged and then exited 0 after, fails
the lane.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError

RESULTS_VERSION = 2
# "notrun": selected, never reported, and the session had stopped early (-x, --maxfail, pytest.exit()).
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed", "notrun")

# pytest's exit codes (pytest.ExitCode), as the summary explains them.
PYTEST_EXIT_MEANINGS = {
    0: "all tests passed",
    1: "tests failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}


def exit_meaning(code: int) -> str:
    if code in PYTEST_EXIT_MEANINGS:
        return PYTEST_EXIT_MEANINGS[code]
    if code < 0:  # subprocess's way of saying the process died of signal -code
        return f"killed by signal {-code}"
    return "not one of pytest's exit codes"


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class, whatever its name says
    nodeid: str
    outcome: str  # one of OUTCOMES
    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    message: str = ""  # first line of the failure, for the summary

    @property
    def duration(self) -> float:
        return self.setup + self.call + self.teardown


@dataclass(frozen=True)
class Session:
    """What the lane's pytest session did as a whole."""

    run_id: str = ""  # the ci-toolkit run that started it (--ci-toolkit-run)
    exitstatus: int | None = None  # as pytest_sessionfinish saw it; None: the session never finished
    internal_errors: tuple[str, ...] = ()  # first line of each INTERNALERROR pytest (or a worker) logged
    stopped: str = ""  # why the session stopped before running every test ("" when it did not)
    ran_tests: bool = True  # False under --collect-only / --setup-only / --setup-plan
    selected: int = 0  # tests left after deselection


@dataclass(frozen=True)
class Results:
    tests: tuple[TestOutcome, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)  # pytest's terminal categories
    session: Session = field(default_factory=Session)


@dataclass(frozen=True)
class LaneResult:
    name: str
    exit_code: int  # pytest's own exit code for the lane (5: nothing collected)
    wall_time: float  # seconds, as seen from outside the pytest process
    outcomes: tuple[TestOutcome, ...] = ()
    junit_path: str | None = None
    skipped_reason: str | None = None  # set when the lane did not run at all
    # Counts as pytest's terminal summary gives them, plus our "error"s for tests that never reported.
    # None: not recorded (no results file); counted from `outcomes` then.
    counts: Mapping[str, int] | None = None
    # Why the lane is not green although no single test says so: pytest's exit code and its meaning,
    # an INTERNALERROR, tests that never reported, a missing results file. Shown in the summary.
    problems: tuple[str, ...] = ()
    ran_tests: bool = True  # False: pytest only collected (--collect-only) or planned (--setup-plan)

    def count(self, outcome: str) -> int:
        if self.counts is not None:
            return int(self.counts.get(outcome, 0))
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def failed(self) -> tuple[TestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome in ("failed", "error"))

    @property
    def not_run(self) -> tuple[TestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome == "notrun")

    @property
    def ok(self) -> bool:
        if self.skipped_reason is not None:
            return True
        return self.exit_code == 0 and not self.failed and not self.not_run and not self.problems


def dump_results(results: Results) -> str:
    """The results file our pytest plugin writes."""
    tests = [
        {
            "nodeid": o.nodeid,
            "outcome": o.outcome,
            "setup": o.setup,
            "call": o.call,
            "teardown": o.teardown,
            "message": o.message,
        }
        for o in results.tests
    ]
    s = results.session
    doc = {
        "version": RESULTS_VERSION,
        "tests": tests,
        "counts": dict(results.counts),
        "session": {
            "run": s.run_id,
            "exitstatus": s.exitstatus,
            "internal_errors": list(s.internal_errors),
            "stopped": s.stopped,
            "ran_tests": s.ran_tests,
            "selected": s.selected,
        },
    }
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def load_outcomes(path: Path) -> tuple[TestOutcome, ...]:
    return load_results(path).tests


def load_results(path: Path) -> Results:
    """Read a results file; anything missing, unreadable or malformed is a DataError naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no test results file (did pytest crash?)") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"{path}: unreadable test results file: {exc}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("version") != RESULTS_VERSION
        or not isinstance(doc.get("tests"), list)
        or not isinstance(doc.get("counts"), dict)
        or not isinstance(doc.get("session"), dict)
    ):
        raise DataError(f"{path}: not a version {RESULTS_VERSION} ci-toolkit results file")
    try:
        tests = tuple(_outcome(entry) for entry in doc["tests"])
        counts = {str(k): _count(v) for k, v in doc["counts"].items()}
        session = _session(doc["session"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed entry in results file: {exc}") from None
    return Results(tests, counts, session)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"count {value!r} is not a whole number >= 0")
    return value


def _seconds(value: Any) -> float:
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration {value!r} is not a finite number >= 0")
    return seconds


def _session(entry: Mapping[str, Any]) -> Session:
    status = entry.get("exitstatus")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise ValueError(f"exitstatus {status!r}")
    errors = entry.get("internal_errors", [])
    if not isinstance(errors, list):
        raise ValueError("internal_errors is not a list")
    return Session(
        run_id=str(entry.get("run") or ""),
        exitstatus=status,
        internal_errors=tuple(str(e) for e in errors),
        stopped=str(entry.get("stopped") or ""),
        ran_tests=bool(entry.get("ran_tests", True)),
        selected=_count(entry.get("selected", 0)),
    )


def _outcome(entry: dict[str, Any]) -> TestOutcome:
    outcome = entry["outcome"]
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    return TestOutcome(
        nodeid=str(entry["nodeid"]),
        outcome=outcome,
        setup=_seconds(entry.get("setup", 0.0)),
        call=_seconds(entry.get("call", 0.0)),
        teardown=_seconds(entry.get("teardown", 0.0)),
        message=str(entry.get("message", "")),
    )
