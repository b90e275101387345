"""`ci-toolkit services up|down|status`: the services of a project, outside a `local` run.

`up` is for CI steps other than the tests (migrations, a dev server) and for workflows that run pytest
themselves: it starts the services, prints their variables as `NAME=value` lines on stdout (progress
goes to stderr) and leaves them running; `down` stops whatever the state file lists.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Group
from ci_toolkit.commands.common import load_config
from ci_toolkit.errors import ConfigError, ExitCode


@click.group("services", cls=Group)
def group() -> None:
    """Start, stop and list the services in [tool.ci-toolkit.services]."""


@group.command("up")
@options.config_file
@options.backend
@click.option(
    "--env-file",
    type=options.FILE,
    default=None,
    help='Also write the variables as NAME=value lines (appended when this is "$GITHUB_ENV").',
)
@click.argument("names", nargs=-1)
def up(config_path: Path | None, backend: str | None, env_file: Path | None, names: tuple[str, ...]) -> int:
    """Start the services NAMES (default: all), print their variables and leave them running."""
    from ci_toolkit.run import layout as outdir
    from ci_toolkit.services import env as env_mod
    from ci_toolkit.services.manager import Services
    from ci_toolkit.signals import sigterm_as_interrupt

    config = load_config(config_path)
    if not config.services:
        raise ConfigError(f"{config.path or config.root}: no [tool.ci-toolkit.services.NAME] table to start")
    # The state file lives in the output dir: claimed, and not while a `local` run there starts or stops
    # services of its own.
    with sigterm_as_interrupt(), outdir.lock(config):
        services = Services(config, backend=backend, owner="up")
        wanted = list(names) or list(config.services)
        services.clean_leftovers(wanted)
        try:
            exported = services.ensure(wanted)
            text = env_mod.env_file_text(exported)  # refuses a value an env file cannot hold
            if env_file is not None:
                write_env_file(env_file, text)
        except BaseException:
            services.close()  # a half-started set is no use to anyone: stop what this call started
            raise
    sys.stdout.write(text)
    sys.stdout.flush()
    return ExitCode.OK


def write_env_file(path: Path, text: str) -> None:
    """Set the variables in `path`, keeping every line of the user's that is not one of them; append to
    $GITHUB_ENV (ci_toolkit.envfile)."""
    from ci_toolkit.files import envfile

    envfile.write(path, text)


@group.command("down")
@options.config_file
def down(config_path: Path | None) -> int:
    """Stop every service recorded in the state file and remove its data."""
    from ci_toolkit.run import layout as outdir
    from ci_toolkit.services.base import ServiceError
    from ci_toolkit.services.manager import Services
    from ci_toolkit.signals import sigterm_as_interrupt

    config = load_config(config_path)
    services = Services(config)
    if not services.recorded():  # also when there is no output dir: nothing to lock, nothing to stop
        print(f"ci-toolkit: no services recorded in {services.state_path}", file=sys.stderr)
        return ExitCode.OK
    with sigterm_as_interrupt(), outdir.lock(config):
        services = Services(config)  # read again under the lock: a run may have just changed it
        left = services.down()
    if left:
        names = ", ".join(record.endpoint.name for record in left)
        raise ServiceError(f"could not stop: {names}; they stay listed in {services.state_path}")
    return ExitCode.OK


@group.command("status")
@options.config_file
def status(config_path: Path | None) -> int:
    """List the recorded services and whether each still runs."""
    from ci_toolkit.services.manager import Services

    config = load_config(config_path)
    services = Services(config)
    rows = services.status()
    if not rows:
        print(f"no services recorded in {services.state_path}")
        return ExitCode.OK
    table = [("NAME", "KIND", "BACKEND", "ADDRESS", "STATE", "STARTED BY")]
    for record, running in rows:
        ep = record.endpoint
        started_by = "services up" if record.owner == "up" else f"local (pid {record.pid})"
        state = "running" if running else "gone"
        if record.starting:  # a start under way, or (its process gone) one a killed run left
            state = "interrupted" if services.is_leftover(record) else "starting"
        table.append((ep.name, ep.kind, ep.backend, f"{ep.host}:{ep.port}", state, started_by))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return ExitCode.OK
