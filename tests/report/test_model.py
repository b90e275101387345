"""The report model: built once, saved as JSON and read back to the same content."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from report_samples import full_report

from ci_toolkit.errors import DataError
from ci_toolkit.report import json_report, model
from ci_toolkit.run.results import LaneResult, TestOutcome


@pytest.fixture
def report() -> model.Report:
    """A report with every section filled (tests/report/report_samples.py)."""
    return full_report()


def test_flaky_is_a_pass_after_a_rerun(report: model.Report) -> None:
    unit = report.lanes[0]
    assert [o.nodeid for o in model.flaky(unit)] == ["tests/test_a.py::test_flaky"]
    assert model.to_dict(report)["tests"]["flaky"] == 1
    # A test that failed on every attempt is failed, not flaky.
    lane = LaneResult("l", 1, 1.0, (TestOutcome("t.py::f", "failed", reruns=3),))
    assert model.flaky(lane) == ()


def test_slowest_tests_in_order_without_the_instant_ones(report: model.Report) -> None:
    assert [(t.nodeid, t.lane, t.seconds) for t in report.slowest] == [
        ("tests/it.py::test_db", "integration", 9.0),
        ("tests/test_a.py::test_x", "unit", 2.0),
        ("tests/test_a.py::test_flaky", "unit", 1.0),
        ("tests/test_a.py::test_ok", "unit", 0.5),
        ("tests/test_a.py::test_err", "unit", 0.1),
    ]
    lanes = [LaneResult("l", 0, 1.0, tuple(TestOutcome(f"t::{i}", "passed", call=i) for i in range(30)))]
    assert len(model.slowest_tests(lanes)) == model.SLOWEST


def test_verdict_line_names_what_failed(report: model.Report) -> None:
    line = model.verdict_line(report)
    assert line.startswith("failed: 2 tests failed; coverage gate failed: total ")
    assert "file floors" in line and "critical paths" in line
    passing = model.build([LaneResult("l", 0, 1.0, (TestOutcome("t::a", "passed"),))], None)
    assert model.verdict_line(passing) == "passed"
    broken = model.build([LaneResult("l", 3, 1.0, problems=("INTERNALERROR: boom",))], None)
    assert model.verdict_line(broken) == "failed: lane l did not finish cleanly"


def test_the_saved_report_reads_back_to_the_same_content(report: model.Report, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    json_report.save(path, report)
    again = json_report.load(path)
    assert model.to_dict(again) == model.to_dict(report)
    assert json.loads(path.read_text()) == model.to_dict(report)
    assert again.verdict is not None and again.verdict.patch == report.verdict.patch  # type: ignore[union-attr]
    assert again.delta == report.delta and again.shards == report.shards


def test_shard_times_from_the_plan() -> None:
    lanes = [LaneResult("a", 0, 3.0), LaneResult("b", 0, 4.0)]

    class Shard:
        def __init__(self, predicted: float, tests: tuple[str, ...]) -> None:
            self.predicted, self.tests = predicted, tests

    class FakePlan:
        shards = (Shard(6.0, ("t1", "t2")), Shard(5.0, ("t3",)))

    times = model.shard_times(FakePlan(), (2, 2), lanes)  # type: ignore[arg-type]
    assert times == (model.ShardTime(1, 6.0, None, 2), model.ShardTime(2, 5.0, 7.0, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"schema_version": 1, "passed": true}', "schema version 2"),
        ("[]", "schema version 2"),
        ('{"schema_version": 2, "lanes": [{}]}', "malformed report"),
    ],
)
def test_a_bad_saved_report_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        json_report.load(path)


def test_no_saved_report(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no saved report here"):
        json_report.load(tmp_path / "report.json")


def test_extra_fills_the_report_fields() -> None:
    data = json_report.to_dict([], None, extra={"exit_code": 4, "services_waited": 1.23456, "project": "x"})
    assert (data["exit_code"], data["services_waited"], data["project"]) == (4, 1.235, "x")


def test_a_saved_report_can_be_compared_against(report: model.Report, tmp_path: Path) -> None:
    from ci_toolkit.gate import compare

    data = model.to_dict(report)
    assert {f["path"] for f in data["coverage"]["files"]} == {
        "app/auth.py",
        "app/api/views.py",
        "app/models.py",
    }
    baseline = compare.parse(data, tmp_path / "report.json")
    assert baseline.complete and baseline.files["app/models.py"].covered == 5


def test_a_failed_patch_check_is_named_everywhere(report: model.Report) -> None:
    from ci_toolkit.gate.measured import Measure
    from ci_toolkit.gate.verdict import Check
    from ci_toolkit.report import markdown, terminal

    assert report.verdict is not None
    check = Check(
        "patch", "patch", 80.0, Measure(3, 8), False, "app/pay.py 41-44, 57", origin="patch_fail_under"
    )
    verdict = dataclasses.replace(report.verdict, checks=(*report.verdict.checks, check))
    failing = dataclasses.replace(report, verdict=verdict)
    assert "patch coverage" in model.verdict_line(failing)
    assert "FAIL patch coverage 37.50% < 80 (patch_fail_under)" in terminal.render_report(failing)
    assert "(patch_fail_under 80) ❌" in markdown.render(failing)


def test_where_a_test_failed_is_saved_and_read_back(tmp_path: Path) -> None:
    pinned = TestOutcome("tests/t.py::test_a", "failed", message="assert 0", path="tests/t.py", line=7)
    unknown = TestOutcome("tests/t.py::test_b", "error", message="boom")
    report = model.build([LaneResult("l", 1, 1.0, (pinned, unknown))], None, exit_code=1)
    failed = model.to_dict(report)["lanes"][0]["failed"]
    # Optional keys within schema version 2: absent when not known.
    assert failed == [
        {
            "nodeid": "tests/t.py::test_a",
            "outcome": "failed",
            "message": "assert 0",
            "path": "tests/t.py",
            "line": 7,
        },
        {"nodeid": "tests/t.py::test_b", "outcome": "error", "message": "boom"},
    ]
    path = tmp_path / "report.json"
    json_report.save(path, report)
    again = json_report.load(path).lanes[0].failed
    assert [(o.path, o.line) for o in again] == [("tests/t.py", 7), ("", 0)]


def test_a_report_saved_before_failure_places_existed_still_loads(tmp_path: Path) -> None:
    doc = model.to_dict(
        model.build([LaneResult("l", 1, 1.0, (TestOutcome("t.py::a", "failed", message="m"),))], None)
    )
    assert set(doc["lanes"][0]["failed"][0]) == {"nodeid", "outcome", "message"}
    again = model.from_dict(json.loads(json.dumps(doc)))
    assert [(o.nodeid, o.path, o.line) for o in again.lanes[0].failed] == [("t.py::a", "", 0)]
