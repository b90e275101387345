"""Shard planning: pure functions over synthetic suites (no pytest runs here)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.planning import (
    Plan,
    auto_plan,
    auto_shards,
    fingerprint,
    from_json,
    github_matrix,
    make_plan,
    make_units,
    strategies,
    to_json,
)
from ci_toolkit.planning.strategies.lpt import LongestProcessingTime
from ci_toolkit.planning.units import keep_matches
from ci_toolkit.timing import TestTiming

Timings = dict[str, TestTiming]


def t(call: float, setup: float = 0.0, teardown: float = 0.0) -> TestTiming:
    return TestTiming(setup=setup, call=call, teardown=teardown, runs=1, last_seen=1)


def lognormal_suite(seed: int, tests: int = 2000, modules: int = 80) -> Timings:
    """Heavy-tailed call times; a quarter of the modules have a module fixture (the first test's setup)
    and some have classes with a class fixture."""
    rng = random.Random(seed)
    out: Timings = {}
    per = tests // modules
    for m in range(modules):
        module_setup = rng.uniform(0.5, 4.0) if m % 4 == 0 else 0.0
        for i in range(per):
            in_class = m % 5 == 1 and i >= per // 2
            nodeid = f"tests/pkg{m % 6}/test_m{m}.py::" + (f"TestK::test_{i}" if in_class else f"test_{i}")
            setup = 0.002 + (module_setup if i == 0 else 0.0) + (1.5 if in_class and i == per // 2 else 0.0)
            out[nodeid] = t(rng.lognormvariate(-1.5, 1.3), setup=setup, teardown=0.001)
    return out


def uniform_suite(n: int, seconds: float = 1.0, files: int = 5) -> Timings:
    return {f"tests/test_f{i % files}.py::test_{i}": t(seconds) for i in range(n)}


def estimate_of(timings: Mapping[str, TestTiming]) -> Callable[[str], TestTiming]:
    return timings.__getitem__


def shard_of(plan: Plan) -> dict[str, int]:
    return {nodeid: shard.index for shard in plan.shards for nodeid in shard.tests}


def assert_partition(plan: Plan, tests: list[str]) -> None:
    listed = [nodeid for shard in plan.shards for nodeid in shard.tests]
    assert sorted(listed) == sorted(tests)  # every test once, none twice, none extra


SUITES = {
    "lognormal": lambda: lognormal_suite(1, tests=400, modules=20),
    "uniform": lambda: uniform_suite(37),
    "one-slow": lambda: {**uniform_suite(20, 0.1), "tests/test_slow.py::test_big": t(30.0)},
}


@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("shards", [1, 2, 3, 8])
@pytest.mark.parametrize("strategy", ["lpt", "refine"])
def test_every_test_in_exactly_one_shard_and_no_shard_empty(suite: str, shards: int, strategy: str) -> None:
    timings = SUITES[suite]()
    plan = make_plan(list(timings), estimate_of(timings), shards, overhead=1.0, strategy=strategy)
    assert len(plan.shards) == shards
    assert [s.index for s in plan.shards] == list(range(1, shards + 1))
    assert_partition(plan, list(timings))
    assert all(shard.tests for shard in plan.shards)
    assert plan.makespan >= plan.lower_bound - 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("strategy", ["lpt", "refine"])
def test_same_plan_whatever_the_input_order(seed: int, strategy: str) -> None:
    timings = lognormal_suite(seed, tests=600, modules=30)
    tests = list(timings)
    groups = {tests[5]: "db", tests[400]: "db"}
    expected = to_json(
        make_plan(
            tests, estimate_of(timings), 4, groups=groups, keep_together=["tests/pkg2/**"], strategy=strategy
        )
    )
    rng = random.Random(seed)
    for _ in range(3):
        shuffled = tests[:]
        rng.shuffle(shuffled)
        plan = make_plan(
            shuffled,
            estimate_of(timings),
            4,
            groups=groups,
            keep_together=["tests/pkg2/**"],
            strategy=strategy,
        )
        assert to_json(plan) == expected


def test_duplicate_ids_are_planned_once() -> None:
    timings = uniform_suite(6)
    tests = list(timings)
    plan = make_plan(tests + tests[:3], estimate_of(timings), 2)
    assert_partition(plan, tests)


def test_fewer_units_than_shards_leaves_the_extra_shards_empty() -> None:
    timings = uniform_suite(3)
    plan = make_plan(list(timings), estimate_of(timings), 5, overhead=2.0)
    assert len(plan.shards) == 5  # the shard count is the CI's job count: kept
    assert sorted(len(s.tests) for s in plan.shards) == [0, 0, 1, 1, 1]
    assert [s.predicted for s in plan.shards if not s.tests] == [2.0, 2.0]  # an empty job still starts


def test_zero_cost_tests_still_fill_every_shard() -> None:
    timings = {f"tests/test_z.py::test_{i}": t(0.0) for i in range(6)}
    for strategy in ("lpt", "refine"):
        plan = make_plan(list(timings), estimate_of(timings), 3, strategy=strategy)
        assert sorted(len(s.tests) for s in plan.shards) == [2, 2, 2]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shards", [2, 3, 5, 8])
def test_refine_is_never_worse_than_plain_lpt(seed: int, shards: int) -> None:
    rng = random.Random(seed)
    # Few, uneven tests: where LPT leaves room for improvement.
    timings = {f"tests/test_{i % 4}.py::test_{i}": t(rng.uniform(1, 100)) for i in range(rng.randint(10, 30))}
    lpt = make_plan(list(timings), estimate_of(timings), shards, strategy="lpt")
    refined = make_plan(list(timings), estimate_of(timings), shards, strategy="refine")
    assert refined.makespan <= lpt.makespan
    assert_partition(refined, list(timings))


def test_refine_improves_on_lpt_where_lpt_is_known_to_be_suboptimal() -> None:
    # The classic LPT worst case for 2 machines: 3,3,2,2,2 -> LPT 7, optimum 6.
    timings = {f"tests/test_a.py::test_{i}": t(c) for i, c in enumerate([3, 3, 2, 2, 2])}
    lpt = make_plan(list(timings), estimate_of(timings), 2, strategy="lpt")
    refined = make_plan(list(timings), estimate_of(timings), 2, strategy="refine")
    assert (lpt.makespan, refined.makespan) == (7.0, 6.0)
    assert refined.lower_bound == 6.0


@pytest.mark.parametrize("shards", [2, 4, 8, 16])
@pytest.mark.parametrize("overhead", [0.0, 2.0])
def test_lognormal_2000_tests_within_one_percent_of_the_lower_bound(shards: int, overhead: float) -> None:
    timings = lognormal_suite(seed=42)
    plan = make_plan(list(timings), estimate_of(timings), shards, overhead=overhead)
    assert_partition(plan, list(timings))
    assert plan.makespan / plan.lower_bound <= 1.01


def test_the_lower_bound_is_the_larger_of_the_average_and_the_largest_test() -> None:
    timings = {**uniform_suite(10, 1.0), "tests/test_big.py::test_big": t(20.0)}
    plan = make_plan(list(timings), estimate_of(timings), 4, overhead=3.0)
    assert plan.total == 30.0
    assert plan.lower_bound == 3.0 + 20.0
    assert plan.makespan == 23.0
    assert plan.ratio == 1.0
    even = make_plan(list(uniform_suite(8)), estimate_of(uniform_suite(8)), 4, overhead=1.0)
    assert (even.lower_bound, even.makespan) == (3.0, 3.0)


def test_a_module_with_an_expensive_setup_stays_in_one_shard() -> None:
    timings = uniform_suite(40, 1.0, files=4)
    db = {f"tests/test_db.py::test_{i}": t(1.0, setup=6.0 if i == 0 else 0.0) for i in range(6)}
    timings.update(db)
    plan = make_plan(list(timings), estimate_of(timings), 4)
    assert len({shard_of(plan)[nodeid] for nodeid in db}) == 1
    assert plan.total == pytest.approx(52.0)  # the setup counted once
    assert plan.makespan == pytest.approx(13.0)  # and paid once: a perfect split


def test_a_class_fixture_keeps_its_module_together() -> None:
    timings = uniform_suite(30, 1.0, files=3)
    cls = {f"tests/test_api.py::TestClient::test_{i}": t(1.0, setup=5.0 if i == 3 else 0.0) for i in range(6)}
    loose = {f"tests/test_api.py::test_free_{i}": t(1.0) for i in range(3)}
    timings.update(cls | loose)
    plan = make_plan(list(timings), estimate_of(timings), 3)
    # Charged to the module (it cannot be told from a module fixture): the whole module stays together.
    assert len({shard_of(plan)[nodeid] for nodeid in cls | loose}) == 1
    plain = {nodeid for nodeid in timings if nodeid.startswith("tests/test_f")}
    assert len({shard_of(plan)[nodeid] for nodeid in plain}) == 3  # no shared setup: free to balance


def test_a_module_bigger_than_a_share_is_cut_and_each_part_pays_its_setup() -> None:
    timings = uniform_suite(8, 1.0, files=2)
    big = {f"tests/test_big.py::test_{i:02}": t(1.0, setup=4.0 if i == 0 else 0.0) for i in range(40)}
    timings.update(big)
    plan = make_plan(list(timings), estimate_of(timings), 4)
    assert_partition(plan, list(timings))
    big_shards = {shard_of(plan)[nodeid] for nodeid in big}
    assert len(big_shards) >= 2
    # The cost model: every shard running part of the module pays its 4 s setup again.
    for shard in plan.shards:
        work = len(shard.tests) * 1.0 + (4.0 if shard.index in big_shards else 0.0)
        assert shard.predicted == pytest.approx(work)
    assert plan.total == pytest.approx(52.0)
    # Optimal here: four parts of 10 tests, one per shard, each paying the setup: (40 + 8 + 4 * 4) / 4.
    assert plan.makespan == 16.0 and plan.lower_bound == 13.0


def test_units_carry_the_setups_they_share_with_tests_elsewhere() -> None:
    timings = {
        "tests/test_db.py::test_a": t(1.0, setup=3.0),
        "tests/test_db.py::test_b": t(1.0),
        "tests/test_db.py::test_c": t(1.0),
    }
    units = make_units(
        list(timings), estimate_of(timings), shards=1, groups={"tests/test_db.py::test_b": "g"}
    )
    by_key = {unit.key: unit for unit in units}
    assert set(by_key) == {"group:g", "tests/test_db.py"}
    assert by_key["group:g"].shared == (("tests/test_db.py", 3.0),)
    assert by_key["group:g"].cost == pytest.approx(4.0)  # alone: its own second plus the module setup
    assert by_key["group:g"].own == pytest.approx(1.0)
    assert by_key["tests/test_db.py"].tests == ("tests/test_db.py::test_a", "tests/test_db.py::test_c")
    assert by_key["tests/test_db.py"].indivisible == pytest.approx(4.0)  # a plan could still split it


def test_xdist_groups_run_in_one_shard() -> None:
    timings = uniform_suite(40, 1.0, files=8)
    tests = list(timings)
    group = {tests[0]: "db", tests[9]: "db", tests[21]: "db", tests[33]: "db"}
    plan = make_plan(tests, estimate_of(timings), 4, groups=group)
    assert len({shard_of(plan)[nodeid] for nodeid in group}) == 1
    units = make_units(tests, estimate_of(timings), shards=4, groups=group)
    assert [u.tests for u in units if u.key == "group:db"] == [(tests[0], tests[9], tests[21], tests[33])]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("tests/test_f1.py", 8),
        ("tests/test_f[23].py", 16),
        ("tests/**", 40),
        ("tests/test_f4.py::test_4", 1),
    ],
)
def test_keep_together_patterns_run_in_one_shard(pattern: str, expected: int) -> None:
    timings = uniform_suite(40, 1.0, files=5)
    plan = make_plan(list(timings), estimate_of(timings), 4, keep_together=[pattern])
    kept = [nodeid for nodeid in timings if keep_matches(pattern, nodeid)]
    assert len(kept) == expected
    assert len({shard_of(plan)[nodeid] for nodeid in kept}) == 1


def test_keep_together_matches_node_id_prefixes_at_node_boundaries() -> None:
    assert keep_matches("tests/a.py::TestX", "tests/a.py::TestX::test_1")
    assert keep_matches("tests/a.py::test_p", "tests/a.py::test_p[1]")
    assert not keep_matches("tests/a.py::test_p", "tests/a.py::test_p2")
    assert keep_matches("tests/db/**", "tests/db/test_q.py::test_1")
    assert not keep_matches("tests/db/*.py", "tests/dbx/test_q.py::test_1")


def test_overlapping_groups_and_patterns_merge_into_one_unit() -> None:
    timings = uniform_suite(20, 1.0, files=4)
    tests = list(timings)
    groups = {tests[1]: "b", tests[3]: "a"}  # tests[1] is in test_f1.py
    units = make_units(
        tests, estimate_of(timings), shards=4, groups=groups, keep_together=["tests/test_f1.py"]
    )
    merged = next(u for u in units if tests[1] in u.tests)
    assert merged.key == "group:b"  # the smallest label of the merged ones: not order dependent
    assert set(merged.tests) == {tests[1]} | {n for n in tests if n.startswith("tests/test_f1.py")}
    assert [u.key for u in units if tests[3] in u.tests] == ["group:a"]


def test_unusable_timings_count_as_zero() -> None:
    timings = {"tests/a.py::test_nan": t(float("nan")), "tests/a.py::test_neg": t(-3.0, setup=float("inf"))}
    plan = make_plan(list(timings), estimate_of(timings), 2, overhead=0.5)
    assert plan.total == 0.0
    assert_partition(plan, list(timings))


def test_bad_arguments_are_value_errors() -> None:
    timings = uniform_suite(3)
    with pytest.raises(ValueError, match="shards"):
        make_plan(list(timings), estimate_of(timings), 0)
    with pytest.raises(ValueError, match="overhead"):
        make_plan(list(timings), estimate_of(timings), 2, overhead=-1.0)
    with pytest.raises(ValueError, match="unknown planning strategy 'kk'"):
        make_plan(list(timings), estimate_of(timings), 2, strategy="kk")
    with pytest.raises(ValueError, match="shards"):
        auto_shards(list(timings), estimate_of(timings), 10.0, max_shards=0)


def test_an_empty_suite_gives_empty_shards() -> None:
    plan = make_plan([], estimate_of({}), 2, overhead=1.0)
    assert [s.tests for s in plan.shards] == [(), ()]
    assert (plan.total, plan.lower_bound, plan.makespan, plan.ratio) == (0.0, 1.0, 1.0, 1.0)
    assert make_plan([], estimate_of({}), 2).ratio == 1.0


def test_strategies_share_one_interface() -> None:
    timings = uniform_suite(9)
    units = make_units(list(timings), estimate_of(timings), shards=3)
    for name in strategies.STRATEGIES:
        assignment = strategies.get(name).assign(units, 3, 0.0)
        assert sorted(u.key for group in assignment for u in group) == sorted(u.key for u in units)


def test_auto_shards_picks_the_fewest_that_meet_the_target() -> None:
    timings = uniform_suite(100, 1.0)
    tests = list(timings)
    assert auto_shards(tests, estimate_of(timings), 30.0) == 4  # 25 s each; 3 shards would take 34 s
    assert auto_shards(tests, estimate_of(timings), 100.0) == 1
    # Overhead counts against the target: (30 - 5) s of tests per shard.
    assert auto_shards(tests, estimate_of(timings), 30.0, overhead=5.0) == 4
    assert auto_shards(tests, estimate_of(timings), 29.0, overhead=5.0) == 5


def test_auto_shards_with_an_unreachable_target_stops_where_more_shards_cannot_help() -> None:
    timings = {**uniform_suite(20, 1.0), "tests/test_big.py::test_big": t(50.0)}
    plan = auto_plan(list(timings), estimate_of(timings), 30.0, max_shards=64)
    assert plan.makespan == 50.0 > 30.0
    assert len(plan.shards) == 2  # the fewest shards that reach the 50 s the big test takes alone
    capped = auto_plan(list(uniform_suite(100)), estimate_of(uniform_suite(100)), 5.0, max_shards=8)
    assert len(capped.shards) == 8 and capped.makespan > 5.0


def test_manifest_round_trips_through_json() -> None:
    timings = lognormal_suite(3, tests=200, modules=10)
    plan = make_plan(list(timings), estimate_of(timings), 3, overhead=2.5)
    data = json.loads(json.dumps(to_json(plan)))
    assert from_json(data) == plan
    assert data["version"] == 1 and data["fingerprint"] == fingerprint(timings)
    assert set(data) == {"version", "fingerprint", "overhead", "lower_bound", "total", "shards"}
    assert set(data["shards"][0]) == {"index", "predicted", "tests"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: [], "not a ci-toolkit plan manifest"),
        (lambda d: d.update(version=2), "version 2 is not 1"),
        (lambda d: d.update(shards=[]), '"shards" must be a non-empty list'),
        (lambda d: d["shards"].__setitem__(0, "x"), r"shards\[0\]: expected an object"),
        (lambda d: d["shards"][1].update(index=7), r'shards\[1\]: "index" must be 2, got 7'),
        (lambda d: d["shards"][0].update(tests="a"), '"tests" must be a list of node ids'),
        (lambda d: d["shards"][1]["tests"].append(d["shards"][0]["tests"][0]), "a test is listed twice"),
        (lambda d: d["shards"][0]["tests"].append(d["shards"][0]["tests"][0]), "a test is listed twice"),
        (lambda d: d["shards"][0].update(predicted="1"), '"predicted" must be a number of seconds'),
        (lambda d: d.update(total=-1), '"total" must be a number of seconds >= 0'),
        (lambda d: d.update(fingerprint=""), '"fingerprint" must be a non-empty string'),
        (lambda d: d["shards"][0]["tests"].remove(d["shards"][0]["tests"][0]), "fingerprint does not match"),
    ],
)
def test_a_bad_manifest_is_one_line_data_error(mutate: Callable[[dict], object], message: str) -> None:
    timings = uniform_suite(6)
    data = to_json(make_plan(list(timings), estimate_of(timings), 2))
    result = mutate(data)
    with pytest.raises(DataError, match=message) as info:
        from_json(data if result is None else result, "plan.json")
    assert "\n" not in str(info.value) and str(info.value).startswith("plan.json: ")


def test_github_matrix_lists_every_shard_and_the_count() -> None:
    timings = uniform_suite(10)
    matrix = github_matrix(make_plan(list(timings), estimate_of(timings), 3))
    assert matrix == {
        "shard": [1, 2, 3],
        "include": [{"shard": 1, "shards": 3}, {"shard": 2, "shards": 3}, {"shard": 3, "shards": 3}],
    }


def test_fingerprint_ignores_order_and_repeats() -> None:
    value = fingerprint(["b", "a", "c"])
    assert value == fingerprint(["c", "a", "b", "a"]) and len(value) == 16
    assert int(value, 16) >= 0
    assert fingerprint(["a", "b"]) != value


def test_modules_near_a_share_each_are_halved_when_that_balances_better() -> None:
    # Three kept modules of 11 s on two shards: whole, two land together (22 s); halved, each half paying
    # the 1 s setup again, they balance to at most 18 s.
    timings = {
        f"tests/test_m{m}.py::test_{i}": t(1.0, setup=1.0 if i == 0 else 0.0)
        for m in range(3)
        for i in range(10)
    }
    plan = make_plan(list(timings), estimate_of(timings), 2)
    assert_partition(plan, list(timings))
    assert plan.makespan <= 18.0


def test_the_search_prices_moves_and_swaps_of_units_sharing_a_setup() -> None:
    timings = {
        f"tests/test_m{m}.py::test_{i}": t(float(1 + (i * 7 + m) % 5), setup=3.0 if i == 0 else 0.0)
        for m in range(2)
        for i in range(12)
    }
    units = make_units(list(timings), estimate_of(timings), shards=4, max_fraction=0.3)
    assert any(unit.shared for unit in units)
    state = LongestProcessingTime().place(units, 4, 1.0)
    for a in range(len(units)):
        for b in range(len(units)):
            sa, sb = state.where[a], state.where[b]
            if sa == sb:
                continue
            predicted = state.swap_loads(a, b)
            before = list(state.loads)
            state.remove(a)
            state.remove(b)
            state.add(a, sb)
            state.add(b, sa)
            assert (state.loads[sa], state.loads[sb]) == pytest.approx(predicted)
            state.remove(a)
            state.remove(b)
            state.add(a, sa)
            state.add(b, sb)
            assert state.loads == pytest.approx(before)
    lpt = make_plan(list(timings), estimate_of(timings), 4, strategy="lpt")
    refined = make_plan(list(timings), estimate_of(timings), 4, strategy="refine")
    assert refined.makespan <= lpt.makespan
    for shard in refined.shards:  # predicted = own seconds + each module's setup once per shard running it
        modules = {nodeid.split("::")[0] for nodeid in shard.tests}
        own = sum(timings[nodeid].call for nodeid in shard.tests)
        setups = sum(3.0 for m in modules if sum(n.startswith(m) for n in shard.tests) < 12)
        whole = sum(3.0 for m in modules if sum(n.startswith(m) for n in shard.tests) == 12)
        assert shard.predicted == pytest.approx(own + setups + whole)


def test_tests_of_a_class_without_a_shared_setup_are_units_of_their_own() -> None:
    timings = {
        "tests/a.py::test_x": t(1.0),
        "tests/a.py::TestK::test_1": t(1.0),
        "tests/a.py::TestK::test_2": t(2.0),
    }
    units = make_units(list(timings), estimate_of(timings), shards=2)
    assert [(u.key, u.tests) for u in units] == [(nodeid, (nodeid,)) for nodeid in sorted(timings)]
