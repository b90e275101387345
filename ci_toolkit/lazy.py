"""Packages whose public names are imported on first use (PEP 562).

A package that re-exports its modules' names would import every module of it for the one name a caller
wants: a pytest process reading one leaf of the configuration, or `ci-toolkit local` setting one variable
before its first pytest starts, would pay for all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: each name in `homes` taken from the submodule named there on first
    use, then kept in the package's `namespace` (its globals()) so that later uses cost nothing."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
