"""What a session pays besides its tests: taken out of a run, smoothed, merged, kept in the history file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.config import Config, Lane
from ci_toolkit.run.exchange.results import Session, TestOutcome
from ci_toolkit.timing import (
    Observation,
    SessionCost,
    SessionTiming,
    empty,
    lane_mode,
    lane_modes,
    merge,
    observations_from_results,
    read,
    save,
    session_cost,
    update,
)


def outcome(
    nodeid: str, call: float, *, setup: float = 0.0, first: str = "", paid: float = 0.0
) -> TestOutcome:
    return TestOutcome(nodeid, "passed", setup=setup, call=call, first=first, session_setup=paid)


def test_the_session_fixture_set_up_is_taken_off_the_test_that_paid_it() -> None:
    tests = [outcome("a.py::t1", 0.1, setup=3.0, first="session", paid=2.9), outcome("a.py::t2", 0.1)]
    observed = observations_from_results(tests, "unit", "line")
    assert observed["a.py::t1"].setup == pytest.approx(0.1)
    assert observed["a.py::t2"] == Observation(0.0, 0.1, 0.0, "unit", "line")
    assert session_cost(Session(startup=1.5), tests) == SessionCost(1.5, 2.9)
    assert session_cost(Session(), tests) is None  # start-up not recorded: an older plugin


def test_a_first_tests_standing_out_call_becomes_its_modules_shared_setup() -> None:
    tests = [
        outcome("m.py::first", 2.05, first="module"),
        outcome("m.py::b", 0.05),
        outcome("m.py::c", 0.04),
        outcome("m.py::d", 0.06),
    ]
    observed = observations_from_results(tests)
    # The median sibling's call stays the first test's own; the rest is what the module imported lazily.
    assert observed["m.py::first"].call == pytest.approx(0.05)
    assert observed["m.py::first"].setup == pytest.approx(2.0)
    assert observed["m.py::b"].call == 0.05


@pytest.mark.parametrize(
    "tests",
    [
        # Not first in its module in that run: its own time, however slow.
        [outcome("m.py::slow", 2.0), outcome("m.py::a", 0.05, first="module"), outcome("m.py::b", 0.05)],
        # First, but not standing out from a sibling as slow as half of it.
        [outcome("m.py::slow", 2.0, first="module"), outcome("m.py::a", 1.5), outcome("m.py::b", 0.05)],
        # First and alone in its module: nothing to compare with.
        [outcome("m.py::slow", 2.0, first="session"), outcome("n.py::a", 0.05)],
    ],
)
def test_a_call_is_left_alone_unless_a_first_test_stands_out(tests: list[TestOutcome]) -> None:
    assert observations_from_results(tests)["m.py::slow"].call == 2.0


def test_skips_and_errors_are_still_left_out() -> None:
    tests = [outcome("m.py::a", 1.0, first="session"), TestOutcome("m.py::b", "skipped", call=9.0)]
    assert set(observations_from_results(tests)) == {"m.py::a"}


def test_sessions_are_smoothed_per_mode_and_averaged_within_a_run() -> None:
    one = update(
        empty("app"),
        {"t.py::a": Observation(0.0, 1.0, 0.0)},
        alpha=0.5,
        sessions=[
            ("line", SessionCost(2.0, 1.0)),
            ("line", SessionCost(4.0, 1.0)),
            ("off", SessionCost(1.0)),
        ],
    )
    assert one.sessions == {"line": SessionTiming(3.0, 1.0, 1, 1), "off": SessionTiming(1.0, 0.0, 1, 1)}
    two = update(
        one, {"t.py::a": Observation(0.0, 1.0, 0.0)}, alpha=0.5, sessions=[("line", SessionCost(5.0))]
    )
    assert two.sessions["line"] == SessionTiming(4.0, 0.5, 2, 2)
    assert two.sessions["off"] == one.sessions["off"]
    assert two.sessions["line"].total == 4.5


def test_a_mode_unmeasured_for_longer_than_prune_after_is_dropped() -> None:
    history = update(empty("app"), {}, sessions=[("off", SessionCost(1.0))])
    for _ in range(2):
        history = update(history, {}, prune_after=2)
    assert "off" in history.sessions
    assert "off" not in update(history, {}, prune_after=2).sessions


def test_merge_keeps_the_newest_sessions_and_averages_shards_of_one_run() -> None:
    old = update(empty("app"), {}, sessions=[("line", SessionCost(9.0))])
    shard_1 = update(old, {}, sessions=[("line", SessionCost(2.0, 1.0))])
    shard_2 = update(old, {}, sessions=[("line", SessionCost(4.0, 3.0)), ("off", SessionCost(1.0))])
    merged = merge([old, shard_1, shard_2])
    assert merged.sessions["line"] == SessionTiming(
        pytest.approx(0.3 * 3.0 + 0.7 * 9.0), pytest.approx(0.3 * 2.0 + 0.7 * 0.0), 2, 2
    )
    assert merged.sessions["off"] == SessionTiming(1.0, 0.0, 1, 2)


def test_the_history_file_keeps_sessions_and_drops_a_bad_one(tmp_path: Path) -> None:
    history = update(empty("app"), {"t.py::a": Observation(0.0, 1.0, 0.0, mode="line")}, sessions=[
        ("line", SessionCost(2.5, 0.25))
    ])  # fmt: skip
    path = tmp_path / "h.json"
    save(path, history)
    doc = json.loads(path.read_text())
    assert doc["version"] == 2
    assert doc["sessions"] == {"line": {"startup": 2.5, "setup": 0.25, "runs": 1, "last_seen": 1}}
    assert read(path) == history
    doc["sessions"]["off"] = {"startup": -1}
    doc["sessions"]["nonsense"] = {"startup": 1}
    path.write_text(json.dumps(doc))
    assert read(path).sessions == history.sessions
    doc["sessions"] = []
    path.write_text(json.dumps(doc))
    assert read(path).sessions == {}


def test_a_history_without_sessions_is_written_as_before(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    save(path, update(empty("app"), {"t.py::a": Observation(0.0, 1.0, 0.0)}))
    assert "sessions" not in json.loads(path.read_text())


@pytest.mark.parametrize(
    ("project_args", "lane_args", "extra", "expected"),
    [
        ((), (), (), "branch"),
        (("--no-cov",), (), (), "off"),
        ((), ("-x", "--no-cov"), (), "off"),
        ((), (), ("-p", "no:cov"), "off"),
        ((), ("-pno:pytest_cov",), (), "off"),
    ],
)
def test_a_lane_without_coverage_is_recorded_as_off(
    project_args: tuple[str, ...], lane_args: tuple[str, ...], extra: tuple[str, ...], expected: str
) -> None:
    config = Config(root=Path("."), pytest_args=project_args)
    lane = Lane(name="unit", pytest_args=lane_args)
    assert lane_mode(config, lane, 0, extra) == expected
    assert lane_mode(config, lane, 4, extra) == expected + "+xdist"


def test_cov_branch_in_the_arguments_measures_branches(tmp_path: Path) -> None:
    from ci_toolkit.config import CoverageConfig

    config = Config(
        root=tmp_path,
        coverage=CoverageConfig(branch=False),
        lanes=(Lane(name="a"), Lane(name="b", pytest_args=("--cov-branch",)), Lane(name="c", workers=2)),
    )
    assert lane_modes(config, {"c": 2}) == {"a": "line", "b": "branch", "c": "line+xdist"}
