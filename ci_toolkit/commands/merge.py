"""`ci-toolkit merge`: the shards of one `local --shard K/N` run back together, gated and reported as
`local` gates and reports an unsharded run."""

from __future__ import annotations

from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.commands.common import load_config, publish
from ci_toolkit.commands.judge import delta, judge, prepare
from ci_toolkit.errors import PytestExit


@click.command("merge", cls=Command)
@options.config_file
@options.verdict_json
@options.color
@options.base
@options.compare
@options.html
@click.option(
    "--expect-shards",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="How many shards there must be (default: what the shards' run.json say).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Merge what is there when a shard is missing, failed or has corrupt coverage data, and say so.",
)
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
def command(
    config_path: Path | None,
    json_path: Path | None,
    color: bool | None,
    base_ref: str | None,
    compare_path: Path | None,
    html: bool,
    expect_shards: int | None,
    allow_partial: bool,
    folders: tuple[Path, ...],
) -> int:
    """Merge the output dirs of `ci-toolkit local --shard K/N` runs found in FOLDERS (as
    actions/download-artifact leaves them), then gate and report as `local` does.

    Coverage paths measured in other checkouts are mapped onto this one; the merged coverage data,
    JUnit files, results and run record go to this project's output_dir, the durations to its timing
    history."""
    from ci_toolkit.commands.local import exit_code, record_timings
    from ci_toolkit.merge import merger
    from ci_toolkit.report.model import balance
    from ci_toolkit.run import layout

    config = load_config(config_path, json_path=json_path)
    against = prepare(config, base_ref, compare_path)  # before anything is read or written
    with layout.lock(config):
        merged = merger.merge(config, folders, expect=expect_shards, partial=allow_partial)
        record_timings(config, merged.lanes)
        ran = {lane.exit_code for lane in merged.lanes if lane.skipped_reason is None}
        # As `local`: some lane ran tests, so there is coverage to judge (none at all judges as 0%).
        verdict = (
            judge(merged.coverage_file, config, against) if ran - {PytestExit.NO_TESTS_COLLECTED} else None
        )
        code = exit_code(merged.lanes, verdict)
        notes = [f"merged {merged.shards} shard{'s' if merged.shards != 1 else ''}", *merged.notes]
        publish(
            merged.lanes,
            verdict,
            json_path=json_path,
            color=color,
            note="\nnote: ".join(notes),
            exit_code=code,
            delta=delta(verdict, against),
            shards=balance(merged.plan, merged.realised) if merged.plan is not None else (),
            output_dir=layout.output_path(config),
            coverage_file=merged.coverage_file if html and verdict is not None else None,
            root=config.root,
        )
    return code
