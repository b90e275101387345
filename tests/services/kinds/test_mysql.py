"""MySQL and MariaDB: one quoting, one client command line, and what the MariaDB twin renames."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.services import kinds
from ci_toolkit.services.base import Endpoint, ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds import mysql


def test_quoting() -> None:
    assert mysql.quote_ident("we`ird") == "`we``ird`"
    assert mysql.quote_string("it's a \\ test") == "'it''s a \\\\ test'"
    assert mysql.recreate_sql(["a", "b"]) == (
        "DROP DATABASE IF EXISTS `a`; CREATE DATABASE `a`; DROP DATABASE IF EXISTS `b`; CREATE DATABASE `b`"
    )


def test_client_over_tcp_or_the_containers_socket() -> None:
    assert mysql.client_argv("mariadb", "app", "SELECT 1", "127.0.0.1", 3307, no_defaults=True) == [
        "mariadb", "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", "3307", "-u", "app",
        "-e", "SELECT 1",
    ]  # fmt: skip
    assert mysql.client_argv("mysql", "root", "SELECT 1") == ["mysql", "-uroot", "-e", "SELECT 1"]


@pytest.mark.parametrize(("kind", "first"), [("mysql", "mysql"), ("mariadb", "mariadb")])
def test_each_twin_prefers_its_own_client(
    kind: str, first: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("mysql", "mariadb"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    endpoint = Endpoint("db", kind, "external", "db.local", 3306, "app", "pw", "test")
    argv, env = kinds.get(kind).host_client(endpoint, ["t"]) or ([], {})
    assert argv[0] == str(tmp_path / first) and env == {"MYSQL_PWD": "pw"}
    assert kinds.get(kind).container_client(endpoint, ["t"])[0][:2] == [first, "-uroot"]


def test_init_sql_sets_our_credentials_and_database() -> None:
    sql = mysql.init_sql("app", "p'w", "shop")
    assert "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'p''w';" in sql
    assert sql.endswith("CREATE DATABASE IF NOT EXISTS `shop`;\nFLUSH PRIVILEGES;\n")
    assert "'app'" not in mysql.init_sql("root", "", "")


def test_the_tools_each_flavor_needs() -> None:
    def binaries(flavor: str) -> Binaries:
        return Binaries(flavor, "system", Path("/usr/sbin/mariadbd"), Path("/usr/sbin"))

    assert kinds.get("mysql").required_tools(binaries("mariadb")) == [
        ("mariadb", "mysql"),
        ("mariadb-install-db", "mysql_install_db"),
    ]
    assert kinds.get("mariadb").required_tools(binaries("mysql")) == [("mysql", "mariadb")]


def test_mariadb_is_mysql_renamed() -> None:
    spec = ServiceSpec("db", "mariadb", password="")
    assert isinstance(kinds.get("mariadb"), mysql.MySQL)
    assert kinds.get("mariadb").docker_env(spec) == {
        "MARIADB_DATABASE": "test",
        "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "yes",
    }
    assert kinds.get("mariadb").docker_health_cmd(spec)[0] == "mariadb-admin"
