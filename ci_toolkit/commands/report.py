"""`ci-toolkit report`: render a saved run's report again, as the terminal summary, GitHub Markdown or
JSON, without running anything. It reads `<output_dir>/report.json`, which `local`, `gate` and `merge`
leave behind.

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.errors import ExitCode

FORMATS = ("terminal", "markdown", "json")


@click.command("report", cls=Command)
@options.config_file
@options.color
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Markdown: fit in N bytes, leaving out the least important rows first (a pull-request comment "
    "holds 65536 characters, a job summary 1 MiB).",
)
@click.option(
    "--key",
    default="report",
    show_default=True,
    help="Markdown: the name in the hidden marker line that finds this report's comment again "
    "(one per workflow or report).",
)
@options.from_dir
def command(
    config_path: Path | None,
    color: bool | None,
    fmt: str,
    max_bytes: int | None,
    key: str,
    from_dir: Path | None,
) -> int:
    """Render the report of the last run from its output dir, without running anything."""
    from ci_toolkit.console import wants_color
    from ci_toolkit.report import json_report, markdown, model, terminal

    if from_dir is None:
        from ci_toolkit.commands.common import load_config
        from ci_toolkit.run import layout

        from_dir = layout.output_path(load_config(config_path))
    report = json_report.load(from_dir / json_report.REPORT_FILE)
    if fmt == "json":
        text = json.dumps(model.to_dict(report), indent=2) + "\n"
    elif fmt == "markdown":
        text = markdown.render(report, key=key, max_bytes=max_bytes)
    else:
        text = terminal.render_report(report, color=wants_color(sys.stdout, color))
    sys.stdout.write(text)
    sys.stdout.flush()
    return ExitCode.OK
