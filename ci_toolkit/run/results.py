"""A lane's result, judged on pytest's exit code and on what our plugin recorded, never on the exit code
alone: pytest(-xdist) can exit 0 after an INTERNALERROR, or with selected tests that never ran. A test
that was selected but never reported, an INTERNALERROR that pytest logged and then exited 0 after, or a
results file of another run fails the lane.

The results file itself (its writer and reader) is ci_toolkit.run.exchange.results; its outcomes are
re-exported here for the modules that read a lane's tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import DataError, PytestExit
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.run.exchange.results import OUTCOMES, Results, Session, TestOutcome

if TYPE_CHECKING:
    from ci_toolkit.config import Lane
    from ci_toolkit.run.layout import RunPaths

__all__ = ["OUTCOMES", "LaneResult", "Results", "Session", "TestOutcome", "exit_meaning", "lane_result"]

# pytest's exit codes, as the summary explains them.
PYTEST_EXIT_MEANINGS = {
    PytestExit.OK: "all tests passed",
    PytestExit.TESTS_FAILED: "tests failed",
    PytestExit.INTERRUPTED: "interrupted",
    PytestExit.INTERNAL_ERROR: "internal error",
    PytestExit.USAGE_ERROR: "usage error",
    PytestExit.NO_TESTS_COLLECTED: "no tests collected",
}
_FAILING = ("failed", "error")


def exit_meaning(code: int) -> str:
    if code in PYTEST_EXIT_MEANINGS:
        return PYTEST_EXIT_MEANINGS[PytestExit(code)]
    if code < 0:  # subprocess's way of saying the process died of signal -code
        return f"killed by signal {-code}"
    return "not one of pytest's exit codes"


def load_outcomes(path: Path) -> tuple[TestOutcome, ...]:
    """The tests of a results file; a DataError naming it when it cannot be read."""
    return results_file.read(path).tests


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
    session: Session | None = None  # what the results file says of the session (None: no results file)

    def count(self, outcome: str) -> int:
        if self.counts is not None:
            return int(self.counts.get(outcome, 0))
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def failed(self) -> tuple[TestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome in _FAILING)

    @property
    def not_run(self) -> tuple[TestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome == "notrun")

    @property
    def ok(self) -> bool:
        if self.skipped_reason is not None:
            return True
        return self.exit_code == PytestExit.OK and not self.failed and not self.not_run and not self.problems


def lane_result(lane: Lane, paths: RunPaths, code: int, wall_time: float, run_id: str = "") -> LaneResult:
    """The finished lane, from its pytest's exit `code` and the results file it left."""
    problems: list[str] = []
    pytest_code = code
    green = (PytestExit.OK, PytestExit.NO_TESTS_COLLECTED)  # what pytest claims without results is no pass
    path = paths.results_file(lane.name)
    try:
        recorded: Results | None = results_file.read(path)
    except DataError as exc:
        recorded = None
        if code in green:
            problems.append(f"pytest exited with {code} but left no results ({exc})")
            code = PytestExit.INTERNAL_ERROR
    if recorded is not None and recorded.session.run_id != run_id:
        # Written by a pytest of another run (one that outlived its ci-toolkit): never this lane's result.
        problems.append(f"{path}: written by another ci-toolkit run")
        recorded, code = None, PytestExit.INTERNAL_ERROR
    session = recorded.session if recorded is not None else None
    if session is not None and session.internal_errors:
        more = len(session.internal_errors) - 1
        also = f" (and {more} more)" if more else ""
        problems.append(f"INTERNALERROR: {session.internal_errors[0]}{also}")
        if code in green:
            code = PytestExit.INTERNAL_ERROR  # pytest's own code for an internal error, which it did not give
    outcomes = () if recorded is None else recorded.tests
    ran_tests = session is None or session.ran_tests
    empty_ok = code == PytestExit.NO_TESTS_COLLECTED and lane.allow_empty and ran_tests and not problems
    if not ran_tests and code in green:
        problems.append("pytest ran no test (--collect-only, --setup-only or --setup-plan)")
        code = PytestExit.NO_TESTS_COLLECTED
    elif (
        code == pytest_code
        and code != PytestExit.OK
        and not empty_ok
        and not _failing_explains(code, outcomes)
    ):
        # Every exit code that no failing test accounts for is named, with what pytest means by it.
        problems.insert(0, f"pytest exit code {code}: {exit_meaning(code)}")
    junit = paths.junit_file(lane.name)
    return LaneResult(
        name=lane.name,
        exit_code=int(code),
        wall_time=wall_time,
        outcomes=outcomes,
        junit_path=str(junit) if junit.is_file() else None,
        skipped_reason="no tests selected" if empty_ok else None,
        counts=None if recorded is None else recorded.counts,
        problems=tuple(problems),
        ran_tests=ran_tests,
        session=session,
    )


def _failing_explains(code: int, outcomes: Sequence[TestOutcome]) -> bool:
    return code == PytestExit.TESTS_FAILED and any(o.outcome in _FAILING for o in outcomes)
