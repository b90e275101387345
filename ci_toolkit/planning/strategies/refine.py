"""LPT, then local search: move or swap units off the busiest shard while that lowers it.

Each step takes the busiest shard and the others from the least loaded up, and looks for a unit to move,
else a pair of units to swap, such that both shards end below the busiest one's current load. Units are
kept sorted by cost per shard: the best move sends about half the load gap, so only a few units around
gap/2 are priced exactly; swaps are found by one merge pass over two sorted shards. Every accepted step
lowers the sorted load vector, so the search ends; a work budget bounds it too (deterministically: it
counts steps, not seconds). The makespan never rises above LPT's.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ci_toolkit.planning.strategies.lpt import LongestProcessingTime
from ci_toolkit.planning.strategies.state import ShardState
from ci_toolkit.planning.units import Unit

_EPS = 1e-9
_WINDOW = 4  # units priced on each side of the ideal move size
_BUDGET = 50_000  # candidate evaluations in the whole search: about 0.1 s of Python at worst


class Refine:
    name = "refine"

    def __init__(self, budget: int = _BUDGET) -> None:
        self.budget = budget

    def assign(self, units: Sequence[Unit], shards: int, overhead: float) -> list[list[Unit]]:
        state = LongestProcessingTime().place(units, shards, overhead)
        if shards > 1:
            _Search(state, self.budget).run()
        return state.groups()


class _Search:
    def __init__(self, state: ShardState, budget: int) -> None:
        self.state = state
        self.budget = budget
        # Per shard, (own seconds, unit index) ascending.
        self.sorted: list[list[tuple[float, int]]] = [[] for _ in state.loads]
        for index, shard in enumerate(state.where):
            self.sorted[shard].append((state.own[index], index))
        for members in self.sorted:
            members.sort()

    def run(self) -> None:
        loads = self.state.loads
        while self.budget > 0:
            top = max(range(len(loads)), key=lambda s: (loads[s], -s))
            step = None
            for other in sorted((s for s in range(len(loads)) if s != top), key=lambda s: (loads[s], s)):
                if loads[top] - loads[other] <= _EPS:
                    break
                step = self._move(top, other) or self._swap(top, other)
                if step is not None or self.budget <= 0:
                    break
            if step is None:
                return
            for index, target in step:
                self._relocate(index, target)

    def _relocate(self, index: int, target: int) -> None:
        source = self.state.where[index]
        entry = (self.state.own[index], index)
        members = self.sorted[source]
        del members[bisect.bisect_left(members, entry)]
        self.state.remove(index)
        self.state.add(index, target)
        bisect.insort(self.sorted[target], entry)

    def _move(self, top: int, other: int) -> list[tuple[int, int]] | None:
        state = self.state
        if state.sizes[top] <= 1:
            return None  # never empty a shard
        loads = state.loads
        members = self.sorted[top]
        middle = bisect.bisect_left(members, ((loads[top] - loads[other]) / 2, -1))
        best, best_index = loads[top] - _EPS, -1
        for _, index in members[max(0, middle - _WINDOW) : middle + _WINDOW]:
            self.budget -= 1
            worst = max(
                loads[top] - state.remove_cost(index, top), loads[other] + state.add_cost(index, other)
            )
            if worst < best:
                best, best_index = worst, index
        return None if best_index < 0 else [(best_index, other)]

    def _swap(self, top: int, other: int) -> list[tuple[int, int]] | None:
        state = self.state
        loads = state.loads
        gap = loads[top] - loads[other]
        high, low = self.sorted[top], self.sorted[other]
        if not low:
            return None
        best, pair = loads[top] - _EPS, None
        cursor = 0
        for own, index in high:
            # The partner that makes the difference closest to gap/2; the list is walked once in all.
            want = own - gap / 2
            while cursor < len(low) and low[cursor][0] < want:
                cursor += 1
            self.budget -= 1
            for near in (cursor - 1, cursor):
                if 0 <= near < len(low):
                    partner = low[near][1]
                    if not 0 < own - low[near][0] < gap:
                        continue
                    self.budget -= 1
                    worst = max(state.swap_loads(index, partner))
                    if worst < best:
                        best, pair = worst, (index, partner)
        self.budget -= len(low)
        return None if pair is None else [(pair[0], other), (pair[1], top)]
