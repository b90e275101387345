"""PostgreSQL's SQL and client commands, one quoting for every backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ci_toolkit.services.base import Endpoint
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds import postgres

KIND = postgres.Postgres()


def endpoint(**handle: object) -> Endpoint:
    return Endpoint("db", "postgres", "external", "db.local", 5433, "app", "pw", "appdb", handle=handle)


def test_identifiers_are_double_quoted() -> None:
    assert postgres.quote_ident("t_gw0") == '"t_gw0"'
    assert postgres.quote_ident('we"ird') == '"we""ird"'


def test_recreate_statements_force_only_when_asked() -> None:
    assert postgres.recreate_statements(["a"]) == ['DROP DATABASE IF EXISTS "a"', 'CREATE DATABASE "a"']
    assert postgres.recreate_statements(["a"], force=True)[0] == 'DROP DATABASE IF EXISTS "a" WITH (FORCE)'


def test_psql_over_tcp_or_the_default_socket() -> None:
    assert postgres.psql_argv("psql", "app", "appdb", ["SELECT 1"], "db.local", 5433) == [
        "psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-h", "db.local", "-p", "5433",
        "-U", "app", "-d", "appdb", "-c", "SELECT 1",
    ]  # fmt: skip
    assert "-h" not in postgres.psql_argv("psql", "app", "appdb", [])


def test_host_client_needs_psql_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert KIND.host_client(endpoint(), ["x"]) is None
    psql = tmp_path / "psql"
    psql.write_text("#!/bin/sh\n")
    psql.chmod(0o755)
    argv, env = KIND.host_client(endpoint(), ["x"]) or ([], {})
    assert argv[:10] == [
        str(psql),
        "--no-psqlrc",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "db.local",
        "-p",
        "5433",
        "-U",
        "app",
    ]
    assert env == {"PGPASSWORD": "pw", "PGCONNECT_TIMEOUT": "10"} and "pw" not in argv


@pytest.mark.parametrize(("version", "forced"), [("15.18", True), ("12.2", False), ("", False)])
def test_native_databases_are_dropped_with_force_from_postgresql_13(
    version: str, forced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Sequence[str]] = []
    monkeypatch.setattr(postgres, "run_sql", lambda bindir, ep, statements, deadline: seen.append(statements))
    KIND.create_native_databases(endpoint(version=version, bindir="/pg/bin"), ["a"])
    assert seen == [postgres.recreate_statements(["a"], force=forced)]


def test_system_binaries_are_shared_as_they_are() -> None:
    system = Binaries("postgresql", "system", Path("/usr/bin/postgres"), Path("/usr/bin"))
    assert postgres.shared_copy(system) is system
    assert KIND.required_tools(system) == [("initdb",), ("psql",)]
