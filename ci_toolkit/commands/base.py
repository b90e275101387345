"""The click classes every ci-toolkit command and group is made of: their invoke maps every outcome onto
a documented exit code, so no command can end in a bare traceback or a code of its own choosing.

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import click

from ci_toolkit.errors import CiToolkitError, ExitCode

INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def invoke_mapped(invoke: Callable[[click.Context], Any], ctx: click.Context) -> Any:
    """Run a command's invoke; a command returning a code exits with it, anything raised becomes one line
    on stderr and its exit code. click's own exceptions (usage errors, --help) are click's to handle."""
    try:
        result = invoke(ctx)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except CiToolkitError as exc:
        click.echo(f"ci-toolkit: error: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("ci-toolkit: interrupted", err=True)
        sys.exit(INTERRUPTED)
    except BrokenPipeError:
        stdout_gone()
    except Exception as exc:
        internal_error(exc)
    if isinstance(result, int):
        sys.exit(int(result))
    return result


def internal_error(exc: Exception) -> NoReturn:
    """A bug: one line saying so (the traceback only with CI_TOOLKIT_DEBUG set), exit 70."""
    if os.environ.get("CI_TOOLKIT_DEBUG"):
        traceback.print_exc()
    click.echo(
        f"ci-toolkit: internal error: {type(exc).__name__}: {exc} "
        "(a bug in ci-toolkit; rerun with CI_TOOLKIT_DEBUG=1 for the traceback and report it)",
        err=True,
    )
    sys.exit(int(ExitCode.INTERNAL_ERROR))


def stdout_gone() -> NoReturn:
    """stdout's reader went away (`ci-toolkit local | head`): one line on stderr, exit 2."""
    # Python flushes stdout once more at exit and would print that failure too: send it to /dev/null.
    with contextlib.suppress(OSError, AttributeError, ValueError):
        stdout = sys.stdout.fileno()  # first: a captured stream has none, and /dev/null would leak
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout)
    click.echo(
        "ci-toolkit: error: stdout was closed by its reader (broken pipe); the summary is lost", err=True
    )
    sys.exit(int(ExitCode.USAGE_ERROR))


class Command(click.Command):
    """A ci-toolkit command: its callback returns the exit code; errors are mapped by invoke_mapped."""

    def invoke(self, ctx: click.Context) -> Any:
        return invoke_mapped(super().invoke, ctx)


class Group(click.Group):
    """A ci-toolkit group: mapped like a Command, and so are the commands and groups made with it."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def invoke(self, ctx: click.Context) -> Any:
        return invoke_mapped(super().invoke, ctx)
