"""results/<lane>.json: the outcome of every test of a lane's pytest, and what its session did.

Written at session end by the plugin's ResultsRecorder (`--ci-toolkit-results`), read by ci-toolkit to
judge the lane (ci_toolkit.run.results), by `ci-toolkit split-report` and by the timing history.

A file (version 2) holds one entry per test with its worst outcome, the counts pytest's own terminal
summary shows (one per report, so a passing test whose teardown fails counts as one passed and one error,
exactly as pytest says), and what the session as a whole did: its exit status, internal errors, why it
stopped early, and whether it ran tests at all (`--collect-only`). A test pytest-rerunfailures ran again
carries how many reruns it took (`reruns`, absent when none: older readers ignore it). A failed or errored
test carries where it failed (`path`, the test file as in its node id, and `line`, 1-based), absent when
unknown or for any other outcome, so version 2 readers that predate them still read the file.

For the shard cost model (ci_toolkit.timing.sessions), also optional, so the version stays 2: the session's
`startup` (seconds from its process start to its first test, and `startup_from`, how that start was known); a
test's `first` ("session": the first test its process ran; "module": the first of its module there) and
`session_setup` (seconds of session-scoped fixtures set up in its setup phase, when measured).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.files.atomic import write_text
from ci_toolkit.run import exchange

VERSION = 2
OPTION = "--ci-toolkit-results"
WHAT = "ci-toolkit results file"
# "notrun": selected, never reported, and the session had stopped early (-x, --maxfail, pytest.exit()).
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed", "notrun")
FIRST = ("", "module", "session")  # a test's place in its process's run order ("session" implies "module")
# How a session's start-up was timed: from the process's start (Linux /proc), or from our plugin's import.
STARTUP_FROM = ("process", "plugin")


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class, whatever its name says
    nodeid: str
    outcome: str  # one of OUTCOMES
    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    message: str = ""  # first line of the failure, for the summary
    reruns: int = 0  # attempts pytest-rerunfailures made before the final one (flaky when it then passed)
    # Where a failed or errored test failed, for annotations: its file relative to the pytest rootdir (the
    # node id's file part, posix) and the 1-based line in that file (0: unknown). "" and 0 otherwise.
    path: str = ""
    line: int = 0
    first: str = ""  # one of FIRST
    session_setup: float = 0.0  # seconds of session-scoped fixtures in its setup (0: none, or not measured)

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
    startup: float | None = None  # seconds from process start to the first test (None: not recorded)
    startup_from: str = ""  # one of STARTUP_FROM when recorded


@dataclass(frozen=True)
class Results:
    tests: tuple[TestOutcome, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)  # pytest's terminal categories
    session: Session = field(default_factory=Session)


def dumps(results: Results) -> str:
    tests = [
        {
            "nodeid": o.nodeid,
            "outcome": o.outcome,
            "setup": o.setup,
            "call": o.call,
            "teardown": o.teardown,
            "message": o.message,
            **({"reruns": o.reruns} if o.reruns else {}),
            **({"path": o.path} if o.path else {}),
            **({"line": o.line} if o.line else {}),
            **({"first": o.first} if o.first else {}),
            **({"session_setup": o.session_setup} if o.session_setup else {}),
        }
        for o in results.tests
    ]
    s = results.session
    session = {
        "run": s.run_id,
        "exitstatus": s.exitstatus,
        "internal_errors": list(s.internal_errors),
        "stopped": s.stopped,
        "ran_tests": s.ran_tests,
        "selected": s.selected,
        **({"startup": s.startup, "startup_from": s.startup_from} if s.startup is not None else {}),
    }
    return exchange.dumps(
        {"version": VERSION, "tests": tests, "counts": dict(results.counts), "session": session}
    )


def write(path: Path, results: Results) -> None:
    write_text(path, dumps(results))


def read(path: Path) -> Results:
    """The file's results; anything missing, unreadable or malformed is a DataError naming the file."""
    try:
        doc = exchange.load(path, WHAT)
    except FileNotFoundError:
        raise DataError(f"{path}: no test results file (did pytest crash?)") from None
    doc = exchange.versioned(doc, path, WHAT, VERSION, tests=list, counts=dict, session=dict)
    try:
        tests = tuple(_outcome(entry) for entry in doc["tests"])
        counts = {str(k): _count(v) for k, v in doc["counts"].items()}
        session = _session(doc["session"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed entry in results file: {exc}") from None
    return Results(tests, counts, session)


def _count(value: Any, what: str = "count") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} {value!r} is not a whole number >= 0")
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
    startup = entry.get("startup")
    return Session(
        run_id=str(entry.get("run") or ""),
        exitstatus=status,
        internal_errors=tuple(str(e) for e in errors),
        stopped=str(entry.get("stopped") or ""),
        ran_tests=bool(entry.get("ran_tests", True)),
        selected=_count(entry.get("selected", 0)),
        startup=None if startup is None else _seconds(startup),
        startup_from=_choice(entry.get("startup_from", ""), ("", *STARTUP_FROM)),
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
        reruns=_count(entry.get("reruns", 0)),
        path=str(entry.get("path", "")),
        line=_count(entry.get("line", 0), "line"),
        first=_choice(entry.get("first", ""), FIRST),
        session_setup=_seconds(entry.get("session_setup", 0.0)),
    )


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(repr(a) for a in allowed if a)}")
    return str(value)
