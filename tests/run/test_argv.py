"""The pytest command lines of the lanes: ours first, the project's and the user's last."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from ci_toolkit.config import Config, CoverageConfig, Lane
from ci_toolkit.errors import ConfigError
from ci_toolkit.run.argv import detect_sources, lane_command, resolve_workers
from ci_toolkit.run.layout import RunPaths


def test_lane_command_puts_ours_first_and_the_projects_and_users_args_last(tmp_path: Path) -> None:
    config = Config(
        root=tmp_path,
        workers=3,
        pytest_args=("-x",),
        coverage=CoverageConfig(source=("app", "src/lib")),
    )
    lane = Lane("integration", markers="integration and not slow", pytest_args=("--timeout=5",))
    paths = RunPaths(tmp_path / "out")
    assert lane_command(config, lane, paths, ["-k", "db"], python="py") == [
        "py",
        "-m",
        "pytest",
        "-m",
        "integration and not slow",
        "-n",
        "3",
        "--dist",
        "load",
        "--ci-scheduler",
        "duration",
        f"--ci-timings={tmp_path}/.ci-toolkit/timings.json",
        f"--ci-toolkit-scratch={tmp_path}/out/scratch/integration",
        "--cov=app",
        "--cov=src/lib",
        "--cov-branch",
        "--cov-report=",
        "--cov-fail-under=0",
        f"--junitxml={tmp_path}/out/junit/integration.xml",
        f"--ci-toolkit-results={tmp_path}/out/results/integration.json",
        "-x",
        "--timeout=5",
        "-k",
        "db",
    ]


def test_lane_command_scheduler_and_shard(tmp_path: Path) -> None:
    config = Config(root=tmp_path, workers=2, coverage=CoverageConfig(source=("app",)))
    paths = RunPaths(tmp_path / "out")
    cmd = lane_command(config, Lane("all"), paths, python="py", shard=(2, 3))
    assert cmd[3:12] == [
        "-n",
        "2",
        "--dist",
        "load",
        "--ci-scheduler",
        "duration",
        f"--ci-timings={tmp_path}/.ci-toolkit/timings.json",
        f"--ci-toolkit-scratch={tmp_path}/out/scratch/all",
        "--ci-shard=2/3",
    ]
    assert cmd[12] == f"--ci-plan={tmp_path}/out/plan.json"
    # scheduler = "xdist" opts out; a serial lane has nothing to schedule.
    xdist = lane_command(dataclasses.replace(config, scheduler="xdist"), Lane("all"), paths, python="py")
    assert "--ci-scheduler" not in xdist
    assert "--ci-scheduler" not in lane_command(config, Lane("all", workers=0), paths, python="py")


def test_lane_command_without_xdist_markers_or_branch(tmp_path: Path) -> None:
    config = Config(root=tmp_path, coverage=CoverageConfig(source=("app",), branch=False))
    cmd = lane_command(config, Lane("all", workers=0), RunPaths(tmp_path), python="py")
    # -n 0 explicitly: a `-n` in the project's addopts must not parallelise this lane.
    assert cmd[:7] == ["py", "-m", "pytest", "-n", "0", "--cov=app", "--cov-report="]
    assert "--cov-branch" not in cmd and "-m" not in cmd[3:]


def test_lane_command_names_our_plugins_when_autoload_is_disabled(tmp_path: Path) -> None:
    config = Config(root=tmp_path, coverage=CoverageConfig(source=("app",)))
    cmd = lane_command(config, Lane("all"), RunPaths(tmp_path), python="py", autoload=False)
    assert cmd[3:9] == ["-p", "ci_toolkit.pytest_plugin", "-p", "pytest_cov.plugin", "-p", "xdist.plugin"]


def test_workers_resolution(tmp_path: Path) -> None:
    assert resolve_workers(Config(root=tmp_path, workers="auto"), Lane("a")) == (os.cpu_count() or 1)
    assert resolve_workers(Config(root=tmp_path, workers=4), Lane("a")) == 4
    assert resolve_workers(Config(root=tmp_path, workers=4), Lane("a", workers=0)) == 0
    assert resolve_workers(Config(root=tmp_path, workers=0), Lane("a", workers="auto")) == (
        os.cpu_count() or 1
    )


def test_sources_are_detected_from_the_layout(tmp_path: Path) -> None:
    for package in (
        "app",
        "src/lib",
        "tests",
        "docs",
        "examples",
        "benchmarks",
        ".hidden",
        "venv",
        "src/test",
    ):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "notapackage").mkdir()
    (tmp_path / "myvenv").mkdir()
    (tmp_path / "myvenv" / "__init__.py").write_text("")
    (tmp_path / "myvenv" / "pyvenv.cfg").write_text("")
    assert detect_sources(tmp_path) == ("app", "src/lib")


def test_no_package_to_measure_says_which_key_to_set(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    with pytest.raises(ConfigError) as info:
        detect_sources(tmp_path, tmp_path / "pyproject.toml")
    message = str(info.value)
    assert message.startswith(f"{tmp_path}/pyproject.toml: tool.ci-toolkit.coverage.source: no package")
    assert "\n" not in message
