"""The `ci-toolkit` command line: one small function per command, no logic here.

Heavy modules (pytest, coverage) are imported inside the commands so that
`ci-toolkit --help` starts about as fast as Python itself.
"""

from __future__ import annotations

# First, before the imports below take their tens of milliseconds: from here on a SIGTERM (a CI runner
# cancelling the job) is a KeyboardInterrupt, so it gets Ctrl-C's clean-up and exit code 130, wherever
# the run is, its first instant and its summary included.
from ci_toolkit.signals import install_sigterm_as_interrupt

install_sigterm_as_interrupt(started=False)

import contextlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from ci_toolkit import __version__  # noqa: E402
from ci_toolkit.errors import CiToolkitError, ExitCode  # noqa: E402

_CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="pyproject.toml to read [tool.ci-toolkit] from (default: the nearest one upwards).",
)
# Kept here rather than imported from ci_toolkit.services.base, so `--help` imports nothing of ours.
_BACKEND_CHOICES = ("auto", "docker", "native", "external")
_BACKEND_OPTION = click.option(
    "--backend",
    type=click.Choice(_BACKEND_CHOICES),
    default=None,
    help="Run every service with this backend, whatever the configuration says.",
)
_JSON_OPTION = click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the machine-readable verdict (schema_version 1) to this file.",
)


def run_command(fn: Callable[..., int], **kwargs: Any) -> None:
    """Map every outcome onto a documented exit code: one line for user errors, never a bare traceback."""
    try:
        code = fn(**kwargs)
    except CiToolkitError as exc:
        click.echo(f"ci-toolkit: error: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("ci-toolkit: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        stdout_gone()
    except Exception as exc:
        if os.environ.get("CI_TOOLKIT_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"ci-toolkit: internal error: {type(exc).__name__}: {exc} "
            "(a bug in ci-toolkit; rerun with CI_TOOLKIT_DEBUG=1 for the traceback and report it)",
            err=True,
        )
        sys.exit(int(ExitCode.INTERNAL_ERROR))
    sys.exit(int(code))


def stdout_gone() -> None:
    """stdout's reader went away (`ci-toolkit local | head`): one line on stderr, exit 2."""
    # Python flushes stdout once more at exit and would print that failure too: send it to /dev/null.
    with contextlib.suppress(OSError, AttributeError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    click.echo(
        "ci-toolkit: error: stdout was closed by its reader (broken pipe); the summary is lost", err=True
    )
    sys.exit(int(ExitCode.USAGE_ERROR))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ci-toolkit")
def cli() -> None:
    """Run a Python project's tests the way CI does: lanes, xdist, merged coverage, a fail-closed gate.

    \b
    Exit codes: 0 ok, 1 tests failed, 2 configuration or usage error,
    3 coverage gate failed, 4 no tests collected, 70 internal error.
    """


@cli.command(context_settings={"ignore_unknown_options": True})
@_CONFIG_OPTION
@_JSON_OPTION
@click.option("--lane", "lanes", multiple=True, metavar="NAME", help="Run only this lane (repeatable).")
@click.option("--color/--no-color", default=None, help="Colour the summary (default: when a terminal).")
@_BACKEND_OPTION
@click.option(
    "--shard",
    metavar="K/N",
    default=None,
    help="Run only shard K of N (1-based): the tests are planned into N shards from the timing history.",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def local(
    config_path: Path | None,
    json_path: Path | None,
    lanes: tuple[str, ...],
    color: bool | None,
    backend: str | None,
    shard: str | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Run every lane, merge coverage, gate it and print the summary.

    A lane's services start before it and all stop after the last lane.
    Arguments after `--` go to every pytest run, e.g. `ci-toolkit local -- -x -k slow`.
    """
    from ci_toolkit.commands import local as command

    run_command(
        command.run,
        config_path=config_path,
        json_path=json_path,
        only_lanes=lanes,
        color=color,
        pytest_args=pytest_args,
        backend=backend,
        shard=shard,
    )


@cli.command()
@_CONFIG_OPTION
@_JSON_OPTION
@click.option("--color/--no-color", default=None, help="Colour the summary (default: when a terminal).")
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
def gate(config_path: Path | None, json_path: Path | None, color: bool | None, data: Path) -> None:
    """Judge an existing coverage data file or `coverage json` report against the thresholds."""
    from ci_toolkit.commands import gate as command

    run_command(command.run, config_path=config_path, json_path=json_path, color=color, data=data)


@cli.group()
def services() -> None:
    """Start, stop and list the services in [tool.ci-toolkit.services]."""


@services.command("up")
@_CONFIG_OPTION
@_BACKEND_OPTION
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help='Also write the variables as NAME=value lines (appended when this is "$GITHUB_ENV").',
)
@click.argument("names", nargs=-1)
def services_up(
    config_path: Path | None, backend: str | None, env_file: Path | None, names: tuple[str, ...]
) -> None:
    """Start the services NAMES (default: all), print their variables and leave them running."""
    from ci_toolkit.commands import services as command

    run_command(command.up, config_path=config_path, names=names, env_file=env_file, backend=backend)


@services.command("down")
@_CONFIG_OPTION
def services_down(config_path: Path | None) -> None:
    """Stop every service recorded in the state file and remove its data."""
    from ci_toolkit.commands import services as command

    run_command(command.down, config_path=config_path)


@services.command("status")
@_CONFIG_OPTION
def services_status(config_path: Path | None) -> None:
    """List the recorded services and whether each still runs."""
    from ci_toolkit.commands import services as command

    run_command(command.status, config_path=config_path)


def _register() -> None:
    # These modules import only click at module level; their work is imported when they run.
    from ci_toolkit.commands import plan, split_report, timings

    cli.add_command(plan.command)
    cli.add_command(timings.group)
    cli.add_command(split_report.command)


_register()


def main() -> None:
    install_sigterm_as_interrupt(started=True)
    if sys.stdout is None:
        # `ci-toolkit ... >&-`: the summary has nowhere to go, and the pytest processes we start would
        # inherit a free descriptor 1 that the first file they open takes over.
        click.echo(
            "ci-toolkit: error: stdout is closed; redirect it (>/dev/null) instead of closing it", err=True
        )
        sys.exit(int(ExitCode.USAGE_ERROR))
    try:
        cli.main(prog_name="ci-toolkit", standalone_mode=False)
    except BrokenPipeError:
        stdout_gone()
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("ci-toolkit: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message())
        sys.exit(int(ExitCode.USAGE_ERROR))
    except click.ClickException as exc:
        # Click's usage block is several lines; ours is one, with where to look for the rest.
        ctx = getattr(exc, "ctx", None)
        where = f"`{ctx.command_path} --help`" if ctx is not None else "`ci-toolkit --help`"
        click.echo(f"ci-toolkit: error: {exc.format_message()} (see {where})", err=True)
        sys.exit(int(ExitCode.USAGE_ERROR))
