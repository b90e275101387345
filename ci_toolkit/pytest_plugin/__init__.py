"""ci-toolkit's pytest plugin, loaded into every pytest session through the `pytest11` entry point.

Because it lands in the sessions of everyone who installs ci-toolkit, it only adds its options unless
one is given: no hook of ours runs and nothing heavier than pytest itself is imported. Each feature is a
small object, in a module of its own, registered in pytest_configure when its option is present. The
files they exchange with ci-toolkit are ci_toolkit.run.exchange's.

--ci-toolkit-results=PATH (recorder.py)
    Record every test's outcome and phase durations and write them at session end. Only the xdist
    controller records: workers' reports reach it.
--ci-toolkit-collect=PATH --ci-toolkit-lanes=FILE (collector.py)
    For every collected item, evaluate each lane's marker expression the way `pytest -m` does, and write
    which lanes select it, and its xdist_group. Under xdist, worker gw0 writes it (workers collect).
--ci-toolkit-verdict=PATH (collector.py; with the two above, or alone)
    Then wait, before any test runs, for ci-toolkit's go-ahead in PATH, written once it has checked the
    lanes against that file; ci-toolkit stops this pytest when they are wrong. This is how the first
    lane of `ci-toolkit local` doubles as the collection run. Every xdist worker waits. Alone, it only
    waits: a concurrent lane started meanwhile collects, then waits for the same verdict.
--ci-toolkit-parent=PID --ci-toolkit-run=ID (parent.py)
    Die with process PID (xdist's workers with their controller); take no file of another run for ours.
--ci-shard=K/N|auto [--ci-plan=FILE] [--ci-timings=FILE] (shard.py)
    Run shard K of N (1-based) of the tests left after -m/-k and other deselection; the rest are
    deselected the pytest way. With --ci-plan, shard K is read from a plan manifest (`ci-toolkit plan`,
    `ci-toolkit local --shard`); the tests collected here must be the ones the plan was made from
    (checked by fingerprint, before any deselection). Without it, the shards are planned here from the
    timing history in --ci-timings, else the one the project's [tool.ci-toolkit] names (`timings`), or
    estimates alone: deterministically, so that every shard, and every xdist worker of a shard (workers
    collect, the controller does not), plans the same split. The header names the history used.
    `auto` takes K/N from the environment: CI_TOOLKIT_SHARD="K/N", else GitLab (CI_NODE_INDEX,
    CI_NODE_TOTAL, 1-based), CircleCI (CIRCLE_NODE_INDEX, CIRCLE_NODE_TOTAL, 0-based) or Buildkite
    (BUILDKITE_PARALLEL_JOB, BUILDKITE_PARALLEL_JOB_COUNT, 0-based); none set: every test runs. Only
    `auto` reads the environment, so a plain pytest run in a parallel CI job is never split unasked.
--ci-scheduler=duration [--ci-timings=FILE] [--ci-toolkit-scratch=DIR] (groups.py, scheduler.py)
    With xdist (-n), hand tests to workers longest first from the timing history.
--ci-toolkit-session-lanes=FILE [--ci-toolkit-serial-lane=NAME ...] (session_lanes.py)
    Lanes sharing this session: each test's coverage is measured in its lane's dynamic context, and a
    serial lane's tests form one group that the duration scheduler keeps on one worker.

--ci-toolkit-services-env=PATH (worker_env.py)
    Wait for PATH, written once the lane's services are ready, and put their variables into the environment
    before any conftest.py is imported: ci-toolkit starts a lane's pytest while its services start.
CI_TOOLKIT_WORKER_ENV (environment, not an option; worker_env.py)
    {"VAR": {"gw0": value, "gw1": value, ...}}, set by `ci-toolkit local` for a lane whose services have
    a database per worker. In an xdist worker, os.environ[VAR] becomes that worker's value before any
    conftest.py is imported. Nothing happens when either variable is absent.
"""

from __future__ import annotations

import os

import pytest

from ci_toolkit.pytest_plugin import collector, groups, parent, session_lanes
from ci_toolkit.pytest_plugin.recorder import ResultsRecorder
from ci_toolkit.pytest_plugin.shard import configure_shard
from ci_toolkit.pytest_plugin.worker_env import apply_services_env, apply_worker_env
from ci_toolkit.run.exchange import collected, lanes, owner, results, services_env, verdict
from ci_toolkit.run.exchange import plan as manifest

