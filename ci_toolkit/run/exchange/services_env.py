"""services-env/<lane>.json: the variables of a lane's services, handed to a pytest started before they
were ready.

A lane whose services are still starting need not wait for them to start its pytest: the interpreter, pytest
and its plugins load meanwhile, and the plugin waits for this file (`--ci-toolkit-services-env`) before any
conftest.py is imported, then puts the variables into its environment, which the xdist workers inherit. When
the services fail to start, ci-toolkit stops that pytest instead of writing the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.run import exchange

VERSION = 1
OPTION = "--ci-toolkit-services-env"
WHAT = "ci-toolkit services environment"
TIMEOUT = 600.0  # seconds; a server's start-up is bounded by its own readiness timeout, well below this


def write(path: Path, run_id: str, env: Mapping[str, str]) -> None:
    exchange.write(path, {"version": VERSION, "run": run_id, "env": dict(env)})
    os.chmod(path, 0o600)  # passwords of the services: the user's alone


def read(path: Path, run_id: str) -> dict[str, str] | None:
    """The variables for run `run_id`; None while there are none yet. A DataError when the file is not one
    this module writes, or another run's."""
    try:
        doc = exchange.load(path, WHAT)
    except FileNotFoundError:
        return None
    doc = exchange.versioned(doc, path, WHAT, VERSION, run=str, env=dict)
    if doc["run"] != run_id:
        raise DataError(f"{path}: written by another ci-toolkit run")
    if not exchange.strings(doc["env"]):
        raise DataError(f"{path}: not a version {VERSION} {WHAT}: the variables are not strings")
    return dict(doc["env"])


def wait(path: Path, run_id: str, timeout: float = TIMEOUT) -> dict[str, str]:
    """read(), once the file is there; a TimeoutError after `timeout` seconds without it."""
    missing = f"{OPTION}={path}: no services' variables from ci-toolkit in {timeout:.0f} s"
    return exchange.wait(lambda: read(path, run_id), timeout, missing)
