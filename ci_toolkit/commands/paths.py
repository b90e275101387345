"""`ci-toolkit paths`: where this project's run leaves its output dir and its timing history, as
`name=value` lines that a GitHub Actions step appends to $GITHUB_OUTPUT (the action caches the history and
uploads the output dir from them).

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command
from ci_toolkit.errors import ConfigError, ExitCode


@click.command("paths", cls=Command)
@options.config_file
def command(config_path: Path | None) -> int:
    """Print the output dir and the timing history file, absolute, as output_dir=... and timings=...."""
    from ci_toolkit.commands.common import load_config
    from ci_toolkit.run import layout

    config = load_config(config_path)
    lines = []
    for name, path in (("output_dir", layout.output_path(config)), ("timings", layout.timings_path(config))):
        text = str(path.resolve())
        if "\n" in text or "\r" in text:
            # One line per value is the format's whole contract: a newline would start a forged output.
            raise ConfigError(f"{name}: {text!r} holds a line break; choose a path without one")
        lines.append(f"{name}={text}\n")
    sys.stdout.write("".join(lines))
    sys.stdout.flush()
    return ExitCode.OK
