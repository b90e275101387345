"""Run the lanes: one pytest subprocess per lane, with xdist, pytest-cov, JUnit XML and our results file.

Layout of output_dir (everything ci-toolkit writes while running lives here; prepare() clears it):

    junit/<lane>.xml        pytest's JUnit XML
    results/<lane>.json     outcomes and durations, written by our pytest plugin
    coverage/<lane>/        the lane's coverage data (COVERAGE_FILE=coverage/<lane>/.coverage)
    .coverage               every lane and worker combined (merge.combine)
    plan.json               with a shard (`local --shard K/N`): the plan every lane selects its share from
    run.json                the shard run (or null) and each lane's wall time, for `ci-toolkit split-report`
    shard-timings.json      with a shard: the timing history updated with this shard's durations (the
                            project's history is left as it was: it is what every shard plans from)

Each lane gets a directory of its own for coverage data because pytest-cov finishes by combining every
`<COVERAGE_FILE>.*` it finds next to COVERAGE_FILE (that is how xdist workers' data reaches it), and
lane names may contain dots: with `.coverage.<lane>` files side by side, lane "a" would swallow the
data of lane "a.slow".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ci_toolkit.config import Config, Lane
from ci_toolkit.console import wants_color
from ci_toolkit.errors import CiToolkitError, ConfigError, DataError, NoTestsError
from ci_toolkit.files.atomic import write_text
from ci_toolkit.gate import combine as merge
from ci_toolkit.run import lane_pool
from ci_toolkit.run import lanes as lanes_mod
from ci_toolkit.run import layout as outdir
from ci_toolkit.run.collect import (
    Collected,
    autoload_enabled,
    collect_all,
    lanes_spec,
    needs_collection,
    new_run_id,
    owner_args,
    plugin_args,
    read_assignment,
    start_pytest,
    stop,
)
from ci_toolkit.run.exchange import verdict_text
from ci_toolkit.run.lanes import LaneCheck
from ci_toolkit.run.results import LaneResult, TestOutcome, exit_meaning, load_results
from ci_toolkit.services.env import WORKER_ENV
from ci_toolkit.signals import sigterm_as_interrupt
from ci_toolkit.timing.history import REPORTED_ENV as TIMINGS_REPORTED_ENV

if TYPE_CHECKING:
    from ci_toolkit.planning import Plan

NO_TESTS = 5  # pytest's exit code when nothing was collected/selected
RUN_VERSION = 1  # of run.json
RESULTS_MISSING = 3  # pytest's "internal error": pytest claimed success but wrote no results
_FAILING = ("failed", "error")

_NOT_PACKAGES = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "benchmark"}
    | {"venv", "env", "build", "dist", "node_modules", "site-packages"}
)
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


class LaneServices(Protocol):
    """What run_lanes needs from the services lifecycle (ci_toolkit.services.manager.Services)."""

    def ensure(self, names: Sequence[str]) -> Mapping[str, str]:
        """Start these services if not running yet; their exported variables."""

    def start_background(self, names: Sequence[str]) -> None:
        """Begin starting these services without waiting; ensure() waits."""

    def starting(self) -> bool:
        """Whether a background start is still under way."""

    def prepare_lane(self, lane: Lane, workers: int) -> Mapping[str, str]:
        """The lane's services up, per-worker databases created; the variables for its pytest."""


@dataclass(frozen=True)
class RunOutcome:
    lanes: tuple[LaneResult, ...]
    coverage_file: Path | None  # every lane and worker combined; None when no lane left coverage data
    check: LaneCheck | None  # None when there was nothing to check (one lane selecting every test)
    shard: tuple[int, int] | None = None  # (K, N) of a sharded run
    plan: Plan | None = None  # the plan a sharded run selected its share from


