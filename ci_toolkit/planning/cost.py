"""The one cost model: what a test costs the shard that runs it, and what a shard costs in all. Pure.

It serves `ci-toolkit plan`, `local --shard` and `pytest --ci-shard` alike, so that what `plan` predicts is
what a shard runs.

A lane runs its tests on W xdist workers at once, so a test costs its shard about 1/W of its own seconds
(a lane without xdist, all of them); a test that two lanes select is paid by both; a test no lane selects
never runs and costs nothing (it is still planned: a plan's fingerprint covers every collected test).
Under plain pytest, with no lanes, the session is the one lane, with the workers of its `-n`
(`shard_estimate`, `session_estimate`).

The shared setup of a scope (a module or class with module- or class-scoped fixtures) is not recorded as
such: pytest charges a module fixture to whichever test of the module runs first. It shows as one test's
setup standing far above its siblings', so a scope's shared setup is estimated as the largest setup among its
tests minus the median setup of the others, and taken off that test. The largest, not the first in collection
order: the estimate must not depend on the order tests come in. Outer scopes are judged first: a class
fixture on a module's first class cannot be told from a module fixture in per-test timings, so such setup is
charged to the module, which keeps more together, never less. A class's own setup is recognised when it does
not stand out in its module (`cost_model`).

A shard costs its fixed overhead, plus every unit's own seconds, plus, once for each scope any of its units
touches without containing the whole scope, that scope's shared setup (`shard_load`).

The session is the outermost scope, but it is not inferred here: a session fixture shows on one test like its
module's fixture would, and judged first it would take every module's setup for its own. The recorder measures
it instead (ci_toolkit.timing.sessions), the history leaves it out of the tests, and each shard pays it once
in its overhead (ci_toolkit.planning.pricing). A first test's lazy import shows as its module's shared setup.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_toolkit.timing.smoothing import MAX_SECONDS, TestTiming

if TYPE_CHECKING:
    from ci_toolkit.planning.units import Unit

SESSION = ""  # the lane name of a plain pytest session's tests
# Setup differences smaller than this are timer noise and function-scoped fixtures, not a shared setup.
MIN_SHARED = 0.005

_FREE = TestTiming(0.0, 0.0, 0.0, runs=0, last_seen=0)


def shares(workers: Mapping[str, int]) -> dict[str, float]:
    """Each lane's share of a test's seconds, from its xdist worker count (0: no xdist)."""
    return {lane: 1 / max(count, 1) for lane, count in workers.items()}


def shard_estimate(
    estimate: Callable[[str], TestTiming],
    assignment: Mapping[str, Sequence[str]],
    lane_shares: Mapping[str, float],
) -> Callable[[str], TestTiming]:
    """`estimate` (a test's own seconds) priced for a shard: scaled by the shares of the lanes that run
    it, per `assignment` ({nodeid: lane names})."""

    def cost(nodeid: str) -> TestTiming:
        scale = sum(lane_shares.get(lane, 0.0) for lane in assignment.get(nodeid, ()))
        if not scale:
            return _FREE
        timing = estimate(nodeid)
        if scale == 1:
            return timing
        return dataclasses.replace(
            timing, setup=timing.setup * scale, call=timing.call * scale, teardown=timing.teardown * scale
        )

    return cost


def session_estimate(
    estimate: Callable[[str], TestTiming], nodeids: Sequence[str], workers: int
) -> Callable[[str], TestTiming]:
    """The cost model for a plain pytest session on `workers` xdist workers: one lane of every test."""
    return shard_estimate(estimate, dict.fromkeys(nodeids, (SESSION,)), shares({SESSION: workers}))


# -- shared setups ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostModel:
    """The tests' seconds split into their own and their scopes' shared setups (see the module docstring)."""

    own: Mapping[str, float]  # nodeid -> seconds without any shared setup
    setups: Mapping[str, float]  # scope -> shared setup seconds (only scopes that have one)
    chains: Mapping[str, tuple[str, ...]]  # nodeid -> its scopes, module first, then classes outwards-in
    members: Mapping[str, int]  # scope -> how many of the tests belong to it

    @property
    def total(self) -> float:
        """All the work, every shared setup counted once."""
        return sum(self.own.values()) + sum(self.setups.values())

    def alone(self, nodeid: str) -> float:
        """A test run by itself: its own time plus the setups of every scope it is in."""
        return self.own[nodeid] + sum(self.setups.get(scope, 0.0) for scope in self.chains[nodeid])


def _parent(nodeid: str) -> str:
    """The id of the node holding a test: "tests/a.py::TestX" for "tests/a.py::TestX::test[a::b]"."""
    bracket = nodeid.find("[")
    head = nodeid if bracket < 0 else nodeid[:bracket]
    parent = head.rpartition("::")[0]
    return parent or head


@functools.lru_cache(maxsize=4096)
def _chain(parent: str) -> tuple[str, ...]:
    parts = parent.split("::")
    chain = [parts[0]]
    for part in parts[1:]:
        chain.append(f"{chain[-1]}::{part}")
    return tuple(chain)


def cost_model(tests: Sequence[str], estimate: Callable[[str], TestTiming]) -> CostModel:
    """*tests* priced by *estimate*: each test's own seconds, and the shared setups of its scopes."""
    setup: dict[str, float] = {}
    rest: dict[str, float] = {}
    chains: dict[str, tuple[str, ...]] = {}
    for nodeid in tests:
        timing = estimate(nodeid)
        setup[nodeid] = _seconds(timing.setup)
        rest[nodeid] = _seconds(timing.call) + _seconds(timing.teardown)
        chains[nodeid] = _chain(_parent(nodeid))
    by_scope: dict[str, list[str]] = {}
    for nodeid in tests:
        for scope in chains[nodeid]:
            by_scope.setdefault(scope, []).append(nodeid)
    setups: dict[str, float] = {}
    # Outer scopes first: a module fixture sits on top of the first class's class fixture.
    for scope in sorted(by_scope, key=lambda s: (s.count("::"), s)):
        members = by_scope[scope]
        if len(members) < 2:
            continue  # one test: its setup is all its own, shared with nobody
        most = max(setup[t] for t in members)
        carrier = min(t for t in members if setup[t] == most)  # ties: the smallest id, whatever the order
        shared = setup[carrier] - statistics.median(setup[t] for t in members if t != carrier)
        if shared >= MIN_SHARED:
            setups[scope] = shared
            setup[carrier] -= shared
    return CostModel(
        own={nodeid: setup[nodeid] + rest[nodeid] for nodeid in tests},
        setups=setups,
        chains=chains,
        members={scope: len(members) for scope, members in by_scope.items()},
    )


def _seconds(value: float) -> float:
    """An estimate as seconds to plan with: nothing for NaN, Infinity or less than 0, MAX_SECONDS at most,
    so that no sum over a suite overflows into Infinity (which a plan manifest, being JSON, cannot hold)."""
    if not 0 < value < math.inf:  # NaN compares false
        return 0.0
    return min(value, MAX_SECONDS)


def shard_load(group: Sequence[Unit], overhead: float) -> float:
    """A shard's predicted seconds, summed afresh (the search's running sums drift) in the group's order,
    which every strategy gives by unit key."""
    scopes: dict[str, float] = {}
    own = 0.0
    for unit in group:
        own += unit.own
        if unit.shared:
            scopes.update(unit.shared)
    return overhead + own + sum(scopes[scope] for scope in sorted(scopes))
