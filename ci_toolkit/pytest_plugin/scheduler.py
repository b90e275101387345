"""A duration-aware pytest-xdist scheduler: longest work first, and no worker left with a long tail.

Made by ci_toolkit.pytest_plugin through `pytest_xdist_make_scheduler` when pytest runs with
`-n N --ci-scheduler duration` (`--ci-timings FILE` for the durations; tests the history does not know
are estimated by ci_toolkit.timings.Estimator).

Why not xdist's own modes: `--dist load` first sends each worker a consecutive chunk of the collection,
so long tests that sit together land on one worker; `worksteal` splits evenly by count. Both are blind
to durations. Here:

- Work is cut into units (ci_toolkit.planning.make_units): single tests, the tests of one xdist_group
  (always on one worker), and modules or classes whose shared setup is too expensive to pay on
  several workers. Units go out longest first, ties in collection order.
- A worker runs a test only once it holds the next one (xdist's worker needs `nextitem` to decide
  which fixtures to tear down), so each worker is kept at two tests at least. Beyond that a worker is
  topped up to a horizon of estimated seconds: a quarter of its share of the work still queued.
  Early on that batches the many short tests (fewer round trips, neighbouring tests together for
  their fixtures); as the queue empties the horizon shrinks towards single tests, so whatever one
  worker holds beyond what it runs is small, and the first worker to run dry takes what is left.
- Initial sends go to the least-loaded worker in turn, so the longest units start on different
  workers at once.
- A worker that crashes: the test it was running is returned to xdist to report (as its own
  schedulers do); the rest of its tests go back to the queue, each group or module unit still whole.

The protocol (the methods and properties below) is the one xdist's DSession drives; see
xdist/scheduler/protocol.py and load.py.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.report import report_collection_diff
from xdist.workermanage import WorkerController

try:
    from xdist.workermanage import parse_tx_spec_config as _tx_specs
except ImportError:  # pytest-xdist 3.5-3.6: the same function under its older name
    from xdist.workermanage import parse_spec_config as _tx_specs  # type: ignore[attr-defined,no-redef]

# Imported with this module, while the workers start, not once they have collected: from then on
# every worker waits for the first batch.
from ci_toolkit.planning import make_units
from ci_toolkit.run.exchange import sidecar as sidecar_file
from ci_toolkit.timing import TestTiming

MIN_PENDING = 2  # the test a worker runs and the next one, without which it cannot start the first
HORIZON_SHARE = 4  # a worker is topped up to 1/HORIZON_SHARE of its share of the queued work
DISPATCH_COST = 0.005  # seconds each test costs beyond its own durations (a round trip, reporting)


@dataclass(order=True, frozen=True)
class Work:
    """What is sent to one worker in one go: a unit's tests as collection indices."""

    order: tuple[float, int]  # (-cost, first index): longest first, then collection order
    indices: tuple[int, ...] = field(compare=False)
    cost: float = field(compare=False)