@dataclass(frozen=True)
class RunPaths:
    output_dir: Path

    @classmethod
    def for_config(cls, config: Config) -> RunPaths:
        return cls(config.root / config.output_dir)  # an absolute output_dir replaces root

    @property
    def junit(self) -> Path:
        return self.output_dir / "junit"

    @property
    def results(self) -> Path:
        return self.output_dir / "results"

    @property
    def coverage(self) -> Path:
        return self.output_dir / "coverage"

    @property
    def coverage_file(self) -> Path:
        return self.output_dir / ".coverage"

    def junit_file(self, lane: str) -> Path:
        return self.junit / f"{lane}.xml"

    def results_file(self, lane: str) -> Path:
        return self.results / f"{lane}.json"

    def lane_coverage_file(self, lane: str) -> Path:
        return self.coverage / lane / ".coverage"

    @property
    def scratch(self) -> Path:
        """Working files of the run's pytest processes (the collection run's, xdist's sidecar): here
        rather than in a system temp dir, so that what a killed run left goes with the next run."""
        return self.output_dir / "scratch"

    @property
    def plan_file(self) -> Path:
        return self.output_dir / "plan.json"

    @property
    def run_file(self) -> Path:
        return self.output_dir / "run.json"

    @property
    def shard_timings_file(self) -> Path:
        return self.output_dir / "shard-timings.json"

    @property
    def logs(self) -> Path:
        return self.output_dir / "logs"

    @property
    def lanes_file(self) -> Path:
        return self.output_dir / "lanes.json"

    @property
    def collected_file(self) -> Path:
        return self.output_dir / "collected.json"

    @property
    def verdict_file(self) -> Path:
        return self.output_dir / "lanes-verdict"

    def coverage_data_files(self) -> list[Path]:
        """Every coverage data file the lanes left: pytest-cov's combined one, plus any a crash left."""
        if not self.coverage.is_dir():
            return []
        return sorted(
            path
            for path in self.coverage.glob("*/.coverage*")
            if path.is_file() and not path.name.endswith(_SQLITE_SIDE_FILES)
        )

    def prepare(self, config: Config | None = None) -> None:
        """Claim the output dir (ci_toolkit.outdir: a directory ci-toolkit did not make is refused, not
        cleared), then remove our artefacts of a previous run and nothing else. Never services/: its
        state file is how a killed run's services are found and stopped."""
        outdir.prepare(self.output_dir, config=config)


def run_lanes(
    config: Config,
    extra_args: Sequence[str] = (),
    services: LaneServices | None = None,
    shard: tuple[int, int] | None = None,
) -> RunOutcome:
    """Check the lanes against the collected tests, run every lane in order (a failing lane does not
    stop the others) and combine their coverage. Lane problems raise ConfigError before any test runs.

    The check needs one full collection. The first lane's pytest does it (FirstLaneCheck) and waits
    for the verdict before running anything, so no collection run of its own is started.

    With `services`, the services of every lane start in the background at once, so their start-up
    overlaps the lanes that need none; a lane that needs them waits for them, and their variables go to
    its pytest only.

    With `shard` (K, N): the tests of all lanes are collected by a run of their own and planned into N
    shards once (plan.json), every lane runs only its tests in shard K (`--ci-shard K/N --ci-plan
    plan.json`), and a lane with none there is skipped. That collection run does without the services'
    variables, unless it fails without them (a conftest.py that needs DATABASE_URL at import): then it
    is run again once the services are up, with them."""
    paths = RunPaths.for_config(config)
    outdir.check(config)  # not the root, a parent of it, or a home of tracked files: it gets cleared
    paths.prepare(config)
    check: LaneCheck | None = None
    plan: Plan | None = None
    counts: dict[str, int] | None = None
    wanted = list(dict.fromkeys(name for lane in config.lanes for name in lane.services))
    if services is not None and wanted:
        services.start_background(wanted)
    # Without a shard to plan, the first lane's own pytest collects for the check (FirstLaneCheck):
    # one interpreter start-up and full collection fewer than a collection run of its own.
    run_id = new_run_id()
    first_check = (
        FirstLaneCheck(config, paths, run_id) if needs_collection(config) and shard is None else None
    )
    if shard is not None:
        collected = _collect(config, extra_args, services if wanted else None, wanted)
        check = lanes_mod.check(collected.tests, config)
        found = lanes_mod.problems(check, config)
        if found:
            raise ConfigError(" -- also: ".join(found))
        plan = plan_shards(config, collected.tests, shard[1], collected.groups, load_history(config))
        write_text(paths.plan_file, json.dumps(_plan_json(plan), indent=1) + "\n")
        mine = set(plan.shards[shard[0] - 1].tests) if shard[0] <= len(plan.shards) else set()
        counts = {
            lane.name: sum(1 for t in mine if lane.name in collected.tests.get(t, ()))
            for lane in config.lanes
        }
    pool = _Pool(config, paths, extra_args, services, shard, first_check, check, counts, run_id=run_id)
    results = pool.run()
    check = pool.check
    write_text(paths.run_file, json.dumps(run_record(results, shard), indent=1) + "\n")
    coverage_file = merge.combine(paths.coverage_data_files(), paths.coverage_file)
    return RunOutcome(lanes=tuple(results), coverage_file=coverage_file, check=check, shard=shard, plan=plan)


