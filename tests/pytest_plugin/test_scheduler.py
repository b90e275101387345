"""The duration scheduler (`-n 2 --ci-scheduler duration`) in real xdist runs of a generated suite.

Which worker ran what, and in which order, is recorded by the suite itself; nothing here depends on
how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_toolkit import timing as timings
from ci_toolkit.pytest_plugin.scheduler import base_id, group_suffix
from ci_toolkit.run.results import load_outcomes

pytestmark = pytest.mark.e2e

CONFTEST = """\
    import json
    import os
    import time

    import pytest


    @pytest.fixture(autouse=True)
    def _record_start(request):
        line = {
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "test": request.node.nodeid,
            "at": time.monotonic(),
        }
        with open(os.environ["START_LOG"], "a") as log:
            log.write(json.dumps(line) + "\\n")
"""

# Seconds the history claims (the tests themselves take no time): long ones sit late in collection
# order, where xdist's `load` would hand them out last and together.
CLAIMED = {
    **{f"tests/test_short.py::test_short[{i}]": 0.01 * (i % 3 + 1) for i in range(16)},
    **{f"tests/test_long.py::test_long[{i}]": 2.0 + i for i in range(4)},
    **{f"tests/test_group.py::test_grouped[{i}]": 0.5 for i in range(3)},
}
SUITE = {
    "tests/conftest.py": CONFTEST,
    "tests/test_short.py": """\
        import pytest


        @pytest.mark.parametrize("i", range(16))
        def test_short(i):
            pass
        """,
    "tests/test_long.py": """\
        import pytest


        @pytest.mark.parametrize("i", range(4))
        def test_long(i):
            pass
        """,
    "tests/test_group.py": """\
        import pytest


        @pytest.mark.xdist_group("db")
        @pytest.mark.parametrize("i", range(3))
        def test_grouped(i):
            pass
        """,
}


def run_xdist(root: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    results, log = tmp_path / "results.json", tmp_path / "start.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    ours = ["-n", "2", "--ci-scheduler", "duration", f"--ci-toolkit-results={results}"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *ours, *args],
        cwd=root,
        env={**env, "START_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, results, log


def starts(log: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return sorted(lines, key=lambda line: line["at"])  # type: ignore[arg-type, return-value]


def test_longest_first_groups_together_each_test_once(
    tmp_path: Path, sample_project_maker: Callable[..., object]
) -> None:
    root = tmp_path / "project"
    sample_project_maker(root, files=SUITE)
    history = timings.empty(timings.project_name(root))
    observed = {nodeid: timings.Observation(0.0, seconds, 0.0) for nodeid, seconds in CLAIMED.items()}
    timings.save(tmp_path / "timings.json", timings.update(history, observed))

    proc, results, log = run_xdist(root, tmp_path, f"--ci-timings={tmp_path / 'timings.json'}", "tests/")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    outcomes = load_outcomes(results)
    suite = set(CLAIMED) | {  # the sample project's own tests, unknown to the history
        "tests/test_unit.py::test_add",
        "tests/test_unit.py::test_parse_digits",
        "tests/test_unit.py::test_add_negative",
        "tests/test_unit.py::test_add_zero",
        "tests/test_serial.py::test_sign_negative",
        "tests/test_integration.py::test_sign_positive",
        "tests/test_integration.py::test_sign_zero",
    }
    assert sorted(o.nodeid for o in outcomes) == sorted(suite)
    assert {o.outcome for o in outcomes} == {"passed"}
    started = starts(log)
    assert sorted(str(line["test"]) for line in started) == sorted(suite)  # each exactly once

    workers: dict[str, list[str]] = {}
    for line in started:
        workers.setdefault(str(line["worker"]), []).append(str(line["test"]))
    assert sorted(workers) == ["gw0", "gw1"]
    # The group ran on one worker.
    grouped = {str(line["worker"]) for line in started if "test_grouped" in str(line["test"])}
    assert len(grouped) == 1
    # The two longest tests started first, one on each worker.
    assert {tests[0] for tests in workers.values()} == {
        "tests/test_long.py::test_long[3]",
        "tests/test_long.py::test_long[2]",
    }
    # Longest first on each worker, for the tests the history knows (the others are estimated).
    for tests in workers.values():
        claimed = [CLAIMED[t] for t in tests if t in CLAIMED and "grouped" not in t]
        assert claimed == sorted(claimed, reverse=True), tests


def test_a_crashed_worker_loses_only_the_test_it_ran(
    tmp_path: Path, sample_project_maker: Callable[..., object]
) -> None:
    root = tmp_path / "project"
    sample_project_maker(
        root,
        files={
            **SUITE,
            "tests/test_crash.py": """\
                import os


                def test_crash():
                    os._exit(3)
                """,
        },
    )
    # No history at all: every test is estimated alike, and the run must still be complete.
    proc, results, log = run_xdist(root, tmp_path, "tests/")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    outcomes = {o.nodeid: o.outcome for o in load_outcomes(results)}
    assert outcomes.pop("tests/test_crash.py::test_crash") == "failed"
    assert len(outcomes) == len(CLAIMED) + 7
    assert set(outcomes.values()) == {"passed"}
    started = [str(line["test"]) for line in starts(log) if "test_crash" not in str(line["test"])]
    assert sorted(started) == sorted(outcomes)  # every other test exactly once
    assert "crashed while running 'tests/test_crash.py::test_crash'" in proc.stdout


def test_loadgroup_suffixes_are_groups() -> None:
    assert group_suffix("tests/a.py::test_x@db") == "db"
    assert base_id("tests/a.py::test_x@db") == "tests/a.py::test_x"
    assert group_suffix("tests/a.py::test_x[user@host]") == ""
    assert base_id("tests/a.py::test_x[user@host]") == "tests/a.py::test_x[user@host]"
