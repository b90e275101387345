"""Running lanes: merging their coverage, then real runs of real sample projects."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coverage
import pytest

from ci_toolkit.config import Lane
from ci_toolkit.errors import ConfigError, DataError
from ci_toolkit.run import combine as merge
from ci_toolkit.run.runner import RunOutcome, run_lanes

# -- merge ---------------------------------------------------------------------------------------


def data_file(path: Path, lines: dict[str, list[int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = coverage.CoverageData(basename=str(path))
    data.add_lines({name: set(numbers) for name, numbers in lines.items()})
    data.write()
    return path


def test_combine_unions_every_input_and_keeps_them(tmp_path: Path) -> None:
    a = data_file(tmp_path / "a" / ".coverage", {"/src/m.py": [1, 2], "/src/n.py": [1]})
    b = data_file(tmp_path / "b" / ".coverage", {"/src/m.py": [3]})
    out = tmp_path / "out" / ".coverage"
    data_file(out, {"/src/old.py": [1]})  # a previous run's result is replaced, not added to
    assert merge.combine([a, b, tmp_path / "missing"], out) == out
    merged = coverage.CoverageData(basename=str(out))
    merged.read()
    assert sorted(merged.measured_files()) == ["/src/m.py", "/src/n.py"]
    assert merged.lines("/src/m.py") == [1, 2, 3]
    assert a.exists() and b.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == [".coverage"]  # no temp file left


def test_combine_without_data_is_none(tmp_path: Path) -> None:
    assert merge.combine([], tmp_path / ".coverage") is None
    assert merge.combine([tmp_path / "nothing-here"], tmp_path / ".coverage") is None
    assert not (tmp_path / ".coverage").exists()


def test_combine_refuses_corrupt_data_and_leaves_no_output(tmp_path: Path) -> None:
    good = data_file(tmp_path / "good" / ".coverage", {"/src/m.py": [1]})
    bad = tmp_path / "bad" / ".coverage"
    bad.parent.mkdir()
    bad.write_text("not sqlite at all, just text that is long enough to look like a file header")
    with pytest.raises(DataError, match=r"bad/\.coverage: not a readable coverage data file"):
        merge.combine([good, bad], tmp_path / "out" / ".coverage")
    assert not (tmp_path / "out" / ".coverage").exists()


# -- real runs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    outcome: RunOutcome
    stdout: str
    stderr: str
    new_in_root: tuple[str, ...] = ()  # top-level entries that appeared in the project during the run


@contextlib.contextmanager
def recorded() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Our own lines (headers, warnings); pytest children write to the real file descriptors."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def lines_of(data: coverage.CoverageData, root: Path, name: str) -> list[int]:
    return sorted(data.lines(str(root / "samplepkg" / name)) or [])


@pytest.fixture(scope="module")
def main_run(sample_project: Any) -> Run:
    config = sample_project.config(
        output_dir=Path(".ci-main"),
        lanes=(
            Lane("serial", "serial", workers=0),
            Lane("integration", "integration", workers=0),
            Lane("unit", "not serial and not integration", workers=2),
        ),
    )
    with recorded() as (out, err):
        outcome = run_lanes(config)
    return Run(outcome, out.getvalue(), err.getvalue())


@pytest.mark.e2e
def test_every_lane_runs_its_own_tests(main_run: Run, sample_project: Any) -> None:
    lanes = {lane.name: lane for lane in main_run.outcome.lanes}
    assert list(lanes) == ["serial", "integration", "unit"]
    expected = {
        "serial": sample_project.SERIAL,
        "integration": sample_project.INTEGRATION,
        "unit": sample_project.UNIT,
    }
    for name, lane in lanes.items():
        assert (lane.exit_code, lane.ok, lane.skipped_reason) == (0, True, None)  # fail_under=100 ignored
        assert sorted(o.nodeid for o in lane.outcomes) == sorted(expected[name])
        assert {o.outcome for o in lane.outcomes} == {"passed"}
        assert lane.junit_path == str(sample_project.root / ".ci-main" / "junit" / f"{name}.xml")
        assert Path(lane.junit_path).is_file()
        assert lane.wall_time > 0
    assert main_run.outcome.check is not None
    assert main_run.outcome.check.counts == {"serial": 1, "integration": 2, "unit": 4}


@pytest.mark.e2e
def test_a_header_line_precedes_each_lane(main_run: Run) -> None:
    assert main_run.stdout.splitlines() == [
        "== lane serial: no xdist ==",  # the first lane collects for the check: its count comes later
        "== lane integration: 2 tests, no xdist ==",
        "== lane unit: 4 tests, 2 workers ==",
    ]
    assert main_run.stderr == ""


@pytest.mark.e2e
def test_merged_coverage_holds_every_lane_and_every_worker(main_run: Run, sample_project: Any) -> None:
    root = sample_project.root
    assert main_run.outcome.coverage_file == root / ".ci-main" / ".coverage"
    data = coverage.CoverageData(basename=str(main_run.outcome.coverage_file))
    data.read()
    assert data.has_arcs()  # branch coverage was on
    # full.py is complete only with all three lanes: add() from unit, sign() < 0 serial, >= 0 integration.
    assert lines_of(data, root, "full.py") == [1, 2, 5, 6, 7, 8]
    # Line 3 runs on xdist worker gw0 only, line 5 on gw1 only, line 6 without xdist.
    assert lines_of(data, root, "workers.py") == [1, 2, 3, 4, 5, 6]
    assert lines_of(data, root, "partial.py") == [1, 2, 4, 5]
    assert str(root / "samplepkg" / "unused.py") in data.measured_files()
    assert lines_of(data, root, "unused.py") == []
    per_lane = sorted(p.parent.name for p in (root / ".ci-main" / "coverage").glob("*/.coverage*"))
    assert per_lane == ["integration", "serial", "unit"]


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory, sample_project_maker: Callable[..., Any]) -> Run:
    project = sample_project_maker(
        tmp_path_factory.mktemp("failing") / "project",
        markers=["red", "crash", "nightly"],
        files={
            "tests/test_red.py": """\
                import pytest


                @pytest.mark.red
                def test_red():
                    assert 1 == 2, "red on purpose"
                """,
            "tests/test_crash.py": """\
                import os

                import pytest


                @pytest.mark.crash
                def test_crash():
                    os._exit(0)  # pytest "succeeds" without writing its results
                """,
        },
    )
    # What pytest and its plugins leave in a project on their own, to compare ours against.
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/test_unit.py"], cwd=project.root, capture_output=True
    )
    before = list(project.root.iterdir())
    config = project.config(
        workers=0,
        lanes=(
            Lane("red", "red"),
            Lane("crash", "crash"),
            Lane("rest", "not red and not crash"),
            Lane("nightly", "nightly", allow_empty=True),
        ),
    )
    with recorded() as (out, err):
        outcome = run_lanes(config)
    new = tuple(sorted(set(project.root.iterdir()) - set(before)))
    return Run(outcome, out.getvalue(), err.getvalue(), tuple(p.name for p in new))


@pytest.mark.e2e
def test_a_failing_lane_does_not_stop_the_others(failing_run: Run) -> None:
    red, _, rest, nightly = failing_run.outcome.lanes
    assert (red.name, red.exit_code, red.ok) == ("red", 1, False)
    [failure] = red.failed
    assert (failure.nodeid, failure.message) == (
        "tests/test_red.py::test_red",
        "AssertionError: red on purpose",
    )
    assert (rest.name, rest.exit_code, rest.ok, len(rest.outcomes)) == ("rest", 0, True, 7)
    assert (nightly.exit_code, nightly.skipped_reason, nightly.ok) == (5, "no tests selected", True)
    assert failing_run.outcome.coverage_file is not None


@pytest.mark.e2e
def test_a_pytest_that_writes_no_results_never_passes(failing_run: Run) -> None:
    crash = failing_run.outcome.lanes[1]
    assert (crash.name, crash.exit_code, crash.outcomes, crash.ok) == ("crash", 3, (), False)
    (problem,) = crash.problems
    assert problem.startswith("pytest exited with 0 but left no results (")
    assert "no test results file (did pytest crash?)" in problem


@pytest.mark.e2e
def test_nothing_but_output_dir_lands_in_the_project(failing_run: Run) -> None:
    assert failing_run.new_in_root == (".ci-toolkit",)
    assert "== lane nightly: no tests selected, skipped ==" in failing_run.stdout


@pytest.mark.e2e
def test_a_single_lane_that_collects_nothing_reports_exit_5(
    sample_project_factory: Callable[..., Any],
) -> None:
    empty = {"tests/test_unit.py": "", "tests/test_serial.py": "", "tests/test_integration.py": ""}
    project = sample_project_factory(files=empty)
    with recorded():
        outcome = run_lanes(project.config(workers=0), ("-p", "no:cacheprovider"))
    [lane] = outcome.lanes
    assert (lane.name, lane.exit_code, lane.ok, lane.skipped_reason) == ("all", 5, False, None)
    assert outcome.check is None  # one lane selecting everything: no collection step


@pytest.mark.e2e
def test_lanes_that_do_not_partition_the_suite_stop_the_run(sample_project: Any) -> None:
    config = sample_project.config(
        output_dir=Path(".ci-problem"),
        lanes=(Lane("serial", "serial"), Lane("not-unit", "serial or integration")),
    )
    with pytest.raises(ConfigError) as info:
        run_lanes(config)
    assert "\n" not in str(info.value), "one error, one line"
    unselected, overlap = str(info.value).split(" -- also: ")
    assert (
        "pyproject.toml: tool.ci-toolkit.lanes: 4 tests selected by no lane: tests/test_unit.py::"
        in unselected
    )
    assert (
        "1 test selected by more than one lane: tests/test_serial.py::test_sign_negative (serial, not-unit)"
        in overlap
    )
    assert not list((sample_project.root / ".ci-problem" / "results").iterdir())


@pytest.mark.e2e
def test_plugins_are_named_when_autoload_is_disabled(
    sample_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    with recorded():
        outcome = run_lanes(sample_project.config(output_dir=Path(".ci-noautoload"), workers=0))
    [lane] = outcome.lanes
    assert (lane.exit_code, len(lane.outcomes)) == (0, 7)
    assert outcome.coverage_file is not None


# -- interrupts ----------------------------------------------------------------------------------

RUN_SCRIPT = """\
import sys
from pathlib import Path

