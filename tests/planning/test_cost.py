"""The one cost model: a test's seconds priced per shard by the lanes that run it, shared setups found."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from ci_toolkit.planning import cost
from ci_toolkit.planning.cost import cost_model
from ci_toolkit.timing.smoothing import TestTiming


def t(call: float, setup: float = 0.0, teardown: float = 0.0) -> TestTiming:
    return TestTiming(setup=setup, call=call, teardown=teardown, runs=1, last_seen=1)


def estimate_of(timings: Mapping[str, TestTiming]) -> Callable[[str], TestTiming]:
    return timings.__getitem__


def test_scopes_follow_classes_and_ignore_parameters() -> None:
    ids = ["tests/a.py::test_x", "tests/a.py::A::B::test_x[p::q]", "tests/a.py"]
    chains = cost_model(ids, lambda nodeid: t(1.0)).chains
    assert chains["tests/a.py::test_x"] == ("tests/a.py",)
    assert chains["tests/a.py::A::B::test_x[p::q]"] == ("tests/a.py", "tests/a.py::A", "tests/a.py::A::B")
    assert chains["tests/a.py"] == ("tests/a.py",)


def test_shared_setup_is_estimated_from_the_setup_standing_out() -> None:
    timings = {
        "tests/test_db.py::test_a": t(1.0, setup=0.01),
        "tests/test_db.py::test_b": t(1.0, setup=8.02),  # not first: the largest carries it
        "tests/test_db.py::test_c": t(1.0, setup=0.03),
        "tests/test_plain.py::test_x": t(1.0, setup=0.5),  # a lone test's setup is its own
    }
    model = cost_model(list(timings), estimate_of(timings))
    assert model.setups == {"tests/test_db.py": pytest.approx(8.0)}
    assert model.own["tests/test_db.py::test_b"] == pytest.approx(1.02)
    assert model.total == pytest.approx(3.06 + 8.0 + 1.5)
    assert model.alone("tests/test_db.py::test_a") == pytest.approx(9.01)


def test_one_cost_model_prices_a_test_by_the_lanes_that_run_it() -> None:
    own = TestTiming(1.0, 4.0, 1.0, runs=1, last_seen=1)
    shares = cost.shares({"xdist": 2, "serial": 0, "wide": 4})
    assert shares == {"xdist": 0.5, "serial": 1.0, "wide": 0.25}
    assignment = {"a": ("xdist",), "b": ("serial",), "c": ("xdist", "wide"), "d": ()}
    price = cost.shard_estimate(lambda nodeid: own, assignment, shares)
    assert price("a").duration == 3.0  # 6 s on 2 workers
    assert price("b") == own  # no xdist: its own seconds
    assert price("c").duration == 6.0 * 0.75  # paid by both lanes that select it
    assert price("d").duration == 0.0  # no lane runs it
    session = cost.session_estimate(lambda nodeid: own, ["a", "b"], workers=3)
    assert session("a").duration == pytest.approx(2.0) == session("b").duration
