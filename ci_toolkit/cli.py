"""The `ci-toolkit` command line: the group, the commands added to it, and main().

Each command is a click command in a module of its own under ci_toolkit.commands, with its options and
its error handling (ci_toolkit.commands.base). Those modules import only click and the standard library
at module level, and heavy modules (pytest, coverage) when a command runs, so that `ci-toolkit --help`
starts about as fast as Python itself.
"""

from __future__ import annotations

# First, before the imports below take their tens of milliseconds: from here on a SIGTERM (a CI runner
# cancelling the job) is a KeyboardInterrupt, so it gets Ctrl-C's clean-up and exit code 130, wherever
# the run is, its first instant and its summary included.
from ci_toolkit.signals import install_sigterm_as_interrupt

install_sigterm_as_interrupt(started=False)

import gc  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402

import click  # noqa: E402

from ci_toolkit import __version__  # noqa: E402
from ci_toolkit.commands.base import INTERRUPTED, Group, stdout_gone  # noqa: E402
from ci_toolkit.errors import ExitCode  # noqa: E402

# Each command's module (ci_toolkit.commands) and the click command in it, imported when the command is
# asked for: a run of one command does not pay for importing the other ten (`--help` imports them all).
COMMANDS = {
    "local": "local:command",
    "merge": "merge:command",
    "gate": "gate:command",
    "report": "report:command",
    "services": "services:group",
    "plan": "plan:command",
    "timings": "timings:group",
    "split-report": "split_report:command",
    "paths": "paths:command",
    "publish": "publish:command",
    "init": "init:command",
}


class LazyGroup(Group):
    """The top-level group: its commands are COMMANDS, each imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(f"ci_toolkit.commands.{module}"), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ci-toolkit")
def cli() -> None:
    """Run a Python project's tests the way CI does: lanes, xdist, merged coverage, a fail-closed gate.

    \b
    Exit codes: 0 ok, 1 tests failed, 2 configuration or usage error,
    3 coverage gate failed, 4 no tests collected, 70 internal error.
    """


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
        _main()
    finally:
        # At exit the interpreter's last collection walks every object a run left (coverage.py's analysis,
        # the imported modules): 50-100 ms of nothing, on every command. Frozen objects are skipped; the
        # process is ending, and atexit handlers (coverage.py's own, measuring us) run as before.
        gc.freeze()


# click >= 8.2 raises this for a group called without a command (its help, exit 2); click 8.1 prints the
# help and exits 0 through click.exceptions.Exit instead. An empty tuple matches nothing.
_NO_ARGS_IS_HELP: type[click.ClickException] | tuple[()] = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _main() -> None:
    # What the commands raise is mapped where they run (ci_toolkit.commands.base); what is left here is
    # click's own: parsing, --help and --version, and an interrupt before any command started.
    try:
        cli.main(prog_name="ci-toolkit", standalone_mode=False)
    except BrokenPipeError:
        stdout_gone()
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("ci-toolkit: interrupted", err=True)
        sys.exit(INTERRUPTED)
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.format_message())
        sys.exit(int(ExitCode.USAGE_ERROR))
    except click.ClickException as exc:
        # Click's usage block is several lines; ours is one, with where to look for the rest.
        ctx = getattr(exc, "ctx", None)
        where = f"`{ctx.command_path} --help`" if ctx is not None else "`ci-toolkit --help`"
        click.echo(f"ci-toolkit: error: {exc.format_message()} (see {where})", err=True)
        sys.exit(int(ExitCode.USAGE_ERROR))
