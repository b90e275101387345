"""`ci-toolkit split-report DIR...`: how well a sharded run was split, from every shard's output dir.

Each DIR is the output_dir of one `ci-toolkit local --shard K/N` run (in CI: each shard job's uploaded
artefact): plan.json (the plan all shards selected from), run.json (which shard, each lane's wall time)
and results/*.json (what ran). Printed: predicted against realised seconds per shard, the slowest shard
against the plan's lower bound, and the idle fraction 1 - mean/max of the realised times: the share
of the paid machine time spent waiting for the slowest shard.

Then the calibration of the overhead every shard pays once (`shard_overhead`): the constant the shards really
paid, fitted as the median of realised minus predicted work (the prediction without the plan's overhead),
beside what their pytest sessions measured themselves (start-up and session fixtures, from the results files),
and what to do when the two disagree (`calibrate`).

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.errors import ExitCode

REPORT_VERSION = 1
_EXAMPLES = 3
# The fitted and measured per-shard constants agree when this close (seconds), or this close relatively.
AGREE_SECONDS = 1.0
AGREE_FRACTION = 0.2


@dataclass(frozen=True)
class ShardRun:
    """What one shard's output dir says about its run."""

    directory: Path
    index: int
    shards: int
    realised: float  # seconds: the shard's lanes' wall time
    lanes: Mapping[str, float]
    ran: tuple[str, ...]  # node ids in its results files
    plan: Any  # ci_toolkit.planning.Plan
    # seconds its pytest sessions measured before and besides their tests (start-up, session fixtures),
    # summed over its lanes; None when no results file recorded a start-up
    sessions: float | None = None


@dataclass(frozen=True)
class ShardLine:
    index: int
    predicted: float
    realised: float
    tests: int


@dataclass(frozen=True)
class SplitReport:
    shards: int  # N
    lines: tuple[ShardLine, ...]  # the shards given, by index
    missing: tuple[int, ...]  # shard indices no DIR was given for
    makespan: float  # predicted, the plan's
    lower_bound: float
    slowest: float  # realised
    idle_fraction: float  # 1 - mean/max realised over the shards given
    twice: tuple[str, ...]  # node ids that ran in more than one shard
    calibration: Calibration | None = None  # None: no shard's realised time to fit

    @property
    def slowest_vs_bound(self) -> float | None:
        return _ratio(self.slowest, self.lower_bound)


@dataclass(frozen=True)
class Calibration:
    """The overhead each shard pays once: what the plan assumed, fitted from the shards, measured by them."""

    planned: float  # the plan's overhead per shard
    fitted: float  # median over the shards of realised - (predicted - planned)
    measured: float | None  # median over the shards of their sessions' start-up and fixtures (None: unknown)

    @property
    def agree(self) -> bool | None:
        if self.measured is None:
            return None
        gap = abs(self.fitted - self.measured)
        return gap <= max(AGREE_SECONDS, AGREE_FRACTION * max(abs(self.fitted), self.measured))


def calibrate(plan: Any, runs: Sequence[ShardRun]) -> Calibration:
    """The fitted and measured per-shard constants of `runs`, shards of `plan` (see the module docstring)."""
    work = [plan.shards[run.index - 1].predicted - plan.overhead for run in runs]
    fitted = statistics.median(run.realised - predicted for run, predicted in zip(runs, work, strict=True))
    measured = [run.sessions for run in runs if run.sessions is not None]
    return Calibration(plan.overhead, fitted, statistics.median(measured) if measured else None)


def advice(calibration: Calibration) -> str:
    """What to do about the per-shard constant, in one line."""
    c = calibration
    if c.measured is None:
        return (
            "no shard recorded its start-up (results files of an older ci-toolkit): "
            f"shard_overhead = {_seconds(c.fitted)} would match these shards"
        )
    if c.agree:
        return 'they agree: shard_overhead = "auto" (the default) predicts what the shards pay'
    if c.fitted > c.measured:
        return (
            f"the shards pay {c.fitted - c.measured:.1f}s more than pytest's own start-up (services "
            "starting, coverage combining, time outside the lanes' sessions, or tests slower than their "
            "history): "
            f"set shard_overhead = {_seconds(c.fitted)} if that holds over several runs"
        )
    return (
        f"the shards pay {c.measured - c.fitted:.1f}s less than their sessions measured (concurrent lanes "
        "overlapping their start-up, or tests faster than their history): "
        f"set shard_overhead = {_seconds(c.fitted)} if that holds over several runs"
    )


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.1f}"


def _ratio(realised: float, predicted: float) -> float | None:
    """realised / predicted; None when there is no finite ratio (a plan of nothing, or a hand-edited one)."""
    if predicted <= 0:
        return None
    ratio = realised / predicted
    return ratio if math.isfinite(ratio) else None


@click.command("split-report", cls=Command)
@options.json_file("Also write the report as JSON to this file.")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
def command(json_path: Path | None, dirs: tuple[Path, ...]) -> int:
    """Predicted against realised time per shard, and the idle fraction, from each shard's output dir.

    Each DIR is the output_dir of one `ci-toolkit local --shard K/N` run.
    """
    from ci_toolkit.files import outputs

    report = summarize([read_shard_dir(directory) for directory in dirs])
    click.echo(render(report))
    if json_path is not None:
        outputs.write_owned(
            json_path,
            json.dumps(to_json(report), indent=1, allow_nan=False) + "\n",
            "--json",
            outputs.json_with("version", "shards", "reported"),
            "an earlier `ci-toolkit split-report` JSON",
        )
    return ExitCode.OK


# -- reading (the edge) ---------------------------------------------------------------------------------


