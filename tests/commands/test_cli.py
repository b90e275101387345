"""End to end: the real `ci-toolkit` command, as a subprocess, on sample projects from conftest.py.

Each expensive run (a `local` that starts pytest) lives in one test of its own, so that pytest-xdist can
spread them over its workers and no module fixture repeats a run on every worker. Configuration errors
stop before any pytest starts, so those tests are cheap.

Runs other than the happy path disable pytest's plugin autoloading: ci-toolkit then names the three
plugins it needs itself (a supported mode), and every pytest process starts without loading every
plugin installed here, which keeps the file fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import TIMEOUT, Run, cli_env, run_ci_toolkit

from ci_toolkit import __version__
from ci_toolkit.errors import ExitCode

if TYPE_CHECKING:
    from conftest import SampleProject  # tests/conftest.py, on sys.path under pytest's default import mode

pytestmark = pytest.mark.e2e

Factory = Callable[..., "SampleProject"]

_SUMMARY_LINE = re.compile(r"ci-toolkit: \d+ passed, \d+ failed, \d+ skipped")

THREE_LANES = """
[tool.ci-toolkit]

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not serial and not integration"
workers = 2

[[tool.ci-toolkit.lanes]]
name = "serial"
markers = "serial"
workers = 0

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 2
"""

# One lane selecting every test, without xdist: no collection run and a single pytest process.
ONE_LANE = """
[tool.ci-toolkit]
workers = 0
"""

COVERAGE = """
[tool.ci-toolkit.coverage]
source = ["samplepkg"]
"""

# Passes on the sample project only when the data of every lane is merged: full.py reaches 100% only so.
PASSING_GATE = (
    COVERAGE
    + """fail_under = 60
critical = ["samplepkg/full.py"]

[tool.ci-toolkit.coverage.paths]
"samplepkg/**" = 0
"samplepkg/full.py" = 100
"samplepkg/partial.py" = 60
"""
)

# partial.py is 60% covered (lines 3 and 6 never run).
PARTIAL_BELOW_FLOOR = (
    COVERAGE
    + """
