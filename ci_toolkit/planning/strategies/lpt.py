"""Longest processing time first: the biggest unit goes to the shard where it ends earliest.

"Ends earliest" uses the full cost model: a unit whose module already runs in a shard does not pay the
module's setup there again, so it may go to a slightly busier shard that finishes sooner with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ci_toolkit.planning.strategies.state import ShardState
from ci_toolkit.planning.units import Unit


class LongestProcessingTime:
    name = "lpt"

    def assign(self, units: Sequence[Unit], shards: int, overhead: float) -> list[list[Unit]]:
        return self.place(units, shards, overhead).groups()

    def place(self, units: Sequence[Unit], shards: int, overhead: float) -> ShardState:
        state = ShardState(units, shards, overhead)
        loads, sizes = state.loads, state.sizes
        # Ties broken on the key, so the order (and the plan) never depends on the order units came in.
        order = sorted(range(len(state.units)), key=lambda i: (-state.units[i].cost, state.units[i].key))
        every = range(shards)
        for index in order:
            if state.shared[index]:
                shard = min(every, key=lambda s: (loads[s] + state.add_cost(index, s), sizes[s], s))
            elif state.own[index] > 0:
                shard = loads.index(min(loads))  # the first of equals, as the key below would pick
            else:
                # Fewest units breaks ties between equal loads, so zero-cost units still fill empty shards.
                shard = min(every, key=lambda s: (loads[s], sizes[s], s))
            state.add(index, shard)
        return state