class DurationScheduling:
    """xdist scheduler handing out longest work first, in shrinking batches; see the module docstring."""

    def __init__(
        self,
        config: pytest.Config,
        log: Producer | None = None,
        *,
        estimate: Callable[[str], TestTiming],
        sidecar: Path | None = None,
    ) -> None:
        self.numnodes = len(_tx_specs(config))
        self.config = config
        self.log = Producer("durationsched") if log is None else log.durationsched
        self.estimate = estimate
        self.sidecar = sidecar  # where workers wrote their collection's xdist groups
        self.node2collection: dict[WorkerController, list[str]] = {}
        self.node2pending: dict[WorkerController, list[int]] = {}
        self.collection: list[str] | None = None
        self.queue: list[Work] = []  # sorted by Work.order
        self.queued = 0.0  # estimated seconds in the queue
        self.loads: dict[WorkerController, float] = {}  # estimated seconds each worker holds
        self.cost: list[float] = []  # per collection index
        self.unit_of: list[int] = []  # per collection index: which unit it belongs to

    # -- state xdist asks about -------------------------------------------------------------------

    @property
    def nodes(self) -> list[WorkerController]:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self.queue:
            return False
        return all(len(pending) < MIN_PENDING for pending in self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.queue) or any(self.node2pending.values())

    # -- events -----------------------------------------------------------------------------------

    def add_node(self, node: WorkerController) -> None:
        assert node not in self.node2pending
        self.node2pending[node] = []
        self.loads[node] = 0.0

    def add_node_collection(self, node: WorkerController, collection: Sequence[str]) -> None:
        assert node in self.node2pending
        if self.collection_is_completed:
            # A worker started later (replacing a crashed one): it must agree with the others.
            assert self.collection is not None
            if list(collection) != self.collection:
                other = next(iter(self.node2collection))
                self.log(
                    report_collection_diff(self.collection, collection, other.gateway.id, node.gateway.id)
                )
                return
        self.node2collection[node] = list(collection)

    def mark_test_complete(self, node: WorkerController, item_index: int, duration: float = 0) -> None:
        self.node2pending[node].remove(item_index)
        self.loads[node] -= self.cost[item_index]
        self.check_schedule(node)

    def mark_test_pending(self, item: str) -> None:
        """A test to run again (a plugin re-queues a crashed one): first in line."""
        assert self.collection is not None
        index = self.collection.index(item)
        self._queue(Work((float("-inf"), index), (index,), self.cost[index]))
        self._distribute(self.nodes)

    def remove_pending_tests_from_node(self, node: WorkerController, indices: Sequence[int]) -> None:
        """Tests a worker gave back (xdist's answer to a steal; this scheduler sends none)."""
        returned = set(indices) & set(self.node2pending[node])
        self.node2pending[node] = [i for i in self.node2pending[node] if i not in returned]
        self.loads[node] -= sum(self.cost[i] for i in returned)
        self._requeue(list(indices))
        self._distribute(self.nodes)

    def remove_node(self, node: WorkerController) -> str | None:
        """A worker finished or died; for a dead one, the test it was running (xdist reports it)."""
        pending = self.node2pending.pop(node)
        self.loads.pop(node, None)
        if not pending:
            return None
        assert self.collection is not None
        crashed, rest = pending[0], pending[1:]
        self._requeue(rest)
        self._distribute(self.nodes)
        return self.collection[crashed]

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # called again when a replacement worker joins
            self._distribute(self.nodes)
            return
        if not self._same_collections():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = next(iter(self.node2collection.values()))
        if not self.collection:
            return
        self.queue = self._plan(self.collection)
        self.queued = sum(work.cost for work in self.queue)
        self._distribute(self.nodes)

    # -- the policy ---------------------------------------------------------------------------------

    def check_schedule(self, node: WorkerController) -> None:
        if node.shutting_down:
            return
        if self.queue:
            self._distribute([node])
        elif len(self.node2pending[node]) < MIN_PENDING:
            # Nothing left to send: the shutdown marker is what lets it run its last test.
            node.shutdown()

    def horizon(self) -> float:
        """Estimated seconds a worker is topped up to: shrinks to nothing as the queue empties."""
        workers = sum(1 for node in self.node2pending if not node.shutting_down) or 1
        return max(self.queued, 0.0) / workers / HORIZON_SHARE

    def load(self, node: WorkerController) -> float:
        return self.loads[node]

    def wants(self, node: WorkerController, horizon: float) -> bool:
        pending = self.node2pending[node]
        return not node.shutting_down and (len(pending) < MIN_PENDING or self.load(node) < horizon)

    def _distribute(self, nodes: Sequence[WorkerController]) -> None:
        """Batches to the least-loaded worker that wants work, until none does or the queue is empty."""
        order = {node: position for position, node in enumerate(nodes)}
        while self.queue:
            horizon = self.horizon()
            wanting = [node for node in nodes if self.wants(node, horizon)]
            if not wanting:
                break
            node = min(wanting, key=lambda n: (self.load(n), order[n]))
            self._send(node, self._batch(horizon))
        if not self.queue:
            for node in nodes:
                if not node.shutting_down and len(self.node2pending[node]) < MIN_PENDING:
                    node.shutdown()

    def _batch(self, horizon: float) -> list[int]:
        """The next units, longest first, up to `horizon` seconds (at least one unit)."""
        indices: list[int] = []
        cost = 0.0
        while self.queue and (not indices or cost + self.queue[0].cost <= horizon):
            work = self.queue.pop(0)
            indices.extend(work.indices)
            cost += work.cost
        self.queued -= cost
        return indices

    def _send(self, node: WorkerController, indices: list[int]) -> None:
        self.node2pending[node].extend(indices)
        self.loads[node] += sum(self.cost[i] for i in indices)
        node.send_runtest_some(indices)

    def _queue(self, work: Work) -> None:
        bisect.insort(self.queue, work)
        self.queued += work.cost

    def _requeue(self, indices: Sequence[int]) -> None:
        """Tests back to the queue, a unit's tests still together."""
        by_unit: dict[int, list[int]] = {}
        for index in indices:
            by_unit.setdefault(self.unit_of[index], []).append(index)
        for unit in by_unit.values():
            cost = sum(self.cost[i] for i in unit)
            self._queue(Work((-cost, unit[0]), tuple(unit), cost))

    def _plan(self, collection: list[str]) -> list[Work]:
        ids = [base_id(nodeid) for nodeid in collection]
        positions: dict[str, list[int]] = {}
        for index, nodeid in enumerate(ids):
            positions.setdefault(nodeid, []).append(index)
        self.cost = [self.estimate(nodeid).duration + DISPATCH_COST for nodeid in ids]
        groups = self._groups(collection)
        units = make_units(
            list(positions), self.estimate, shards=max(len(self.node2pending), 1), groups=groups
        )
        self.unit_of = [0] * len(collection)
        queue: list[Work] = []
        seen: set[int] = set()
        for number, unit in enumerate(units):
            indices = sorted({i for nodeid in unit.tests for i in positions.get(nodeid, ())} - seen)
            if not indices:
                continue
            seen.update(indices)
            for index in indices:
                self.unit_of[index] = number
            # The unit's own cost counts its shared setup once; the dispatch cost is per test.
            cost = unit.cost + DISPATCH_COST * len(indices)
            queue.append(Work((-cost, indices[0]), tuple(indices), cost))
        for index in range(len(collection)):  # anything make_units left out still runs
            if index not in seen:
                self.unit_of[index] = len(units) + index
                queue.append(Work((-self.cost[index], index), (index,), self.cost[index]))
        return sorted(queue)

    def _groups(self, collection: Sequence[str]) -> dict[str, str]:
        """{base node id: xdist_group}: from the workers' sidecar files, or loadgroup's "@name" ids."""
        groups: dict[str, str] = {}
        for nodeid in collection:
            name = group_suffix(nodeid)
            if name:
                groups[base_id(nodeid)] = name
        if self.sidecar is not None:
            written = sidecar_file.read(self.sidecar)
            groups.update({base_id(nodeid): name for nodeid, name in written.items()})
        return groups

    def _same_collections(self) -> bool:
        (first, collection), *others = self.node2collection.items()
        same = True
        for node, other in others:
            message = report_collection_diff(collection, other, first.gateway.id, node.gateway.id)
            if message:
                same = False
                self.log(message)
                report = pytest.CollectReport(node.gateway.id, "failed", longrepr=message, result=[])
                self.config.hook.pytest_collectreport(report=report)
        return same


def group_suffix(nodeid: str) -> str:
    """The group xdist's loadgroup appended ("test_x@db"), "" for none; "@" inside [params] is not one."""
    at = nodeid.rfind("@")
    return nodeid[at + 1 :] if at > nodeid.rfind("]") else ""


def base_id(nodeid: str) -> str:
    suffix = group_suffix(nodeid)
    return nodeid[: -len(suffix) - 1] if suffix else nodeid