class FirstLaneCheck:
    """The lanes checked against the collection of the first lane's own pytest.

    That pytest gets --ci-toolkit-collect/--ci-toolkit-lanes/--ci-toolkit-verdict: it writes which
    lanes select each collected test, then waits. poll(), asked while it runs, checks the file as soon
    as it appears: lanes that are wrong stop that pytest before any test has run (finish() raises the
    one-line ConfigError); otherwise "go" lets it run its share."""

    def __init__(self, config: Config, paths: RunPaths, run_id: str = "") -> None:
        self.config = config
        self.paths = paths
        self.run_id = run_id
        self.check: LaneCheck | None = None
        self.error: CiToolkitError | None = None
        write_text(paths.lanes_file, json.dumps(lanes_spec(config.lanes)) + "\n")

    def args(self) -> list[str]:
        return [
            f"--ci-toolkit-collect={self.paths.collected_file}",
            f"--ci-toolkit-lanes={self.paths.lanes_file}",
            f"--ci-toolkit-verdict={self.paths.verdict_file}",
        ]

    def wait_args(self) -> list[str]:
        """For a lane started before the verdict: collect, then wait for it."""
        return [f"--ci-toolkit-verdict={self.paths.verdict_file}"]

    def poll(self) -> bool | None:
        """True: stop the lanes (they are wrong); False: not collected yet; None: checked, go on."""
        if self.error is not None:
            return True
        if self.check is not None:
            return None
        found = read_assignment(self.paths.collected_file, self.run_id)
        if found is None:
            return False
        if not found[0]:
            self.error = NoTestsError(f"no tests collected in {self.config.root} (pytest exit 5)")
            return True
        check = lanes_mod.check({nodeid: tuple(lanes) for nodeid, lanes in found[0].items()}, self.config)
        problems = lanes_mod.problems(check, self.config)
        if problems:
            self.error = ConfigError(" -- also: ".join(problems))
            return True
        self.check = check
        write_text(self.paths.verdict_file, verdict_text(self.run_id))
        return None

    def failure(self) -> CiToolkitError:
        assert self.error is not None, "failure() after poll() said True"
        return self.error

    def finish(self, result: LaneResult) -> LaneCheck | None:
        """After the first lane: the check, or the ConfigError that stopped it. None when the lane
        failed before its collection was done (its own output says why; the run has failed already)."""
        if self.check is None and self.error is None:
            self.poll()
        if self.error is not None:
            raise self.error
        if self.check is None and result.exit_code in (0, NO_TESTS):
            raise CiToolkitError(
                f"lane {result.name} wrote no lane assignment: is the ci_toolkit pytest plugin disabled "
                "(-p no:ci_toolkit in pytest_args or addopts)?"
            )
        if self.check is None:
            # Its collection failed, and it says why. Lanes already waiting for the verdict go on
            # unchecked rather than hang: the run has failed anyway.
            write_text(self.paths.verdict_file, verdict_text(self.run_id))
        return self.check


def run_record(results: Sequence[LaneResult], shard: tuple[int, int] | None) -> dict[str, Any]:
    """run.json: what `ci-toolkit split-report` needs besides the plan: which shard, and how long."""
    return {
        "version": RUN_VERSION,
        "shard": None if shard is None else shard[0],
        "shards": None if shard is None else shard[1],
        "wall_time": round(sum(lane.wall_time for lane in results), 4),
        "lanes": {lane.name: round(lane.wall_time, 4) for lane in results},
    }


# -- timings and shards ------------------------------------------------------------------------------


def timings_path(config: Config) -> Path:
    return config.root / config.timings  # an absolute path replaces root


def load_history(config: Config) -> Any:
    from ci_toolkit.timing import history as timings

    return timings.load(timings_path(config), timings.project_name(config.root))


