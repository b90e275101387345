"""MySQL and MariaDB, near twins: one class for MySQL, and MariaDB as a subclass that renames things.

They share the protocol (the handshake probe), the SQL and its quoting, the client's options and the
native set-up; they differ in image, environment prefix, tool names and which server a search finds
first. Either server binary can stand in for the other natively (mariadbd is what distributions ship).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from ci_toolkit.services import binaries as bins
from ci_toolkit.services import probes
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds.base import ClientCommand, Install, Kind
from ci_toolkit.services.probes import ProbeResult
from ci_toolkit.services.processes import NativeServer, Run, StartFailed, server_env, unprivileged_user

_DATA_DIR = "/var/lib/mysql"


def quote_ident(name: str) -> str:
    """An SQL identifier, backquoted."""
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def recreate_sql(names: Sequence[str]) -> str:
    """One script dropping (if there) and creating each database."""
    return "; ".join(
        f"DROP DATABASE IF EXISTS {quote_ident(n)}; CREATE DATABASE {quote_ident(n)}" for n in names
    )


def client_argv(
    program: str, user: str, script: str, host: str | None = None, port: int = 0, *, no_defaults: bool = False
) -> list[str]:
    """The mysql/mariadb client running `script`, over TCP to `host` (None: the server's own socket,
    inside a container). The password goes in MYSQL_PWD, never on the command line."""
    argv = [program, *(["--no-defaults"] if no_defaults else [])]
    if host is None:
        return [*argv, f"-u{user}", "-e", script]
    return [*argv, "--protocol=TCP", "-h", host, "-P", str(port), "-u", user, "-e", script]


def handshake(host: str, port: int, timeout: float = probes.DEFAULT_TIMEOUT) -> ProbeResult:
    """Read the server's initial handshake packet (protocol 10). An error packet instead (too many
    connections, host not allowed) still means the server is up and answering."""
    try:
        with probes.connect(host, port, timeout) as sock:
            header = probes.recv_exactly(sock, 4)
            length = int.from_bytes(header[:3], "little")
            payload = probes.recv_exactly(sock, min(length, 65536))
    except (OSError, ConnectionError) as exc:
        return probes.failure(exc)
    if not payload:
        return ProbeResult(False, "empty handshake packet")
    if payload[0] == 10:
        version = payload[1:].split(b"\0", 1)[0].decode("utf-8", "replace")
        return ProbeResult(True, f"handshake from server {version}")
    if payload[0] == 0xFF:
        message = payload[3:].decode("utf-8", "replace").lstrip("#")
        return ProbeResult(True, f"server answered an error, so it is up: {message}")
    return ProbeResult(False, f"unexpected handshake protocol byte {payload[0]}")


class MySQL(Kind):
    name = "mysql"
    default_user = "root"
    default_password = "root"
    default_database = "test"
    default_port = 3306
    default_version = "8.4"
    image = "mysql:{}"
    url_template = "mysql://{user}:{password}@{host}:{port}/{database}"
    has_databases = True
    install = Install(apt=("mariadb-server", "mysql-server"), brew=("mariadb", "mysql"))
    client_hint = "mysql or mariadb (apt: mariadb-client, brew: mysql-client)"
    probe_description = "a MySQL handshake read"
    docker_data_dir = _DATA_DIR
    env_prefix: ClassVar[str] = "MYSQL"  # of the official image's variables
    allow_empty_password: ClassVar[str] = "MYSQL_ALLOW_EMPTY_PASSWORD"
    admin_tool: ClassVar[str] = "mysqladmin"  # in the image
    clients: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")  # first: the one in the image
    servers: ClassVar[tuple[str, ...]] = ("mysqld", "mariadbd")  # what a system search tries first

    def server_args(self, spec: ServiceSpec) -> list[str]:
        return [f"--{key}={value}" for key, value in spec.settings.items()]

    def docker_env(self, spec: ServiceSpec) -> dict[str, str]:
        user, password, database = self.credentials(spec)
        prefix = self.env_prefix
        env = {f"{prefix}_DATABASE": database}
        if password:
            env[f"{prefix}_ROOT_PASSWORD"] = password
        else:
            env[self.allow_empty_password] = "yes"
        if user != "root":  # the images create root themselves and refuse MYSQL_USER=root
            env[f"{prefix}_USER"] = user
            env[f"{prefix}_PASSWORD"] = password
        return {**env, **spec.env}

    def docker_health_cmd(self, spec: ServiceSpec) -> list[str]:
        # TCP on 127.0.0.1, not the socket: the image first runs a socket-only server to initialise.
        user, password, _ = self.credentials(spec)
        secret = [f"-p{password}"] if password else []  # a bare "-p" would prompt, and hang the check
        return [self.admin_tool, "ping", "-h", "127.0.0.1", "-u", user, *secret]

    def probe(
        self, host: str, port: int, *, user: str = "", password: str = "", database: str = ""
    ) -> Callable[[], ProbeResult]:
        return lambda: handshake(host, port)

    # -- databases ---------------------------------------------------------------------------------

    def create_native_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        run_sql(endpoint.handle["client"], endpoint, recreate_sql(names), deadline=time.monotonic() + 60)

    def container_client(self, endpoint: Endpoint, names: Sequence[str]) -> ClientCommand:
        # Root: the images give a non-root MYSQL_USER rights on its own database only. Root's password
        # is the spec's (docker_env).
        return client_argv(self.clients[0], "root", recreate_sql(names)), {"MYSQL_PWD": endpoint.password}

    def host_client(self, endpoint: Endpoint, names: Sequence[str]) -> ClientCommand | None:
        client = next((path for path in map(shutil.which, self.clients) if path), None)
        if client is None:
            return None
        argv = client_argv(client, endpoint.user, recreate_sql(names), endpoint.host, endpoint.port)
        return argv, {"MYSQL_PWD": endpoint.password}

    # -- native ------------------------------------------------------------------------------------

    def system_binaries(self) -> Iterator[Binaries]:
        brew = bins.brew_dirs(("mariadb", "mysql"))
        for name in self.servers:
            found = bins.which(name, brew)
            if found:
                text = bins.server_version_text(str(found)).lower()
                flavor = "mariadb" if "mariadb" in text else "mysql"
                yield Binaries(flavor, "system", found, found.parent)

    def required_tools(self, binaries: Binaries) -> list[tuple[str, ...]]:
        if binaries.flavor == "mariadb":
            return [("mariadb", "mysql"), ("mariadb-install-db", "mysql_install_db")]
        return [("mysql", "mariadb")]

    def native_server(self, run: Run, found: Binaries | None) -> NativeServer:
        assert found is not None
        server = found
        user, password, database = self.credentials(run.spec)
        client = found.tool("mariadb", "mysql")
        if client is None:
            raise StartFailed(f"no mariadb/mysql client found next to {found.server} or on PATH")
        run_as = unprivileged_user("mysql")
        data = run.root / "data"
        sock = run.root / "mysql.sock"
        as_user = [f"--user={run_as.name}"] if run_as else []
        if run_as is not None:
            os.chown(run.root, run_as.uid, run_as.gid)
        if found.flavor == "mariadb":
            install = found.tool("mariadb-install-db", "mysql_install_db")
            if install is None:
                raise StartFailed(f"no mariadb-install-db found next to {found.server} or on PATH")
            basedir = Path(os.path.realpath(found.server)).parent.parent
            run.setup(
                [str(install), "--no-defaults", f"--basedir={basedir}", f"--datadir={data}",
                 "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
                 *as_user],
                None, "mariadb-install-db failed",
            )  # fmt: skip
            extra = ["--skip-log-bin"]
        else:
            run.setup(
                [str(found.server), "--no-defaults", "--initialize-insecure", f"--datadir={data}", *as_user],
                None, "mysqld --initialize-insecure failed",
            )  # fmt: skip
            extra = ["--skip-log-bin", "--mysqlx=OFF"]
        init = run.root / "init.sql"
        init.write_text(init_sql(user, password, database))
        if run_as is not None:
            os.chown(init, run_as.uid, run_as.gid)

        def argv(port: int) -> list[str]:
            return [
                str(server.server), "--no-defaults", f"--datadir={data}", f"--socket={sock}",
                f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                f"--pid-file={run.root / 'mysqld.pid'}", f"--init-file={init}",
                "--innodb-flush-log-at-trx-commit=0", *extra, *as_user, *self.server_args(run.spec),
            ]  # fmt: skip

        def is_ready(endpoint: Endpoint) -> bool:
            return run_sql(str(client), endpoint, "SELECT 1", run.deadline, check=False)

        # mariadbd drops privileges itself (--user), so it is launched as root but runs as run_as.
        handle = {**found.handle(), "socket": str(sock), "client": str(client)}
        handle["run_as"] = run_as.name if run_as else ""
        return NativeServer(argv, is_ready, (user, password, database), handle)


class MariaDB(MySQL):
    name = "mariadb"
    default_version = "11"
    image = "mariadb:{}"
    install = Install(apt=("mariadb-server",), brew=("mariadb",))
    client_hint = "mariadb or mysql (apt: mariadb-client, brew: mariadb)"
    env_prefix = "MARIADB"
    allow_empty_password = "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
    admin_tool = "mariadb-admin"  # MariaDB 11 images no longer ship the mysql* names
    clients = ("mariadb", "mysql")
    servers = ("mariadbd", "mysqld")


def run_sql(client: str, endpoint: Endpoint, sql: str, deadline: float, check: bool = True) -> bool:
    """Run `sql` over TCP with the endpoint's credentials on a server the native backend started."""
    argv = client_argv(client, endpoint.user, sql, "127.0.0.1", endpoint.port, no_defaults=True)
    result = subprocess.run(
        argv, env={**server_env(), "MYSQL_PWD": endpoint.password}, capture_output=True, text=True,
        check=False, timeout=max(deadline - time.monotonic(), 5),
    )  # fmt: skip
    if check and result.returncode != 0:
        raise ServiceError(
            f'service "{endpoint.name}": mysql failed: {result.stderr.strip().replace(chr(10), " | ")}'
        )
    return result.returncode == 0


def init_sql(user: str, password: str, database: str) -> str:
    """Run by the server at each start: our credentials over TCP, the way the docker images set them up."""
    pw = quote_string(password)
    lines = [
        "DROP USER IF EXISTS ''@'localhost';",
        "DROP USER IF EXISTS ''@'%';",
        f"CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY {pw};",
        f"ALTER USER 'root'@'%' IDENTIFIED BY {pw};",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
    ]
    lines += [
        f"ALTER USER IF EXISTS 'root'@'{host}' IDENTIFIED BY {pw};"
        for host in ("localhost", "127.0.0.1", "::1")
    ]
    if user != "root":
        account = f"{quote_string(user)}@'%'"
        lines += [
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {pw};",
            f"ALTER USER {account} IDENTIFIED BY {pw};",
            f"GRANT ALL PRIVILEGES ON *.* TO {account};",
        ]
    if database:
        lines.append(f"CREATE DATABASE IF NOT EXISTS {quote_ident(database)};")
    return "\n".join([*lines, "FLUSH PRIVILEGES;", ""])
