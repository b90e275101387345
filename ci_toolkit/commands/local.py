"""`ci-toolkit local`: every stage on this machine, in the order CI runs them."""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.commands.common import load_config, publish
from ci_toolkit.commands.judge import Against, delta, judge, prepare, resolved_source
from ci_toolkit.errors import CiToolkitError, ConfigError, ExitCode, PytestExit

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.gate.verdict import Verdict
    from ci_toolkit.planning import Plan
    from ci_toolkit.report.model import ShardTime
    from ci_toolkit.run.results import LaneResult


@click.command("local", cls=Command, context_settings={"ignore_unknown_options": True})
@options.config_file
@options.verdict_json
@click.option("--lane", "lanes", multiple=True, metavar="NAME", help="Run only this lane (repeatable).")
@options.color
@options.backend
@options.base
@options.compare
@options.html
@click.option(
    "--shard",
    metavar="K/N",
    default=None,
    help="Run only shard K of N (1-based): the tests are planned into N shards from the timing history.",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def command(
    config_path: Path | None,
    json_path: Path | None,
    lanes: tuple[str, ...],
    color: bool | None,
    backend: str | None,
    base_ref: str | None,
    compare_path: Path | None,
    html: bool,
    shard: str | None,
    pytest_args: tuple[str, ...],
) -> int:
    """Run every lane, merge coverage, gate it and print the summary.

    A lane's services start before it and all stop after the last lane.
    Arguments after `--` go to every pytest run, e.g. `ci-toolkit local -- -x -k slow`.
    """
    from ci_toolkit.run import layout as outdir

    config = load_config(config_path, json_path=json_path)
    if lanes:
        config = select_lanes(config, lanes)
    shard_spec = parse_shard_option(shard) if shard is not None else None
    against = prepare(config, base_ref, compare_path)
    # One run at a time in an output dir, held from its clean-up to the summary (ci_toolkit.outdir).
    with outdir.lock(config):
        return _run_locked(config, json_path, lanes, color, pytest_args, backend, shard_spec, against, html)


def _run_locked(
    config: Config,
    json_path: Path | None,
    only_lanes: Sequence[str],
    color: bool | None,
    pytest_args: Sequence[str],
    backend: str | None,
    shard_spec: tuple[int, int] | None,
    against: Against,
    html: bool = False,
) -> int:
    from ci_toolkit.gate.parsed import PARSES
    from ci_toolkit.run import layout as outdir
    from ci_toolkit.run import runner
    from ci_toolkit.services.manager import Services
    from ci_toolkit.signals import sigterm_as_interrupt

    needed = list(dict.fromkeys(name for lane in config.lanes for name in lane.services))
    # SIGTERM (a cancelled CI job) must stop the services as surely as Ctrl-C does; leaving the block
    # stops every service the run started, before the gate and the summary.
    with sigterm_as_interrupt(), Services(config, backend=backend) as services:
        # What killed runs recorded; what they left unrecorded goes as the lanes' services start
        # (Services.start_background), while the first pytest starts.
        services.clean_leftovers()
        # The gate's parse of the source, while the tests run; not for a run that will not be gated.
        gated = not only_lanes and shard_spec is None
        PARSES.begin()
        preloading = Preload(AFTER_LANES, then=partial(parse_sources, config) if gated else None)
        lane_services = services if needed else None
        try:
            outcome = runner.run_lanes(
                config, tuple(pytest_args), lane_services, shard=shard_spec, checked=True,
                started=preloading.start,
            )  # fmt: skip
        finally:
            PARSES.stop()
    preloading.join()
    # Only a run that finished gets here (an interrupt raises): its durations join the history.
    record_timings(config, outcome.lanes, sharded=shard_spec is not None, pytest_args=pytest_args)

    verdict: Verdict | None = None
    notes = [services.summary()]
    if outcome.plan is not None and shard_spec is not None:
        click.echo(split_quality(outcome.plan, shard_spec, outcome.lanes))
    codes = {lane.exit_code for lane in outcome.lanes if lane.skipped_reason is None}
    if PytestExit.USAGE_ERROR in codes:
        # pytest rejected the arguments and printed why; there is nothing to gate.
        raise CiToolkitError(
            f"pytest rejected its arguments (pytest exit {int(PytestExit.USAGE_ERROR)}); "
            "see pytest's message above"
        )
    if only_lanes:
        # A subset of lanes measures a subset of the code: gating it would fail for the wrong reason.
        notes.append(
            f"coverage gate skipped: only lane(s) {', '.join(only_lanes)} ran; run all lanes to gate"
        )
    elif shard_spec is not None:
        # One shard measures part of the code: gating it alone would fail for the wrong reason.
        notes.append(
            f"coverage gate skipped: shard {shard_spec[0]}/{shard_spec[1]} ran part of the suite; "
            "combine every shard's coverage data and run `ci-toolkit gate` on it"
        )
    elif codes - {PytestExit.NO_TESTS_COLLECTED}:  # some lane ran tests: there is coverage to judge
        verdict = judge(outcome.coverage_file, config, against)

    code = exit_code(outcome.lanes, verdict)
    if code == ExitCode.NO_TESTS and outcome.plan is not None and shard_spec is not None:
        # Fewer units than shards leaves a shard empty by design: nothing to do is not a failure.
        code = ExitCode.OK if not outcome.plan.shards[shard_spec[0] - 1].tests else code
    note = "\nnote: ".join(n for n in notes if n) or None  # the summary prefixes the first "note: "
    started = [dataclasses.asdict(s) for s in services.started]
    change = delta(verdict, against)
    publish(
        outcome.lanes,
        verdict,
        json_path=json_path,
        color=color,
        note=note,
        exit_code=code,
        services=started,
        services_waited=services.waited if started else None,
        delta=change,
        shards=_shard_times(outcome.plan, shard_spec, outcome.lanes)
        if outcome.plan is not None and shard_spec is not None
        else (),
        output_dir=outdir.output_path(config),
        coverage_file=outcome.coverage_file if html and verdict is not None else None,
        root=config.root,
    )
    if code == ExitCode.NO_TESTS:
        if all(lane.ran_tests for lane in outcome.lanes):
            click.echo(
                f"ci-toolkit: error: no tests collected in {config.root} "
                f"(pytest exit {int(PytestExit.NO_TESTS_COLLECTED)})",
                err=True,
            )
        else:
            click.echo("ci-toolkit: error: no test ran: pytest was asked only to collect or plan", err=True)
    return code


# What the run needs once the lanes have ended (the gate, the summary): imported while pytest runs, where
# it costs nothing; the same imports after the lanes ended came to a third of ci-toolkit's own time.
AFTER_LANES = (
    "coverage",
    "ci_toolkit.gate.covdata",
    "ci_toolkit.gate.verdict",
    "ci_toolkit.report.model",
    "ci_toolkit.report.terminal",
    "ci_toolkit.report.json_report",
    "ci_toolkit.report.markdown",
    "ci_toolkit.report.budget",
    "ci_toolkit.report.html",
)


class Preload:
    """`modules` imported, then `then` called, in a daemon thread: what the run needs once the lanes end,
    done while they run. Started once the first pytest is on its way (`start`, idempotent), so that it
    does not compete for the interpreter with the work that gets pytest going; join() before relying on it.

    Only modules the main thread does not import meanwhile: concurrent imports of one module are
    safe, but a cycle between two threads' imports is not. A module that fails to import is left for
    the code that imports it to report, in its own words."""

    def __init__(self, modules: Sequence[str], then: Callable[[], None] | None = None) -> None:
        self.modules, self.then = tuple(modules), then
        self.thread = threading.Thread(target=self._load, name="ci-toolkit-preload", daemon=True)

    def start(self) -> None:
        if self.thread.ident is None:
            self.thread.start()

    def join(self) -> None:
        self.start()  # no lane started: it has the whole machine to itself now
        self.thread.join()

    def _load(self) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except Exception:  # reported by the import that needs it
                return
        if self.then is not None:
            self.then()


def parse_sources(config: Config) -> None:
    """coverage.py's parse of the files the gate will judge, made while the tests run
    (ci_toolkit.gate.parsed)."""

    def files() -> list[str]:
        from ci_toolkit.gate.source import candidate_files
        from ci_toolkit.run import argv

        return sorted(candidate_files(resolved_source(config, argv.coverage_sources(config))))

    from ci_toolkit.gate.parsed import PARSES

    PARSES.parse(files, config.root, config.coverage.branch)


def _shard_times(plan: Plan, shard: tuple[int, int], lanes: Sequence[LaneResult]) -> Sequence[ShardTime]:
    from ci_toolkit.report.model import shard_times

    return shard_times(plan, shard, lanes)


def select_lanes(config: Config, names: Sequence[str]) -> Config:
    known = [lane.name for lane in config.lanes]
    for name in names:
        if name not in known:
            raise ConfigError(f"--lane {name}: no such lane; configured lanes: {', '.join(known)}")
    lanes = tuple(lane for lane in config.lanes if lane.name in names)
    # Tests outside the chosen lanes are meant to be left out this time.
    return dataclasses.replace(config, lanes=lanes, allow_unselected=True)


def exit_code(lanes: Sequence[LaneResult], verdict: Verdict | None) -> ExitCode:
    """Tests outrank coverage: a red test is the first thing to fix, so it decides the code."""
    codes = [lane.exit_code for lane in lanes if lane.skipped_reason is None]
    if PytestExit.USAGE_ERROR in codes:  # bad arguments were passed through to pytest
        return ExitCode.USAGE_ERROR
    passed = (PytestExit.OK, PytestExit.NO_TESTS_COLLECTED)
    if any(lane.failed or lane.not_run for lane in lanes) or any(c not in passed for c in codes):
        return ExitCode.TESTS_FAILED
    if not codes or PytestExit.NO_TESTS_COLLECTED in codes:
        return ExitCode.NO_TESTS
    if verdict is not None and not verdict.passed:
        return ExitCode.GATE_FAILED
    return ExitCode.OK


def parse_shard_option(text: str) -> tuple[int, int]:
    from ci_toolkit.pytest_plugin.shard import parse_shard

    try:
        return parse_shard(text, "--shard")
    except ValueError as exc:
        raise CiToolkitError(str(exc)) from None


def record_timings(
    config: Config,
    lanes: Sequence[LaneResult],
    *,
    sharded: bool = False,
    pytest_args: Sequence[str] = (),
) -> None:
    """Fold this run's measured durations into the timing history (tests that ran, failed ones too), with
    what each pytest session paid besides its tests (start-up, session fixtures).

    A shard's go to <output_dir>/shard-timings.json instead: the project's history must stay what every
    shard of the run plans from (run one after another here, a shard would change the next one's plan);
    `ci-toolkit timings merge` combines the shards' files afterwards. A history file that is not this
    project's (or not readable) is left alone: ours is kept beside it (ci_toolkit.timings.locate).
    `pytest_args`: the command line's, which can change a lane's mode (`--no-cov`)."""
    from ci_toolkit import timing as timings
    from ci_toolkit.run import argv, layout

    # First, so that a history ci-toolkit cannot use is reported even when nothing ran.
    located = timings.locate(layout.timings_path(config), timings.project_name(config.root))
    observed: dict[str, timings.Observation] = {}
    # Durations under coverage or xdist are not those of a plain run: the mode goes with them.
    modes = timings.lane_modes(config, argv.lane_workers(config), pytest_args)
    # Lanes of one shared session carry the same session: its cost is counted once.
    sessions: dict[tuple[str, float], timings.SessionCost] = {}
    for lane in lanes:
        mode = modes.get(lane.name, timings.local_mode(config))
        observed.update(timings.observations_from_results(lane.outcomes, lane.name, mode))
        cost = None if lane.session is None else timings.session_cost(lane.session, lane.outcomes)
        if cost is not None:
            key = (mode, cost.startup)
            if key in sessions:  # the fixtures its other lanes' tests paid add up
                cost = timings.SessionCost(cost.startup, sessions[key].setup + cost.setup)
            sessions[key] = cost
    if not observed:
        return  # nothing ran (every lane skipped or crashed): no run to count
    path = layout.RunPaths.for_config(config).shard_timings_file if sharded else located.target
    if path is None:
        return  # neither the configured file nor the one beside it is ours: locate() said so
    updated = timings.update(
        located.history,
        observed,
        alpha=config.timings_alpha,
        prune_after=config.timings_prune_after,
        sessions=[(mode, cost) for (mode, _), cost in sessions.items()],
    )
    try:
        timings.save(path, updated)
    except OSError as exc:  # advisory data: a read-only checkout must not fail the run
        timings.warn(f"{path}: timing history not saved: {exc.strerror or exc}")


def split_quality(plan: Plan, shard: tuple[int, int], lanes: Sequence[LaneResult]) -> str:
    """One line: this shard's predicted against its realised wall time, and where the plan stands."""
    k, n = shard
    predicted = plan.shards[k - 1].predicted if k <= len(plan.shards) else 0.0
    realised = sum(lane.wall_time for lane in lanes)
    ratio = f" ({realised / predicted:.2f}x)" if predicted > 0 else ""
    return (
        f"shard {k}/{n}: predicted {predicted:.1f}s, realised {realised:.1f}s{ratio}; "
        f"plan makespan {plan.makespan:.1f}s, lower bound {plan.lower_bound:.1f}s "
        f"(`ci-toolkit split-report` on every shard's output dir gives the idle fraction)"
    )
