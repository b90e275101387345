"""Custom services: the user's own command (native) or image (docker), checked by a TCP connect.

Nothing is known about such a server, so the configuration says it all: `command` with {port},
{host} and {data_dir}, or `image` and the `port` it listens on, and `export` (there is no default URL).
"""

from __future__ import annotations

import shutil

from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds.base import Kind
from ci_toolkit.services.probes import tcp_open
from ci_toolkit.services.processes import NativeServer, Run


class Custom(Kind):
    name = "custom"
    takes_settings = False
    takes_command = True

    def credential_problem(self, key: str, value: str) -> str | None:
        return None  # only the export templates read them

    def docker_unavailable_reason(self, spec: ServiceSpec) -> str | None:
        if not spec.image:
            return f'service "{spec.name}": a custom service under docker needs image = "..."'
        if spec.port is None:
            return _needs_port(spec)
        return None

    def container_port(self, spec: ServiceSpec) -> int:
        # `port` is where the image listens; the host port is docker's choice.
        if spec.port is None:
            raise ServiceError(_needs_port(spec))
        return spec.port

    def docker_host_port(self, spec: ServiceSpec) -> str:
        return ""

    def native_unavailable_reason(self, spec: ServiceSpec, prefer: str | None) -> str | None:
        if not spec.command:
            return f'service "{spec.name}": a custom service needs command = [...] for the native backend'
        if shutil.which(spec.command[0]) is None:
            return f'service "{spec.name}": command "{spec.command[0]}" not found'
        return None

    def native_server(self, run: Run, found: Binaries | None) -> NativeServer:
        data = run.root / "data"
        data.mkdir()

        def argv(port: int) -> list[str]:
            values = {"port": str(port), "host": "127.0.0.1", "data_dir": str(data)}
            return [part.format_map(values) for part in run.spec.command]

        def is_ready(endpoint: Endpoint) -> bool:
            return bool(tcp_open("127.0.0.1", endpoint.port))

        return NativeServer(argv, is_ready, self.credentials(run.spec), may_daemonize=True)

    def no_backend_hint(self) -> str:
        return 'set command = [...] (native) or image = "..." (docker), or backend = "external"'


def _needs_port(spec: ServiceSpec) -> str:
    return (
        f'service "{spec.name}": a custom service under docker needs port = <the port the image listens on>'
    )
