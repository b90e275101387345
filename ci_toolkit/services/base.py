"""The contract every service backend implements, and the types that cross it.

A *kind* (postgres, redis, mysql, mariadb, custom) says what a service is; a *backend* (docker, native,
external) says how it gets running. Kinds are one module each behind kinds.base.Kind, backends one
module each behind `Backend`, and neither a backend nor the manager names a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ci_toolkit.errors import CiToolkitError, ExitCode

KINDS = ("postgres", "redis", "mysql", "mariadb", "custom")
BACKENDS = ("auto", "docker", "native", "external")
# Names an `export` template may use, e.g. "postgresql://{user}:{password}@{host}:{port}/{database}".
# In a template that is a URL (it contains "://"), user, password and database are percent-encoded;
# elsewhere every field is inserted as written (see templates.render).
TEMPLATE_FIELDS = ("host", "port", "user", "password", "database", "name")
# What a backend's start() reports before it creates something (a directory, a process, a container)
# and as each part becomes known: keys merged into the handle the state file keeps, so that whatever
# a killed start left is found and removed by the next run or `services down`.
Note = Callable[[Mapping[str, Any]], None]


def no_note(update: Mapping[str, Any]) -> None:
    """The Note of a caller that keeps no record (tests and benchmarks driving a backend directly)."""


class ServiceError(CiToolkitError):
    """A service could not be started, reached or stopped; the message carries the log tail."""

    exit_code = ExitCode.TESTS_FAILED


@dataclass(frozen=True)
class ServiceSpec:
    """One `[tool.ci-toolkit.services.NAME]` table, validated."""

    name: str
    kind: str
    backend: str = "auto"
    version: str | None = (
        None  # major version wanted: the image tag (docker), checked against binaries (native)
    )
    image: str | None = None  # docker only; default from kind and version
    user: str | None = None  # None: the kind's default (postgres: "postgres", mysql: "root")
    password: str | None = None  # None: the kind's default
    database: str | None = None  # None: the kind's default ("postgres", "test"; redis: "0")
    host: str = "127.0.0.1"  # external: where it runs
    port: int | None = None  # external: required; others: None picks a free port
    settings: Mapping[str, str] = field(default_factory=dict)  # server settings (postgres -c k=v, ...)
    env: Mapping[str, str] = field(default_factory=dict)  # extra container environment (docker)
    export: Mapping[str, str] = field(default_factory=dict)  # VAR -> template; empty: {NAME}_URL default
    database_per_worker: bool = False  # each xdist worker gets <database>_gw0, _gw1, ...
    ready_timeout: float = 60.0  # seconds until a start that never becomes ready fails
    command: tuple[str, ...] = ()  # custom kind, native backend: argv with {port}, {host}, {data_dir}


@dataclass(frozen=True)
class Endpoint:
    """A running service: where it answers and what the backend needs to stop it later."""

    name: str
    kind: str
    backend: str
    host: str
    port: int
    user: str = ""
    password: str = ""
    database: str = ""
    handle: Mapping[str, Any] = field(default_factory=dict)  # JSON-serialisable; kept in the state file

    def fields(self, database: str | None = None) -> dict[str, str]:
        """Values for export templates; `database` overrides for a per-worker database."""
        return {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "password": self.password,
            "database": self.database if database is None else database,
            "name": self.name,
        }


@dataclass(frozen=True)
class BackendContext:
    """What every backend is made from (each backend module's `create(context)`)."""

    root: Path  # the project directory: docker labels its containers with it


class Backend(Protocol):
    name: str

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        """None when this backend can run `spec` here; else why not, and what to install."""

    def start(self, spec: ServiceSpec, workdir: Path, note: Note) -> Endpoint:
        """Start `spec` and return once a real connection succeeds; raise ServiceError (with the
        server's log tail) on a timeout, and leave nothing running when it fails. `note` is called
        with what the start is about to create, before it creates it (a backend that creates nothing
        need not call it); stop() must accept a handle made only of such notes."""

    def stop(self, endpoint: Endpoint) -> None:
        """Stop and remove everything `start` made. Idempotent: a service already gone is fine."""

    def is_running(self, endpoint: Endpoint) -> bool:
        """Whether what `endpoint.handle` names is still alive (for status and leftover clean-up)."""

    def create_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        """Create (or empty and recreate) these databases; for kinds that have databases."""

    def remove_leftovers(self, keep: Sequence[Endpoint]) -> list[str]:
        """Remove what killed runs of this project left without a record (a start killed before its
        first note), sparing what `keep` (this backend's recorded endpoints) names. Returns what was
        removed, each as it should be named in a message ("container 0123456789ab"); [] for a
        backend that notes everything before creating it, or that cannot tell (no engine)."""
