"""A lane's shards' results as one lane's, pure."""

from __future__ import annotations

from ci_toolkit.merge.lanes import exit_status, lane_result, merge_results, skipped_lane, wall_times
from ci_toolkit.run.exchange.results import Results, Session, TestOutcome


def part(*outcomes: str, status: int | None = 0, errors: tuple[str, ...] = ()) -> Results:
    tests = tuple(TestOutcome(f"t.py::t{i}{o}", o) for i, o in enumerate(outcomes))
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return Results(tests, counts, Session(exitstatus=status, internal_errors=errors, selected=len(tests)))


def test_exit_status_takes_the_worst() -> None:
    assert exit_status([0, 5, 0]) == 0
    assert exit_status([5, 5]) == 5
    assert exit_status([0, 1, 5]) == 1
    assert exit_status([1, 2]) == 2
    assert exit_status([0, None]) == 3
    assert exit_status([]) == 0


def test_results_add_up() -> None:
    merged = merge_results([part("passed", "failed", status=1), part("passed", "skipped")], "run-1")
    assert len(merged.tests) == 4
    assert merged.counts == {"failed": 1, "passed": 2, "skipped": 1}
    assert (
        merged.session.exitstatus == 1 and merged.session.selected == 4 and merged.session.run_id == "run-1"
    )


def test_lane_result_explains_what_no_test_does() -> None:
    failed = lane_result("main", merge_results([part("failed", status=1)]), 2.0, None)
    assert failed.exit_code == 1 and failed.problems == () and not failed.ok
    broken = lane_result(
        "main", merge_results([part("passed", status=0, errors=("boom", "again"))]), 1.0, None
    )
    assert broken.problems == ("INTERNALERROR: boom (and 1 more)",)
    crashed = lane_result("main", merge_results([part("passed", status=None)]), 1.0, None)
    assert crashed.exit_code == 3 and crashed.problems[0].startswith("pytest exit code 3: internal error")
    assert skipped_lane("x").skipped_reason == "no tests in any shard"


def test_wall_times_add_up_per_lane() -> None:
    assert wall_times([{"main": 1.0, "db": 2.0}, {"main": 0.5}]) == {"main": 1.5, "db": 2.0}
