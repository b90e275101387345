"""The results recorder's session facts in real pytest subprocesses: start-up, run order, session fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.timing import observations_from_results, session_cost

pytestmark = pytest.mark.e2e

CONFTEST = """\
    import pytest


    @pytest.fixture(scope="session")
    def database():
        return {"ready": True}
    """

FIRST = """\
    def test_a1():
        pass


    def test_a2(database):
        assert database["ready"]


    def test_a3(database):
        pass
    """

SECOND = """\
    def test_b1(database):
        pass


    def test_b2():
        pass
    """


def project(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    for name, text in {"conftest.py": CONFTEST, "test_a.py": FIRST, "test_b.py": SECOND}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def record(root: Path, *args: str) -> results_file.Results:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--ci-toolkit-results=r.json"]
    proc = subprocess.run(
        [*command, *args],
        cwd=root,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return results_file.read(root / "r.json")


def test_a_session_records_its_start_up_order_and_session_fixtures(tmp_path: Path) -> None:
    results = record(project(tmp_path))
    session = results.session
    assert session.startup is not None and session.startup > 0
    # Linux tells a process's start (/proc); elsewhere it is counted from the plugin's import.
    assert session.startup_from == ("process" if sys.platform == "linux" else "plugin")
    tests = {o.nodeid: o for o in results.tests}
    assert {nodeid: o.first for nodeid, o in tests.items()} == {
        "test_a.py::test_a1": "session",
        "test_a.py::test_a2": "",
        "test_a.py::test_a3": "",
        "test_b.py::test_b1": "module",
        "test_b.py::test_b2": "",
    }
    # The session fixture is set up by the first test that asks for it, and charged to no other.
    carriers = {nodeid for nodeid, o in tests.items() if o.session_setup}
    assert carriers <= {"test_a.py::test_a2"}
    assert all(o.session_setup <= o.setup for o in tests.values())
    cost = session_cost(session, results.tests)
    assert cost is not None and cost.startup == session.startup
    assert cost.setup == sum(o.session_setup for o in results.tests)
    # The history takes the fixture off the test that paid it: it is the session's.
    observed = observations_from_results(results.tests)
    carrier = tests["test_a.py::test_a2"]
    assert observed["test_a.py::test_a2"].setup == pytest.approx(carrier.setup - carrier.session_setup)


def test_under_xdist_the_controller_records_start_up_and_each_workers_first_test(tmp_path: Path) -> None:
    results = record(project(tmp_path), "-n", "2")
    assert results.session.startup is not None and results.session.startup > 0
    firsts = [o.first for o in results.tests]
    # Each worker that ran a test has one first test; the controller sees no fixture being set up.
    assert 1 <= firsts.count("session") <= 2
    assert all(o.session_setup == 0 for o in results.tests)


def test_a_results_file_without_the_new_keys_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        '{"version": 2, "tests": [{"nodeid": "t.py::a", "outcome": "passed", "setup": 0.1}], "counts": {},'
        ' "session": {"run": "", "exitstatus": 0}}'
    )
    results = results_file.read(path)
    assert results.session.startup is None and results.tests[0].first == ""
    assert session_cost(results.session, results.tests) is None
