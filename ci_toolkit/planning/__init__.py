"""Shard planning: split a test suite into shards that finish together. Pure functions, no I/O.

cost.py is the one cost model (a test's seconds per shard, shared setups paid once per shard); units.py turns
tests into units (tests that run together); strategies/ assigns units to shards; plan.py builds, checks and
serialises plans.
"""

from __future__ import annotations

from ci_toolkit.planning.plan import (
    MAX_SHARDS,
    Plan,
    Shard,
    auto_plan,
    auto_shards,
    fingerprint,
    from_json,
    github_matrix,
    make_plan,
    to_json,
)
from ci_toolkit.planning.units import Unit, make_units

__all__ = [
    "MAX_SHARDS",
    "Plan",
    "Shard",
    "Unit",
    "auto_plan",
    "auto_shards",
    "fingerprint",
    "from_json",
    "github_matrix",
    "make_plan",
    "make_units",
    "to_json",
]