from ci_toolkit.config import Config, Lane
from ci_toolkit.run.runner import run_lanes

try:
    run_lanes(Config(root=Path(sys.argv[1]), lanes=(Lane("all", workers=int(sys.argv[2])),)))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""

SLEEPING_TEST = """\
import os
import time
from pathlib import Path


def test_sleeps():
    Path(os.environ["SLEEPER_PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie nobody has reaped yet is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.e2e
@pytest.mark.skipif(os.name != "posix", reason="process groups and signals are POSIX")
@pytest.mark.parametrize(
    ("sig", "workers"), [(signal.SIGINT, 0), (signal.SIGTERM, 1)], ids=["SIGINT", "SIGTERM-xdist"]
)
def test_an_interrupt_stops_the_lane_and_everything_it_started(
    sample_project_factory: Callable[..., Any], tmp_path: Path, sig: signal.Signals, workers: int
) -> None:
    project = sample_project_factory(files={"tests/test_sleep.py": SLEEPING_TEST})
    pid_file = tmp_path / "sleeper.pid"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT))
    ci = subprocess.Popen(
        [sys.executable, str(script), str(project.root), str(workers)],
        env={**os.environ, "SLEEPER_PID_FILE": str(pid_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sleeper = None
    try:
        assert wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", 90), (
            "the test never started"
        )
        sleeper = int(pid_file.read_text())
        ci.send_signal(sig)
        output, _ = ci.communicate(timeout=30)  # would hang if a child kept our stdout pipe open
        assert ci.returncode == 130, output
        assert output.rstrip().endswith("interrupted")
        assert wait_for(lambda: not alive(sleeper), 10), "the sleeping test is still running"
    finally:
        if ci.poll() is None:
            ci.kill()
            ci.wait()
        if sleeper is not None and alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)