def plan_shards(
    config: Config,
    assignment: Mapping[str, Sequence[str]],
    shards: int,
    groups: Mapping[str, str],
    history: Any,
) -> Plan:
    """Every collected test into `shards` shards, priced by the one cost model (planning.cost) that
    `ci-toolkit plan` uses too, in wall seconds of the lanes that run it."""
    from ci_toolkit import planning
    from ci_toolkit.planning import cost
    from ci_toolkit.timing import history as timings

    estimator = timings.Estimator(history, {t: names[0] for t, names in assignment.items() if names})
    return planning.make_plan(
        list(assignment),
        cost.shard_estimate(estimator, assignment, cost.shares(lane_workers(config))),
        shards,
        groups=groups,
        keep_together=config.keep_together,
        overhead=config.shard_overhead,
    )


def lane_workers(config: Config) -> dict[str, int]:
    """Each lane's xdist worker count, as its pytest gets it."""
    return {lane.name: resolve_workers(config, lane) for lane in config.lanes}


def _plan_json(plan: Plan) -> dict[str, Any]:
    from ci_toolkit import planning

    return planning.to_json(plan)


@dataclass
class _Running:
    lane: Lane
    proc: subprocess.Popen[bytes]
    started: float


class _Pool:
    """The lanes of one run, each started when lane_pool says it may, until all have ended.

    Without `concurrent` lanes this is the old order exactly: one lane after another, each with the
    terminal. With a FirstLaneCheck, the first lane's pytest collects for it; lanes started before its
    verdict start up and collect meanwhile, then wait for that verdict too. `check` is the check a
    sharded run already made (its counts are then the shard's)."""

    def __init__(
        self,
        config: Config,
        paths: RunPaths,
        extra_args: Sequence[str],
        services: LaneServices | None,
        shard: tuple[int, int] | None,
        first_check: FirstLaneCheck | None,
        check: LaneCheck | None = None,
        counts: Mapping[str, int] | None = None,
        *,
        run_id: str = "",
    ) -> None:
        self.run_id = run_id
        self.config = config
        self.paths = paths
        self.extra_args = tuple(extra_args)
        self.services = services
        self.shard = shard
        self.first_check = first_check
        self.check = check
        self.counts = None if counts is None else dict(counts)
        self.output = lane_pool.LaneOutput(paths.logs)
        self.slots = os.cpu_count() or 1
        self.results: dict[str, LaneResult] = {}

    def run(self) -> list[LaneResult]:
        pending = list(self.config.lanes)
        running: list[_Running] = []
        checking = self.first_check  # until the first lane's collection has been checked
        first_lane: _Running | None = None  # the lane whose pytest collects for the check
        try:
            with sigterm_as_interrupt():
                while pending or running:
                    if checking is not None and running:
                        answer = checking.poll()
                        if answer is True:
                            raise checking.failure()  # the handler below stops the lane
                        if answer is None:
                            self.checked(checking.check)
                            checking = None
                    lanes = lane_pool.startable(
                        pending, [r.lane for r in running], slots=self.slots, workers=self.workers
                    )
                    for lane in lanes:
                        if running and self.services_starting(lane):
                            break  # waiting for them here would hold up the verdict and the output
                        pending.remove(lane)
                        # The first lane collects for the check; a lane started before the verdict
                        # starts up and collects meanwhile, then waits for it too.
                        first = checking is not None and first_lane is None
                        started = self.start(lane, checking, collect=first)
                        if started is not None:
                            running.append(started)
                            first_lane = started if first else first_lane
                    for lane_run in [r for r in running if r.proc.poll() is not None]:
                        running.remove(lane_run)
                        result = self.end(lane_run, lane_run.proc.returncode)
                        if checking is not None and lane_run is first_lane:  # ended before its check
                            self.checked(checking.finish(result))
                            checking = None
                    self.output.pump()
                    if running:
                        time.sleep(_POLL)
        except BaseException:
            for lane_run in running:
                stop(lane_run.proc)
            raise
        self.output.pump()
        return [self.results[lane.name] for lane in self.config.lanes]

    def services_starting(self, lane: Lane) -> bool:
        return bool(lane.services) and self.services is not None and self.services.starting()

    def checked(self, check: LaneCheck | None) -> None:
        self.check = check
        self.counts = None if check is None else dict(check.counts)

    def workers(self, lane: Lane) -> int:
        return resolve_workers(self.config, lane)

    def start(self, lane: Lane, checking: FirstLaneCheck | None, *, collect: bool = False) -> _Running | None:
        """Start the lane, or record it as skipped (None)."""
        count = None if self.counts is None else self.counts[lane.name]
        shard = self.shard
        skipped = None
        if count == 0 and shard is not None and self.check is not None and self.check.counts[lane.name]:
            skipped = f"no tests in shard {shard[0]}/{shard[1]}"
        elif count == 0:  # only allow_empty lanes get here: a pytest start-up to run nothing is saved
            skipped = "no tests selected"
        if skipped is not None:
            self.output.say(f"== lane {lane.name}: {skipped}, skipped ==")
            self.results[lane.name] = LaneResult(
                lane.name, exit_code=NO_TESTS, wall_time=0.0, skipped_reason=skipped
            )
            return None
        extra_env: Mapping[str, str] = {}
        if self.services is not None and lane.services:
            extra_env = self.services.prepare_lane(lane, self.workers(lane))
        self.paths.results_file(lane.name).unlink(missing_ok=True)  # a stale one must never stand in
        log = self.output.start(lane.name, header(lane.name, count, self.workers(lane)))
        check_args = [] if checking is None else (checking.args() if collect else checking.wait_args())
        args = [*check_args, *self.extra_args]
        if log is not None and wants_color(sys.stdout, None):
            args = ["--color=yes", *args]  # what the terminal would have shown, when the log is shown
        cmd = lane_command(
            self.config,
            lane,
            self.paths,
            args,
            sys.executable,
            autoload=autoload_enabled(),
            shard=shard,
            run_id=self.run_id,
        )
        env = lane_process_env(lane, self.paths, extra_env)
        env[TIMINGS_REPORTED_ENV] = str(timings_path(self.config))  # the run warns about it, once
        proc = start_pytest(cmd, cwd=self.config.root, env=env, log=log)
        return _Running(lane, proc, time.monotonic())

    def end(self, lane_run: _Running, code: int) -> LaneResult:
        wall_time = time.monotonic() - lane_run.started
        self.output.finish(lane_run.lane.name)
        result = lane_result(lane_run.lane, self.paths, code, wall_time, self.run_id)
        self.results[lane_run.lane.name] = result
        return result


