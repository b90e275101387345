"""`ci-toolkit gate`: judge coverage that some other run produced.

Teams can adopt the gate alone: point it at a `.coverage` data file or a
`coverage json` report and it applies the same thresholds `local` does.
"""

from __future__ import annotations

from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.commands.common import load_config, publish
from ci_toolkit.commands.judge import delta, judge, prepare
from ci_toolkit.errors import ExitCode


@click.command("gate", cls=Command)
@options.config_file
@options.verdict_json
@options.color
@options.base
@options.compare
@options.html
@click.argument("data", type=options.FILE)
def command(
    config_path: Path | None,
    json_path: Path | None,
    color: bool | None,
    base_ref: str | None,
    compare_path: Path | None,
    html: bool,
    data: Path,
) -> int:
    """Judge an existing coverage data file or `coverage json` report against the thresholds."""
    config = load_config(config_path, json_path=json_path)
    against = prepare(config, base_ref, compare_path)
    verdict = judge(data if data.is_absolute() else Path.cwd() / data, config, against)
    code = ExitCode.OK if verdict.passed else ExitCode.GATE_FAILED
    change = delta(verdict, against)
    from ci_toolkit.gate.datafile import SQLITE_MAGIC
    from ci_toolkit.run import layout

    source = data if data.is_absolute() else Path.cwd() / data
    with source.open("rb") as fh:  # judge() read it already: it is a regular, readable file
        is_data_file = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    publish(
        (),
        verdict,
        json_path=json_path,
        color=color,
        note=None,
        exit_code=code,
        delta=change,
        output_dir=layout.output_path(config),
        coverage_file=source if html and is_data_file else None,  # a `coverage json` input: no html
        root=config.root,
    )
    return code
