"""Test outcomes of one lane, as recorded by our pytest plugin."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestOutcome:
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
