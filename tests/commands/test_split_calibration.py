"""`split-report`'s calibration of the per-shard overhead, and `timings import` of a results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ci_toolkit.commands import split_report
from ci_toolkit.commands.split_report import Calibration, ShardRun, advice, calibrate, render, summarize
from ci_toolkit.commands.timings import group
from ci_toolkit.planning import Plan, Shard
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.timing import read


def plan(predicted: list[float], overhead: float) -> Plan:
    shards = tuple(Shard(k, (f"t.py::t{k}",), p) for k, p in enumerate(predicted, 1))
    return Plan(shards, "f" * 16, max(predicted), sum(predicted) - overhead * len(predicted), overhead)


def run(made: Plan, index: int, realised: float, sessions: float | None) -> ShardRun:
    return ShardRun(
        Path(f"s{index}"), index, len(made.shards), realised, {"all": realised}, (), made, sessions
    )


def test_the_fitted_constant_is_the_median_of_realised_minus_predicted_work() -> None:
    made = plan([12.0, 10.0, 14.0], overhead=2.0)  # work 10, 8, 12
    runs = [run(made, 1, 15.0, 4.5), run(made, 2, 13.0, 5.5), run(made, 3, 18.0, None)]
    calibration = calibrate(made, runs)
    assert calibration == Calibration(planned=2.0, fitted=5.0, measured=5.0)
    assert calibration.agree
    assert "they agree" in advice(calibration)


@pytest.mark.parametrize(
    ("calibration", "agree", "says"),
    [
        (Calibration(2.0, 9.0, 3.0), False, "6.0s more than pytest's own start-up"),
        (Calibration(2.0, 1.0, 6.0), False, "5.0s less than their sessions measured"),
        (Calibration(2.0, 20.0, 17.0), True, "they agree"),  # within 20 %
        (Calibration(2.0, 4.0, None), None, "no shard recorded its start-up"),
    ],
)
def test_advice_says_what_to_do_when_fitted_and_measured_disagree(
    calibration: Calibration, agree: bool | None, says: str
) -> None:
    assert calibration.agree is agree
    assert says in advice(calibration)
    if agree is False:
        assert f"set shard_overhead = {calibration.fitted:.1f}" in advice(calibration)


def test_the_report_prints_both_constants_side_by_side() -> None:
    made = plan([12.0, 10.0], overhead=2.0)
    report = summarize([run(made, 1, 20.0, 3.0), run(made, 2, 18.0, 3.0)])
    text = render(report)
    assert "per-shard overhead: fitted 10.0s (median realised - predicted work), " in text
    assert "measured start-up + session fixtures 3.0s, planned 2.0s" in text
    assert "set shard_overhead = 10.0" in text
    assert split_report.to_json(report)["overhead"] == {
        "planned": 2.0,
        "fitted": 10.0,
        "measured": 3.0,
        "agree": False,
    }


def write_results(path: Path) -> None:
    tests = (
        results_file.TestOutcome(
            "tests/t.py::a", "passed", 0.5, 1.0, 0.0, first="session", session_setup=0.4
        ),
        results_file.TestOutcome("tests/t.py::b", "passed", 0.0, 2.0, 0.0),
    )
    results_file.write(path, results_file.Results(tests, {}, results_file.Session(startup=1.25)))


def test_timings_import_of_a_results_file_learns_its_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outside any project: the command reads plain files
    write_results(tmp_path / "r.json")
    out = tmp_path / "h.json"
    result = CliRunner().invoke(
        group, ["import", "--project", "app", "--root", str(tmp_path), str(out), str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    history = read(out)
    assert history.tests["tests/t.py::a"].setup == pytest.approx(0.1)  # the session's fixture taken off
    assert history.sessions[""].startup == 1.25 and history.sessions[""].setup == pytest.approx(0.4)
    assert json.loads(out.read_text())["sessions"][""]["startup"] == 1.25


def test_timings_show_says_what_a_session_pays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_results(tmp_path / "r.json")
    out = tmp_path / "h.json"
    CliRunner().invoke(group, ["import", str(out), "r.json"])  # of the directory's project, as `show` reads
    result = CliRunner().invoke(group, ["show", "--history", str(out)])
    assert result.exit_code == 0, result.output
    assert "a session pays besides its tests (unknown mode: start-up 1.2 s + session fixtures 0.4 s)" in (
        result.output
    )
