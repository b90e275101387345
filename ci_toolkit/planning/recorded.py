"""The suite as the timing history records it: its node ids and lanes, standing in for a collection. Pure.

For `ci-toolkit plan --from-history`, a plan job that has not installed the project: the same cost model
(`cost.shard_estimate`) prices these tests as it prices collected ones, from the assignment and lane shares
built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ci_toolkit.planning.cost import shares
from ci_toolkit.timing.smoothing import History

# The lane of tests recorded in no configured lane, when there are several to choose from. Lane names are
# identifiers, so it can be no configured lane's name.
UNKNOWN_LANE = "(no configured lane)"


@dataclass(frozen=True)
class Recorded:
    tests: dict[str, tuple[str, ...]]  # nodeid -> the lane it counts in, as a collection's assignment
    lane_shares: dict[str, float]  # for cost.shard_estimate
    unknown: int  # tests recorded in no configured lane, priced at their whole seconds


def recorded(history: History, workers: Mapping[str, int]) -> Recorded:
    """Every test of `history` in the lane it last ran in; `workers`: the configured lanes' xdist workers.

    A test recorded without a lane (plain pytest, an imported file) or in a lane no longer configured
    belongs to the only lane when there is one, as a collection would put it; with several it is priced
    whole, as if no worker shared it: too many shards rather than too few for a target.
    """
    lane_shares = shares(workers)
    only = next(iter(workers)) if len(workers) == 1 else None
    tests: dict[str, tuple[str, ...]] = {}
    unknown = 0
    for nodeid, timing in history.tests.items():
        if timing.lane in workers:
            tests[nodeid] = (timing.lane,)
        elif only is not None:
            tests[nodeid] = (only,)
        else:
            tests[nodeid] = (UNKNOWN_LANE,)
            unknown += 1
    if unknown:
        lane_shares[UNKNOWN_LANE] = 1.0
    return Recorded(tests=tests, lane_shares=lane_shares, unknown=unknown)
