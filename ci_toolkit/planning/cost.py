"""What a test costs the shard that runs it: the one cost model behind `ci-toolkit plan`, `local --shard`
and `pytest --ci-shard`, so that what `plan` predicts is what a shard runs.

A lane runs its tests on W xdist workers at once, so a test costs its shard about 1/W of its own seconds
(a lane without xdist, all of them); a test that two lanes select is paid by both; a test no lane selects
never runs and costs nothing (it is still planned: a plan's fingerprint covers every collected test).
Under plain pytest, with no lanes, the session is the one lane, with the workers of its `-n`. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from ci_toolkit.timing.history import TestTiming

SESSION = ""  # the lane name of a plain pytest session's tests

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
