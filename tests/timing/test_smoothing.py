"""The history model: EWMA smoothing, pruning and merging shards' histories."""

from __future__ import annotations

import pytest

from ci_toolkit.timing.smoothing import History, Observation, TestTiming, empty, merge, update


def obs(call: float, setup: float = 0.0, teardown: float = 0.0, lane: str = "") -> Observation:
    return Observation(setup, call, teardown, lane)


def timing(
    call: float, setup: float = 0.0, *, runs: int = 1, last_seen: int = 1, lane: str = ""
) -> TestTiming:
    return TestTiming(setup, call, 0.0, runs, last_seen, lane)


def test_first_observation_is_taken_as_is_and_then_smoothed() -> None:
    first = update(empty("app"), {"t.py::a": obs(2.0, setup=1.0, teardown=0.5, lane="unit")}, alpha=0.5)
    assert first.run == 1
    assert first.tests["t.py::a"] == TestTiming(1.0, 2.0, 0.5, runs=1, last_seen=1, lane="unit")
    assert first.tests["t.py::a"].duration == 3.5
    second = update(first, {"t.py::a": obs(4.0)}, alpha=0.5)
    assert second.run == 2
    # The lane is kept when this run did not say (JUnit imports often do not).
    assert second.tests["t.py::a"] == TestTiming(0.5, 3.0, 0.25, runs=2, last_seen=2, lane="unit")
    third = update(second, {"t.py::a": obs(3.0, lane="slow")}, alpha=0.3)
    assert third.tests["t.py::a"].call == pytest.approx(0.3 * 3.0 + 0.7 * 3.0)
    assert third.tests["t.py::a"].lane == "slow"


def test_tests_unseen_for_more_than_prune_after_runs_are_dropped() -> None:
    h = update(empty("app"), {"t.py::old": obs(1.0), "t.py::kept": obs(1.0)})
    for _ in range(3):
        h = update(h, {"t.py::kept": obs(1.0)}, prune_after=3)
    assert set(h.tests) == {"t.py::old", "t.py::kept"}  # unseen for exactly 3 runs: kept
    h = update(h, {"t.py::kept": obs(1.0)}, prune_after=3)
    assert set(h.tests) == {"t.py::kept"}
    assert h.run == 5


def test_merge_keeps_the_freshest_entry_and_averages_ties() -> None:
    shard1 = History("app", 7, {"a.py::x": timing(1.0, last_seen=7), "a.py::y": timing(5.0, last_seen=3)})
    shard2 = History(
        "app",
        7,
        {
            "a.py::x": timing(3.0, setup=1.0, runs=4, last_seen=7, lane="unit"),
            "a.py::y": timing(9.0, last_seen=2),
            "b.py::z": timing(2.0, last_seen=6),
        },
    )
    older = History("app", 5, {"a.py::y": timing(7.0, last_seen=5)})
    merged = merge([shard1, shard2, older])
    assert merged.project == "app" and merged.run == 7
    assert list(merged.tests) == ["a.py::x", "a.py::y", "b.py::z"]
    assert merged.tests["a.py::x"] == TestTiming(0.5, 2.0, 0.0, runs=4, last_seen=7, lane="unit")
    assert merged.tests["a.py::y"] == timing(7.0, last_seen=5)
    assert merged.tests["b.py::z"] == timing(2.0, last_seen=6)
    assert merge([shard1]) == History("app", 7, dict(sorted(shard1.tests.items())))
    with pytest.raises(ValueError):
        merge([])
