"""The export templates: default variables per service, their fields, and rendering them."""

from __future__ import annotations

import pytest

from ci_toolkit.services import templates
from ci_toolkit.services.base import TEMPLATE_FIELDS, Endpoint, ServiceSpec


def spec(kind: str, name: str | None = None, **kwargs: object) -> ServiceSpec:
    return ServiceSpec(name=name or kind, kind=kind, **kwargs)  # type: ignore[arg-type]


def test_default_export_is_name_url_with_the_kind_template() -> None:
    assert templates.exports(spec("postgres", "main-db")) == {
        "MAIN_DB_URL": "postgresql://{user}:{password}@{host}:{port}/{database}"
    }
    assert templates.exports(spec("redis", "cache")) == {"CACHE_URL": "redis://{host}:{port}/{database}"}
    assert templates.default_var("a.b-c_d") == "A_B_C_D_URL"


def test_a_redis_password_goes_into_the_default_url() -> None:
    assert templates.exports(spec("redis", password="pw")) == {
        "REDIS_URL": "redis://{user}:{password}@{host}:{port}/{database}"
    }


def test_configured_export_replaces_the_default() -> None:
    export = {"DATABASE_URL": "postgres://{host}:{port}", "PGHOST": "{host}"}
    assert templates.exports(spec("postgres", export=export)) == export
    assert templates.exports(spec("custom")) == {}  # config refuses custom without export


def test_default_postgres_url_renders_from_an_endpoint() -> None:
    endpoint = Endpoint("db", "postgres", "native", "127.0.0.1", 54321, "postgres", "postgres", "postgres")
    [(var, template)] = templates.exports(spec("postgres", "db")).items()
    assert var == "DB_URL"
    assert (
        templates.render(template, endpoint.fields())
        == "postgresql://postgres:postgres@127.0.0.1:54321/postgres"
    )
    assert templates.render(template, endpoint.fields("postgres_gw1")).endswith("/postgres_gw1")
    assert templates.render("{{literal}} {name}", endpoint.fields()) == "{literal} db"


def test_a_url_encodes_credentials_and_brackets_an_ipv6_host() -> None:
    endpoint = Endpoint("db", "postgres", "external", "::1", 5432, "a@b", "p:/?#%", "my db")
    url = "postgresql://{user}:{password}@{host}:{port}/{database}"
    assert (
        templates.render(url, endpoint.fields()) == "postgresql://a%40b:p%3A%2F%3F%23%25@[::1]:5432/my%20db"
    )
    assert templates.render("{password}", endpoint.fields()) == "p:/?#%"


@pytest.mark.parametrize(
    ("template", "fields"),
    [("", []), ("plain", []), ("{host}:{port}", ["host", "port"]), ("{{x}}{name}", ["name"]), ("{}", [""])],
)
def test_template_fields(template: str, fields: list[str]) -> None:
    assert templates.template_fields(template) == fields


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
        templates.template_fields(template)


def test_fields_outside_template_fields_are_found() -> None:
    """What the config parser refuses, with a hint (catalog.unknown_fields was this, unused)."""
    names = templates.template_fields("{user}:{pasword}@{host}/{db}")
    assert [name for name in names if name not in TEMPLATE_FIELDS] == ["pasword", "db"]
    assert [name for name in templates.template_fields("{host}") if name not in TEMPLATE_FIELDS] == []
