"""The command lines of the pytest processes ci-toolkit starts: a lane's, and the collection run's.

Ours come first, so that the project's pytest_args, the lane's and the user's can override them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.config import Config, Lane
from ci_toolkit.errors import ConfigError
from ci_toolkit.run import layout
from ci_toolkit.run.exchange import collected, lanes, owner, results
from ci_toolkit.run.exchange import plan as manifest

if TYPE_CHECKING:
    from ci_toolkit.run.sessions import Shared

# Top-level directories that are never the project's code to measure.
_NOT_PACKAGES = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "benchmark"}
    | {"venv", "env", "build", "dist", "node_modules", "site-packages"}
)


def lane_command(
    config: Config,
    lane: Lane,
    paths: layout.RunPaths,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
    *,
    autoload: bool = True,
    shard: tuple[int, int] | None = None,
    run_id: str = "",
    session: Shared | None = None,
) -> list[str]:
    """The lane's pytest command line; with `session`, that of the lanes sharing it (`lane` is then
    session.lane): its JUnit and results files are the session's, split into the lanes' afterwards."""
    cmd = [python, "-m", "pytest", *plugin_args(autoload), *(owner.args(run_id) if run_id else [])]
    if lane.markers is not None:
        cmd += ["-m", lane.markers]
    workers = resolve_workers(config, lane)
    # `-n 0` rather than nothing: a `-n` in the project's addopts must not parallelise a serial lane.
    cmd += ["-n", str(workers), "--dist", "load"] if workers else ["-n", "0"]
    if session is not None:
        cmd += [f"{lanes.SESSION_OPTION}={paths.session_lanes_file(lane.name)}"]
        cmd += [f"{lanes.SERIAL_OPTION}={name}" for name in session.serial]
    if workers and config.scheduler == "duration":
        cmd += ["--ci-scheduler", "duration", f"--ci-timings={layout.timings_path(config)}"]
        cmd.append(f"--ci-toolkit-scratch={paths.scratch / lane.name}")
    if shard is not None:
        cmd += [f"--ci-shard={shard[0]}/{shard[1]}", f"{manifest.OPTION}={paths.plan_file}"]
    junit, recorded = paths.junit_file(lane.name), paths.results_file(lane.name)
    if session is not None:
        junit, recorded = paths.session_junit_file(lane.name), paths.session_results_file(lane.name)
    cmd += [f"--cov={source}" for source in coverage_sources(config)]
    if config.coverage.branch:
        cmd.append("--cov-branch")
    cmd += [
        "--cov-report=",  # we report on the merged data ourselves
        # A lane measures part of the code: a fail_under in the project's coverage config must not fail it.
        "--cov-fail-under=0",
        f"--junitxml={junit}",
        f"{results.OPTION}={recorded}",
        *config.pytest_args,
        *lane.pytest_args,
        *extra_args,
    ]
    return cmd


def collect_command(
    config: Config,
    workdir: Path,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
    autoload: bool = True,
    run_id: str = "",
) -> list[str]:
    """The collection run; it reads workdir/lanes.json and writes workdir/collected.json."""
    return [
        python,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        # Not `-p no:cacheprovider`: that would make a passed-through --lf/--ff an unknown option.
        # The cache goes to our temporary directory instead, so collection leaves nothing behind.
        "-o",
        f"cache_dir={workdir / 'cache'}",
        *plugin_args(autoload),
        *(owner.args(run_id) if run_id else []),
        # Collection measures nothing; --no-cov also beats a --cov in the project's addopts.
        "--no-cov",
        f"{collected.OPTION}={workdir / layout.COLLECTED}",
        f"{lanes.OPTION}={workdir / layout.LANES}",
        *config.pytest_args,
        *extra_args,
    ]


def plugin_args(autoload: bool) -> list[str]:
    """With PYTEST_DISABLE_PLUGIN_AUTOLOAD set, pytest loads no entry point: name the plugins we need."""
    if autoload:
        return []
    return ["-p", "ci_toolkit.pytest_plugin", "-p", "pytest_cov.plugin", "-p", "xdist.plugin"]


def autoload_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return not environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")


def resolve_workers(config: Config, lane: Lane) -> int:
    """The lane's xdist worker count, as its pytest gets it (0: without xdist)."""
    workers = config.workers if lane.workers is None else lane.workers
    if workers == "auto":
        return os.cpu_count() or 1
    return int(workers)


def lane_workers(config: Config) -> dict[str, int]:
    """Each lane's xdist worker count, as its tests meet them: a lane of a shared session has the
    session's (ci_toolkit.run.sessions)."""
    from ci_toolkit.run.sessions import effective_workers

    return effective_workers(config, lambda lane: resolve_workers(config, lane))


def session_leaders(config: Config) -> list[str]:
    """One lane per pytest session the run starts (ci_toolkit.run.sessions.leaders)."""
    from ci_toolkit.run.sessions import leaders

    return leaders(config, lambda lane: resolve_workers(config, lane))


def coverage_sources(config: Config) -> tuple[str, ...]:
    return config.coverage.source or detect_sources(config.root, config.path)


def detect_sources(root: Path, pyproject: Path | None = None) -> tuple[str, ...]:
    """The project's top-level packages, at the root or under src/, as paths relative to root."""
    found: list[str] = []
    for base, prefix in ((root, ""), (root / "src", "src/")):
        if not base.is_dir():
            continue
        for directory in sorted(base.iterdir()):
            if (
                directory.is_dir()
                and not directory.name.startswith(".")
                and directory.name not in _NOT_PACKAGES
                and (directory / "__init__.py").is_file()
                and not (directory / "pyvenv.cfg").exists()
            ):
                found.append(prefix + directory.name)
    if not found:
        where = pyproject or root / "pyproject.toml"
        raise ConfigError(
            f"{where}: tool.ci-toolkit.coverage.source: no package (a directory with __init__.py) found in "
            f'{root} or {root / "src"} to measure; set it, e.g. source = ["mypackage"]'
        )
    return tuple(found)
