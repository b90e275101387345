"""The services' variables, before any conftest.py is imported: those of services still starting when
ci-toolkit started this pytest (--ci-toolkit-services-env, waited for), and in an xdist worker its own values
of the per-worker ones (the table ci_toolkit.run.exchange.worker_env decodes)."""

from __future__ import annotations

from collections.abc import MutableMapping

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.run.exchange import services_env, worker_env

WORKER_ENV = worker_env.NAME


def apply_worker_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set this xdist worker's values in `environ`; returns what was set ({} outside a worker)."""
    try:
        values = worker_env.for_worker(environ)
    except DataError as exc:
        raise pytest.UsageError(str(exc)) from None
    environ.update(values)
    return values


def apply_services_env(early_config: pytest.Config, environ: MutableMapping[str, str]) -> None:
    """With --ci-toolkit-services-env: wait until ci-toolkit has the services ready, then take their
    variables. xdist's workers get the option too; the file is there by then, and says the same."""
    path = getattr(early_config.known_args_namespace, "ci_toolkit_services_env", None)
    if not path:
        return
    run_id = getattr(early_config.known_args_namespace, "ci_toolkit_run", "") or ""
    try:
        environ.update(services_env.wait(early_config.invocation_params.dir / path, run_id))
    except (DataError, TimeoutError) as exc:
        raise pytest.UsageError(str(exc)) from None
