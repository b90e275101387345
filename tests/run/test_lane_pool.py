"""Which lanes may run at the same time, and how their output reaches the terminal (pure, no processes)."""

from __future__ import annotations

import io
from pathlib import Path

from ci_toolkit.config import Lane
from ci_toolkit.run.lane_pool import LaneOutput, header, may_join, startable

WORKERS = {"unit": 0, "slow": 0, "api": 2, "serial": 0, "db-a": 0, "db-b": 0}


def workers(lane: Lane) -> int:
    return WORKERS[lane.name]


UNIT = Lane("unit", concurrent=True)
SLOW = Lane("slow", concurrent=True, services=("db",))
API = Lane("api", concurrent=True, services=("db",))
SERIAL = Lane("serial")
DB_A = Lane("db-a", concurrent=True, services=("db",))
DB_B = Lane("db-b", concurrent=True, services=("db",))


def test_a_lane_may_always_start_when_nothing_runs() -> None:
    assert may_join(SERIAL, [], slots=1, workers=workers)
    assert may_join(API, [], slots=1, workers=workers)  # more workers than slots: it runs alone


def test_only_concurrent_lanes_that_share_no_service_and_fit_run_together() -> None:
    assert may_join(SLOW, [UNIT], slots=2, workers=workers)
    assert not may_join(SERIAL, [UNIT], slots=8, workers=workers)  # serial runs alone
    assert not may_join(UNIT, [SERIAL], slots=8, workers=workers)  # ... and nothing joins it
    assert not may_join(DB_B, [DB_A], slots=8, workers=workers)  # one database, two lanes
    assert not may_join(API, [UNIT], slots=2, workers=workers)  # 2 workers + 1 process > 2 cores
    assert may_join(API, [UNIT], slots=3, workers=workers)


def test_startable_lets_a_fitting_lane_overtake_but_never_a_serial_one() -> None:
    # The FastAPI example on 2 cores: unit and slow together, the 2-worker lane after them.
    assert startable([UNIT, API, SLOW], [], slots=2, workers=workers) == [UNIT, SLOW]
    assert startable([API], [SLOW], slots=2, workers=workers) == []
    assert startable([API], [], slots=2, workers=workers) == [API]
    # A lane that must run alone keeps its place: nothing after it starts first.
    assert startable([UNIT, SERIAL, SLOW], [], slots=4, workers=workers) == [UNIT]
    assert startable([SERIAL, SLOW], [UNIT], slots=4, workers=workers) == []
    # Without `concurrent` anywhere: one lane at a time, in order, as always.
    plain = [Lane("a"), Lane("b")]
    assert startable(plain, [], slots=8, workers=lambda lane: 0) == plain[:1]


def test_the_terminal_shows_one_lane_at_a_time_in_start_order(tmp_path: Path) -> None:
    out = io.StringIO()
    output = LaneOutput(tmp_path / "logs", out=out)
    assert output.start("unit", "== lane unit ==") is None  # the terminal is free: it writes there
    log = output.start("slow", "== lane slow ==")
    assert log is not None and log.parent == tmp_path / "logs"
    log.write_bytes(b"slow: first\n")
    output.say("a note")
    output.pump()
    assert out.getvalue() == "== lane unit ==\n"  # unit has the terminal: slow waits
    output.finish("unit")
    assert out.getvalue() == "== lane unit ==\n== lane slow ==\nslow: first\n"
    with log.open("ab") as more:
        more.write(b"slow: second\n")
    output.pump()  # followed live now
    assert out.getvalue().endswith("slow: first\nslow: second\n")
    output.finish("slow")
    assert out.getvalue().endswith("slow: second\na note\n")
    output.say("after")  # nothing holds the terminal: shown at once
    assert out.getvalue().endswith("a note\nafter\n")


def test_header() -> None:
    assert header("integration", 42, 2) == "== lane integration: 42 tests, 2 workers =="
    assert header("serial", 1, 0) == "== lane serial: 1 test, no xdist =="
    assert header("all", None, 1) == "== lane all: 1 worker =="
