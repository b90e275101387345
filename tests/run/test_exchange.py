"""The files ci-toolkit and its pytest processes exchange: what each writer writes its reader reads back,
and what it did not write (another version, another shape) is a DataError naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit import planning
from ci_toolkit.errors import DataError
from ci_toolkit.merge.lanes import merge_results
from ci_toolkit.run.exchange import collected, lanes, owner, results, run_record, sidecar, verdict, worker_env
from ci_toolkit.run.exchange import plan as manifest
from ci_toolkit.run.results import LaneResult
from ci_toolkit.timing import TestTiming


def test_lanes_round_trip_and_refuse_what_they_did_not_write(tmp_path: Path) -> None:
    path = tmp_path / "lanes.json"
    lanes.write(path, {"unit": "not slow", "all": None})
    assert lanes.read(path) == {"unit": "not slow", "all": None}
    path.write_text(json.dumps({"unit": "not slow"}))  # the unversioned file of earlier versions
    with pytest.raises(DataError, match=r"lanes.json: not a version 1 ci-toolkit lanes file$"):
        lanes.read(path)
    path.write_text(json.dumps({"version": 1, "lanes": {"unit": 3}}))
    with pytest.raises(DataError, match=r'expected \{"lane": "expression" or null\}'):
        lanes.read(path)
    with pytest.raises(DataError, match=r"missing.json: no such file$"):
        lanes.read(tmp_path / "missing.json")


def test_collected_round_trips_and_is_none_until_this_runs_is_there(tmp_path: Path) -> None:
    path = tmp_path / "collected.json"
    assert collected.read(path, "run") is None
    collected.write(path, "run", {"t::a": ["unit", "all"], "t::b": []}, {"t::a": "db"})
    assert collected.read(path, "run") == collected.Collected(
        {"t::a": ("unit", "all"), "t::b": ()}, {"t::a": "db"}
    )
    assert collected.read(path, "another run") is None


@pytest.mark.parametrize(
    "doc",
    [
        {"version": 2, "run": "run", "tests": {}, "groups": {}},
        {"version": 1, "run": "run", "tests": {"t::a": "unit"}, "groups": {}},
        {"version": 1, "run": "run", "tests": {}, "groups": {"t::a": 1}},
        {"version": 1, "run": "run", "tests": {}},
        ["not", "an", "object"],
    ],
)
def test_collected_that_it_did_not_write_is_a_data_error(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "collected.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"collected.json: not a version 1 ci-toolkit lane assignment"):
        collected.read(path, "run")


def test_a_verdict_is_this_runs_or_another_runs(tmp_path: Path) -> None:
    path = tmp_path / "lanes-verdict"
    assert verdict.read(path, "run") is None
    verdict.write(path, "run")
    assert verdict.read(path, "run") is True
    assert verdict.read(path, "another run") is False
    assert verdict.wait(path, "run", timeout=1) is True
    path.write_text("go run\n")  # the one-line verdict of earlier versions
    with pytest.raises(DataError, match=r"lanes-verdict: unreadable ci-toolkit lanes verdict"):
        verdict.read(path, "run")
    path.write_text(json.dumps({"version": 1, "run": "run", "verdict": "stop"}))
    with pytest.raises(DataError, match="unknown verdict 'stop'"):
        verdict.read(path, "run")


def test_no_verdict_in_time_is_a_timeout(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match=r"^--ci-toolkit-verdict=.*: no verdict from ci-toolkit in 0 s$"):
        verdict.wait(tmp_path / "lanes-verdict", "run", timeout=0.05)


def test_results_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    written = results.Results(
        (results.TestOutcome("t::a", "failed", 0.5, 1.25, 0.0, "AssertionError: no"),),
        {"failed": 1},
        results.Session(run_id="run", exitstatus=1, internal_errors=("boom",), stopped="-x", selected=3),
    )
    results.write(path, written)
    assert results.read(path) == written


def test_results_carry_where_a_test_failed_only_when_known(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    written = results.Results(
        (
            results.TestOutcome("tests/t.py::a", "failed", message="no", path="tests/t.py", line=12),
            results.TestOutcome("tests/t.py::b", "error", message="cut short", path="tests/t.py"),
            results.TestOutcome("tests/t.py::c", "passed"),
        ),
        {"failed": 1, "error": 1, "passed": 1},
        results.Session(run_id="run", exitstatus=1),
    )
    results.write(path, written)
    assert results.read(path) == written
    tests = json.loads(path.read_text())["tests"]
    assert [(t.get("path"), t.get("line")) for t in tests] == [
        ("tests/t.py", 12),
        ("tests/t.py", None),
        (None, None),
    ]
    # A file written before these keys existed reads as "unknown".
    old = {"version": 2, "tests": [{"nodeid": "t::a", "outcome": "failed"}], "counts": {}, "session": {}}
    path.write_text(json.dumps(old))
    assert (results.read(path).tests[0].path, results.read(path).tests[0].line) == ("", 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no test results file"),
        ("{", "unreadable ci-toolkit results file"),
        (json.dumps({"version": 1, "tests": [], "counts": {}, "session": {}}), "not a version 2"),
        (json.dumps({"version": 2, "tests": [{"nodeid": "t"}], "counts": {}, "session": {}}), "malformed"),
        (
            json.dumps({"version": 2, "tests": [], "counts": {"passed": -1}, "session": {}}),
            "malformed entry in results file: count -1",
        ),
        (
            json.dumps(
                {
                    "version": 2,
                    "tests": [{"nodeid": "t", "outcome": "failed", "line": -3}],
                    "counts": {},
                    "session": {},
                }
            ),
            "malformed entry in results file: line -3",
        ),
    ],
)
def test_results_it_did_not_write_are_a_data_error(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "results.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=message):
        results.read(path)


def test_a_plan_round_trips_and_junk_is_a_data_error(tmp_path: Path) -> None:
    plan = planning.make_plan(["t::a", "t::b", "t::c"], lambda nodeid: TestTiming(0.0, 1.0, 0.0), 2)
    path = tmp_path / "plan.json"
    manifest.write(path, plan)
    assert manifest.read(path) == plan
    path.write_text("[]")
    with pytest.raises(DataError, match=r"^label: "):
        manifest.read(path, "label")
    with pytest.raises(DataError, match=r"^label: no such file$"):
        manifest.read(tmp_path / "missing.json", "label")


def test_the_sidecar_is_the_first_workers_groups(tmp_path: Path) -> None:
    assert sidecar.read(tmp_path) == {}
    sidecar.write(tmp_path, "gw1", {"t::b": "other"})
    sidecar.write(tmp_path, "gw0", {"t::a": "db"})
    assert sidecar.read(tmp_path) == {"t::a": "db"}
    (tmp_path / "gw0.json").write_text(json.dumps({"groups": {"t::a": "db"}}))
    with pytest.raises(DataError, match=r"gw0.json: not a version 1 ci-toolkit xdist sidecar$"):
        sidecar.read(tmp_path)


def test_the_worker_table_goes_to_each_worker() -> None:
    encoded = worker_env.encode({"DATABASE_URL": {"gw0": "db_gw0", "gw1": "db_gw1"}})
    assert worker_env.encode({}) == {}
    assert worker_env.for_worker({**encoded, worker_env.WORKER: "gw1"}) == {"DATABASE_URL": "db_gw1"}
    assert worker_env.for_worker(encoded) == {}  # not a worker: the controller keeps the shared value
    with pytest.raises(DataError, match="no DATABASE_URL for xdist worker gw2"):
        worker_env.for_worker({**encoded, worker_env.WORKER: "gw2"})
    with pytest.raises(DataError, match="not the table ci-toolkit writes"):
        worker_env.decode('{"A": 1}')


def test_owner_args_name_this_process_and_the_run() -> None:
    pid, run = owner.args("abc")
    assert owner.parse_pid(pid.partition("=")[2]) > 0 and run == "--ci-toolkit-run=abc"
    assert owner.new_run_id() != owner.new_run_id()
    for text in ("x", "0", "-3"):
        with pytest.raises(DataError, match=rf"^--ci-toolkit-parent={text}: expected a process id$"):
            owner.parse_pid(text)


def test_run_record_round_trips_and_refuses_another_version(tmp_path: Path) -> None:
    path = tmp_path / run_record.NAME
    ran = [
        LaneResult("unit", exit_code=0, wall_time=1.23456),
        LaneResult("e2e", exit_code=0, wall_time=2.0),
    ]
    run_record.write(path, ran, (2, 3))
    assert run_record.read(path) == run_record.RunRecord(2, 3, {"unit": 1.2346, "e2e": 2.0})
    doc = json.loads(path.read_text())
    doc["version"] = 2
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"run record version 2, this ci-toolkit reads 1"):
        run_record.read(path)
    run_record.write(path, ran, None)
    with pytest.raises(DataError, match="not a sharded run"):
        run_record.read(path)


def test_a_merged_lane_keeps_where_its_tests_failed(tmp_path: Path) -> None:
    shard = [
        results.Results(
            (results.TestOutcome(f"tests/t{i}.py::a", "failed", path=f"tests/t{i}.py", line=i + 1),),
            {"failed": 1},
            results.Session(exitstatus=1),
        )
        for i in range(2)
    ]
    path = tmp_path / "merged.json"
    results.write(path, merge_results(shard, "run"))
    assert [(o.path, o.line) for o in results.read(path).tests] == [("tests/t0.py", 1), ("tests/t1.py", 2)]