_POLL = 0.02  # seconds between looks at the running lanes


def lane_process_env(lane: Lane, paths: RunPaths, extra_env: Mapping[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra_env or {}), **lane_env(lane, paths)}
    if WORKER_ENV not in (extra_env or {}):
        # One inherited from a surrounding run would point this lane's workers at someone else's databases.
        env.pop(WORKER_ENV, None)
    return env


def lane_result(lane: Lane, paths: RunPaths, code: int, wall_time: float, run_id: str = "") -> LaneResult:
    """The finished lane, judged on pytest's exit code and on what our plugin recorded, never on the exit
    code alone: pytest(-xdist) can exit 0 after an INTERNALERROR, or with selected tests that never ran."""
    problems: list[str] = []
    pytest_code = code
    try:
        recorded = load_results(paths.results_file(lane.name))
    except DataError as exc:
        recorded = None
        if code in (0, NO_TESTS):  # pytest claimed success yet left no results: never a pass
            problems.append(f"pytest exited with {code} but left no results ({exc})")
            code = RESULTS_MISSING
    if recorded is not None and recorded.session.run_id != run_id:
        # Written by a pytest of another run (one that outlived its ci-toolkit): never this lane's result.
        problems.append(f"{paths.results_file(lane.name)}: written by another ci-toolkit run")
        recorded, code = None, RESULTS_MISSING
    session = recorded.session if recorded is not None else None
    if session is not None and session.internal_errors:
        more = len(session.internal_errors) - 1
        also = f" (and {more} more)" if more else ""
        problems.append(f"INTERNALERROR: {session.internal_errors[0]}{also}")
        if code in (0, NO_TESTS):
            code = RESULTS_MISSING  # pytest's own code for an internal error, which it did not give
    outcomes = () if recorded is None else recorded.tests
    ran_tests = session is None or session.ran_tests
    empty_ok = code == NO_TESTS and lane.allow_empty and ran_tests and not problems
    if not ran_tests and code in (0, NO_TESTS):
        problems.append("pytest ran no test (--collect-only, --setup-only or --setup-plan)")
        code = NO_TESTS
    elif code == pytest_code and code != 0 and not empty_ok and not _failing_explains(code, outcomes):
        # Every exit code that no failing test accounts for is named, with what pytest means by it.
        problems.insert(0, f"pytest exit code {code}: {exit_meaning(code)}")
    junit = paths.junit_file(lane.name)
    return LaneResult(
        name=lane.name,
        exit_code=code,
        wall_time=wall_time,
        outcomes=outcomes,
        junit_path=str(junit) if junit.is_file() else None,
        skipped_reason="no tests selected" if empty_ok else None,
        counts=None if recorded is None else recorded.counts,
        problems=tuple(problems),
        ran_tests=ran_tests,
    )


