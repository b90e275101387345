"""The service kinds, one module each behind kinds.base.Kind, and the registry callers look them up in.

    kinds.get("postgres").credentials(spec)

A kind named in base.KINDS (what the configuration accepts) must be registered here, and only those.
"""

from __future__ import annotations

from ci_toolkit.services.base import KINDS
from ci_toolkit.services.kinds.base import Kind
from ci_toolkit.services.kinds.custom import Custom
from ci_toolkit.services.kinds.mysql import MariaDB, MySQL
from ci_toolkit.services.kinds.postgres import Postgres
from ci_toolkit.services.kinds.redis import Redis

_REGISTRY: dict[str, Kind] = {kind.name: kind for kind in (Postgres(), Redis(), MySQL(), MariaDB(), Custom())}
assert tuple(_REGISTRY) == KINDS, "base.KINDS and the registered kinds differ"

__all__ = ["KINDS", "Kind", "get"]


def get(name: str) -> Kind:
    """The kind called `name`; ValueError for a name not in KINDS (config rejects those first)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f'unknown service kind "{name}"; valid kinds: {", ".join(KINDS)}') from None
