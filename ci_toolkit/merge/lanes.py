"""Each lane's results across shards as one lane's: outcomes and counts added up, the session's exit
status the worst any shard's pytest gave, pure; and its JUnit files as one document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_toolkit.errors import DataError, PytestExit
from ci_toolkit.run.exchange.results import Results, Session
from ci_toolkit.run.results import LaneResult, exit_meaning

_GREEN = (PytestExit.OK, PytestExit.NO_TESTS_COLLECTED)


def exit_status(statuses: Sequence[int | None]) -> int:
    """One lane's pytest exit code from its shards': a session that never finished or a code other than
    pass/fail/empty wins, then a failure; empty only when every shard's was."""
    worst = [PytestExit.INTERNAL_ERROR if s is None else s for s in statuses if s not in (*_GREEN, 1)]
    if worst:
        return int(worst[0])
    if PytestExit.TESTS_FAILED in statuses:
        return int(PytestExit.TESTS_FAILED)
    if statuses and all(s == PytestExit.NO_TESTS_COLLECTED for s in statuses):
        return int(PytestExit.NO_TESTS_COLLECTED)
    return int(PytestExit.OK)


def merge_results(parts: Sequence[Results], run_id: str = "") -> Results:
    """One lane's shards' results as one results file would hold them had the lane run unsharded."""
    counts: dict[str, int] = {}
    for part in parts:
        for outcome, n in part.counts.items():
            counts[outcome] = counts.get(outcome, 0) + n
    sessions = [part.session for part in parts]
    session = Session(
        run_id=run_id,
        exitstatus=exit_status([s.exitstatus for s in sessions]),
        internal_errors=tuple(e for s in sessions for e in s.internal_errors),
        stopped=next((s.stopped for s in sessions if s.stopped), ""),
        ran_tests=any(s.ran_tests for s in sessions),
        selected=sum(s.selected for s in sessions),
    )
    return Results(tuple(t for part in parts for t in part.tests), dict(sorted(counts.items())), session)


def lane_result(name: str, merged: Results, wall_time: float, junit: Path | None) -> LaneResult:
    """The merged lane as the summary and the gate see a lane that ran here."""
    code = int(
        merged.session.exitstatus if merged.session.exitstatus is not None else PytestExit.INTERNAL_ERROR
    )
    problems: list[str] = []
    if merged.session.internal_errors:
        more = len(merged.session.internal_errors) - 1
        problems.append(
            f"INTERNALERROR: {merged.session.internal_errors[0]}{f' (and {more} more)' if more else ''}"
        )
    explained = code == PytestExit.TESTS_FAILED and any(
        t.outcome in ("failed", "error") for t in merged.tests
    )
    if code not in _GREEN and not explained:
        problems.insert(0, f"pytest exit code {code}: {exit_meaning(code)} (in one shard or more)")
    return LaneResult(
        name=name,
        exit_code=code,
        wall_time=wall_time,
        outcomes=merged.tests,
        junit_path=None if junit is None else str(junit),
        counts=merged.counts,
        problems=tuple(problems),
        ran_tests=merged.session.ran_tests,
    )


def skipped_lane(name: str) -> LaneResult:
    return LaneResult(
        name=name, exit_code=int(PytestExit.OK), wall_time=0.0, skipped_reason="no tests in any shard"
    )


def merge_junit(files: Sequence[Path]) -> bytes:
    """The test suites of `files` (pytest's or another tool's JUnit XML) in one `<testsuites>` document;
    a file that is not JUnit XML is a DataError naming it."""
    from junitparser import JUnitXml, TestSuite
    from junitparser.junitparser import JUnitXmlError

    merged = JUnitXml()
    for path in files:
        try:
            document = JUnitXml.fromfile(str(path))
        except (OSError, ValueError, JUnitXmlError, SyntaxError) as exc:  # lxml/etree errors are SyntaxErrors
            raise DataError(f"{path}: not a JUnit XML file: {' '.join(str(exc).split())}") from None
        suites = [document] if isinstance(document, TestSuite) else list(document)
        for suite in suites:
            merged.add_testsuite(suite)
    merged.update_statistics()
    return merged.tostring()


def wall_times(records: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each lane's wall time summed over the shards: the time it would have taken in one run."""
    total: dict[str, float] = {}
    for lanes in records:
        for lane, seconds in lanes.items():
            total[lane] = total.get(lane, 0.0) + seconds
    return total