def _failing_explains(code: int, outcomes: Sequence[TestOutcome]) -> bool:
    return code == 1 and any(o.outcome in _FAILING for o in outcomes)


def header(lane: str, tests: int | None, workers: int) -> str:
    parts = [] if tests is None else [f"{tests} test{'s' if tests != 1 else ''}"]
    parts.append(f"{workers} worker{'s' if workers != 1 else ''}" if workers else "no xdist")
    return f"== lane {lane}: {', '.join(parts)} =="


def lane_command(
    config: Config,
    lane: Lane,
    paths: RunPaths,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
    *,
    autoload: bool = True,
    shard: tuple[int, int] | None = None,
    run_id: str = "",
) -> list[str]:
    """The lane's pytest command line. Ours comes first so the project's and the user's args can override."""
    cmd = [python, "-m", "pytest", *plugin_args(autoload), *(owner_args(run_id) if run_id else [])]
    if lane.markers is not None:
        cmd += ["-m", lane.markers]
    workers = resolve_workers(config, lane)
    # `-n 0` rather than nothing: a `-n` in the project's addopts must not parallelise a serial lane.
    cmd += ["-n", str(workers), "--dist", "load"] if workers else ["-n", "0"]
    if workers and config.scheduler == "duration":
        cmd += ["--ci-scheduler", "duration", f"--ci-timings={timings_path(config)}"]
        cmd.append(f"--ci-toolkit-scratch={paths.scratch / lane.name}")
    if shard is not None:
        cmd += [f"--ci-shard={shard[0]}/{shard[1]}", f"--ci-plan={paths.plan_file}"]
    cmd += [f"--cov={source}" for source in coverage_sources(config)]
    if config.coverage.branch:
        cmd.append("--cov-branch")
    cmd += [
        "--cov-report=",  # we report on the merged data ourselves
        # A lane measures part of the code: a fail_under in the project's coverage config must not fail it.
        "--cov-fail-under=0",
        f"--junitxml={paths.junit_file(lane.name)}",
        f"--ci-toolkit-results={paths.results_file(lane.name)}",
        *config.pytest_args,
        *lane.pytest_args,
        *extra_args,
    ]
    return cmd


def lane_env(lane: Lane, paths: RunPaths) -> dict[str, str]:
    """Environment variables added to ours for the lane's pytest."""
    return {"COVERAGE_FILE": str(paths.lane_coverage_file(lane.name))}


def resolve_workers(config: Config, lane: Lane) -> int:
    workers = config.workers if lane.workers is None else lane.workers
    if workers == "auto":
        return os.cpu_count() or 1
    return int(workers)


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


def _collect(
    config: Config, extra_args: Sequence[str], services: LaneServices | None, names: Sequence[str]
) -> Collected:
    """The collection run, while the services start; again with their variables if it needed them."""
    workdir = RunPaths.for_config(config).scratch / "collect"
    try:
        return collect_all(config, extra_args, workdir=workdir)
    except CiToolkitError:
        if services is None:
            raise
    env = {**os.environ, **services.ensure(names)}
    _echo("ci-toolkit: collection failed without the services' variables; collecting again with them")
    return collect_all(config, extra_args, env=env, workdir=workdir)


def _echo(line: str) -> None:
    # Flushed before pytest starts writing to the same terminal, so the header comes first.
    print(line, file=sys.stdout, flush=True)
