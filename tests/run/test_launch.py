"""The environment of a lane's pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.config import Lane
from ci_toolkit.run.exchange import worker_env
from ci_toolkit.run.launch import child_env, lane_env, lane_process_env
from ci_toolkit.run.layout import RunPaths


def test_each_lane_has_its_own_coverage_directory(tmp_path: Path) -> None:
    # Lane "a" must not combine (and delete) the data of lane "a.slow": pytest-cov globs COVERAGE_FILE.*
    paths = RunPaths(tmp_path)
    assert lane_env(Lane("a"), paths) == {"COVERAGE_FILE": str(tmp_path / "coverage" / "a" / ".coverage")}
    assert lane_env(Lane("a.slow"), paths) == {
        "COVERAGE_FILE": str(tmp_path / "coverage" / "a.slow" / ".coverage")
    }


def test_a_worker_table_reaches_only_the_lane_it_was_made_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One inherited from a surrounding run would point this lane's workers at someone else's databases.
    monkeypatch.setenv(worker_env.NAME, '{"DATABASE_URL": {"gw0": "theirs"}}')
    paths = RunPaths(tmp_path)
    assert worker_env.NAME not in lane_process_env(Lane("unit"), paths, None)
    ours = worker_env.encode({"DATABASE_URL": {"gw0": "ours"}})
    env = lane_process_env(Lane("db"), paths, {**ours, "DATABASE_URL": "db"})
    assert env[worker_env.NAME] == ours[worker_env.NAME] and env["DATABASE_URL"] == "db"
    assert env["COVERAGE_FILE"] == str(paths.lane_coverage_file("db"))


def test_a_child_never_believes_it_is_an_xdist_worker() -> None:
    env = {
        "PYTEST_XDIST_WORKER": "gw0",
        "PYTEST_XDIST_TESTRUNUID": "x",
        "PYTEST_CURRENT_TEST": "t",
        "KEEP": "1",
    }
    assert child_env(env) == {"KEEP": "1"}
