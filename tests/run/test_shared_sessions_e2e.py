"""Lanes sharing one pytest session, run for real: each lane's results, JUnit XML and counts are what
sessions of their own give, a serial lane's tests stay on one worker, coverage keeps a context per lane,
a crash or an interrupt is never green."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import coverage
import pytest
from support import TIMEOUT, Run, cli_env, processes_mentioning, run_ci_toolkit

from ci_toolkit.errors import ExitCode
from ci_toolkit.run.exchange import results as results_file

if TYPE_CHECKING:
    from conftest import SampleProject

pytestmark = pytest.mark.e2e
Factory = Callable[..., "SampleProject"]

LANES = """
[tool.ci-toolkit]
workers = 2
share_sessions = {share}

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not serial and not integration"
workers = 0
concurrent = true

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
concurrent = true

[[tool.ci-toolkit.lanes]]
name = "serial"
markers = "serial"
workers = 0
concurrent = true

[tool.ci-toolkit.coverage]
source = ["samplepkg"]
fail_under = 0
"""

MORE_TESTS = """\
import os
import pathlib

import pytest

from samplepkg.full import sign


def record(name):
    folder = pathlib.Path(os.environ["RECORD_DIR"])
    (folder / name).write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.mark.serial
@pytest.mark.parametrize("n", range(4))
def test_serial_in_turn(n):
    record(f"serial-{n}")
    assert sign(n) in (0, 1)


@pytest.mark.integration
def test_integration_fails():
    assert sign(-1) == 1, "sign is negative"


@pytest.mark.integration
@pytest.mark.skip(reason="not today")
def test_integration_skipped():
    pass


def test_unit_xfail():
    pytest.xfail("known")


@pytest.mark.integration
@pytest.mark.parametrize("value", ["a::b", "c/d.py"])
def test_integration_params(value):
    assert value
"""


def project(factory: Factory, name: str, share: bool, extra_files: dict[str, str] | None = None) -> Path:
    files = {"tests/test_more.py": MORE_TESTS, **(extra_files or {})}
    sample = factory(name, files=files, pyproject_extra=LANES.format(share="true" if share else "false"))
    return sample.root


def run(root: Path, records: Path) -> Run:
    records.mkdir(exist_ok=True)
    return run_ci_toolkit(
        "local", "--json", "summary.json", cwd=root, env=cli_env(extra={"RECORD_DIR": str(records)})
    )


def cases(path: Path) -> tuple[dict[str, str | None], list[tuple[Any, ...]]]:
    """A lane's JUnit file: its suite's counts, and its cases without times."""
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    counts = {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")}
    found = [
        (
            case.get("classname"),
            case.get("name"),
            tuple((child.tag, child.get("message")) for child in case),
        )
        for case in suite.findall("testcase")
    ]
    return counts, sorted(found)


def outcomes(path: Path) -> tuple[list[tuple[str, str, str, str, int]], dict[str, int]]:
    recorded = results_file.read(path)
    tests = sorted((o.nodeid, o.outcome, o.message, o.path, o.line) for o in recorded.tests)
    return tests, dict(recorded.counts)


def lane_rows(root: Path) -> list[dict[str, Any]]:
    """The summary's lanes, without their times and paths."""
    lanes = json.loads((root / "summary.json").read_text())["lanes"]
    return [{k: v for k, v in lane.items() if "time" not in k and "path" not in k} for lane in lanes]


def test_a_shared_session_gives_each_lane_what_a_session_of_its_own_gives(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    shared_root = project(sample_project_factory, "shared", share=True)
    alone_root = project(sample_project_factory, "alone", share=False)

    shared = run(shared_root, tmp_path / "shared-records")
    alone = run(alone_root, tmp_path / "alone-records")

    assert shared.code == alone.code == ExitCode.TESTS_FAILED, shared.describe() + alone.describe()
    assert shared.stdout.count("== lanes unit, integration, serial: one session") == 1, shared.describe()
    assert alone.stdout.count("one session") == 0 and alone.stdout.count("== lane ") == 3, alone.describe()
    for lane in ("unit", "integration", "serial"):
        out = Path(".ci-toolkit")
        assert cases(shared_root / out / "junit" / f"{lane}.xml") == cases(
            alone_root / out / "junit" / f"{lane}.xml"
        )
        assert outcomes(shared_root / out / "results" / f"{lane}.json") == outcomes(
            alone_root / out / "results" / f"{lane}.json"
        )
    assert lane_rows(shared_root) == lane_rows(alone_root)
    # The serial lane's tests ran one after another on one worker of the shared session.
    workers = {(tmp_path / "shared-records" / f"serial-{n}").read_text() for n in range(4)}
    assert len(workers) == 1 and workers != {"main"}, workers
    # Each lane's coverage is its own dynamic context in the session's data.
    data = coverage.CoverageData(
        str(shared_root / ".ci-toolkit" / "coverage" / "unit+integration+serial" / ".coverage")
    )
    data.read()
    assert {"unit", "integration", "serial"} <= data.measured_contexts()
    assert not (shared_root / ".ci-toolkit" / "results" / "unit+integration+serial.json").exists()


CRASH = """\
import os

import pytest


@pytest.mark.integration
def test_worker_dies():
    os._exit(3)
"""


def test_a_worker_crash_in_one_lane_fails_that_lane_and_never_the_run_green(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    root = project(sample_project_factory, "crash", share=True, extra_files={"tests/test_crash.py": CRASH})
    result = run(root, tmp_path / "records")
    assert result.code == ExitCode.TESTS_FAILED, result.describe()
    lanes = {lane["name"]: lane for lane in json.loads((root / "summary.json").read_text())["lanes"]}
    crashed = results_file.read(root / ".ci-toolkit" / "results" / "integration.json")
    assert any(
        o.nodeid.endswith("test_worker_dies") and o.outcome in ("error", "failed") for o in crashed.tests
    )
    assert lanes["serial"]["ok"] is True and lanes["integration"]["ok"] is False, lanes


SLEEPER = """\
import os
import pathlib
import time

import pytest


@pytest.mark.integration
def test_sleeps():
    (pathlib.Path(os.environ["RECORD_DIR"]) / "started").write_text("")
    time.sleep(120)
"""


def test_an_interrupt_stops_the_shared_session_with_exit_130(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    root = project(
        sample_project_factory, "interrupt", share=True, extra_files={"tests/test_sleep.py": SLEEPER}
    )
    records = tmp_path / "records"
    records.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ci_toolkit", "local"],
        cwd=root, env=cli_env(extra={"RECORD_DIR": str(records)}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + TIMEOUT
    while not (records / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, out + err
    deadline = time.monotonic() + 10
    while processes_mentioning(str(root)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(root)) == []
