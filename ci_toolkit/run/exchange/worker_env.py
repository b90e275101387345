"""CI_TOOLKIT_WORKER_ENV: {"VAR": {"gw0": value, "gw1": value, ...}}, each xdist worker's own value of
the services' variables that differ per worker (a database per worker).

ci_toolkit.services.env builds the table and encodes it here for a lane's pytest; the plugin decodes it
in each xdist worker (PYTEST_XDIST_WORKER, which xdist sets before pytest starts there), where
os.environ[VAR] becomes that worker's value before any conftest.py is imported.

The table is not versioned: an environment variable lives only as long as the ci-toolkit process that
set it, so its writer and its reader are always the same ci-toolkit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ci_toolkit.errors import DataError

NAME = "CI_TOOLKIT_WORKER_ENV"
WORKER = "PYTEST_XDIST_WORKER"  # xdist's name for the worker a process is, set only in workers

Table = dict[str, dict[str, str]]  # VAR -> {worker id: value}


def encode(table: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """{NAME: JSON} for a lane's pytest, or {} when no variable differs per worker."""
    if not table:
        return {}
    return {NAME: json.dumps(table, sort_keys=True, separators=(",", ":"))}


def decode(raw: str) -> Table:
    try:
        table = json.loads(raw)
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise ValueError("expected {VAR: {worker: value}}")
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{NAME}: not the table ci-toolkit writes: {exc}") from None
    return table


def for_worker(environ: Mapping[str, str]) -> dict[str, str]:
    """This xdist worker's values, {} outside a worker or without a table. A variable without a value for
    this worker is a DataError: falling back to the shared value would let workers see each other's data."""
    worker = environ.get(WORKER)
    raw = environ.get(NAME)
    if not worker or not raw:
        return {}
    values: dict[str, str] = {}
    for var, per_worker in decode(raw).items():
        if worker not in per_worker:
            raise DataError(
                f"{NAME}: no {var} for xdist worker {worker} (prepared for {', '.join(per_worker)}); "
                "was -n changed after ci-toolkit planned the lane? Set the lane's workers instead"
            )
        values[var] = str(per_worker[worker])
    return values
