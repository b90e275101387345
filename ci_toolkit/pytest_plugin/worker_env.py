"""In an xdist worker: point the services' per-worker variables at this worker's own resources (the
table ci_toolkit.run.exchange.worker_env decodes), before any conftest.py is imported."""

from __future__ import annotations

from collections.abc import MutableMapping

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.run.exchange import worker_env

WORKER_ENV = worker_env.NAME


def apply_worker_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set this xdist worker's values in `environ`; returns what was set ({} outside a worker)."""
    try:
        values = worker_env.for_worker(environ)
    except DataError as exc:
        raise pytest.UsageError(str(exc)) from None
    environ.update(values)
    return values
