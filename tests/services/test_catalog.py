"""The kind catalog: defaults, exported URLs, docker images, health checks and server flags per kind."""

from __future__ import annotations

import pytest

from ci_toolkit.services import catalog
from ci_toolkit.services.base import KINDS, TEMPLATE_FIELDS, Endpoint, ServiceError, ServiceSpec


def spec(kind: str, name: str | None = None, **kwargs: object) -> ServiceSpec:
    return ServiceSpec(name=name or kind, kind=kind, **kwargs)  # type: ignore[arg-type]


def test_every_kind_has_an_entry_and_unknown_names_are_refused() -> None:
    assert [catalog.get(kind).name for kind in KINDS] == list(KINDS)
    with pytest.raises(ValueError, match=r'^unknown service kind "postgress"; valid kinds: postgres, redis'):
        catalog.get("postgress")


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
    info = catalog.get(kind)
    assert (info.default_user, info.default_password, info.default_database) == defaults
    assert info.container_port == port
    assert info.url_template == url
    assert info.has_databases is has_databases
    assert catalog.credentials(spec(kind)) == defaults
    assert all(name in TEMPLATE_FIELDS for name in catalog.template_fields(url))


def test_credentials_prefer_the_spec_even_when_empty() -> None:
    assert catalog.credentials(spec("postgres", user="app", password="", database="shop")) == (
        "app",
        "",
        "shop",
    )
    assert catalog.credentials(spec("mysql", password="secret")) == ("root", "secret", "test")


def test_default_export_is_name_url_with_the_kind_template() -> None:
    assert catalog.exports(spec("postgres", "main-db")) == {
        "MAIN_DB_URL": "postgresql://{user}:{password}@{host}:{port}/{database}"
    }
    assert catalog.exports(spec("redis", "cache")) == {"CACHE_URL": "redis://{host}:{port}/{database}"}
    assert catalog.default_var("a.b-c_d") == "A_B_C_D_URL"


def test_a_redis_password_goes_into_the_default_url() -> None:
    assert catalog.exports(spec("redis", password="pw")) == {
        "REDIS_URL": "redis://{user}:{password}@{host}:{port}/{database}"
    }


def test_configured_export_replaces_the_default() -> None:
    export = {"DATABASE_URL": "postgres://{host}:{port}", "PGHOST": "{host}"}
    assert catalog.exports(spec("postgres", export=export)) == export
    assert catalog.exports(spec("custom")) == {}  # config refuses custom without export


def test_default_postgres_url_renders_from_an_endpoint() -> None:
    endpoint = Endpoint("db", "postgres", "native", "127.0.0.1", 54321, "postgres", "postgres", "postgres")
    [(var, template)] = catalog.exports(spec("postgres", "db")).items()
    assert var == "DB_URL"
    assert (
        catalog.render(template, endpoint.fields())
        == "postgresql://postgres:postgres@127.0.0.1:54321/postgres"
    )
    assert catalog.render(template, endpoint.fields("postgres_gw1")).endswith("/postgres_gw1")
    assert catalog.render("{{literal}} {name}", endpoint.fields()) == "{literal} db"


@pytest.mark.parametrize(
    ("template", "fields"),
    [("", []), ("plain", []), ("{host}:{port}", ["host", "port"]), ("{{x}}{name}", ["name"]), ("{}", [""])],
)
def test_template_fields(template: str, fields: list[str]) -> None:
    assert catalog.template_fields(template) == fields


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("postgresql://{user", 'unbalanced "{" or "}" (write "{{" or "}}" for a literal brace)'),
        ("a}b", 'unbalanced "{" or "}"'),
        ("{port:>6}", 'placeholder "{port}" must not use "!" or ":"'),
        ("{user!r}", 'placeholder "{user}" must not use "!" or ":"'),
    ],
)
def test_malformed_templates(template: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        catalog.template_fields(template)


def test_unknown_fields() -> None:
    assert catalog.unknown_fields("{user}:{pasword}@{host}/{db}") == ["pasword", "db"]
    assert catalog.unknown_fields("{host}") == []


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
    assert catalog.docker_image(service) == image


def test_custom_without_image_has_no_docker_image() -> None:
    with pytest.raises(ServiceError, match=r'^service "api": kind custom has no default image; set image ='):
        catalog.docker_image(spec("custom", "api"))


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
    assert catalog.docker_env(service) == env


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
    assert catalog.docker_health_cmd(service) == argv


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
    assert catalog.server_args(service) == argv
