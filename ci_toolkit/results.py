"""Test outcomes of one lane, as recorded by our pytest plugin."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class, whatever its name says
    nodeid: str
    outcome: str  # "passed" | "failed" | "skipped" | "error" | "xfailed" | "xpassed"
    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    message: str = ""  # first line of the failure, for the summary

    @property
    def duration(self) -> float:
        return self.setup + self.call + self.teardown


@dataclass(frozen=True)
class LaneResult:
    name: str
    exit_code: int  # pytest's own exit code for the lane (5: nothing collected)
    wall_time: float  # seconds, as seen from outside the pytest process
    outcomes: tuple[TestOutcome, ...] = ()
    junit_path: str | None = None
    skipped_reason: str | None = None  # set when the lane did not run at all

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def failed(self) -> tuple[TestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome in ("failed", "error"))

    @property
    def ok(self) -> bool:
        return self.skipped_reason is not None or (self.exit_code == 0 and not self.failed)


RESULTS_VERSION = 1
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")


def dump_outcomes(outcomes: Iterable[TestOutcome]) -> str:
    """The results file our pytest plugin writes: {"version": 1, "tests": [...]}."""
    tests = [
        {
            "nodeid": o.nodeid,
            "outcome": o.outcome,
            "setup": o.setup,
            "call": o.call,
            "teardown": o.teardown,
            "message": o.message,
        }
        for o in outcomes
    ]
    return json.dumps({"version": RESULTS_VERSION, "tests": tests}, indent=1) + "\n"


def load_outcomes(path: Path) -> tuple[TestOutcome, ...]:
    """Read a results file; anything missing, unreadable or malformed is a DataError naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no test results file (did pytest crash?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable test results file: {exc}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("version") != RESULTS_VERSION
        or not isinstance(doc.get("tests"), list)
    ):
        raise DataError(f"{path}: not a version {RESULTS_VERSION} ci-toolkit results file")
    try:
        return tuple(_outcome(entry) for entry in doc["tests"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed test entry in results file: {exc}") from None


def _outcome(entry: dict[str, Any]) -> TestOutcome:
    outcome = entry["outcome"]
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    return TestOutcome(
        nodeid=str(entry["nodeid"]),
        outcome=outcome,
        setup=float(entry.get("setup", 0.0)),
        call=float(entry.get("call", 0.0)),
        teardown=float(entry.get("teardown", 0.0)),
        message=str(entry.get("message", "")),
    )
