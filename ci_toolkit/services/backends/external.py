"""The external backend: the service already runs (a GitHub Actions `services:` block, a shared dev
server); ci-toolkit only waits until it answers and exports where it is. It never stops it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ci_toolkit.services import kinds, probes
from ci_toolkit.services.base import BackendContext, Endpoint, Note, ServiceError, ServiceSpec, no_note

CLIENT_TIMEOUT = 120.0


def _probe(endpoint: Endpoint) -> probes.ProbeResult:
    check = kinds.get(endpoint.kind).probe(
        endpoint.host, endpoint.port,
        user=endpoint.user, password=endpoint.password, database=endpoint.database,
    )  # fmt: skip
    return check()


def create_databases_command(endpoint: Endpoint, names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The client argv and the extra environment (the password, kept off the command line) that drop
    and create `names` on an external server; ServiceError when no suitable client is on PATH."""
    kind = kinds.get(endpoint.kind)
    command = kind.host_client(endpoint, names)
    if command is None:
        raise ServiceError(
            f'service "{endpoint.name}": database_per_worker on an external {kind.name} service needs the '
            f"{kind.client_hint} client on PATH"
        )
    return command


class ExternalBackend:
    name = "external"

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        if spec.port is None:
            return f'service "{spec.name}": backend "external" needs port = <where the service listens>'
        return None

    def start(self, spec: ServiceSpec, workdir: Path, note: Note = no_note) -> Endpoint:
        reason = self.unavailable_reason(spec)
        if reason:
            raise ServiceError(reason)
        assert spec.port is not None
        kind = kinds.get(spec.kind)
        user, password, database = kind.credentials(spec)
        endpoint = Endpoint(
            name=spec.name, kind=spec.kind, backend=self.name, host=spec.host, port=spec.port,
            user=user, password=password, database=database, handle={"external": True},
        )  # fmt: skip
        result = probes.wait_ready(lambda: _probe(endpoint), spec.ready_timeout)
        if not result:
            raise ServiceError(
                f'service "{spec.name}": external {spec.kind} service at {spec.host}:{spec.port} not ready '
                f"within {spec.ready_timeout:g}s (tried {kind.probe_description}; last answer: "
                f"{result.detail}); start it first, or check host and port"
            )
        return endpoint

    def stop(self, endpoint: Endpoint) -> None:
        """Nothing to stop: whoever started an external service owns it."""

    def is_running(self, endpoint: Endpoint) -> bool:
        return bool(_probe(endpoint))

    def remove_leftovers(self, keep: Sequence[Endpoint]) -> list[str]:
        """Nothing: an external service is never ours."""
        return []

    def create_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        if not names:
            return
        argv, extra_env = create_databases_command(endpoint, names)
        try:
            result = subprocess.run(
                argv, env={**os.environ, **extra_env}, capture_output=True, text=True,
                timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f'service "{endpoint.name}": creating databases on {endpoint.host}:{endpoint.port} did not '
                f"finish within {CLIENT_TIMEOUT:g}s"
            ) from None
        if result.returncode != 0:
            lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
            raise ServiceError(
                f'service "{endpoint.name}": creating databases {", ".join(names)} on '
                f"{endpoint.host}:{endpoint.port} failed: {' | '.join(lines[-5:]) or 'no output'}"
            )


def create(context: BackendContext) -> ExternalBackend:
    """The backend as the manager makes it (it needs nothing of the context)."""
    return ExternalBackend()
