"""Which lanes may run at the same time, and how their output reaches the terminal; the status line
drawn on a real pseudo-terminal (e2e)."""

from __future__ import annotations

import io
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import cli_env
from test_console import run_on_a_pty

from ci_toolkit.config import Lane
from ci_toolkit.console import LaneProgress, StatusLine
from ci_toolkit.run.lane_pool import (
    LaneOutput,
    Pool,
    Running,
    debugging,
    done_count,
    header,
    log_head,
    log_tail,
    may_join,
    startable,
    total_count,
)
from ci_toolkit.run.layout import RunPaths

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


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_with_a_status_line_every_lane_writes_to_its_log_and_the_line_is_cleared_first(
    tmp_path: Path,
) -> None:
    out = Tty()
    status = StatusLine(out, enabled=True)
    status.width = lambda: 60  # type: ignore[method-assign]
    output = LaneOutput(tmp_path / "logs", out=out, live=False, status=status)
    log = output.start("unit", "== lane unit ==")
    assert log == tmp_path / "logs" / "unit.log"  # even the lane with the terminal: we copy its output
    slow = output.start("slow", "== lane slow ==")
    assert slow is not None
    status.show([LaneProgress("unit", 0, 2, 0.0)], 0.0)
    log.write_bytes(b"..")
    output.pump()
    status.show([LaneProgress("unit", 2, 2, 0.0)], 0.0)
    output.finish("unit")
    line = "\r\x1b[K"
    assert out.getvalue() == (
        f"== lane unit ==\n{line}lanes: unit 0/2 0:00 | 0:00{line}..{line}lanes: unit 2/2 0:00 | 0:00"
        f"{line}== lane slow ==\n"
    )


def test_tests_done_from_pytest_progress() -> None:
    assert done_count(b"", 10) is None
    assert done_count(b"tests/a.py ..... [ 25%]\ntests/b.py ...  [ 40%]", 200) == 80
    assert done_count(b"tests/a.py .. [ 40%]", None) is None  # a percentage of an unknown total
    assert done_count(b"tests/a.py .. [  7/340]\ntests/b.py . [  8/340]", None) == 8
    assert done_count(b"[100%]\n=== 3 passed in 0.1s ===", 3) == 3


def test_log_tail_is_the_end_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "lane.log"
    assert log_tail(log) == b""
    log.write_bytes(b"x" * 10000 + b"[ 99%]")
    assert log_tail(log).endswith(b"[ 99%]") and len(log_tail(log)) == 4096


def test_debugging_keeps_the_terminal_for_the_lane() -> None:
    assert not debugging(["-x", "-q", "--maxfail=2"])
    for args in (["--pdb"], ["-s"], ["--capture=no"], ["--capture", "no"], ["--trace"], ["--pdbcls=IPython"]):
        assert debugging(args), args


def test_the_pool_draws_each_running_lane_from_its_log_at_most_every_so_often(tmp_path: Path) -> None:
    out = Tty()
    pool = Pool.__new__(Pool)  # only what draw() reads
    pool.status = StatusLine(out, enabled=True)
    pool.status.width = lambda: 80  # type: ignore[method-assign]
    pool.paths = RunPaths(tmp_path)
    pool.output = LaneOutput(pool.paths.logs, out=out, live=False, status=pool.status)
    pool.counts = {"unit": 10, "db": 4}
    pool.shared = {}
    now = time.monotonic()
    pool.began, pool.drawn = now - 5, 0.0
    pool.paths.logs.mkdir(parents=True)
    (pool.paths.logs / "unit.log").write_bytes(b"tests/a.py ..... [ 50%]")
    running = [Running(Lane("unit"), None, now - 2), Running(Lane("db"), None, now)]  # type: ignore[arg-type]
    pool.draw(running)
    assert out.getvalue() == "\r\x1b[Klanes: unit 5/10 0:02, db 0/4 0:00 | 0:05"
    pool.draw(running)  # too soon: not redrawn
    pool.draw([])  # nothing running: nothing to show
    assert out.getvalue().count("lanes:") == 1
    pool.status.enabled = False
    pool.drawn = 0.0
    pool.draw(running)
    assert out.getvalue().count("lanes:") == 1


def test_the_total_is_what_pytest_announced_when_no_lanes_check_counted(tmp_path: Path) -> None:
    assert total_count(b"") is None
    assert total_count(b"platform linux\ncollected 9 items\n") == 9
    assert total_count(b"collected 1 item\n") == 1
    assert total_count(b"collected 9 items / 2 deselected / 7 selected\n") == 7
    assert total_count(b"created: 2/2 workers\n2 workers [7 items]\n") == 7
    log = tmp_path / "lane.log"
    assert log_head(log) == b""
    log.write_bytes(b"collected 3 items" + b"." * 10000)
    assert total_count(log_head(log)) == 3 and len(log_head(log)) == 4096


def test_the_pool_never_draws_over_a_line_pytest_has_not_ended(tmp_path: Path) -> None:
    out = Tty()
    pool = Pool.__new__(Pool)
    pool.status = StatusLine(out, enabled=True)
    pool.status.width = lambda: 80  # type: ignore[method-assign]
    pool.paths = RunPaths(tmp_path)
    pool.output = LaneOutput(pool.paths.logs, out=out, live=False, status=pool.status)
    pool.counts = None  # no lanes check: the total is what pytest announced
    pool.began, pool.drawn = time.monotonic(), 0.0
    log = pool.output.start("all", "== lane all ==")
    assert log is not None
    log.write_bytes(b"2 workers [4 items]\n\n..")
    pool.output.pump()
    running = [Running(Lane("all"), None, time.monotonic())]  # type: ignore[arg-type]
    pool.draw(running)
    assert "lanes:" not in out.getvalue()  # the dots' line is still open
    with log.open("ab") as more:
        more.write(b"..   [100%]\n")
    pool.output.pump()
    pool.draw(running)
    assert out.getvalue().endswith("..   [100%]\n\r\x1b[Klanes: all 4/4 0:00 | 0:00")


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("ci", ["", "true"])
def test_local_on_a_terminal_shows_progress_and_in_ci_stays_plain(
    sample_project_factory: Any, ci: str
) -> None:
    project = sample_project_factory(f"tty{ci}")
    env = {k: v for k, v in cli_env().items() if k not in ("CI", "NO_COLOR", "TERM")}
    env.update({"TERM": "xterm", "COLUMNS": "100", "NO_COLOR": "1", **({"CI": ci} if ci else {})})
    code, data = run_on_a_pty([sys.executable, "-m", "ci_toolkit", "local"], project.root, env)
    text = data.decode(errors="replace")
    assert code == 0, text
    assert "== lane all: 2 workers ==" in text and "7 passed" in text
    if ci:
        assert "\x1b[K" not in text and "lanes:" not in text
    else:
        assert "\r\x1b[Klanes: all " in text  # drawn, without colour (NO_COLOR)
        assert "\x1b[2m" not in text
        assert re.search(r"lanes: all \d/7 ", text)  # the total xdist announced: "[7 items]"
        # Cleared before anything else: every drawn line is erased again before the next output.
        assert text.count("\r\x1b[Klanes:") <= text.count("\r\x1b[K") - 1
        assert "[100%]" in text
