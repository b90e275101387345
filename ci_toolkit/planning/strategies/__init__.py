"""Strategies that assign units to shards; each has `assign(units, shards, overhead) -> list[list[Unit]]`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ci_toolkit.planning.strategies.lpt import LongestProcessingTime
from ci_toolkit.planning.strategies.refine import Refine
from ci_toolkit.planning.units import Unit


class Strategy(Protocol):
    name: str

    def assign(self, units: Sequence[Unit], shards: int, overhead: float) -> list[list[Unit]]: ...


STRATEGIES: dict[str, type[Strategy]] = {"lpt": LongestProcessingTime, "refine": Refine}


def get(name: str) -> Strategy:
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise ValueError(
            f"unknown planning strategy {name!r}: expected one of {', '.join(STRATEGIES)}"
        ) from None