def read_shard_dir(directory: Path) -> ShardRun:
    from ci_toolkit import planning, timing
    from ci_toolkit.errors import DataError
    from ci_toolkit.run.exchange import results as results_file
    from ci_toolkit.run.exchange import run_record

    plan_file = directory / "plan.json"
    plan = planning.from_json(run_record.read_json(plan_file, "plan"), str(plan_file))
    run_file = directory / run_record.NAME
    run = run_record.read(run_file)
    if len(plan.shards) != run.shards:
        raise DataError(
            f"{run_file}: shard {run.shard}/{run.shards}, but its plan.json has {len(plan.shards)} shards"
        )
    ran: list[str] = []
    sessions: list[float] = []
    for path in sorted((directory / "results").glob("*.json")):
        results = results_file.read(path)
        ran.extend(outcome.nodeid for outcome in results.tests if outcome.outcome != "skipped")
        cost = timing.session_cost(results.session, results.tests)
        if cost is not None:
            sessions.append(cost.startup + cost.setup)
    return ShardRun(
        directory,
        run.shard,
        run.shards,
        sum(run.lanes.values()),
        dict(run.lanes),
        tuple(ran),
        plan,
        sum(sessions) if sessions else None,
    )


# -- the pure core --------------------------------------------------------------------------------------


def summarize(runs: Sequence[ShardRun]) -> SplitReport:
    """The shards' runs (of one plan) as one report; DataError when they do not belong together."""
    from ci_toolkit.errors import DataError

    first = runs[0]
    by_index: dict[int, ShardRun] = {}
    for run in runs:
        if run.plan.fingerprint != first.plan.fingerprint or run.shards != first.shards:
            raise DataError(
                f"{run.directory}: planned from other tests than {first.directory} (plan fingerprints "
                f"{run.plan.fingerprint} and {first.plan.fingerprint}): not shards of one run"
            )
        if run.index in by_index:
            raise DataError(
                f"shard {run.index}/{run.shards} given twice: "
                f"{by_index[run.index].directory} and {run.directory}"
            )
        by_index[run.index] = run
    plan = first.plan
    lines = tuple(
        ShardLine(k, plan.shards[k - 1].predicted, by_index[k].realised, len(set(by_index[k].ran)))
        for k in sorted(by_index)
    )
    realised = [line.realised for line in lines]
    slowest = max(realised)
    seen: dict[str, int] = {}
    twice: set[str] = set()
    for run in by_index.values():
        for nodeid in set(run.ran):
            if nodeid in seen and seen[nodeid] != run.index:
                twice.add(nodeid)
            seen[nodeid] = run.index
    return SplitReport(
        shards=first.shards,
        lines=lines,
        missing=tuple(k for k in range(1, first.shards + 1) if k not in by_index),
        makespan=plan.makespan,
        lower_bound=plan.lower_bound,
        slowest=slowest,
        idle_fraction=1 - (sum(realised) / len(realised)) / slowest if slowest > 0 else 0.0,
        twice=tuple(sorted(twice)),
        calibration=calibrate(plan, [by_index[k] for k in sorted(by_index)]),
    )


def render(report: SplitReport) -> str:
    n = report.shards
    out = [
        f"split quality: {len(report.lines)} of {n} shards",
        "  shard     predicted   realised   ratio  tests",
    ]
    for line in report.lines:
        value = _ratio(line.realised, line.predicted)
        ratio = "     -" if value is None else f"{value:5.2f}x"
        label = f"{line.index}/{n}"
        out.append(f"  {label:<8}{line.predicted:9.1f}s {line.realised:9.1f}s  {ratio}  {line.tests:5d}")
    bound = report.slowest_vs_bound
    against = f" = {bound:.2f}x the lower bound {report.lower_bound:.1f}s" if bound is not None else ""
    out.append(
        f"slowest shard: {report.slowest:.1f}s realised{against} (plan makespan {report.makespan:.1f}s)"
    )
    out.append(f"idle fraction: {report.idle_fraction:.1%} of the shards' time waiting for the slowest")
    c = report.calibration
    if c is not None:
        measured = "not recorded" if c.measured is None else f"{c.measured:.1f}s"
        out.append(
            f"per-shard overhead: fitted {c.fitted:.1f}s (median realised - predicted work), "
            f"measured start-up + session fixtures {measured}, planned {c.planned:.1f}s"
        )
        out.append(f"  {advice(c)}")
    if report.missing:
        out.append(f"note: no output dir given for shard(s) {', '.join(str(k) for k in report.missing)}")
    if report.twice:
        shown = ", ".join(report.twice[:_EXAMPLES])
        out.append(f"warning: {len(report.twice)} test(s) ran in more than one shard, e.g. {shown}")
    return "\n".join(out)


def to_json(report: SplitReport) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "shards": report.shards,
        "reported": [
            {
                "index": line.index,
                "predicted": line.predicted,
                "realised": round(line.realised, 4),
                "tests": line.tests,
            }
            for line in report.lines
        ],
        "missing": list(report.missing),
        "makespan": report.makespan,
        "lower_bound": report.lower_bound,
        "slowest": round(report.slowest, 4),
        "slowest_vs_lower_bound": None
        if report.slowest_vs_bound is None
        else round(report.slowest_vs_bound, 4),
        "idle_fraction": round(report.idle_fraction, 4),
        "ran_in_several_shards": list(report.twice),
        **({"overhead": _calibration_json(report.calibration)} if report.calibration is not None else {}),
    }


def _calibration_json(c: Calibration) -> dict[str, Any]:
    return {
        "planned": c.planned,
        "fitted": round(c.fitted, 4),
        "measured": None if c.measured is None else round(c.measured, 4),
        "agree": c.agree,
    }
