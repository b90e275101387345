"""Units: the pieces a plan distributes, priced by the cost model (`ci_toolkit.planning.cost`).

A unit is a test, or tests that must or should run in the same shard:

- forced: tests sharing an ``xdist_group`` name, and tests matched by one ``keep_together`` pattern (a glob
  over test file paths, or a node id prefix); groups that share a test merge into one unit;
- chosen: a module or class with a shared setup (module- or class-scoped fixtures). Every shard is a fresh
  process, so a module split over k shards pays that setup k times; kept whole it pays it once. A scope
  costing more than a shard's share of the work (the limit; make_plan also tries half of it and keeps the
  better plan) is cut into the fewest consecutive parts that fit, each paying the setup once: splitting
  costs (k - 1) setups, spread over all shards, while a unit bigger than a share would set the makespan.
  Scopes without a shared setup are not kept: single tests balance best.

A unit records the shared setups of the scopes it only partly contains (``Unit.shared``): a shard pays each
of those once, however many of its units touch the scope.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_toolkit.config import globs
from ci_toolkit.planning.cost import CostModel, cost_model

if TYPE_CHECKING:
    from ci_toolkit.timing.smoothing import TestTiming


@dataclass(frozen=True)
class Unit:
    # a node id; "path" or "path::Class" (a kept scope, or "... (part k/m)"); "group:<name>"; "keep:<pattern>"
    key: str
    tests: tuple[str, ...]  # in the order given (collection order)
    cost: float  # predicted seconds if run alone in a fresh process, every shared setup it needs paid once
    # (scope, seconds): shared setups of scopes this unit only partly contains; a shard pays each scope once
    shared: tuple[tuple[str, float], ...] = ()
    # the cost of the largest piece of this unit no plan can split (None: the whole unit)
    floor: float | None = None

    @property
    def own(self) -> float:
        """Seconds this unit adds to a shard that already pays all of its shared setups."""
        if not self.shared:
            return self.cost
        return self.cost - sum(seconds for _, seconds in self.shared)

    @property
    def indivisible(self) -> float:
        return self.cost if self.floor is None else self.floor


def keep_matches(pattern: str, nodeid: str) -> bool:
    """A keep_together pattern: a node id prefix ending at a node boundary, or a glob over the test's file."""
    if nodeid == pattern or nodeid.startswith((pattern + "::", pattern + "[")):
        return True
    return "::" not in pattern and globs.matches(pattern, nodeid.split("::", 1)[0])


def make_units(
    tests: Sequence[str],
    estimate: Callable[[str], TestTiming],
    *,
    shards: int,
    groups: Mapping[str, str] | None = None,
    keep_together: Sequence[str] = (),
    max_fraction: float = 1.0,
    model: CostModel | None = None,
) -> list[Unit]:
    """The units for planning `tests` over `shards` shards, sorted by key.

    groups: nodeid -> xdist_group name; keep_together: patterns (see keep_matches); max_fraction: a chosen
    (module/class) unit larger than this fraction of a shard's share is cut into parts, each paying the setup.
    model: a cost model already computed for these tests (saves estimating them again).
    """
    order = list(dict.fromkeys(tests))
    model = model if model is not None else cost_model(order, estimate)
    builder = _Builder(model, {nodeid: index for index, nodeid in enumerate(order)})
    forced = _forced(order, groups or {}, keep_together)
    in_forced = {nodeid for members in forced.values() for nodeid in members}
    units = [builder.unit(key, members) for key, members in forced.items()]
    share = model.total / max(shards, 1)
    free: dict[str, list[str]] = {}
    for nodeid in order:
        if nodeid not in in_forced:
            free.setdefault(model.chains[nodeid][0], []).append(nodeid)
    for module in sorted(free):
        units.extend(builder.place(module, 0, free[module], max_fraction * share))
    return sorted(units, key=lambda unit: unit.key)


def _forced(order: Sequence[str], groups: Mapping[str, str], patterns: Iterable[str]) -> dict[str, list[str]]:
    """key -> tests for the xdist groups and keep_together patterns; overlapping ones merged (union-find)."""
    labels: dict[str, list[str]] = {}
    for nodeid in order:
        name = groups.get(nodeid)
        if name is not None:
            labels.setdefault(nodeid, []).append(f"group:{name}")
    for pattern in dict.fromkeys(patterns):
        for nodeid in order:
            if keep_matches(pattern, nodeid):
                labels.setdefault(nodeid, []).append(f"keep:{pattern}")
    parent: dict[str, str] = {}

    def find(label: str) -> str:
        parent.setdefault(label, label)
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    for found in labels.values():
        for other in found[1:]:
            a, b = find(found[0]), find(other)
            if a != b:
                # The smaller label is the root, so a merged unit is named the same whatever the input order.
                parent[max(a, b)] = min(a, b)
    units: dict[str, list[str]] = {}
    for nodeid in order:
        if nodeid in labels:
            units.setdefault(find(labels[nodeid][0]), []).append(nodeid)
    return units