RESULTS_PLUGIN = "ci_toolkit-results"
PARENT_PLUGIN = "ci_toolkit-parent"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # The earliest hook that runs before conftest.py files are imported, in workers as in the controller.
    # A conftest can take seconds to import, and the services seconds to start: from here on, this pytest
    # must not outlive ci-toolkit.
    parent.guard_from(early_config)
    apply_services_env(early_config, os.environ)
    apply_worker_env(os.environ)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci-toolkit")
    group.addoption(
        results.OPTION,
        metavar="PATH",
        default=None,
        help="ci-toolkit: write every test's outcome and durations to PATH as JSON.",
    )
    group.addoption(
        collected.OPTION,
        metavar="PATH",
        default=None,
        help="ci-toolkit: write which lanes select each collected test to PATH (needs --ci-toolkit-lanes).",
    )
    group.addoption(
        lanes.OPTION,
        metavar="JSON_FILE",
        default=None,
        help="ci-toolkit: each lane's marker expression, for --ci-toolkit-collect (ci-toolkit writes it).",
    )
    group.addoption(
        verdict.OPTION,
        metavar="PATH",
        default=None,
        help="ci-toolkit: before running any test, wait for PATH (written by ci-toolkit once it has "
        "checked the lanes; after --ci-toolkit-collect when given).",
    )
    group.addoption(
        owner.PARENT_OPTION,
        metavar="PID",
        default=None,
        help="ci-toolkit: stop this pytest (and its xdist workers) when process PID ends.",
    )
    group.addoption(
        owner.RUN_OPTION,
        metavar="ID",
        default="",
        help="ci-toolkit: the run this pytest belongs to; files of another run are never taken for ours.",
    )
    group.addoption(
        "--ci-toolkit-scratch",
        metavar="DIR",
        default=None,
        help="ci-toolkit: where this pytest keeps its working files (default: a temporary directory).",
    )
    group.addoption(
        "--ci-shard",
        metavar="K/N|auto",
        default=None,
        help="ci-toolkit: run only shard K of N (1-based); auto: K/N from the CI's environment.",
    )
    group.addoption(
        manifest.OPTION,
        metavar="FILE",
        default=None,
        help="ci-toolkit: the plan manifest --ci-shard reads its tests from (default: plan here).",
    )
    group.addoption(
        "--ci-timings",
        metavar="FILE",
        default=None,
        help="ci-toolkit: timing history that --ci-shard and --ci-scheduler estimate durations from "
        "(--ci-shard default: the project's configured `timings`).",
    )
    group.addoption(
        "--ci-scheduler",
        choices=("duration", "xdist"),
        default=None,
        help="ci-toolkit: duration: hand tests to xdist workers longest first; xdist: xdist's --dist.",
    )
    session_lanes.add_options(group)
    group.addoption(
        services_env.OPTION,
        metavar="PATH",
        default=None,
        help="ci-toolkit: before importing any conftest.py, wait for the services' variables in PATH.",
    )


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None and _asked(config):  # the controller checks for its workers
        _check_versions()
    base = config.invocation_params.dir
    configure_shard(config, base)
    session_lanes.register(config, base)
    if workerinput is not None:
        groups.register_worker(config, workerinput)
        # xdist's controller collects nothing: the workers do, each all of it, so gw0 alone records the
        # lanes; every worker waits for the verdict, so that no test runs before the lanes are checked.
        collector.register(config, base, write=workerinput.get("workerid") == "gw0")
        return  # an xdist worker: the controller sees every report and does the recording
    if config.getoption("ci_scheduler") == "duration":
        groups.register(config, base)
    if config.getoption("ci_toolkit_parent") is not None:
        config.pluginmanager.register(parent.ParentForWorkers(), PARENT_PLUGIN)
    recorded = config.getoption("ci_toolkit_results")
    if recorded:
        run = config.getoption("ci_toolkit_run")
        config.pluginmanager.register(ResultsRecorder(base / recorded, config, run_id=run), RESULTS_PLUGIN)
    collector.register(config, base, write=True)


def _asked(config: pytest.Config) -> bool:
    """Whether any of our options is in use: a pytest run that asks nothing of us is left alone."""
    return any(value for name, value in vars(config.option).items() if name.startswith("ci_"))


def _check_versions() -> None:
    """Stop with one line before a feature meets a pytest or xdist outside the range we declare."""
    from ci_toolkit import versions

    found = versions.installed_problems()
    if found:
        raise pytest.UsageError(f"ci-toolkit: {versions.message(found)}")
