"""The external backend against a real PostgreSQL (and redis-server when installed) started by the
test, and against real listeners that never become ready."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_docker import fake_server, local_servers

from ci_toolkit.services.backends.external import ExternalBackend, create_databases_command
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[str, int]]:
    with local_servers.running_postgres() as address:
        yield address


def databases(host: str, port: int) -> set[str]:
    argv = ["psql", "-h", host, "-p", str(port), "-U", "postgres", "-d", "postgres"]
    argv += ["-Atc", "SELECT datname FROM pg_database"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_start_waits_for_a_real_postgres_and_exports_its_credentials(
    postgres: tuple[str, int], tmp_path: Path
) -> None:
    host, port = postgres
    backend = ExternalBackend()
    spec = ServiceSpec("db", "postgres", backend="external", host=host, port=port, database="app")
    assert backend.unavailable_reason(spec) is None
    endpoint = backend.start(spec, tmp_path)
    assert (endpoint.host, endpoint.port, endpoint.backend) == (host, port, "external")
    assert (endpoint.user, endpoint.password, endpoint.database) == ("postgres", "postgres", "app")
    assert backend.is_running(endpoint)
    backend.stop(endpoint)  # not ours to stop
    backend.stop(endpoint)
    assert backend.is_running(endpoint)
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing to clean


def test_create_databases_with_psql_creates_and_recreates(postgres: tuple[str, int], tmp_path: Path) -> None:
    if not shutil.which("psql"):
        pytest.skip("no psql client on PATH")
    host, port = postgres
    backend = ExternalBackend()
    endpoint = backend.start(ServiceSpec("db", "postgres", host=host, port=port), tmp_path)
    backend.create_databases(endpoint, ["ext_gw0", "ext_gw1"])
    assert {"ext_gw0", "ext_gw1"} <= databases(host, port)
    backend.create_databases(endpoint, ["ext_gw0"])  # again: dropped and created, no error
    assert {"ext_gw0", "ext_gw1"} <= databases(host, port)
    backend.create_databases(endpoint, [])


def test_create_databases_failure_names_the_server(postgres: tuple[str, int], tmp_path: Path) -> None:
    if not shutil.which("psql"):
        pytest.skip("no psql client on PATH")
    host, port = postgres
    endpoint = Endpoint("db", "postgres", "external", host, port, "no_such_role", "x", "postgres")
    with pytest.raises(ServiceError) as raised:
        ExternalBackend().create_databases(endpoint, ["x_gw0"])
    message = str(raised.value)
    assert message.startswith(f'service "db": creating databases x_gw0 on {host}:{port} failed: ')
    assert 'role "no_such_role" does not exist' in message


def test_real_redis_with_password(tmp_path: Path) -> None:
    with local_servers.running_redis(tmp_path, password="pw") as (host, port):
        spec = ServiceSpec("cache", "redis", host=host, port=port, password="pw")
        endpoint = ExternalBackend().start(spec, tmp_path)
        assert (endpoint.password, endpoint.database) == ("pw", "0")
        with pytest.raises(ServiceError, match="a redis service has no databases"):
            ExternalBackend().create_databases(endpoint, ["x"])


def test_timeout_names_the_address_and_what_was_tried(tmp_path: Path) -> None:
    port = local_servers.free_port()
    spec = ServiceSpec("db", "postgres", backend="external", port=port, ready_timeout=0.2)
    with pytest.raises(ServiceError) as raised:
        ExternalBackend().start(spec, tmp_path)
    assert str(raised.value) == (
        f'service "db": external postgres service at 127.0.0.1:{port} not ready within 0.2s '
        "(tried a PostgreSQL StartupMessage; last answer: connection refused); start it first, "
        "or check host and port"
    )


@pytest.mark.parametrize(
    ("kind", "protocol", "answer"),
    [
        ("postgres", "postgres-starting", "the database system is starting up"),
        ("redis", "redis-loading", "LOADING"),
        ("mysql", "close", "the server closed the connection"),
    ],
)
def test_a_server_that_never_becomes_ready(kind: str, protocol: str, answer: str, tmp_path: Path) -> None:
    listener = fake_server.serve_in_thread(protocol)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(ServiceError) as raised:
            ExternalBackend().start(ServiceSpec("svc", kind, port=port, ready_timeout=0.2), tmp_path)
    finally:
        fake_server.stop(listener)
    assert f"at 127.0.0.1:{port} not ready within 0.2s" in str(raised.value)
    assert answer in str(raised.value)


def test_is_running_follows_the_server(tmp_path: Path) -> None:
    listener = fake_server.serve_in_thread("mysql")
    port = listener.getsockname()[1]
    backend = ExternalBackend()
    endpoint = backend.start(ServiceSpec("db", "mariadb", port=port), tmp_path)
    assert backend.is_running(endpoint)
    fake_server.stop(listener)
    assert not backend.is_running(endpoint)


def test_port_is_required() -> None:
    reason = ExternalBackend().unavailable_reason(ServiceSpec("db", "postgres", backend="external"))
    assert reason == 'service "db": backend "external" needs port = <where the service listens>'
    with pytest.raises(ServiceError, match="needs port"):
        ExternalBackend().start(ServiceSpec("db", "postgres", backend="external"), Path("."))


@pytest.mark.parametrize(
    ("kind", "client"),
    [("postgres", "psql"), ("mysql", "mysql or mariadb"), ("mariadb", "mariadb or mysql")],
)
def test_create_databases_without_a_client_says_which_is_needed(
    kind: str, client: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    endpoint = Endpoint("db", kind, "external", "127.0.0.1", 1, "u", "p", "d")
    with pytest.raises(ServiceError, match=f"needs the {client} .*client on PATH"):
        ExternalBackend().create_databases(endpoint, ["d_gw0"])


def test_mysql_client_command_keeps_the_password_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = tmp_path / "mariadb"
    client.write_text("#!/bin/sh\n")
    client.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    endpoint = Endpoint("db", "mysql", "external", "db.local", 3307, "root", "secret", "test")
    argv, env = create_databases_command(endpoint, ["test_gw0"])
    assert argv == [
        str(client), "--protocol=TCP", "-h", "db.local", "-P", "3307", "-u", "root", "-e",
        "DROP DATABASE IF EXISTS `test_gw0`; CREATE DATABASE `test_gw0`",
    ]  # fmt: skip
    assert env == {"MYSQL_PWD": "secret"}
    assert "secret" not in argv
