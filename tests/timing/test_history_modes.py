"""The mode durations were measured in: kept with them in the history file, kept apart by update and merge,
and converted (or flagged) when an estimate is asked for another mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.commands.local import record_timings
from ci_toolkit.config import Config
from ci_toolkit.config.model import CoverageConfig, Lane
from ci_toolkit.run.results import LaneResult, Session, TestOutcome
from ci_toolkit.timing.estimate import Estimator, in_mode
from ci_toolkit.timing.modes import describe, is_mode, mode, ratio
from ci_toolkit.timing.smoothing import History, Observation, TestTiming, empty, entries, merge, update
from ci_toolkit.timing.store import HISTORY_VERSION, load, read, save


def obs(call: float, mode: str, lane: str = "unit") -> Observation:
    return Observation(0.0, call, 0.0, lane, mode)


def test_a_mode_names_coverage_and_xdist() -> None:
    assert mode("branch", 4) == "branch+xdist"
    assert mode("off", 0) == "off"
    assert describe("line+xdist") == "coverage line, xdist"
    assert describe("off") == "no coverage"
    assert describe("") == "unknown mode"
    assert all(is_mode(m) for m in ("", "off", "line", "branch", "off+xdist"))
    assert not any(is_mode(m) for m in ("fast", "+xdist", 3, None))
    with pytest.raises(ValueError, match="coverage mode"):
        mode("full", 0)


def test_ratio_is_the_median_of_per_test_ratios_and_needs_enough_tests() -> None:
    tests = [{"branch": 3.0 * s, "off": s} for s in (1.0, 2.0, 4.0)] + [{"branch": 10.0, "off": 1.0}]
    tests += [{"branch": 5.0}, {"off": 0.0, "branch": 1.0}]  # in one mode only; 0 s in "off"
    assert ratio(tests, "branch", "off", minimum=5) == pytest.approx(1 / 3)  # 1/3, 1/3, 1/3, 0.1, 0
    assert ratio(tests, "off", "branch", minimum=4) == pytest.approx(3.0)  # 0 s says nothing of a ratio
    assert ratio(tests, "off", "branch", minimum=5) is None


def test_update_keeps_modes_apart_and_the_freshest_leads() -> None:
    history = update(empty("app"), {"t.py::a": obs(3.0, "branch"), "t.py::b": obs(6.0, "branch")})
    history = update(history, {"t.py::a": obs(1.0, "off")}, alpha=0.5)
    history = update(history, {"t.py::a": obs(2.0, "off")}, alpha=0.5)
    lead = history.tests["t.py::a"]
    assert (lead.mode, lead.call, lead.runs, lead.last_seen) == ("off", 1.5, 2, 3)  # never mixed with 3.0
    assert history.other_modes == {"t.py::a": {"branch": TestTiming(0.0, 3.0, 0.0, 1, 1, "unit", "branch")}}
    assert history.tests["t.py::b"].mode == "branch"
    history = update(history, {"t.py::a": obs(5.0, "branch")}, alpha=0.5)
    assert (history.tests["t.py::a"].mode, history.tests["t.py::a"].call) == ("branch", 4.0)
    assert history.other_modes["t.py::a"]["off"].call == 1.5


def test_an_entry_of_unknown_mode_takes_the_mode_of_the_next_run() -> None:
    old = History("app", 3, {"t.py::a": TestTiming(0.0, 4.0, 0.0, 3, 3, "unit")})  # as read from version 1
    new = update(old, {"t.py::a": obs(2.0, "branch")}, alpha=0.5)
    assert new.tests["t.py::a"] == TestTiming(0.0, 3.0, 0.0, 4, 4, "unit", "branch")
    assert new.other_modes == {}


def test_update_prunes_each_mode_on_its_own() -> None:
    history = update(empty("app"), {"t.py::a": obs(3.0, "branch")})
    history = update(history, {"t.py::a": obs(1.0, "off")}, prune_after=1)
    history = update(history, {"t.py::a": obs(1.0, "off")}, prune_after=1)
    assert list(entries(history)) == [("t.py::a", "off")]


def test_merge_takes_the_freshest_entry_of_each_mode() -> None:
    shard_1 = History("app", 5, {"t.py::a": TestTiming(0.0, 3.0, 0.0, 2, 5, "unit", "branch")})
    shard_2 = History(
        "app",
        5,
        {"t.py::a": TestTiming(0.0, 1.0, 0.0, 1, 5, "unit", "off")},
        {"t.py::a": {"branch": TestTiming(0.0, 9.0, 0.0, 1, 2, "unit", "branch")}},
    )
    merged = merge([shard_1, shard_2])
    assert entries(merged) == {
        ("t.py::a", "branch"): TestTiming(0.0, 3.0, 0.0, 2, 5, "unit", "branch"),
        ("t.py::a", "off"): TestTiming(0.0, 1.0, 0.0, 1, 5, "unit", "off"),
    }


def test_the_history_file_round_trips_every_mode(tmp_path: Path) -> None:
    history = History(
        "app",
        7,
        {
            "t.py::a": TestTiming(0.1, 1.0, 0.0, 2, 7, "unit", "off"),
            "t.py::b": TestTiming(0.0, 2.5, 0.0, 1, 6, "db", "line+xdist"),
        },
        {"t.py::a": {"branch": TestTiming(0.3, 3.0, 0.0, 4, 5, "unit", "branch")}},
    )
    path = tmp_path / "timings.json"
    save(path, history)
    doc = json.loads(path.read_text())
    assert doc["version"] == HISTORY_VERSION == 2
    assert doc["tests"]["t.py::a"] == {
        "setup": 0.1,
        "call": 1.0,
        "teardown": 0.0,
        "runs": 2,
        "last_seen": 7,
        "lane": "unit",
        "mode": "off",
        "also": {
            "branch": {"setup": 0.3, "call": 3.0, "teardown": 0.0, "runs": 4, "last_seen": 5, "lane": "unit"}
        },
    }
    assert "also" not in doc["tests"]["t.py::b"]  # one mode: as small as before
    assert read(path, "app") == history


def test_a_version_1_history_still_loads_with_its_mode_unknown(tmp_path: Path) -> None:
    path = tmp_path / "timings.json"
    entry = {"setup": 0.0, "call": 2.0, "teardown": 0.0, "runs": 3, "last_seen": 4, "lane": "unit"}
    doc = {"version": 1, "tool": "ci-toolkit", "project": "app", "run": 4, "tests": {"t.py::a": entry}}
    path.write_text(json.dumps(doc))
    assert load(path, "app") == History("app", 4, {"t.py::a": TestTiming(0.0, 2.0, 0.0, 3, 4, "unit", "")})


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        pytest.param({"call": 1.0, "mode": "turbo"}, "unknown mode 'turbo'", id="mode"),
        pytest.param({"call": 1.0, "mode": "off", "also": []}, '"also" must map modes', id="also"),
        pytest.param({"call": 1.0, "also": {"off": {"call": -1}}}, "phase seconds", id="other-entry"),
    ],
)
def test_a_bad_mode_drops_that_entry_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: dict[str, object], why: str
) -> None:
    path = tmp_path / "timings.json"
    tests = {"t.py::bad": entry, "t.py::good": {"call": 1.0, "mode": "off"}}
    path.write_text(
        json.dumps({"version": 2, "tool": "ci-toolkit", "project": "app", "run": 1, "tests": tests})
    )
    assert list(load(path, "app").tests) == ["t.py::good"]
    assert why in capsys.readouterr().err


def _recorded_with_coverage(overlap: int) -> History:
    """`ci-toolkit local` measured the suite under branch coverage; `overlap` tests also ran without it,
    three times as fast."""
    tests = {f"t.py::t{i}": TestTiming(0.0, 3.0 * (i + 1), 0.0, 1, 2, "unit", "branch") for i in range(8)}
    others = {
        f"t.py::t{i}": {"off": TestTiming(0.0, 1.0 * (i + 1), 0.0, 1, 1, "unit", "off")}
        for i in range(overlap)
    }
    return History("app", 2, tests, others)


def test_a_history_recorded_with_coverage_predicts_a_run_without_it_by_the_learned_ratio() -> None:
    estimate = Estimator(_recorded_with_coverage(overlap=5), mode="off")
    assert estimate("t.py::t0").duration == pytest.approx(1.0)
    assert estimate.source("t.py::t0") == "history"  # measured without coverage itself
    assert estimate("t.py::t7").duration == pytest.approx(8.0)  # 24 s under coverage / 3
    assert estimate.source("t.py::t7") == "converted"
    assert estimate("t.py::new").duration == pytest.approx((1 + 2 + 3 + 4 + 5 + 6 + 7 + 8) / 8)
    assert estimate.source("t.py::new") == "file"
    # Asked for the mode it was recorded in, it is the history as it is.
    same = Estimator(_recorded_with_coverage(overlap=5), mode="branch")
    assert same("t.py::t0").duration == pytest.approx(3.0)
    assert same.source("t.py::t0") == "history"


def test_without_enough_overlap_times_of_another_mode_are_used_but_flagged_unconverted() -> None:
    estimate = Estimator(_recorded_with_coverage(overlap=4), mode="off")
    assert estimate("t.py::t7").duration == pytest.approx(24.0)
    assert estimate.source("t.py::t7") == "unconverted"
    assert estimate.source("t.py::t0") == "history"
    # A new test is estimated from the tests measured in the mode asked for, not from unconverted ones.
    assert estimate("t.py::new").duration == pytest.approx((1 + 2 + 3 + 4) / 4)
    nothing_in_mode = Estimator(_recorded_with_coverage(overlap=0), mode="line")
    assert {nothing_in_mode.source(f"t.py::t{i}") for i in range(8)} == {"unconverted"}
    assert nothing_in_mode.source("t.py::new") == "file"


def test_an_entry_of_unknown_mode_counts_as_of_the_mode_asked_for() -> None:
    v1 = History("app", 1, {"t.py::a": TestTiming(0.0, 2.0, 0.0, 1, 1)})
    assert in_mode(v1, "off+xdist") == {"t.py::a": (v1.tests["t.py::a"], "history")}


def test_without_a_mode_each_test_s_latest_entry_is_used_as_before() -> None:
    history = _recorded_with_coverage(overlap=5)
    estimate = Estimator(history)
    assert estimate("t.py::t0").duration == pytest.approx(3.0)
    assert {estimate.source(f"t.py::t{i}") for i in range(8)} == {"history"}


def test_local_records_each_lane_s_times_in_the_mode_it_ran_in(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    config = Config(
        root=tmp_path,
        path=tmp_path / "pyproject.toml",
        lanes=(Lane("unit", workers=2), Lane("db", workers=0)),
        coverage=CoverageConfig(branch=False),
    )
    lanes = [
        LaneResult(name, 0, 1.0, (TestOutcome(f"t.py::{name}", "passed", 0.0, 1.0, 0.0),))
        for name in ("unit", "db")
    ]
    record_timings(config, lanes)
    history = load(tmp_path / config.timings, "app")
    assert {nodeid: t.mode for nodeid, t in history.tests.items()} == {
        "t.py::db": "line",
        "t.py::unit": "line+xdist",
    }


def test_local_records_each_session_once_and_a_no_cov_run_as_off(tmp_path: Path) -> None:
    """Lanes of one shared session carry the same session: its start-up is learned once, with the session
    fixtures its lanes' tests paid added up; `-- --no-cov` makes every lane's mode "off"."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    config = Config(
        root=tmp_path,
        path=tmp_path / "pyproject.toml",
        lanes=(
            Lane("unit", markers="not db", concurrent=True, workers=2),
            Lane("db", markers="db", concurrent=True),
        ),
        coverage=CoverageConfig(branch=False),
    )
    session = Session(run_id="r", exitstatus=0, startup=2.0, startup_from="process")
    lanes = [
        LaneResult(name, 0, 1.0, (TestOutcome(f"t.py::{name}", "passed", 0.5, 1.0, 0.0, session_setup=0.5),),
                   session=session)
        for name in ("unit", "db")
    ]  # fmt: skip
    record_timings(config, lanes, pytest_args=["--no-cov"])
    history = load(tmp_path / config.timings, "app")
    # Shared with "unit", the lane "db" runs on the session's two workers: both lanes are "off+xdist".
    assert {t.mode for t in history.tests.values()} == {"off+xdist"}
    assert history.sessions["off+xdist"].startup == 2.0
    assert history.sessions["off+xdist"].setup == pytest.approx(1.0)
    assert history.sessions["off+xdist"].runs == 1