[tool.ci-toolkit.coverage.paths]
"samplepkg/partial.py" = 90
"""
)

UNUSED_CRITICAL = COVERAGE + 'critical = ["samplepkg/full.py", "samplepkg/unused.py"]\n'

CRITICAL_MATCHES_NOTHING = COVERAGE + 'critical = ["samplepkg/payments/**"]\n'

FAILING_TEST = """\
    def test_broken():
        assert 1 + 1 == 3
    """


def ci_toolkit(*args: str | Path, cwd: Path, autoload: bool = False) -> Run:
    return run_ci_toolkit(*args, cwd=cwd, autoload=autoload)


def coverage_json(project: SampleProject, data_file: Path, out: str) -> Path:
    """`coverage json` from the project root, as a team using only the gate would make it."""
    # --fail-under=0: the sample project's own fail_under = 100 would turn the exit code into 2.
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", "-o", out, f"--data-file={data_file}", "--fail-under=0"],
        cwd=project.root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return project.root / out


def load_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def lane_row(run: Run, name: str, status: str, passed: int, failed: int) -> re.Match[str] | None:
    """The lane's row in the summary's LANES section."""
    pattern = rf"^  {re.escape(name)}\s+{status}\s+{passed} passed\s+{failed} failed\s+0 skipped\s+0 errors\s"
    return re.search(pattern, run.stdout, flags=re.MULTILINE)


def assert_one_error_line(run: Run, code: ExitCode, *names: str) -> str:
    """A user error: the documented code, exactly one stderr line naming what to fix, no traceback."""
    assert run.code == code, run.describe()
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith("ci-toolkit: error: "), run.describe()
    for name in names:
        assert name in lines[0], run.describe()
    assert "Traceback" not in run.output, run.describe()
    return lines[0]


def assert_gate_alone_agrees(project: SampleProject, local_json: Path, expected: ExitCode) -> None:
    """`gate` on the merged data a `local` run left, and on `coverage json` made from it, judges alike."""
    verdict = load_json(local_json)["coverage"]
    data_file = project.root / ".ci-toolkit" / ".coverage"
    assert data_file.is_file()
    report = coverage_json(project, data_file, "cov.json")
    for name, data in (("gate-data.json", data_file), ("gate-report.json", report)):
        run = ci_toolkit("gate", "--json", name, data, cwd=project.root)
        assert run.code == expected, run.describe()
        assert _SUMMARY_LINE.fullmatch(run.last_line), run.describe()
        assert load_json(project.root / name)["coverage"] == verdict, f"gate on {data.name} disagrees"


def sample(factory: Factory, lanes: str, coverage: str = "", **kwargs: Any) -> SampleProject:
    return factory(pyproject_extra=lanes + coverage, **kwargs)


# -- 1. the happy path ---------------------------------------------------------------------------------


def test_local_runs_every_lane_merges_coverage_and_passes_the_gate(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, THREE_LANES, PASSING_GATE)

    # The default, plugin autoloading on, as most users run it.
    run = ci_toolkit("local", "--json", "summary.json", cwd=project.root, autoload=True)

    assert run.code == ExitCode.OK, run.describe()
    assert lane_row(run, "unit", "ok", 4, 0), run.describe()
    assert lane_row(run, "serial", "ok", 1, 0), run.describe()
    assert lane_row(run, "integration", "ok", 2, 0), run.describe()
    assert "critical samplepkg/full.py: 1 file, each at or above 100%" in run.stdout, run.describe()
    assert run.last_line == "ci-toolkit: 7 passed, 0 failed, 0 skipped", run.describe()
    assert "Traceback" not in run.output

    summary = load_json(project.root / "summary.json")
    assert summary["schema_version"] == 2
    assert summary["passed"] is True
    assert summary["exit_code"] == 0
    assert summary["tests"] == {"passed": 7, "failed": 0, "skipped": 0, "flaky": 0}
    lanes = {lane["name"]: lane for lane in summary["lanes"]}
    assert list(lanes) == ["unit", "serial", "integration"]
    assert {name: (lane["ok"], lane["counts"]["passed"]) for name, lane in lanes.items()} == {
        "unit": (True, 4),
        "serial": (True, 1),
        "integration": (True, 2),
    }
    coverage = summary["coverage"]
    assert coverage["passed"] is True
    (critical,) = [check for check in coverage["checks"] if check["kind"] == "critical"]
    # Each lane covers only part of full.py: 100% proves every lane's (and worker's) data was merged.
    assert (critical["subject"], critical["percent"], critical["passed"]) == (
        "samplepkg/full.py",
        100.0,
        True,
    )

    # 4. The gate alone, on what this run left behind.
    assert_gate_alone_agrees(project, project.root / "summary.json", ExitCode.OK)


# -- 2. gate failures ----------------------------------------------------------------------------------


def test_a_file_below_its_floor_fails_the_gate_with_its_missing_lines(
    sample_project_factory: Factory,
) -> None:
    project = sample(sample_project_factory, ONE_LANE, PARTIAL_BELOW_FLOOR)

    run = ci_toolkit("local", "--json", "summary.json", cwd=project.root)

    assert run.code == ExitCode.GATE_FAILED, run.describe()
    failure = re.search(r"^\s+samplepkg/partial\.py\s+60(\.0+)?% < 90.*$", run.stdout, flags=re.MULTILINE)
    assert failure, run.describe()
    assert "missing lines 3, 6" in failure.group(0)
    assert run.last_line == "ci-toolkit: 7 passed, 0 failed, 0 skipped", run.describe()
    assert "Traceback" not in run.output

    assert_gate_alone_agrees(project, project.root / "summary.json", ExitCode.GATE_FAILED)


def test_an_unimported_critical_file_fails_the_gate(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, ONE_LANE, UNUSED_CRITICAL)

    run = ci_toolkit("local", "--json", "summary.json", cwd=project.root)

    assert run.code == ExitCode.GATE_FAILED, run.describe()
    assert re.search(r"^\s+samplepkg/unused\.py\s+0(\.0+)?% < 100", run.stdout, flags=re.MULTILINE), (
        run.describe()
    )
    checks = load_json(project.root / "summary.json")["coverage"]["checks"]
    verdicts = {c["subject"]: c["passed"] for c in checks if c["kind"] == "critical"}
    assert verdicts == {"samplepkg/full.py": True, "samplepkg/unused.py": False}
    assert "Traceback" not in run.output


def test_a_critical_pattern_matching_nothing_fails_the_gate(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, ONE_LANE, CRITICAL_MATCHES_NOTHING)

    run = ci_toolkit("local", "--json", "summary.json", cwd=project.root)

    assert run.code == ExitCode.GATE_FAILED, run.describe()
    assert "samplepkg/payments/**" in run.stdout, run.describe()
    checks = load_json(project.root / "summary.json")["coverage"]["checks"]
    assert [(c["kind"], c["subject"], c["passed"]) for c in checks if c["kind"] == "pattern"] == [
        ("pattern", "samplepkg/payments/**", False)
    ]
    assert "Traceback" not in run.output


def test_a_failing_test_outranks_a_failing_gate(sample_project_factory: Factory) -> None:
    project = sample(
        sample_project_factory, ONE_LANE, PARTIAL_BELOW_FLOOR, files={"tests/test_broken.py": FAILING_TEST}
    )

    run = ci_toolkit("local", "--json", "summary.json", cwd=project.root)

    assert run.code == ExitCode.TESTS_FAILED, run.describe()
    summary_start = run.stdout.rindex("FAILED TESTS")  # pytest prints its own report above ours
    assert "FAILED tests/test_broken.py::test_broken" in run.stdout[summary_start:], run.describe()
    assert run.last_line == "ci-toolkit: 7 passed, 1 failed, 0 skipped", run.describe()
    summary = load_json(project.root / "summary.json")
    assert summary["coverage"]["passed"] is False  # the gate did fail; the test failure decides the code
    assert [f["nodeid"] for lane in summary["lanes"] for f in lane["failed"]] == [
        "tests/test_broken.py::test_broken"
    ]


# -- 3. bad input: one line on stderr, the documented code, never a traceback ---------------------------


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        pytest.param(
            "[tool.ci-toolkit.coverage]\nfail_undr = 80\n",
            ["pyproject.toml", "tool.ci-toolkit.coverage.fail_undr", "unknown key", '"fail_under"'],
            id="unknown-key",
        ),
        pytest.param(
            '[tool.ci-toolkit]\nworkers = "many"\n',
            ["pyproject.toml", "tool.ci-toolkit.workers", '"many"'],
            id="wrong-type",
        ),
        pytest.param(
            "[tool.ci-toolkit.coverage]\nfail_under = 101\n",
            ["pyproject.toml", "tool.ci-toolkit.coverage.fail_under", "101"],
            id="threshold-101",
        ),
        pytest.param(
            "[tool.ci-toolkit]\nlanes = []\n",
            ["pyproject.toml", "tool.ci-toolkit.lanes", "[]"],
            id="empty-lanes",
        ),
        pytest.param(
            '[[tool.ci-toolkit.lanes]]\nname = "unit"\nmarkers = "serial and"\n',
            ["pyproject.toml", "tool.ci-toolkit.lanes[0].markers", '"serial and"'],
            id="marker-syntax",
        ),
    ],
)
def test_a_bad_configuration_stops_before_any_test(
    sample_project_factory: Factory, extra: str, names: list[str]
) -> None:
    project = sample_project_factory(pyproject_extra=extra)

    run = ci_toolkit("local", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, *names)
    assert not (project.root / ".ci-toolkit").exists(), "nothing may run on a bad configuration"


def test_broken_toml_names_the_file_and_line(sample_project_factory: Factory) -> None:
    project = sample_project_factory(pyproject_extra="[tool.ci-toolkit\nworkers = 2\n")
    lines = (project.root / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    broken = lines.index("[tool.ci-toolkit") + 1

    run = ci_toolkit("local", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, f"pyproject.toml:{broken}: invalid TOML")
    assert not (project.root / ".ci-toolkit").exists()


def test_several_lane_problems_are_still_one_error_line(sample_project_factory: Factory) -> None:
    # The integration tests are selected by no lane, and the lane "nightly" selects no test.
    lanes = THREE_LANES.split('[[tool.ci-toolkit.lanes]]\nname = "integration"')[0]
    lanes += '[[tool.ci-toolkit.lanes]]\nname = "nightly"\nmarkers = "nightly"\n'
    project = sample(sample_project_factory, lanes, COVERAGE, markers=["nightly"])

    run = ci_toolkit("local", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, *project.INTEGRATION, '"nightly"')


RECORD_RUNS = """\
    import pathlib

    import pytest


    @pytest.fixture(autouse=True)
    def record_run(request):
        with pathlib.Path(__file__).with_name("ran.txt").open("a") as out:
            out.write(request.node.nodeid + "\\n")
    """


@pytest.mark.parametrize(("workers", "concurrent"), [(0, False), (2, False), (0, True)])
def test_wrong_lanes_stop_the_first_lane_before_any_test_runs(
    sample_project_factory: Factory, workers: int, concurrent: bool
) -> None:
    """The first lane's own pytest collects for the lanes check, then waits for the verdict: with or
    without xdist, and with a concurrent lane started meanwhile (which waits too), not one test may
    run when the lanes are wrong."""
    lanes = THREE_LANES.split('[[tool.ci-toolkit.lanes]]\nname = "integration"')[0]
    lanes = lanes.replace("workers = 2", f"workers = {workers}", 1)
    if concurrent:
        lanes = lanes.replace("workers = 0", "workers = 0\nconcurrent = true")
        assert lanes.count("concurrent = true") == 2
    project = sample(sample_project_factory, lanes, COVERAGE, files={"tests/conftest.py": RECORD_RUNS})

    run = ci_toolkit("local", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, *project.INTEGRATION)
    assert not (project.root / "tests" / "ran.txt").exists(), "a test ran before the lanes were checked"
    assert "== lane serial" not in run.stdout  # and no later lane started


RENDEZVOUS = """\
    import os
    import pathlib
    import time

    import pytest

    HERE = pathlib.Path(__file__).parent


    def meet(me, other):
        (HERE / f"{me}.started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not (HERE / f"{other}.started").exists():
            assert time.monotonic() < deadline, f"lane {other} never ran while lane {me} did"
            time.sleep(0.05)
        print(f"lane {me} met lane {other}")


    @pytest.mark.serial
    def test_serial_meets_integration():
        meet("serial", "integration")


    @pytest.mark.integration
    def test_integration_meets_serial():
        meet("integration", "serial")
    """

TWO_CONCURRENT_LANES = """
[tool.ci-toolkit]
allow_unselected = true

[[tool.ci-toolkit.lanes]]
name = "serial"
markers = "serial"
workers = 0
concurrent = true

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 0
concurrent = true
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two one-process lanes need two cores to overlap")
def test_concurrent_lanes_run_at_the_same_time_and_their_output_stays_whole(
    sample_project_factory: Factory,
) -> None:
    """Each lane's test waits until the other lane's test has started: run one after the other, the
    first would give up. The output still reads lane by lane."""
    project = sample(
        sample_project_factory,
        TWO_CONCURRENT_LANES,
        COVERAGE,
        files={
            "tests/test_rendezvous.py": RENDEZVOUS,
            "tests/test_serial.py": "",
            "tests/test_integration.py": "",
        },
    )

    run = ci_toolkit("local", "--json", "summary.json", cwd=project.root)

    assert run.code == ExitCode.OK, run.describe()
    assert lane_row(run, "serial", "ok", 1, 0) and lane_row(run, "integration", "ok", 1, 0), run.describe()
    out = run.stdout
    first, second = out.index("== lane serial"), out.index("== lane integration")
    # Lane integration ran alongside, into its log; it is shown whole after lane serial's output.
    assert first < out.index("test_rendezvous.py .", first) < second, out
    assert (project.root / ".ci-toolkit" / "logs" / "integration.log").is_file()
    assert out.count("== lane ") == 2


EMPTY_TESTS = {
    "tests/test_unit.py": "",
    "tests/test_serial.py": "",
    "tests/test_integration.py": "",
}


def test_no_tests_collected_is_exit_4(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, THREE_LANES, COVERAGE, files=EMPTY_TESTS)

    run = ci_toolkit("local", cwd=project.root)

    assert_one_error_line(run, ExitCode.NO_TESTS, "no tests collected")


def test_no_tests_in_a_single_lane_is_exit_4(sample_project_factory: Factory) -> None:
    # One lane selecting everything skips the collection run, so the lane's own pytest finds nothing.
    project = sample(sample_project_factory, ONE_LANE, COVERAGE, files=EMPTY_TESTS)

    run = ci_toolkit("local", cwd=project.root)

    assert run.code == ExitCode.NO_TESTS, run.describe()
    assert run.last_line == "ci-toolkit: 0 passed, 0 failed, 0 skipped", run.describe()
    assert "Traceback" not in run.output


def test_no_tests_in_the_default_lane_is_an_error_line(sample_project_factory: Factory) -> None:
    # No [tool.ci-toolkit] table: the default single lane "all", the first thing a new user runs.
    project = sample_project_factory(files=EMPTY_TESTS)

    run = ci_toolkit("local", cwd=project.root)

    # pytest-cov's own "no data was collected" warnings reach stderr from the lane's pytest; ours is one line.
    ours = [line for line in run.stderr.splitlines() if line.startswith("ci-toolkit:")]
    assert run.code == ExitCode.NO_TESTS, run.describe()
    expected = f"ci-toolkit: error: no tests collected in {project.root} (pytest exit 5)"
    assert ours == [expected], run.describe()
    assert "COVERAGE" not in run.stdout, "nothing ran, so nothing is gated"


def test_a_test_no_lane_selects_is_a_usage_error(sample_project_factory: Factory) -> None:
    lanes = THREE_LANES.split('[[tool.ci-toolkit.lanes]]\nname = "integration"')[0]
    project = sample(sample_project_factory, lanes, COVERAGE)

    run = ci_toolkit("local", cwd=project.root)

    line = assert_one_error_line(run, ExitCode.USAGE_ERROR, *project.INTEGRATION)
    assert "allow_unselected" in line
    assert not (project.root / ".ci-toolkit" / "junit" / "unit.xml").exists(), "no lane may start"


def test_an_unknown_lane_is_a_usage_error(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, THREE_LANES, COVERAGE)

    run = ci_toolkit("local", "--lane", "nosuch", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, "nosuch", "unit, serial, integration")


def test_gate_on_a_file_that_is_not_coverage_is_a_usage_error(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, ONE_LANE, COVERAGE)
    (project.root / "notcoverage.txt").write_text("hello\n", encoding="utf-8")

    run = ci_toolkit("gate", "notcoverage.txt", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, "notcoverage.txt")


def test_gate_on_a_missing_file_is_a_usage_error(sample_project_factory: Factory) -> None:
    project = sample(sample_project_factory, ONE_LANE, COVERAGE)

    run = ci_toolkit("gate", "nosuch.coverage", cwd=project.root)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, "nosuch.coverage")


