"""Estimates: history, else the nearest file, directory, lane or global figure, else the default."""

from __future__ import annotations

import pytest

from ci_toolkit.timing.estimate import DEFAULT, Estimator
from ci_toolkit.timing.smoothing import History, TestTiming, empty


def timing(
    call: float, setup: float = 0.0, *, runs: int = 1, last_seen: int = 1, lane: str = ""
) -> TestTiming:
    return TestTiming(setup, call, 0.0, runs, last_seen, lane)


def test_estimates_fall_back_from_history_to_file_directory_lane_global() -> None:
    known = History(
        "app",
        3,
        {
            "tests/api/test_orders.py::test_a": timing(1.0, setup=1.0),
            "tests/api/test_orders.py::test_b": timing(3.0, setup=0.0),
            "tests/api/v2/test_users.py::test_c": timing(10.0),
            "tests/db/test_q.py::test_d": timing(20.0, lane="db"),
            "test_root.py::test_e": timing(0.5),
        },
    )
    estimate = Estimator(known, lanes={"other/test_n.py::test_new": "db", "tests/db/test_q.py::test_d": "db"})
    cases = {
        "tests/api/test_orders.py::test_a": ("history", timing(1.0, setup=1.0)),
        "tests/api/test_orders.py::TestNew::test_x[1]": ("file", TestTiming(0.5, 2.0, 0.0, 0, 0)),
        # The nearest ancestor with known tests: tests/api/v2 itself has one, tests/api/v3 has none.
        "tests/api/v2/test_new.py::test_x": ("directory", TestTiming(0.0, 10.0, 0.0, 0, 0)),
        "tests/api/v3/deep/test_new.py::test_x": ("directory", TestTiming(1 / 3, 14 / 3, 0.0, 0, 0)),
        "other/test_n.py::test_new": ("lane", TestTiming(0.0, 20.0, 0.0, 0, 0)),
        # Median of 0.5, 2, 3, 10, 20 by duration is 3 (test_b): its phases, as is.
        "elsewhere/test_z.py::test_z": ("global", TestTiming(0.0, 3.0, 0.0, 0, 0)),
        "test_root2.py::test_z": ("global", TestTiming(0.0, 3.0, 0.0, 0, 0)),
    }
    for nodeid, (source, expected) in cases.items():
        assert estimate.source(nodeid) == source, nodeid
        assert estimate(nodeid).setup == pytest.approx(expected.setup), nodeid
        assert estimate(nodeid).duration == pytest.approx(expected.duration), nodeid


def test_a_directory_mean_covers_every_known_test_below_it() -> None:
    known = History("app", 1, {"t/a/x.py::t": timing(1.0), "t/b/y.py::t": timing(3.0)})
    estimate = Estimator(known)
    assert estimate.source("t/c/z.py::t") == "directory"
    assert estimate("t/c/z.py::t").duration == 2.0


def test_global_median_splits_phases_like_the_median_test_and_handles_zero() -> None:
    even = History("app", 1, {"a.py::t": timing(1.0, setup=1.0), "b.py::t": timing(4.0, setup=0.0)})
    # Durations 2 and 4: median 3, shaped like the lower middle test (half setup, half call).
    assert Estimator(even)("c.py::t") == TestTiming(1.5, 1.5, 0.0, runs=0, last_seen=0)
    zero = History("app", 1, {"a.py::t": timing(0.0), "b.py::t": timing(0.0), "c.py::t": timing(2.0)})
    assert Estimator(zero)("d.py::t") == TestTiming(0.0, 0.0, 0.0, runs=0, last_seen=0)
    assert Estimator(zero).source("d.py::t") == "global"


def test_without_any_history_the_default_is_one_second_of_call() -> None:
    estimate = Estimator(empty("app"))
    assert estimate("t.py::x") == DEFAULT
    assert (DEFAULT.setup, DEFAULT.call, DEFAULT.teardown) == (0.0, 1.0, 0.0)
    assert estimate.source("t.py::x") == "default"


def test_estimates_for_many_unknown_tests_are_cached() -> None:
    known = History("app", 1, {f"tests/m{i}/test_x.py::t": timing(float(i)) for i in range(50)})
    estimate = Estimator(known)
    ids = [f"tests/m{i % 50}/test_new{i}.py::t" for i in range(3000)]
    assert all(estimate.source(nodeid) == "directory" for nodeid in ids)
    assert estimate(ids[0]) is estimate(ids[0])
