"""`ci-toolkit services up|down|status`: the services of a project, outside a `local` run.

`up` is for CI steps other than the tests (migrations, a dev server) and for workflows that run pytest
themselves: it starts the services, prints their variables as `NAME=value` lines on stdout (progress
goes to stderr) and leaves them running; `down` stops whatever the state file lists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from ci_toolkit.config import Config


def _load(config_path: Path | None) -> Config:
    from ci_toolkit import config as config_mod

    return config_mod.load(config_path)


def up(*, config_path: Path | None, names: Sequence[str], env_file: Path | None, backend: str | None) -> int:
    from ci_toolkit.services import env as env_mod
    from ci_toolkit.services.manager import Services
    from ci_toolkit.signals import sigterm_as_interrupt

    config = _load(config_path)
    if not config.services:
        raise ConfigError(f"{config.path or config.root}: no [tool.ci-toolkit.services.NAME] table to start")
    with sigterm_as_interrupt():
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
    """Replace `path`; but $GITHUB_ENV is appended to, as GitHub Actions expects, so that what earlier
    commands of the same step wrote there is kept."""
    from ci_toolkit.atomic import write_text

    github_env = os.environ.get("GITHUB_ENV")
    if github_env and Path(github_env).absolute() == path.absolute():
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text)
        return
    write_text(path, text)


def down(*, config_path: Path | None) -> int:
    from ci_toolkit.services.base import ServiceError
    from ci_toolkit.services.manager import Services
    from ci_toolkit.signals import sigterm_as_interrupt

    config = _load(config_path)
    with sigterm_as_interrupt():
        services = Services(config)
        if not services.recorded():
            print(f"ci-toolkit: no services recorded in {services.state_path}", file=sys.stderr)
            return ExitCode.OK
        left = services.down()
    if left:
        names = ", ".join(record.endpoint.name for record in left)
        raise ServiceError(f"could not stop: {names}; they stay listed in {services.state_path}")
    return ExitCode.OK


def status(*, config_path: Path | None) -> int:
    from ci_toolkit.services.manager import Services

    config = _load(config_path)
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
        table.append((ep.name, ep.kind, ep.backend, f"{ep.host}:{ep.port}", state, started_by))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return ExitCode.OK
