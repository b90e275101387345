"""`ci-toolkit gate`: judge coverage that some other run produced.

Teams can adopt the gate alone: point it at a `.coverage` data file or a
`coverage json` report and it applies the same thresholds `local` does.
"""

from __future__ import annotations

from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.commands.common import judge, load_config, publish
from ci_toolkit.errors import ExitCode


@click.command("gate", cls=Command)
@options.config_file
@options.verdict_json
@options.color
@click.argument("data", type=options.FILE)
def command(config_path: Path | None, json_path: Path | None, color: bool | None, data: Path) -> int:
    """Judge an existing coverage data file or `coverage json` report against the thresholds."""
    config = load_config(config_path, json_path=json_path)
    verdict = judge(data if data.is_absolute() else Path.cwd() / data, config)
    code = ExitCode.OK if verdict.passed else ExitCode.GATE_FAILED
    publish((), verdict, json_path=json_path, color=color, note=None, exit_code=code)
    return code
