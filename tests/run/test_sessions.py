"""Which lanes share a pytest session, and how a shared session's results are split back into lanes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.config import Config, Lane
from ci_toolkit.run.argv import resolve_workers
from ci_toolkit.run.exchange.results import Results, Session, TestOutcome
from ci_toolkit.run.sessions import Shared, effective_workers, leaders, plan, split

UNIT = Lane("unit", markers="unit", workers=0, concurrent=True)
DB = Lane("db", markers="db", workers=2, concurrent=True, services=("postgres",))
SLOW = Lane("slow", markers="slow", workers=0, concurrent=True, services=("postgres", "redis"))
ALONE = Lane("alone", markers="alone", workers=2)


def config(*lanes: Lane, **overrides: object) -> Config:
    return Config(root=Path("/p"), lanes=lanes, **overrides)  # type: ignore[arg-type]


def planned(cfg: Config, counts: dict[str, int] | None = None) -> list[Lane | Shared]:
    return plan(cfg, lambda lane: resolve_workers(cfg, lane), counts)


def test_concurrent_lanes_with_the_same_options_share_one_session_in_the_first_ones_place() -> None:
    cfg = config(ALONE, UNIT, DB, SLOW)
    first, shared = planned(cfg)
    assert first == ALONE
    assert isinstance(shared, Shared)
    assert shared.lanes == (UNIT, DB, SLOW)
    assert shared.serial == ("unit", "slow")
    lane = shared.lane
    assert lane.name == "unit+db+slow"
    assert lane.markers == "(unit) or (db) or (slow)"
    assert lane.workers == 2  # the most any lane asks for
    assert lane.services == ("postgres", "redis")  # each once, in order
    assert lane.concurrent


def test_lanes_that_cannot_share_keep_sessions_of_their_own() -> None:
    every = Lane("every", workers=2, concurrent=True)  # no markers: it would overlap the others
    other_args = Lane("x", markers="x", workers=2, concurrent=True, pytest_args=("-x",))
    assert planned(config(ALONE, every, other_args, UNIT)) == [ALONE, every, other_args, UNIT]


def test_lanes_without_xdist_share_nothing_among_themselves() -> None:
    # Each would be pinned to one worker: processes of their own do the same, without xdist.
    serial_b = Lane("b", markers="b", workers=0, concurrent=True)
    assert planned(config(UNIT, serial_b)) == [UNIT, serial_b]


@pytest.mark.parametrize(
    "overrides",
    [{"share_sessions": False}, {"allow_overlap": True}],
    ids=["switched off", "overlap allowed"],
)
def test_sharing_is_off_when_configured_or_when_lanes_may_overlap(overrides: dict[str, object]) -> None:
    assert planned(config(UNIT, DB, **overrides)) == [UNIT, DB]


def test_a_lane_without_xdist_shares_only_under_the_duration_scheduler() -> None:
    # Only the duration scheduler keeps a group of tests on one worker.
    other = Lane("other", markers="other", workers=2, concurrent=True)
    assert planned(config(UNIT, DB, other, scheduler="xdist")) == [
        UNIT,
        Shared((DB, other), planned(config(DB, other, scheduler="xdist"))[0].lane, ()),  # type: ignore[union-attr]
    ]


def test_a_lane_with_no_tests_in_the_shard_keeps_its_place_to_be_skipped() -> None:
    result = planned(config(UNIT, DB, SLOW), counts={"unit": 0, "db": 3, "slow": 1})
    assert result[0] == UNIT
    assert isinstance(result[1], Shared) and result[1].lanes == (DB, SLOW)


def outcome(nodeid: str, result: str = "passed", reruns: int = 0) -> TestOutcome:
    return TestOutcome(nodeid, result, call=0.1, reruns=reruns)


ASSIGNMENT = {"t.py::u1": ["unit"], "t.py::u2": ["unit"], "t.py::d1": ["db"], "t.py::s1": ["slow"]}
LANES = ["unit", "db", "slow"]


def test_each_lane_gets_its_own_tests_counts_and_exit_status() -> None:
    session = Session(run_id="r", exitstatus=1, selected=4)
    recorded = Results(
        (
            outcome("t.py::u1"),
            outcome("t.py::d1", "failed"),
            outcome("t.py::u2", reruns=2),
            outcome("t.py::s1", "skipped"),
        ),
        {"passed": 2, "failed": 1, "skipped": 1, "rerun": 2},
        session,
    )
    lanes = split(recorded, ASSIGNMENT, LANES)
    assert [o.nodeid for o in lanes["unit"].tests] == ["t.py::u1", "t.py::u2"]
    assert lanes["unit"].counts == {"passed": 2, "rerun": 2}
    assert lanes["unit"].session == Session(run_id="r", exitstatus=0, selected=2)
    assert lanes["db"].session.exitstatus == 1  # its own failure
    assert lanes["slow"].counts == {"skipped": 1}
    assert lanes["slow"].session.exitstatus == 0


def test_what_no_lane_owns_and_whole_session_failures_go_to_every_lane() -> None:
    """A module that failed to import reports as its file: sessions of their own would all have met it.
    An internal error or an interrupt is no single test's doing."""
    broken = TestOutcome("broken.py", "error", message="ImportError")
    session = Session(run_id="r", exitstatus=2, internal_errors=("boom",), stopped="interrupted", selected=1)
    lanes = split(Results((outcome("t.py::u1"), broken), {}, session), ASSIGNMENT, LANES)
    for name in LANES:
        assert broken in lanes[name].tests
        assert lanes[name].session.exitstatus == 2
        assert lanes[name].session.internal_errors == ("boom",)
        assert lanes[name].session.stopped == "interrupted"
    assert lanes["unit"].session.selected == 1  # the import error is no selected test


def test_a_lane_left_without_tests_says_no_tests_collected() -> None:
    lanes = split(Results((outcome("t.py::u1"),), {}, Session(exitstatus=0, selected=1)), ASSIGNMENT, LANES)
    assert lanes["db"].tests == () and lanes["db"].session.exitstatus == 5


def test_a_session_that_never_finished_leaves_every_lane_unfinished() -> None:
    lanes = split(Results((outcome("t.py::u1"),), {}, Session(exitstatus=None)), ASSIGNMENT, LANES)
    assert all(lanes[name].session.exitstatus is None for name in LANES)


def test_lanes_of_a_shared_session_meet_the_sessions_workers() -> None:
    cfg = config(ALONE, UNIT, DB, Lane("solo", markers="solo", workers=0))
    workers = effective_workers(cfg, lambda lane: resolve_workers(cfg, lane))
    assert workers == {"alone": 2, "unit": 2, "db": 2, "solo": 0}


def test_each_session_is_led_by_one_lane_for_its_start_up() -> None:
    cfg = config(ALONE, UNIT, DB, Lane("solo", markers="solo", workers=0))
    assert leaders(cfg, lambda lane: resolve_workers(cfg, lane)) == ["alone", "unit", "solo"]
