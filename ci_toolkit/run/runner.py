"""Run the lanes: one pytest subprocess per lane, with xdist, pytest-cov, JUnit XML and our results file.

This module orchestrates: the output dir is ci_toolkit.run.layout's, the lanes check
ci_toolkit.run.collect's, the lanes' command lines ci_toolkit.run.argv's, their processes
ci_toolkit.run.launch's, their scheduling ci_toolkit.run.lane_pool's and each lane's verdict
ci_toolkit.run.results'. What it adds: a sharded run's plan, run.json, and the merged coverage.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.config import Config
from ci_toolkit.errors import CiToolkitError, ConfigError
from ci_toolkit.run import lanes as lanes_mod
from ci_toolkit.run import layout
from ci_toolkit.run.argv import lane_workers
from ci_toolkit.run.collect import Collected, FirstLaneCheck, collect_all, needs_collection
from ci_toolkit.run.exchange import owner, run_record
from ci_toolkit.run.exchange import plan as manifest
from ci_toolkit.run.lane_pool import LaneServices, Pool
from ci_toolkit.run.lanes import LaneCheck
from ci_toolkit.run.layout import RunPaths, timings_path
from ci_toolkit.run.results import LaneResult

if TYPE_CHECKING:
    from ci_toolkit.planning import Plan
    from ci_toolkit.planning.pricing import Pricing
    from ci_toolkit.timing import History

# Re-exported for the commands that find them here.


@dataclass(frozen=True)
class RunOutcome:
    lanes: tuple[LaneResult, ...]
    coverage_file: Path | None  # every lane and worker combined; None when no lane left coverage data
    check: LaneCheck | None  # None when there was nothing to check (one lane selecting every test)
    shard: tuple[int, int] | None = None  # (K, N) of a sharded run
    plan: Plan | None = None  # the plan a sharded run selected its share from


def run_lanes(
    config: Config,
    extra_args: Sequence[str] = (),
    services: LaneServices | None = None,
    shard: tuple[int, int] | None = None,
    *,
    checked: bool = False,
    started: Callable[[], None] | None = None,
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
    is run again once the services are up, with them.

    `checked`: the caller holds the output dir's lock (layout.lock), which checked the dir. `started`:
    called once the first lane's pytest has been started."""
    paths = RunPaths.for_config(config)
    if not checked:
        layout.check(config)  # not the root, a parent of it, or a home of tracked files: it gets cleared
    paths.prepare(config)
    check: LaneCheck | None = None
    plan: Plan | None = None
    counts: dict[str, int] | None = None
    wanted = list(dict.fromkeys(name for lane in config.lanes for name in lane.services))
    if services is not None and wanted:
        services.start_background(wanted)
    run_id = owner.new_run_id()
    # Without a shard to plan, the first lane's own pytest collects for the check (FirstLaneCheck):
    # one interpreter start-up and full collection fewer than a collection run of its own.
    first_check = (
        FirstLaneCheck(config, paths, run_id) if needs_collection(config) and shard is None else None
    )
    if shard is not None:
        collected = _collect(config, extra_args, services if wanted else None, wanted)
        check = lanes_mod.check(collected.tests, config)
        found = lanes_mod.problems(check, config)
        if found:
            raise ConfigError(" -- also: ".join(found))
        plan = plan_shards(
            config, collected.tests, shard[1], collected.groups, load_history(config), extra_args
        )
        manifest.write(paths.plan_file, plan)
        mine = set(plan.shards[shard[0] - 1].tests) if shard[0] <= len(plan.shards) else set()
        counts = {
            lane.name: sum(1 for t in mine if lane.name in collected.tests.get(t, ()))
            for lane in config.lanes
        }
    pool = Pool(
        config, paths, extra_args, services, shard, first_check, check, counts, run_id=run_id,
        assignment=None if shard is None else collected.tests, started=started,
    )  # fmt: skip
    results = pool.run()
    run_record.write(paths.run_file, results, shard)
    from ci_toolkit.run import combine as merge  # sqlite3: not before the lanes start

    coverage_file = merge.combine(paths.coverage_data_files(), paths.coverage_file)
    return RunOutcome(
        lanes=tuple(results), coverage_file=coverage_file, check=pool.check, shard=shard, plan=plan
    )


# -- timings and shards ------------------------------------------------------------------------------


def load_history(config: Config) -> History:
    from ci_toolkit import timing as timings

    return timings.load(timings_path(config), timings.project_name(config.root))


def plan_shards(
    config: Config,
    assignment: Mapping[str, Sequence[str]],
    shards: int,
    groups: Mapping[str, str],
    history: History,
    extra_args: Sequence[str] = (),
) -> Plan:
    """Every collected test into `shards` shards, priced as `ci-toolkit plan` prices them (shard_pricing)."""
    from ci_toolkit import planning

    prices = shard_pricing(config, history, assignment, extra_args=extra_args)
    return planning.make_plan(
        list(assignment),
        prices.estimate,
        shards,
        groups=groups,
        keep_together=config.keep_together,
        overhead=prices.overhead.seconds,
    )


def shard_pricing(
    config: Config,
    history: History,
    assignment: Mapping[str, Sequence[str]],
    lane_shares: Mapping[str, float] | None = None,
    extra_args: Sequence[str] = (),
) -> Pricing:
    """The one cost model (planning.cost, planning.pricing) that `ci-toolkit plan` and `local --shard`
    price shards with: each test in wall seconds of the lanes that run it (`lane_shares`, by default from
    the lanes' workers), measured in its lane's mode, plus what each of a shard's pytest sessions pays
    once. `extra_args`: the command line's pytest arguments, which can change a lane's mode."""
    from ci_toolkit import timing as timings
    from ci_toolkit.planning import cost, pricing
    from ci_toolkit.run.argv import session_leaders

    workers = lane_workers(config)
    return pricing.lane_pricing(
        history,
        assignment,
        cost.shares(workers) if lane_shares is None else lane_shares,
        timings.lane_modes(config, workers, extra_args),
        config.shard_overhead,
        session_leaders(config),
    )


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
