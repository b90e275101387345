"""`ci-toolkit plan`: split the suite into N shards (or the fewest that meet a target) and show the split.

It collects the suite as `local` does (or, with `--from-history`, takes the tests the timing history holds),
estimates every test from the timing history, plans, and prints the predicted time of each shard against the
lower bound; `--format json` gives the plan manifest that `pytest --ci-plan` reads, `--format github-matrix`
the value for a dynamic `strategy.matrix`.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.commands.common import load_config

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.planning import Plan
    from ci_toolkit.timing import History

FORMATS = ("text", "json", "github-matrix")
AUTO_MAX_SHARDS = 64  # --shards auto looks no further
TABLE_START = "Plan: "  # how the text table begins: how `--output` knows a file it may replace
MANIFEST, PLAN_OUTPUT = "a plan manifest", "an earlier `ci-toolkit plan` output"  # what they may replace


def parse_shards(value: str) -> int | None:
    """N, or None for "auto"; click.BadParameter (one line) for anything else."""
    from ci_toolkit.planning.plan import MAX_SHARDS

    text = value.strip().lower()
    if text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        raise click.BadParameter(
            f'expected a whole number 1-{MAX_SHARDS} or "auto", got {value!r}', param_hint="--shards"
        ) from None
    if not 1 <= count <= MAX_SHARDS:
        raise click.BadParameter(
            f"expected a whole number 1-{MAX_SHARDS}, got {count}", param_hint="--shards"
        )
    return count


@click.command("plan", cls=Command)
@click.option(
    "--shards",
    "shards_text",
    required=True,
    metavar="N|auto",
    help="How many shards; auto: the fewest (up to 64) whose predicted time meets --target-minutes.",
)
@click.option(
    "--target-minutes",
    type=float,
    default=None,
    metavar="M",
    help="With --shards auto: the longest a shard may take, in minutes.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: a table; json: the plan manifest; github-matrix: one line for strategy.matrix.",
)
@click.option(
    "--output",
    type=options.FILE,
    default=None,
    help="Write the output to this file instead of stdout.",
)
@click.option(
    "--manifest",
    type=options.FILE,
    default=None,
    help="Also write the plan manifest (JSON, for pytest --ci-plan) to this file, whatever --format.",
)
@click.option(
    "--from-history",
    is_flag=True,
    default=False,
    help="Plan the tests the timing history holds instead of collecting: no pytest run, nothing of the "
    "project imported. For the shard count (text, github-matrix); no manifest.",
)
@options.config_file
def command(
    shards_text: str,
    target_minutes: float | None,
    fmt: str,
    output: Path | None,
    manifest: Path | None,
    from_history: bool,
    config_path: Path | None,
) -> int:
    """Split the tests into shards that finish together, from the timing history.

    \b
    Prints each shard's tests and predicted time, the makespan (slowest shard) and
    the lower bound no split can beat. In a GitHub workflow:
      ci-toolkit plan --shards auto --target-minutes 10 --format github-matrix
    Add --from-history where the project is not installed: the tests are then
    the ids the history holds, and nothing is collected.
    """
    shards = parse_shards(shards_text)
    if target_minutes is not None and not (0 < target_minutes < math.inf):
        raise click.BadParameter(f"expected minutes > 0, got {target_minutes}", param_hint="--target-minutes")
    if shards is None and target_minutes is None:
        raise click.UsageError("--shards auto needs --target-minutes M (the longest a shard may take)")
    if shards is not None and target_minutes is not None:
        raise click.UsageError("--target-minutes only applies to --shards auto")
    if from_history and (manifest is not None or fmt == "json"):
        # Its ids are the history's, not a collection's: pytest --ci-plan would refuse the fingerprint.
        raise click.UsageError(
            f"--from-history cannot write a plan manifest ({'--manifest' if manifest else '--format json'}): "
            "pytest --ci-plan checks it against the collected tests; use --format github-matrix or text "
            "and let each shard plan the tests it collects"
        )
    return run(
        config_path=config_path,
        shards=shards,
        target_seconds=None if target_minutes is None else target_minutes * 60,
        fmt=fmt,
        output=output,
        manifest=manifest,
        from_history=from_history,
    )


def run(
    *,
    config_path: Path | None,
    shards: int | None,
    target_seconds: float | None,
    fmt: str,
    output: Path | None,
    manifest: Path | None,
    from_history: bool = False,
) -> int:
    from ci_toolkit import planning
    from ci_toolkit import timing as timings
    from ci_toolkit.errors import DataError, ExitCode, NoTestsError
    from ci_toolkit.files import outputs
    from ci_toolkit.planning import cost
    from ci_toolkit.planning.recorded import recorded
    from ci_toolkit.run.argv import lane_workers
    from ci_toolkit.run.runner import shard_pricing

    # Before collecting: a file that is not ours to replace must not cost the collection first.
    if manifest is not None:
        outputs.check_owned(manifest, "--manifest", _is_manifest, MANIFEST)
    if output is not None:
        outputs.check_owned(output, "--output", _is_plan_output, PLAN_OUTPUT)

    config = load_config(config_path)
    workers = lane_workers(config)
    unlaned = 0
    groups: dict[str, str] = {}  # the history has no xdist groups
    if from_history:
        history, history_path = _history(config)
        if not history.tests:
            raise DataError(
                f"no timing history at {history_path}: plan by collecting (drop --from-history) "
                "or restore the history"
            )
        suite = recorded(history, workers)
        tests, lane_shares, unlaned = suite.tests, suite.lane_shares, suite.unknown
    else:
        from ci_toolkit.run.collect import collect_all

        found = collect_all(config)
        if not found.tests:
            raise NoTestsError(f"no tests collected in {config.root}: nothing to plan")
        history, history_path = _history(config)
        tests, groups, lane_shares = found.tests, found.groups, cost.shares(workers)
    # Priced exactly as `local --shard` prices them, each test in the mode its lane's shard job runs it in.
    prices = shard_pricing(config, history, tests, lane_shares)
    estimator, estimate = prices.estimator, prices.estimate
    keep, overhead = config.keep_together, prices.overhead.seconds
    if shards is None:
        assert target_seconds is not None
        plan = planning.auto_plan(
            tests,
            estimate,
            target_seconds,
            max_shards=AUTO_MAX_SHARDS,
            groups=groups,
            keep_together=keep,
            overhead=overhead,
        )
    else:
        plan = planning.make_plan(
            tests, estimate, shards, groups=groups, keep_together=keep, overhead=overhead
        )
    sources: dict[str, int] = {}
    for nodeid in tests:
        source = estimator.source(nodeid)
        sources[source] = sources.get(source, 0) + 1
    # allow_nan=False: every estimate is bounded (timings.MAX_SECONDS), so this never fires; if it did, a
    # traceback beats a manifest no JSON reader can parse.
    if fmt == "json":
        text = json.dumps(planning.to_json(plan), indent=2, allow_nan=False) + "\n"
    elif fmt == "github-matrix":
        # One line: it goes into $GITHUB_OUTPUT as matrix=<json>.
        text = json.dumps(planning.github_matrix(plan), separators=(",", ":"), allow_nan=False) + "\n"
    else:
        text = render(
            plan,
            sources=sources,
            target_seconds=target_seconds,
            history=_shown(history_path, config.root),
            recorded=from_history,
            unlaned=unlaned,
            overhead=prices.overhead.describe(),
        )
    if manifest is not None:
        manifest_text = json.dumps(planning.to_json(plan), indent=2, allow_nan=False) + "\n"
        outputs.write_owned(manifest, manifest_text, "--manifest", _is_manifest, MANIFEST)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        outputs.write_owned(output, text, "--output", _is_plan_output, PLAN_OUTPUT)
    if target_seconds is not None and plan.makespan > target_seconds and fmt != "text":
        # The table says so itself; machine formats must not hide it.
        timings.warn(
            f"no shard count up to {AUTO_MAX_SHARDS} meets the {_duration(target_seconds)} target: "
            f"{len(plan.shards)} shards, slowest {_duration(plan.makespan)}"
        )
    return int(ExitCode.OK)


def _history(config: Config) -> tuple[History, Path]:
    """The project's timing history, and the file it is read from (the one beside the configured file while
    that one is not ours)."""
    from ci_toolkit import timing as timings

    path = config.root / config.timings
    located = timings.locate(path, timings.project_name(config.root))
    return located.history, located.target or path


def _is_manifest(data: bytes) -> bool:
    from ci_toolkit.files import outputs

    return outputs.json_with("version", "fingerprint", "shards")(data)


def _is_plan_output(data: bytes) -> bool:
    """Any of the three formats `plan` writes: the manifest, the matrix, or the table."""
    from ci_toolkit.files import outputs

    return _is_manifest(data) or outputs.json_with("include")(data) or data.startswith(TABLE_START.encode())


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def render(
    plan: Plan,
    *,
    sources: Mapping[str, int],
    target_seconds: float | None = None,
    history: str = "",
    recorded: bool = False,
    unlaned: int = 0,
    overhead: str = "",
) -> str:
    """The plan as a table, then its quality: makespan against lower bound, where estimates came from.

    recorded: the tests are the history's ids, not a collection (`--from-history`); unlaned: how many of
    them were recorded in no configured lane; overhead: where the overhead per shard came from."""
    count = len(plan.shards)
    where = f" (timing history: {history})" if history else ""
    lines = [f"{TABLE_START}{plan.tests} tests in {count} shard{'s' if count != 1 else ''}{where}", ""]
    width = max(5, len(str(max((len(s.tests) for s in plan.shards), default=0))))
    lines.append(f"  shard  {'tests':>{width}}  predicted")
    for shard in plan.shards:
        lines.append(f"  {shard.index:>5}  {len(shard.tests):>{width}}  {_duration(shard.predicted):>9}")
    lines.append("")
    lines.append(
        f"makespan {_duration(plan.makespan)}, lower bound {_duration(plan.lower_bound)}, "
        f"ratio {plan.ratio:.3f} (total work {_duration(plan.total)}, "
        f"overhead {_duration(plan.overhead)} per shard{f', {overhead}' if overhead else ''})"
    )
    if target_seconds is not None:
        if plan.makespan <= target_seconds:
            lines.append(f"auto: {count} shards, the fewest that meet the {_duration(target_seconds)} target")
        else:
            lines.append(
                f"auto: no shard count up to {AUTO_MAX_SHARDS} meets the {_duration(target_seconds)} "
                f"target; {count} shards come closest"
            )
    if recorded:
        # Every estimate is the test's own history here; what needs saying is that nothing was collected.
        line = f"{plan.tests} tests from the history, not collected"
        if unlaned:
            line += f" ({unlaned} recorded in no configured lane, priced at their whole time)"
        lines.append(line)
        return "\n".join(lines) + "\n"
    converted = sources.get("converted", 0)
    known = sources.get("history", 0) + converted
    unknown = {source: n for source, n in sources.items() if source not in _FROM_HISTORY and n}
    mode = f" ({converted} converted from another mode)" if converted else ""
    line = f"estimates: {known} tests from history{mode}, {sum(unknown.values())} without history"
    if unknown:
        line += " (" + ", ".join(f"{_SOURCE_NAMES.get(s, s)}: {n}" for s, n in sorted(unknown.items())) + ")"
    lines.append(line)
    return "\n".join(lines) + "\n"


_FROM_HISTORY = ("history", "converted")  # a test's own history, in the shard's mode or converted to it
_SOURCE_NAMES = {
    "unconverted": "another mode's, unconverted",
    "file": "file mean",
    "directory": "directory mean",
    "lane": "lane mean",
    "global": "global median",
    "default": "default 1 s",
}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"
