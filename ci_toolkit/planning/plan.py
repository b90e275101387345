"""A plan: which tests each shard runs, what each is predicted to take, and how close that is to ideal.

Deterministic: the same test ids and timings give the same plan whatever order the ids come in (units are
ordered by key, ties broken on keys, a shard's tests listed sorted), so every shard of a CI run can compute
the plan on its own, or check a precomputed manifest against what it collected (`fingerprint`).

With fewer units than shards, some shards are empty: the shard count is the CI's job count, which a plan
does not get to change. Otherwise no shard is empty.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import DataError
from ci_toolkit.planning import strategies
from ci_toolkit.planning.cost import CostModel, cost_model, shard_load
from ci_toolkit.planning.units import Unit, make_units

if TYPE_CHECKING:
    from ci_toolkit.timing.smoothing import TestTiming

PLAN_VERSION = 1
# The most shards a plan has, whoever asks (`plan --shards`, `local --shard K/N`, `--ci-shard`): a GitHub
# Actions matrix runs at most 256 jobs, and a plan holds every shard in memory.
MAX_SHARDS = 256
_DIGITS = 4  # seconds in a plan are kept to 0.1 ms, so a manifest round-trips exactly


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as in `--ci-shard K/N`
    tests: tuple[str, ...]  # sorted
    predicted: float  # seconds, the shard's overhead included


@dataclass(frozen=True)
class Plan:
    shards: tuple[Shard, ...]
    fingerprint: str  # of every planned test id (see fingerprint())
    # no plan can do better: overhead + max(total / N, the largest indivisible unit)
    lower_bound: float
    total: float  # all the work in seconds, shared setups counted once, no overhead
    overhead: float  # seconds each shard pays once

    @property
    def makespan(self) -> float:
        return max((shard.predicted for shard in self.shards), default=0.0)

    @property
    def ratio(self) -> float:
        """makespan / lower bound: 1.0 is a perfect split."""
        return self.makespan / self.lower_bound if self.lower_bound > 0 else 1.0

    @property
    def tests(self) -> int:
        return sum(len(shard.tests) for shard in self.shards)


def fingerprint(nodeids: Iterable[str]) -> str:
    """16 hex digits of the sha256 of the sorted, distinct ids: the same collection gives the same value."""
    digest = hashlib.sha256()
    for nodeid in sorted(set(nodeids)):
        digest.update(nodeid.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()[:16]


def make_plan(
    tests: Iterable[str],
    estimate: Callable[[str], TestTiming],
    shards: int,
    *,
    groups: Mapping[str, str] | None = None,
    keep_together: Sequence[str] = (),
    overhead: float = 0.0,
    strategy: str = "refine",
) -> Plan:
    """Split `tests` over `shards` shards (see the module docstring); estimate: nodeid -> TestTiming.

    groups: nodeid -> xdist_group name; keep_together: globs over test files or node id prefixes;
    overhead: seconds each shard pays once (process start-up, collection); strategy: "refine" or "lpt".
    """
    order = list(dict.fromkeys(tests))
    return _plan(order, cost_model(order, estimate), shards, groups, keep_together, overhead, strategy)


def auto_plan(
    tests: Iterable[str],
    estimate: Callable[[str], TestTiming],
    target_seconds: float,
    *,
    max_shards: int = 64,
    groups: Mapping[str, str] | None = None,
    keep_together: Sequence[str] = (),
    overhead: float = 0.0,
    strategy: str = "refine",
) -> Plan:
    """The plan with the fewest shards whose makespan is at most `target_seconds`.

    When no shard count up to `max_shards` meets the target, the plan with the smallest makespan (the fewest
    shards among equals): check `plan.makespan` against the target.
    """
    _check_shards(max_shards)
    order = list(dict.fromkeys(tests))
    model = cost_model(order, estimate)
    # No plan beats total/N, so fewer shards than this cannot meet the target.
    room = target_seconds - overhead
    start = math.ceil(model.total / room) if room > 0 and model.total > 0 else 1
    best: Plan | None = None
    first = max(1, min(start, max_shards))
    for count in range(first, max_shards + 1):
        plan = _plan(order, model, count, groups, keep_together, overhead, strategy)
        if plan.makespan <= target_seconds:
            return plan
        if best is None or plan.makespan < best.makespan:
            best = plan
        if _floor_bound(plan):
            break  # the largest indivisible unit sets the makespan already: more shards cannot help
    assert best is not None
    # Unreachable: fewer shards than the first tried may do just as well, and cost fewer jobs.
    while len(best.shards) == first > 1:
        fewer = _plan(order, model, first - 1, groups, keep_together, overhead, strategy)
        if fewer.makespan > best.makespan:
            break
        best, first = fewer, first - 1
    return best


def auto_shards(
    tests: Iterable[str], estimate: Callable[[str], TestTiming], target_seconds: float, **kw: Any
) -> int:
    """The smallest shard count whose makespan is at most `target_seconds` (see auto_plan)."""
    return len(auto_plan(tests, estimate, target_seconds, **kw).shards)


def _floor_bound(plan: Plan) -> bool:
    count = len(plan.shards)
    floor = plan.lower_bound - plan.overhead
    return floor > plan.total / count and plan.makespan <= plan.lower_bound * (1 + 1e-9)


def _check_shards(shards: int) -> None:
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a whole number >= 1, got {shards!r}")


def _plan(
    order: list[str],
    model: CostModel,
    shards: int,
    groups: Mapping[str, str] | None,
    keep_together: Sequence[str],
    overhead: float,
    strategy: str,
) -> Plan:
    _check_shards(shards)
    if not (overhead >= 0 and math.isfinite(overhead)):
        raise ValueError(f"overhead must be a number of seconds >= 0, got {overhead!r}")
    assigner = strategies.get(strategy)
    share = model.total / shards

    def attempt(max_fraction: float) -> tuple[list[Unit], list[list[Unit]], float]:
        units = make_units(
            order,
            _unused,
            shards=shards,
            groups=groups,
            keep_together=keep_together,
            max_fraction=max_fraction,
            model=model,
        )
        assignment = assigner.assign(units, shards, overhead)
        return units, assignment, [shard_load(group, overhead) for group in assignment]

    units, assignment, loads = attempt(1.0)
    # Many kept scopes each nearly a shard's share can pack badly (three of 0.6 on two shards); cutting them
    # in halves pays their setup twice but may balance better. Keep whichever is better.
    if any(unit.floor is not None and unit.cost > share / 2 for unit in units):
        other = attempt(0.5)
        if max(other[2]) < max(loads):
            units, assignment, loads = other
    largest = max((unit.indivisible for unit in units), default=0.0)
    return Plan(
        shards=tuple(
            Shard(
                index=k,
                tests=tuple(sorted(nodeid for unit in group for nodeid in unit.tests)),
                predicted=_round(load),
            )
            for k, (group, load) in enumerate(zip(assignment, loads, strict=True), 1)
        ),
        fingerprint=fingerprint(order),
        lower_bound=_round(overhead + max(model.total / shards, largest)),
        total=_round(model.total),
        overhead=_round(overhead),
    )


def _unused(nodeid: str) -> TestTiming:  # pragma: no cover - make_units is always given the model
    raise AssertionError(nodeid)


def _round(seconds: float) -> float:
    return round(seconds, _DIGITS)


# -- manifest -------------------------------------------------------------------------------------------


def to_json(plan: Plan) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "fingerprint": plan.fingerprint,
        "overhead": plan.overhead,
        "lower_bound": plan.lower_bound,
        "total": plan.total,
        "shards": [
            {"index": shard.index, "predicted": shard.predicted, "tests": list(shard.tests)}
            for shard in plan.shards
        ],
    }


def from_json(data: Any, label: str = "plan manifest") -> Plan:
    """The Plan in a manifest written by to_json; DataError (one line naming `label`) when it is not one."""
    if not isinstance(data, dict) or "shards" not in data or "fingerprint" not in data:
        raise DataError(
            f"{label}: not a ci-toolkit plan manifest (write one with `ci-toolkit plan --format json`)"
        )
    if data.get("version") != PLAN_VERSION:
        raise DataError(f"{label}: plan manifest version {data.get('version')!r} is not {PLAN_VERSION}")
    shards = data["shards"]
    if not isinstance(shards, list) or not shards:
        raise DataError(f'{label}: "shards" must be a non-empty list')
    parsed: list[Shard] = []
    seen: set[str] = set()
    for position, entry in enumerate(shards, 1):
        where = f"{label}: shards[{position - 1}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object")
        tests = entry.get("tests")
        if entry.get("index") != position:
            raise DataError(f'{where}: "index" must be {position}, got {entry.get("index")!r}')
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise DataError(f'{where}: "tests" must be a list of node ids')
        repeated = seen.intersection(tests)
        if repeated or len(set(tests)) != len(tests):
            raise DataError(f"{where}: a test is listed twice: {min(repeated or _dupes(tests))}")
        seen.update(tests)
        parsed.append(Shard(index=position, tests=tuple(tests), predicted=_number(entry, "predicted", where)))
    plan = Plan(
        shards=tuple(parsed),
        fingerprint=_text(data, "fingerprint", label),
        lower_bound=_number(data, "lower_bound", label),
        total=_number(data, "total", label),
        overhead=_number(data, "overhead", label),
    )
    if fingerprint(seen) != plan.fingerprint:
        raise DataError(f"{label}: the fingerprint does not match the tests listed (edited by hand?)")
    return plan


def _dupes(tests: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    return {t for t in tests if t in seen or seen.add(t)}  # type: ignore[func-returns-value]


def _number(entry: Mapping[str, Any], key: str, where: str) -> float:
    value = entry.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise DataError(f'{where}: "{key}" must be a number of seconds >= 0, got {value!r}')
    return float(value)


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise DataError(f'{where}: "{key}" must be a non-empty string, got {value!r}')
    return value


def github_matrix(plan: Plan) -> dict[str, Any]:
    """For `strategy.matrix: ${{ fromJSON(...) }}`: one job per shard, each knowing the shard count too."""
    count = len(plan.shards)
    return {
        "shard": [shard.index for shard in plan.shards],
        "include": [{"shard": shard.index, "shards": count} for shard in plan.shards],
    }
