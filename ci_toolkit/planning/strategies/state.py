"""Shard loads under the planning cost model, shared by every strategy.

A shard's load is its overhead, plus each unit's own seconds, plus once per scope that its units touch without
containing it whole, that scope's shared setup. Adding or removing a unit therefore costs its own seconds plus
the setups of the scopes it is the first (or last) in that shard to touch.
"""

from __future__ import annotations

from collections.abc import Sequence

from ci_toolkit.planning.units import Unit


class ShardState:
    def __init__(self, units: Sequence[Unit], shards: int, overhead: float) -> None:
        self.units = list(units)
        self.own = [unit.own for unit in self.units]
        self.shared = [unit.shared for unit in self.units]
        self.loads = [overhead] * shards
        self.sizes = [0] * shards
        self.counts: list[dict[str, int]] = [{} for _ in range(shards)]  # scope -> units touching it
        self.where = [-1] * len(self.units)  # unit index -> shard index

    def add_cost(self, index: int, shard: int) -> float:
        cost = self.own[index]
        counts = self.counts[shard]
        for scope, seconds in self.shared[index]:
            if not counts.get(scope):
                cost += seconds
        return cost

    def remove_cost(self, index: int, shard: int) -> float:
        cost = self.own[index]
        counts = self.counts[shard]
        for scope, seconds in self.shared[index]:
            if counts.get(scope) == 1:
                cost += seconds
        return cost

    def add(self, index: int, shard: int) -> None:
        self.loads[shard] += self.add_cost(index, shard)
        counts = self.counts[shard]
        for scope, _ in self.shared[index]:
            counts[scope] = counts.get(scope, 0) + 1
        self.sizes[shard] += 1
        self.where[index] = shard

    def remove(self, index: int) -> None:
        shard = self.where[index]
        self.loads[shard] -= self.remove_cost(index, shard)
        counts = self.counts[shard]
        for scope, _ in self.shared[index]:
            counts[scope] -= 1
            if not counts[scope]:
                del counts[scope]
        self.sizes[shard] -= 1
        self.where[index] = -1

    def swap_loads(self, a: int, b: int) -> tuple[float, float]:
        """The loads of unit a's and unit b's shards if the two units traded places."""
        sa, sb = self.where[a], self.where[b]
        if not self.shared[a] and not self.shared[b]:
            delta = self.own[a] - self.own[b]
            return self.loads[sa] - delta, self.loads[sb] + delta
        self.remove(a)
        self.remove(b)
        la = self.loads[sa] + self.add_cost(b, sa)
        lb = self.loads[sb] + self.add_cost(a, sb)
        self.add(a, sa)
        self.add(b, sb)
        return la, lb

    def groups(self) -> list[list[Unit]]:
        out: list[list[Unit]] = [[] for _ in self.loads]
        for index, shard in enumerate(self.where):
            out[shard].append(self.units[index])
        return out
