"""What each service kind is, independent of how it runs: defaults, URLs, images, flags.

Pure functions of a ServiceSpec, so the docker and native backends build their commands from one
table of facts and the tests can check every kind without starting anything.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ci_toolkit.services.base import KINDS, TEMPLATE_FIELDS, ServiceError, ServiceSpec


@dataclass(frozen=True)
class Kind:
    name: str
    default_user: str
    default_password: str
    default_database: str
    container_port: int  # the port inside a container / the server's default port
    url_template: str  # default export value ("" for custom)
    has_databases: bool  # postgres/mysql/mariadb: database_per_worker allowed


_MYSQL_URL = "mysql://{user}:{password}@{host}:{port}/{database}"
_KINDS: dict[str, Kind] = {
    "postgres": Kind(
        "postgres", "postgres", "postgres", "postgres", 5432,
        "postgresql://{user}:{password}@{host}:{port}/{database}", True,
    ),
    "redis": Kind("redis", "", "", "0", 6379, "redis://{host}:{port}/{database}", False),
    "mysql": Kind("mysql", "root", "root", "test", 3306, _MYSQL_URL, True),
    "mariadb": Kind("mariadb", "root", "root", "test", 3306, _MYSQL_URL, True),
    "custom": Kind("custom", "", "", "", 0, "", False),
}  # fmt: skip
assert tuple(_KINDS) == KINDS
# A redis password goes into the URL's userinfo, where redis-py and most clients look for it.
_REDIS_AUTH_URL = "redis://{user}:{password}@{host}:{port}/{database}"
_DEFAULT_VERSION = {"postgres": "17", "redis": "7", "mysql": "8.4", "mariadb": "11"}
_IMAGE = {
    "postgres": "postgres:{}-alpine",
    "redis": "redis:{}-alpine",
    "mysql": "mysql:{}",
    "mariadb": "mariadb:{}",
}
_ALLOW_EMPTY = {"mysql": "MYSQL_ALLOW_EMPTY_PASSWORD", "mariadb": "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def get(kind: str) -> Kind:
    """The catalog entry for `kind`; ValueError for a name not in KINDS (config rejects those first)."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError(f'unknown service kind "{kind}"; valid kinds: {", ".join(KINDS)}') from None


def credentials(spec: ServiceSpec) -> tuple[str, str, str]:
    """(user, password, database): what the spec sets, else the kind's defaults."""
    kind = get(spec.kind)
    return (
        kind.default_user if spec.user is None else spec.user,
        kind.default_password if spec.password is None else spec.password,
        kind.default_database if spec.database is None else spec.database,
    )


def default_var(name: str) -> str:
    """The variable a service exports when it sets no `export`: "cache-db" -> "CACHE_DB_URL"."""
    return re.sub(r"[-.]", "_", name.upper()) + "_URL"


def exports(spec: ServiceSpec) -> dict[str, str]:
    """VAR -> template: the spec's `export`, else one {NAME}_URL with the kind's URL template."""
    if spec.export:
        return dict(spec.export)
    template = get(spec.kind).url_template
    if not template:  # custom: config requires `export`, so there is nothing to default to
        return {}
    if spec.kind == "redis" and credentials(spec)[1]:
        template = _REDIS_AUTH_URL
    return {default_var(spec.name): template}


