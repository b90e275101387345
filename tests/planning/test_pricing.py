"""Prices from the history: each test in its lane's mode, and the overhead every shard pays once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ci_toolkit.planning import make_plan
from ci_toolkit.planning.cost import session_estimate
from ci_toolkit.planning.pricing import FALLBACK, LaneEstimator, Overhead, lane_pricing, shard_overhead
from ci_toolkit.run.exchange.results import Session, TestOutcome
from ci_toolkit.timing import (
    Estimator,
    History,
    Observation,
    SessionTiming,
    TestTiming,
    empty,
    observations_from_results,
    session_cost,
    update,
)


def history(sessions: dict[str, SessionTiming] | None = None) -> History:
    tests = {
        "a.py::t": TestTiming(0.0, 2.0, 0.0, mode="line+xdist"),
        "b.py::t": TestTiming(0.0, 1.0, 0.0, mode="line"),
    }
    others = {"a.py::t": {"off": TestTiming(0.0, 1.0, 0.0, mode="off")}}
    return History("app", 3, tests, others, sessions or {})


def test_a_configured_overhead_is_used_as_it_is() -> None:
    learned = history({"line": SessionTiming(9.0, 1.0)})
    assert shard_overhead(0.5, learned, ["line", "line"]) == Overhead(0.5, "configured", 2)
    assert shard_overhead(0.5, learned, ["line"]).describe() == "shard_overhead"


def test_auto_sums_what_each_session_of_a_shard_learned_to_pay() -> None:
    learned = history({"line": SessionTiming(3.0, 1.0), "off+xdist": SessionTiming(2.0, 0.0)})
    assert shard_overhead("auto", learned, ["line", "off+xdist"]) == Overhead(6.0, "learned", 2)
    # A mode never measured takes the median of those that were.
    other = shard_overhead("auto", learned, ["branch"])
    assert other == Overhead(3.0, "learned, other mode", 1)
    assert other.describe() == 'shard_overhead "auto": learned, other mode'


def test_auto_without_a_measured_session_falls_back() -> None:
    assert shard_overhead("auto", history(), ["line", "off"]) == Overhead(2 * FALLBACK, "fallback", 2)


def test_each_test_is_estimated_in_its_lanes_mode() -> None:
    estimator = LaneEstimator(
        history(), {"a.py::t": "plain", "b.py::t": "parallel"}, {"plain": "off", "parallel": "line+xdist"}
    )
    assert (estimator("a.py::t").call, estimator.source("a.py::t")) == (1.0, "history")
    # b.py::t was only measured in "line": used unconverted (one test in both modes is too few to convert).
    assert (estimator("b.py::t").call, estimator.source("b.py::t")) == (1.0, "unconverted")
    # A test of no configured lane: the history as it is, its freshest entry.
    assert LaneEstimator(history(), {}, {"plain": "off"})("a.py::t").call == 2.0


def test_lane_pricing_prices_tests_per_lane_and_the_shards_overhead() -> None:
    learned = history({"off": SessionTiming(1.5, 0.5)})
    prices = lane_pricing(
        learned, {"a.py::t": ("plain",), "b.py::t": ()}, {"plain": 1.0}, {"plain": "off"}, "auto"
    )
    assert prices.estimate("a.py::t").call == 1.0
    assert prices.estimate("b.py::t").call == 0.0  # no lane runs it
    assert prices.overhead == Overhead(2.0, "learned", 1)
    plan = make_plan(["a.py::t", "b.py::t"], prices.estimate, 2, overhead=prices.overhead.seconds)
    assert plan.overhead == 2.0 and plan.makespan == pytest.approx(3.0)


def test_lanes_that_share_a_session_pay_one_start_up() -> None:
    learned = history({"off+xdist": SessionTiming(2.0)})
    modes = {"unit": "off+xdist", "db": "off+xdist", "slow": "off+xdist"}
    assignment = {"a.py::t": ("unit",), "b.py::t": ("db",)}
    shares = {"unit": 0.5, "db": 0.5, "slow": 0.5}
    apart = lane_pricing(learned, assignment, shares, modes, "auto")
    assert apart.overhead == Overhead(6.0, "learned", 3)
    # "unit" and "db" run as one session ("unit" leads it), "slow" as one of its own.
    shared = lane_pricing(learned, assignment, shares, modes, "auto", sessions=["unit", "slow"])
    assert shared.overhead == Overhead(4.0, "learned", 2)


def suite_run() -> list[TestOutcome]:
    """One recorded serial run: 4 modules of 4 one-second tests; the first test paid the session fixture (6 s,
    measured), and m1's first test imported a library lazily (3 s in its call)."""
    tests = []
    for m in range(4):
        for t in range(4):
            first = "session" if (m, t) == (0, 0) else "module" if t == 0 else ""
            setup = 6.0 if (m, t) == (0, 0) else 0.0
            call = 4.0 if (m, t) == (1, 0) else 1.0
            tests.append(
                TestOutcome(f"m{m}.py::t{t}", "passed", setup, call, first=first, session_setup=setup)
            )
    return tests


def realised(tests: tuple[str, ...]) -> float:
    """What a shard really takes: start-up 1 s and the session fixture 6 s, its tests' own second each, and
    the lazy import once when it runs any of m1."""
    return 1.0 + 6.0 + len(tests) + (3.0 if any(t.startswith("m1.py") for t in tests) else 0.0)


def test_a_plan_from_what_a_session_pays_predicts_what_the_shards_take() -> None:
    recorded = suite_run()
    cost = session_cost(Session(startup=1.0), recorded)
    assert cost is not None
    history = update(empty("app"), observations_from_results(recorded), sessions=[("", cost)])
    ids = [o.nodeid for o in recorded]
    prices = lane_pricing(history, dict.fromkeys(ids, ("all",)), {"all": 1.0}, {"all": ""}, "auto")
    assert prices.overhead == Overhead(7.0, "learned", 1)
    plan = make_plan(ids, prices.estimate, 2, overhead=prices.overhead.seconds)
    assert [shard.predicted for shard in plan.shards] == [realised(shard.tests) for shard in plan.shards]
    # Taken as they were recorded, the fixture looks like m0's own setup and the import like one test's call:
    # m0 is kept whole for nothing and m1 is split, each shard then paying the import.
    naive = update(empty("app"), {o.nodeid: Observation(o.setup, o.call, o.teardown) for o in recorded})
    before = make_plan(ids, cost_of(naive, ids), 2, overhead=2.0)
    assert max(realised(s.tests) for s in plan.shards) < max(realised(s.tests) for s in before.shards)


def cost_of(history: History, ids: list[str]) -> Callable[[str], TestTiming]:
    return session_estimate(Estimator(history), ids, 0)
