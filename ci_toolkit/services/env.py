"""The environment variables services export, as pure functions of specs and endpoints.

Three outputs: the variables themselves (`exports`), the per-worker table that our pytest plugin applies
inside each xdist worker (`worker_table`, sent as CI_TOOLKIT_WORKER_ENV in the format of
ci_toolkit.run.exchange.worker_env), and the `NAME=value` text that `services up --env-file` writes (the
format GitHub Actions reads from $GITHUB_ENV).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ci_toolkit.errors import ConfigError
from ci_toolkit.services import templates
from ci_toolkit.services.base import Endpoint, ServiceSpec

WorkerTable = dict[str, dict[str, str]]  # VAR -> {worker id: value}


def exports(spec: ServiceSpec, endpoint: Endpoint, database: str | None = None) -> dict[str, str]:
    """VAR -> value for one running service; `database` renders a per-worker database instead."""
    fields = endpoint.fields(database)
    return {var: templates.render(template, fields) for var, template in templates.exports(spec).items()}


def worker_id(index: int) -> str:
    """pytest-xdist's name for its index-th worker, which it puts in PYTEST_XDIST_WORKER."""
    return f"gw{index}"


def worker_databases(database: str, workers: int) -> list[str]:
    """`<database>_gw0` .. `<database>_gw{workers-1}`: one database per xdist worker."""
    return [f"{database}_{worker_id(index)}" for index in range(workers)]


def worker_table(spec: ServiceSpec, endpoint: Endpoint, workers: int) -> WorkerTable:
    """For every exported variable that names the database: each worker's own value.

    Variables that do not mention the database are the same for every worker, so they stay out.
    """
    base = exports(spec, endpoint)
    per_worker = [
        (worker_id(index), exports(spec, endpoint, name))
        for index, name in enumerate(worker_databases(endpoint.database, workers))
    ]
    return {
        var: {worker: values[var] for worker, values in per_worker}
        for var in base
        if any(values[var] != base[var] for _, values in per_worker)
    }


def merge_tables(tables: Iterable[WorkerTable]) -> WorkerTable:
    merged: WorkerTable = {}
    for table in tables:
        merged.update(table)
    return merged


def worker_env(table: WorkerTable) -> dict[str, str]:
    """{CI_TOOLKIT_WORKER_ENV: the table} for a lane's pytest, or {} when no variable differs per worker."""
    from ci_toolkit.run.exchange import worker_env as exchange  # the format's one home, light

    return exchange.encode(table)


def env_file_text(env: Mapping[str, str]) -> str:
    """`NAME=value` lines. $GITHUB_ENV would read a newline in a value as the start of another
    variable, so such a value is refused rather than written half-right."""
    lines: list[str] = []
    for name, value in env.items():
        if "\n" in value or "\r" in value:
            raise ConfigError(
                f"exported variable {name}: its value contains a line break, which an env file "
                "(the $GITHUB_ENV format) cannot hold; remove it from the password, user or template"
            )
        lines.append(f"{name}={value}\n")
    return "".join(lines)
