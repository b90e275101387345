"""`ci-toolkit report` and `publish`: a run's report saved in its output dir, rendered again later."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from report_samples import full_report

from ci_toolkit.commands import common
from ci_toolkit.commands.report import command
from ci_toolkit.errors import ExitCode
from ci_toolkit.pytest_plugin.recorder import ResultsRecorder
from ci_toolkit.report import json_report, markdown, model, terminal
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.run.results import LaneResult, TestOutcome


@pytest.fixture
def report() -> model.Report:
    """A report with every section filled (tests/report/report_samples.py)."""
    return full_report()


def saved(tmp_path: Path, report: model.Report) -> Path:
    json_report.save(tmp_path / json_report.REPORT_FILE, report)
    return tmp_path


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "json"])
def test_renders_a_saved_run(tmp_path: Path, report: model.Report, fmt: str) -> None:
    result = CliRunner().invoke(command, ["--from", str(saved(tmp_path, report)), "--format", fmt])
    assert result.exit_code == ExitCode.OK, result.output
    expected = {
        "terminal": terminal.render_report(report),
        "markdown": markdown.render(report),
        "json": json.dumps(model.to_dict(report), indent=2) + "\n",
    }[fmt]
    assert result.output == expected


def test_max_bytes_and_key(tmp_path: Path, report: model.Report) -> None:
    argv = [
        "--from",
        str(saved(tmp_path, report)),
        "--format",
        "markdown",
        "--max-bytes",
        "1500",
        "--key",
        "py",
    ]
    result = CliRunner().invoke(command, argv)
    assert result.exit_code == ExitCode.OK
    assert result.output.startswith("<!-- ci-toolkit:py -->\n")
    assert len(result.output.encode()) <= 1500 and "left out to fit 1500 bytes" in result.output


def test_nothing_saved_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, ["--from", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "no saved report here" in result.output


def test_the_configured_output_dir_by_default(tmp_path: Path, report: model.Report) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ci-toolkit]\n')
    (tmp_path / ".ci-toolkit").mkdir()
    saved(tmp_path / ".ci-toolkit", report)
    result = CliRunner().invoke(command, ["--config", str(tmp_path / "pyproject.toml"), "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.output)["exit_code"] == 1


def test_publish_saves_the_report_beside_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: model.Report
) -> None:
    summary = tmp_path / "summary.json"
    common.publish(
        report.lanes,
        report.verdict,
        json_path=summary,
        color=False,
        note=None,
        exit_code=1,
        services=[{"name": "db", "backend": "docker", "seconds": 2.5, "reused": False, "detail": ""}],
        services_waited=1.25,
        delta=report.delta,
        shards=report.shards,
        output_dir=tmp_path,
    )
    out = capsys.readouterr().out
    assert out.rstrip().endswith("ci-toolkit: 3 passed, 2 failed, 0 skipped")
    again = json_report.load(tmp_path / json_report.REPORT_FILE)
    assert model.to_dict(again) == json.loads(summary.read_text())
    assert (tmp_path / markdown.FILE).read_text() == markdown.render(again)


def test_publish_keeps_its_old_keywords(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lanes = [LaneResult("unit", 0, 1.0, (TestOutcome("t.py::a", "passed"),))]
    common.publish(lanes, None, json_path=tmp_path / "s.json", color=None, note="n", exit_code=0)
    data = json.loads((tmp_path / "s.json").read_text())
    assert (data["passed"], data["exit_code"], data["services"], data["note"]) == (True, 0, [], "n")
    assert not (tmp_path / json_report.REPORT_FILE).exists()  # no output dir given: nothing else written
    assert "PASSED" in capsys.readouterr().out


def test_an_unwritable_output_dir_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: model.Report
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    common.save_report(report, blocked)
    assert "report not saved" in capsys.readouterr().err


def test_html_of_the_coverage_data(
    tmp_path: Path, report: model.Report, capsys: pytest.CaptureFixture[str]
) -> None:
    from ci_toolkit.report import html

    (tmp_path / "m.py").write_text("x = 1\n")
    import coverage

    cov = coverage.Coverage(data_file=str(tmp_path / ".coverage"))
    cov.get_data().add_lines({str(tmp_path / "m.py"): [1]})
    cov.get_data().write()
    out = tmp_path / "out"
    out.mkdir()
    common.save_report(report, out, coverage_file=tmp_path / ".coverage", root=tmp_path)
    assert (out / html.DIRECTORY / "index.html").is_file()
    assert html.write(tmp_path / "missing", tmp_path, out / "h") is not None


def test_html_ignores_the_projects_own_fail_under(tmp_path: Path) -> None:
    """`fail_under` in [tool.coverage.report] is the gate's to judge, not a reason the HTML failed."""
    import coverage

    from ci_toolkit.report import html

    (tmp_path / "pyproject.toml").write_text("[tool.coverage.report]\nfail_under = 100\n")
    (tmp_path / "m.py").write_text("x = 1\ny = 2\n")
    cov = coverage.Coverage(data_file=str(tmp_path / ".coverage"))
    cov.get_data().add_lines({str(tmp_path / "m.py"): [1]})
    cov.get_data().write()

    assert html.write(tmp_path / ".coverage", tmp_path, tmp_path / "h") is None
    assert (tmp_path / "h" / "index.html").is_file()


class _Hook:
    def pytest_report_teststatus(self, report: Any, config: Any) -> tuple[str, str, str]:
        return (report.outcome, "", "")


def test_the_recorder_keeps_reruns(tmp_path: Path) -> None:
    """pytest-rerunfailures reports each failed attempt as "rerun"; a test that then passes is flaky."""
    config = SimpleNamespace(hook=_Hook(), option=SimpleNamespace())
    recorder = ResultsRecorder(tmp_path / "r.json", config, run_id="x")  # type: ignore[arg-type]

    def report(nodeid: str, when: str, outcome: str) -> Any:
        return SimpleNamespace(
            nodeid=nodeid,
            when=when,
            outcome=outcome,
            duration=0.1,
            count_towards_summary=True,
            passed=outcome == "passed",
            failed=outcome == "failed",
            skipped=False,
            longrepr=None,
            sections=[],
        )

    for outcome in ("rerun", "rerun"):
        recorder.pytest_runtest_logreport(report("t.py::flaky", "call", outcome))
    for when in ("setup", "call", "teardown"):
        recorder.pytest_runtest_logreport(report("t.py::flaky", when, "passed"))
        recorder.pytest_runtest_logreport(report("t.py::steady", when, "passed"))
    recorder.pytest_sessionfinish(SimpleNamespace(shouldstop=False, shouldfail=False), 0)  # type: ignore[arg-type]
    tests = {o.nodeid: o for o in results_file.read(tmp_path / "r.json").tests}
    assert (tests["t.py::flaky"].outcome, tests["t.py::flaky"].reruns) == ("passed", 2)
    assert tests["t.py::steady"].reruns == 0
    assert "reruns" not in json.loads((tmp_path / "r.json").read_text())["tests"][1]  # absent when none


def test_a_directory_not_ours_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: model.Report
) -> None:
    (tmp_path / "mine.txt").write_text("the user's")
    common.save_report(report, tmp_path)
    assert "report not saved" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