class _Builder:
    def __init__(self, model: CostModel, position: Mapping[str, int]) -> None:
        self.model = model
        self.position = position
        self._chains: dict[tuple[str, ...], tuple[tuple[tuple[str, float], ...], float]] = {}

    def unit(self, key: str, tests: Iterable[str], *, whole: bool = True) -> Unit:
        """A unit of `tests`. whole=False: a kept scope, which a plan could split, so its floor is its
        largest test."""
        members = sorted(tests, key=self.position.__getitem__)
        if len(members) == 1:
            return self._single(key, members[0])
        touched: dict[str, int] = {}
        for nodeid in members:
            for scope in self.model.chains[nodeid]:
                touched[scope] = touched.get(scope, 0) + 1
        setups = self.model.setups
        shared = tuple(
            (scope, setups[scope])
            for scope in sorted(touched)
            if scope in setups and touched[scope] < self.model.members[scope]
        )
        cost = sum(self.model.own[nodeid] for nodeid in members) + sum(
            setups.get(scope, 0.0) for scope in touched
        )
        floor = None if whole or len(members) == 1 else max(self.model.alone(nodeid) for nodeid in members)
        return Unit(key=key, tests=tuple(members), cost=cost, shared=shared, floor=floor)

    def _single(self, key: str, nodeid: str) -> Unit:
        chain = self.model.chains[nodeid]
        found = self._chains.get(chain)
        if found is None:
            setups, counts = self.model.setups, self.model.members
            shared = tuple((scope, setups[scope]) for scope in chain if scope in setups and counts[scope] > 1)
            found = self._chains[chain] = (shared, sum(setups.get(scope, 0.0) for scope in chain))
        return Unit(key=key, tests=(nodeid,), cost=self.model.own[nodeid] + found[1], shared=found[0])

    def place(self, scope: str, depth: int, tests: list[str], limit: float) -> list[Unit]:
        """Units for the free `tests` of `scope`: kept whole (or in parts) when it has a shared setup,
        else its sub-scopes decided the same way and its direct tests alone."""
        setup = self.model.setups.get(scope, 0.0)
        if len(tests) >= 2 and setup > 0:
            return self._keep(scope, tests, setup, limit)
        direct: list[str] = []
        inner: dict[str, list[str]] = {}
        for nodeid in tests:
            chain = self.model.chains[nodeid]
            if len(chain) > depth + 1:
                inner.setdefault(chain[depth + 1], []).append(nodeid)
            else:
                direct.append(nodeid)
        units = [self._single(nodeid, nodeid) for nodeid in direct]
        for child in sorted(inner):
            units.extend(self.place(child, depth + 1, inner[child], limit))
        return units

    def _keep(self, scope: str, tests: list[str], setup: float, limit: float) -> list[Unit]:
        whole = self.unit(scope, tests, whole=False)
        if whole.cost <= limit:
            return [whole]
        # Too big for one shard's share: cut into the fewest parts that fit, each paying the setup once more.
        own = [self.model.own[nodeid] for nodeid in sorted(tests)]
        room = max(limit - setup, limit / 2)
        parts = max(2, min(len(own), math.ceil(sum(own) / room)))
        chunks = _cut(sorted(tests), own, parts)
        return [
            self.unit(f"{scope} (part {k}/{len(chunks)})", chunk, whole=False)
            for k, chunk in enumerate(chunks, 1)
        ]


def _cut(tests: Sequence[str], costs: Sequence[float], parts: int) -> list[list[str]]:
    """`tests` in order, cut into `parts` consecutive non-empty runs of about equal cost."""
    total = sum(costs)
    chunks: list[list[str]] = [[]]
    done = 0.0
    for index, (nodeid, cost) in enumerate(zip(tests, costs, strict=True)):
        left = len(tests) - index
        wanted = parts - len(chunks)  # runs still to start after the current one
        boundary = total * len(chunks) / parts
        if chunks[-1] and wanted > 0 and (done + cost / 2 > boundary or left <= wanted):
            chunks.append([])
        chunks[-1].append(nodeid)
        done += cost
    return chunks
