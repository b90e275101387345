"""The options more than one command takes, declared once so that their flags and help read alike.

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FILE = click.Path(path_type=Path, dir_okay=False)
# ci_toolkit.services.base.BACKENDS, repeated so that `--help` imports none of it; a test keeps them equal.
BACKEND_CHOICES = ("auto", "docker", "native", "external")

config_file = click.option(
    "--config",
    "config_path",
    type=FILE,
    default=None,
    help="pyproject.toml to read [tool.ci-toolkit] from (default: the nearest one upwards).",
)
backend = click.option(
    "--backend",
    type=click.Choice(BACKEND_CHOICES),
    default=None,
    help="Run every service with this backend, whatever the configuration says.",
)
color = click.option(
    "--color/--no-color", default=None, help="Colour the summary (default: when a terminal)."
)
project = click.option(
    "--project",
    default=None,
    metavar="NAME",
    help="Project the histories must belong to (default: [project].name of the nearest pyproject.toml).",
)


def json_file(help_text: str) -> Callable[[F], F]:
    """`--json FILE`: what the command writes there is its own, so is the help."""
    return click.option("--json", "json_path", type=FILE, default=None, help=help_text)


verdict_json = json_file("Also write the machine-readable verdict (schema_version 2) to this file.")
base = click.option(
    "--base",
    "base_ref",
    default=None,
    metavar="REF",
    help="Also judge patch coverage: the lines changed since the merge base of REF and HEAD (git), "
    "against patch_fail_under.",
)
html = click.option(
    "--html",
    "html",
    is_flag=True,
    default=False,
    help="Also write `coverage html` of the judged coverage data to <output_dir>/htmlcov/.",
)
compare = click.option(
    "--compare",
    "compare_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=False),
    default=None,
    help="A verdict saved with --json (e.g. on the default branch): report the change of the total and "
    "of each file whose coverage changed.",
)
from_dir = click.option(
    "--from",
    "from_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="The output dir of the saved run (default: the configured output_dir).",
)
