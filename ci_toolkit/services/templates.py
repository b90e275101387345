"""The `export` templates of a service: which variables it sets, the fields they use, and rendering.

A template is text with `{field}` placeholders (base.TEMPLATE_FIELDS), e.g.
"postgresql://{user}:{password}@{host}:{port}/{database}"; a service without `export` sets one
{NAME}_URL from its kind's URL template. env.py renders them into the variables tests get.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from urllib.parse import quote

from ci_toolkit.services import kinds
from ci_toolkit.services.base import ServiceSpec

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The fields a URL template percent-encodes: free text that may hold "@ : / ? # %" (a password).
_URL_ENCODED = ("user", "password", "database")


def default_var(name: str) -> str:
    """The variable a service exports when it sets no `export`: "cache-db" -> "CACHE_DB_URL"."""
    return re.sub(r"[-.]", "_", name.upper()) + "_URL"


def exports(spec: ServiceSpec) -> dict[str, str]:
    """VAR -> template: the spec's `export`, else one {NAME}_URL with the kind's URL template."""
    if spec.export:
        return dict(spec.export)
    template = kinds.get(spec.kind).url_template_for(spec)
    if not template:  # custom: config requires `export`, so there is nothing to default to
        return {}
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


def render(template: str, fields: Mapping[str, str]) -> str:
    """A template (already checked by template_fields) filled from Endpoint.fields().

    In a URL template ("scheme://..."), {user}, {password} and {database} are percent-encoded
    (RFC 3986: all but letters, digits and "-._~"), which clients decode (libpq, redis-py,
    SQLAlchemy), and an IPv6 {host} gets its brackets; a template that is not a URL
    (PGPASSWORD = "{password}") gets every value as written.
    """
    if "://" not in template:
        return template.format_map(fields)
    encoded = dict(fields)
    for name in _URL_ENCODED:
        if name in encoded:
            encoded[name] = quote(encoded[name], safe="")
    host = encoded.get("host", "")
    if ":" in host and not host.startswith("["):
        encoded["host"] = f"[{host}]"
    return template.format_map(encoded)