@pytest.mark.parametrize("command", [["local"], ["gate", "whatever.json"]])
def test_running_outside_any_project_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    above = [d for d in (tmp_path, *tmp_path.parents) if (d / "pyproject.toml").is_file()]
    if above:
        pytest.skip(f"{above[0] / 'pyproject.toml'} lies above the temporary directory")

    run = ci_toolkit(*command, cwd=tmp_path)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, "pyproject.toml", str(tmp_path))


# -- 5. help and version -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["--help"], ["-h"], ["local", "--help"], ["gate", "--help"]])
def test_help(tmp_path: Path, command: list[str]) -> None:
    run = ci_toolkit(*command, cwd=tmp_path)

    assert run.code == 0, run.describe()
    assert run.stdout.startswith("Usage: ci-toolkit"), run.describe()
    assert run.stderr == ""


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    run = ci_toolkit("--help", cwd=tmp_path)

    assert "Exit codes: 0 ok, 1 tests failed, 2 configuration or usage error," in run.stdout, run.describe()
    assert "3 coverage gate failed, 4 no tests collected, 70 internal error." in run.stdout, run.describe()


def test_version(tmp_path: Path) -> None:
    run = ci_toolkit("--version", cwd=tmp_path)

    assert run.code == 0, run.describe()
    assert run.stdout.strip() == f"ci-toolkit, version {__version__}"


def test_click_usage_errors_are_one_line(tmp_path: Path) -> None:
    run = ci_toolkit("gate", cwd=tmp_path)

    assert_one_error_line(run, ExitCode.USAGE_ERROR, "Missing argument 'DATA'", "ci-toolkit gate --help")


def test_the_readme_example_passes(tmp_path: Path) -> None:
    """The README's first command runs `ci-toolkit local` in examples/quickstart: it must pass the gate."""
    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
    project = tmp_path / "quickstart"
    shutil.copytree(example, project, ignore=shutil.ignore_patterns(".ci-toolkit", "__pycache__"))

    run = ci_toolkit("local", cwd=project)

    assert run.code == ExitCode.OK, run.describe()
    assert "critical shop/pricing.py" in run.stdout
    assert run.last_line == "ci-toolkit: 13 passed, 0 failed, 0 skipped", run.describe()
