"""The suite as the history records it: each test in its recorded lane, priced by the one cost model."""

from __future__ import annotations

from ci_toolkit.planning import make_plan
from ci_toolkit.planning.cost import shard_estimate, shares
from ci_toolkit.planning.recorded import UNKNOWN_LANE, recorded
from ci_toolkit.timing import Estimator, History, TestTiming


def history(**lanes: str) -> History:
    """One test per keyword (its name), 4 s each, recorded in the lane given ("" none)."""
    return History(
        project="p",
        run=1,
        tests={
            f"tests/test_x.py::{name}": TestTiming(0.0, 4.0, 0.0, lane=lane) for name, lane in lanes.items()
        },
    )


def test_each_test_counts_in_its_recorded_lane() -> None:
    suite = recorded(history(test_a="unit", test_b="it"), {"unit": 4, "it": 0})
    assert suite.tests == {"tests/test_x.py::test_a": ("unit",), "tests/test_x.py::test_b": ("it",)}
    assert suite.lane_shares == shares({"unit": 4, "it": 0}) and suite.unknown == 0


def test_with_one_lane_every_test_is_in_it_as_a_collection_would_say() -> None:
    suite = recorded(history(test_a="", test_b="renamed", test_c="all"), {"all": 2})
    assert set(suite.tests.values()) == {("all",)}
    assert suite.unknown == 0 and UNKNOWN_LANE not in suite.lane_shares


def test_with_several_lanes_an_unknown_lane_is_priced_whole() -> None:
    """No worker is assumed to share a test whose lane is not known: more shards, never too few."""
    data = history(test_a="unit", test_b="", test_c="gone")
    suite = recorded(data, {"unit": 4, "it": 2})
    assert suite.tests["tests/test_x.py::test_b"] == suite.tests["tests/test_x.py::test_c"] == (UNKNOWN_LANE,)
    assert suite.unknown == 2 and suite.lane_shares[UNKNOWN_LANE] == 1.0
    price = shard_estimate(Estimator(data), suite.tests, suite.lane_shares)
    assert [price(nodeid).duration for nodeid in suite.tests] == [1.0, 4.0, 4.0]


def test_the_plan_matches_one_from_the_same_assignment_collected() -> None:
    data = history(test_a="unit", test_b="unit", test_c="unit", test_d="it")
    workers = {"unit": 2, "it": 0}
    suite = recorded(data, workers)
    collected = {nodeid: (timing.lane,) for nodeid, timing in data.tests.items()}
    estimate = Estimator(data)
    assert make_plan(suite.tests, shard_estimate(estimate, suite.tests, suite.lane_shares), 2) == make_plan(
        reversed(list(collected)), shard_estimate(estimate, collected, shares(workers)), 2
    )


def test_an_empty_history_is_an_empty_suite() -> None:
    suite = recorded(History(project="p"), {"all": 0})
    assert (suite.tests, suite.unknown) == ({}, 0)