def template_fields(template: str) -> list[str]:
    """The field names a template uses, in order; ValueError saying what is wrong with a malformed one.

    Only plain `{field}` placeholders are accepted (no `!r`, `:>5`, `.attr`), so rendering can never
    fail at run time on a template that passed here; `{{` and `}}` are literal braces.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise ValueError('unbalanced "{" or "}" (write "{{" or "}}" for a literal brace)') from None
    names: list[str] = []
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if spec or conversion:
            raise ValueError(f'placeholder "{{{field_name}}}" must not use "!" or ":"')
        names.append(field_name)
    return names


# The fields a URL template percent-encodes: free text that may hold "@ : / ? # %" (a password).
_URL_ENCODED = ("user", "password", "database")


def is_url(template: str) -> bool:
    """Whether `template` builds a URL ("scheme://..."): then its credentials are percent-encoded."""
    return "://" in template


def render(template: str, fields: Mapping[str, str]) -> str:
    """A template (already checked by template_fields) filled from Endpoint.fields().

    In a URL template, {user}, {password} and {database} are percent-encoded (RFC 3986: all but
    letters, digits and "-._~"), which clients decode (libpq, redis-py, SQLAlchemy), and an IPv6
    {host} gets its brackets; a template that is not a URL (PGPASSWORD = "{password}") gets every
    value as written.
    """
    if not is_url(template):
        return template.format_map(fields)
    encoded = dict(fields)
    for name in _URL_ENCODED:
        if name in encoded:
            encoded[name] = quote(encoded[name], safe="")
    host = encoded.get("host", "")
    if ":" in host and not host.startswith("["):
        encoded["host"] = f"[{host}]"
    return template.format_map(encoded)


def unknown_fields(template: str) -> list[str]:
    """The field names in `template` that are not TEMPLATE_FIELDS (ValueError when malformed)."""
    return [name for name in template_fields(template) if name not in TEMPLATE_FIELDS]


def docker_image(spec: ServiceSpec) -> str:
    """The image to run: `image`, else the kind's official image at `version` (or a current major)."""
    if spec.image:
        return spec.image
    if spec.kind not in _IMAGE:
        raise ServiceError(
            f'service "{spec.name}": kind {spec.kind} has no default image; set image = "..." '
            "for the docker backend"
        )
    return _IMAGE[spec.kind].format(spec.version or _DEFAULT_VERSION[spec.kind])


def docker_env(spec: ServiceSpec) -> dict[str, str]:
    """The container environment that makes the official image create our user, password and database."""
    user, password, database = credentials(spec)
    env: dict[str, str] = {}
    if spec.kind == "postgres":
        env = {"POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": database}
        if not password:  # the image refuses to start with an empty password unless told to trust
            env["POSTGRES_HOST_AUTH_METHOD"] = "trust"
    elif spec.kind in ("mysql", "mariadb"):
        prefix = spec.kind.upper()
        env = {f"{prefix}_DATABASE": database}
        if password:
            env[f"{prefix}_ROOT_PASSWORD"] = password
        else:
            env[_ALLOW_EMPTY[spec.kind]] = "yes"
        if user != "root":  # the images create root themselves and refuse MYSQL_USER=root
            env[f"{prefix}_USER"] = user
            env[f"{prefix}_PASSWORD"] = password
    env.update(spec.env)
    return env


def docker_health_cmd(spec: ServiceSpec) -> list[str]:
    """A command run inside the container that succeeds once the server takes TCP connections.

    TCP on 127.0.0.1, not the socket: the postgres and mysql images first run a socket-only server
    to initialise, and a socket check would call that one ready.
    """
    user, password, database = credentials(spec)
    if spec.kind == "postgres":
        return ["pg_isready", "-U", user, "-d", database, "-h", "127.0.0.1"]
    if spec.kind == "redis":
        auth = ["-a", password, "--no-auth-warning"] if password else []
        return ["redis-cli", "-h", "127.0.0.1", *auth, "ping"]
    if spec.kind in ("mysql", "mariadb"):
        # MariaDB 11 images no longer ship the mysql* names.
        tool = "mysqladmin" if spec.kind == "mysql" else "mariadb-admin"
        # A bare "-p" would prompt for a password and hang the check.
        secret = [f"-p{password}"] if password else []
        return [tool, "ping", "-h", "127.0.0.1", "-u", user, *secret]
    return []


def server_args(spec: ServiceSpec) -> list[str]:
    """`settings` as the server's own command-line flags (same for the docker image's command)."""
    args: list[str] = []
    if spec.kind == "postgres":
        for key, value in spec.settings.items():
            args += ["-c", f"{key}={value}"]
    elif spec.kind == "redis":
        settings = dict(spec.settings)
        password = credentials(spec)[1]
        if password:
            settings.setdefault("requirepass", password)
        for key, value in settings.items():
            args += [f"--{key}", value]
    elif spec.kind in ("mysql", "mariadb"):
        args = [f"--{key}={value}" for key, value in spec.settings.items()]
    return args
