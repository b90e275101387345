"""Our pytest plugin, in real pytest subprocesses: results recording, lane collection, inertness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config.markers import keyword_matching
from ci_toolkit.run.exchange import lanes as lanes_file
from ci_toolkit.run.results import load_outcomes

pytestmark = pytest.mark.e2e

OUTCOMES = """\
    import pytest


    @pytest.fixture
    def broken_setup():
        raise RuntimeError("setup boom")


    @pytest.fixture
    def broken_teardown():
        yield
        raise RuntimeError("teardown boom")


    def test_pass():
        pass


    def test_fail():
        assert 1 == 2, "one is not two"


    def test_setup_error(broken_setup):
        pass


    def test_teardown_error(broken_teardown):
        pass


    def test_fail_then_teardown_error(broken_teardown):
        raise ValueError("first the call")


    @pytest.mark.skip(reason="  not today  ")
    def test_skip():
        pass


    def test_skip_inside():
        pytest.skip("decided at run time")


    @pytest.mark.xfail(reason="known bug")
    def test_xfail():
        assert 0


    @pytest.mark.xfail(reason="maybe fixed")
    def test_xpass():
        pass


    @pytest.mark.xfail(reason="must fail", strict=True)
    def test_xpass_strict():
        pass


    def test_multiline_failure():
        raise AssertionError("first line\\nsecond line")


    @pytest.mark.integration
    def test_integration():
        pass


    @pytest.mark.serial
    @pytest.mark.integration(kind="db")
    def test_serial_db():
        pass
    """

EXPECTED = {
    "test_pass": ("passed", ""),
    "test_fail": ("failed", "AssertionError: one is not two"),
    "test_setup_error": ("error", "RuntimeError: setup boom"),
    "test_teardown_error": ("error", "RuntimeError: teardown boom"),
    "test_fail_then_teardown_error": ("failed", "ValueError: first the call"),
    "test_skip": ("skipped", "not today"),
    "test_skip_inside": ("skipped", "decided at run time"),
    "test_xfail": ("xfailed", "known bug"),
    "test_xpass": ("xpassed", "maybe fixed"),
    "test_xpass_strict": ("failed", "[XPASS(strict)] must fail"),
    "test_multiline_failure": ("failed", "AssertionError: first line"),
    "test_integration": ("passed", ""),
    "test_serial_db": ("passed", ""),
}

# Reports, per process, whether our plugin objects are registered; and marks test_pass `slow` late,
# the way projects mark tests by path, to show lanes see markers added during modifyitems.
CONFTEST = """\
    import json
    import os
    from pathlib import Path

    import pytest


    def pytest_collection_modifyitems(items):
        for item in items:
            if item.name == "test_pass":
                item.add_marker(pytest.mark.slow)


    def pytest_sessionfinish(session):
        out = os.environ.get("PLUGIN_REPORT_DIR")
        if out:
            pm = session.config.pluginmanager
            name = getattr(session.config, "workerinput", {}).get("workerid", "main")
            Path(out, name + ".json").write_text(json.dumps({
                "loaded": pm.has_plugin("ci_toolkit"),
                "results": pm.has_plugin("ci_toolkit-results"),
                "collect": pm.has_plugin("ci_toolkit-collect"),
            }))
    """


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, sample_project_maker: Callable[..., Any]) -> Path:
    root = tmp_path_factory.mktemp("plugin") / "project"
    sample_project_maker(
        root,
        files={
            "tests/test_outcomes.py": OUTCOMES,
            "tests/conftest.py": CONFTEST,
            "broken/test_broken.py": "def test_x(:\n    pass\n",
        },
        markers=["slow"],
    )
    return root


def pytest_run(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def outcomes_by_name(path: Path) -> dict[str, tuple[str, str]]:
    return {o.nodeid.rsplit("::", 1)[1]: (o.outcome, o.message) for o in load_outcomes(path)}


def test_results_file_records_every_kind_of_outcome(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = pytest_run(project, "tests/test_outcomes.py", f"--ci-toolkit-results={out}")
    assert proc.returncode == 1, proc.stdout
    assert outcomes_by_name(out) == EXPECTED
    doc = json.loads(out.read_text())
    assert doc["version"] == 2
    first = doc["tests"][0]
    # "first": the first test the session ran (for the shard cost model's start-up and lazy imports).
    assert set(first) == {"nodeid", "outcome", "setup", "call", "teardown", "message", "first"}
    assert first["first"] == "session"
    assert first["nodeid"] == "tests/test_outcomes.py::test_pass"
    assert all(t[phase] >= 0 for t in doc["tests"] for phase in ("setup", "call", "teardown"))
    setup_error = next(t for t in doc["tests"] if t["nodeid"].endswith("::test_setup_error"))
    assert setup_error["call"] == 0.0  # the call never ran


def test_under_xdist_only_the_controller_records_and_sees_every_test(project: Path, tmp_path: Path) -> None:
    out, reports = tmp_path / "results.json", tmp_path / "reports"
    reports.mkdir()
    proc = pytest_run(
        project,
        "tests/test_outcomes.py",
        "-n",
        "2",
        f"--ci-toolkit-results={out}",
        env={"PLUGIN_REPORT_DIR": str(reports)},
    )
    assert proc.returncode == 1, proc.stdout
    assert outcomes_by_name(out) == EXPECTED
    seen = {p.stem: json.loads(p.read_text()) for p in reports.iterdir()}
    assert set(seen) == {"main", "gw0", "gw1"}
    assert seen["main"]["results"] is True
    assert seen["gw0"]["results"] is False and seen["gw1"]["results"] is False


def test_inert_without_its_options(project: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    proc = pytest_run(project, "tests/test_unit.py", env={"PLUGIN_REPORT_DIR": str(reports)})
    assert proc.returncode == 0, proc.stdout
    assert json.loads((reports / "main.json").read_text()) == {
        "loaded": True,
        "results": False,
        "collect": False,
    }
    assert not list(project.rglob("*.json"))


def test_a_module_that_fails_to_import_is_recorded_as_an_error(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = pytest_run(project, "broken", "tests/test_unit.py", f"--ci-toolkit-results={out}")
    assert proc.returncode == 2, proc.stdout  # pytest: interrupted by a collection error
    outcome, *rest = load_outcomes(out)
    assert (outcome.nodeid, outcome.outcome) == ("broken/test_broken.py", "error")
    assert outcome.message.startswith("SyntaxError")
    assert (outcome.path, outcome.line) == ("broken/test_broken.py", 1)  # from the SyntaxError's text
    # pytest then runs nothing: the tests it had collected are named as not run, never dropped.
    assert rest and {o.outcome for o in rest} == {"notrun"}
    assert {o.nodeid.split("::")[0] for o in rest} == {"tests/test_unit.py"}
    assert "collection error" in rest[0].message


def test_collect_evaluates_every_lane_before_deselection(project: Path, tmp_path: Path) -> None:
    lanes = {
        "serial": "serial",
        # A marker's arguments where this pytest matches them (8.3 on); the same tests otherwise.
        "db": 'integration(kind="db")' if keyword_matching() else "integration and serial",
        "integration": "integration and not serial",
        "slow": "slow",
        "rest": "not serial and not integration",
        "all": None,
    }
    lanes_file.write(tmp_path / "lanes.json", lanes)
    out = tmp_path / "collected.json"
    proc = pytest_run(
        project,
        "--collect-only",
        "-q",
        "-m",
        "serial",  # deselects all but one: the assignment must still cover every test
        "tests/test_outcomes.py",
        f"--ci-toolkit-collect={out}",
        f"--ci-toolkit-lanes={tmp_path / 'lanes.json'}",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["version"] == 1
    tests = {nodeid.rsplit("::", 1)[1]: lanes for nodeid, lanes in doc["tests"].items()}
    assert list(tests) == list(EXPECTED)  # collection order, nothing deselected away
    assert tests["test_serial_db"] == ["serial", "db", "all"]
    assert tests["test_integration"] == ["integration", "all"]
    assert tests["test_pass"] == ["slow", "rest", "all"]
    assert tests["test_fail"] == ["rest", "all"]


def test_collect_rejects_an_invalid_lane_expression(project: Path, tmp_path: Path) -> None:
    lanes_file.write(tmp_path / "lanes.json", {"broken": "serial and"})
    proc = pytest_run(
        project,
        "--collect-only",
        f"--ci-toolkit-collect={tmp_path / 'out.json'}",
        f"--ci-toolkit-lanes={tmp_path / 'lanes.json'}",
    )
    assert proc.returncode == 4
    assert "lane broken: invalid marker expression 'serial and'" in proc.stderr
    assert not (tmp_path / "out.json").exists()
