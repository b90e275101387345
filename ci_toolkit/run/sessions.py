"""Which lanes share one pytest session, and each lane's share of a shared session's results. Pure.

Every pytest process pays the project's import and collection; for a FastAPI app that is seconds, paid
again by each lane's controller and workers. Lanes that may run alongside each other anyway (`concurrent`)
with the same pytest options therefore run as one session (`share_sessions`, on by default): one
collection, one set of xdist workers, their tests scheduled together. The pool runs such a session as a
lane of its own (`Shared.lane`: its name joins the lanes' names with "+", which no lane name contains),
and its results are split back into the lanes' afterwards (`split`), so that every lane is judged, counted
and reported as if it had run alone.

A session is shared only when that changes nothing a lane relies on:

- every lane in it is `concurrent` (it may share the machine) and has the same `pytest_args`;
- `allow_overlap` is off: a test two lanes select runs once per lane, which one session cannot do;
- at least one lane uses xdist: the session's workers are the most any lane asks for;
- a lane without xdist (`workers = 0`) keeps its tests on one worker, one after another, which only the
  duration scheduler can promise (it sends a group of tests to one worker), so it needs
  `scheduler = "duration"`;
- a lane that selects every test (no `markers`) would overlap the others: it runs alone.

In a shared session every test sees the variables of every service the session's lanes need.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ci_toolkit.config import Config, Lane
from ci_toolkit.errors import PytestExit
from ci_toolkit.run.exchange.results import Results, Session, TestOutcome

JOIN = "+"  # joins the lanes' names into the session's: lane names never contain it
# Outcomes as pytest's terminal counts them ("notrun" is ours and pytest never printed it).
_CATEGORIES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
_FAILING = ("failed", "error")
# Session exit codes that say something about every lane of the session alike.
_WHOLE_SESSION = (PytestExit.INTERRUPTED, PytestExit.INTERNAL_ERROR, PytestExit.USAGE_ERROR)


@dataclass(frozen=True)
class Shared:
    """Lanes run as one pytest session; `lane` is what the pool runs for them."""

    lanes: tuple[Lane, ...]
    lane: Lane
    serial: tuple[str, ...]  # the lanes whose tests stay on one worker (they have no xdist)


Planned = Lane | Shared


def plan(
    config: Config, workers: Callable[[Lane], int], counts: Mapping[str, int] | None = None
) -> list[Planned]:
    """The run's sessions, in configuration order: a shared session takes the place of its first lane.
    `counts` (tests per lane, when known): a lane with none keeps its own place, to be skipped there."""
    if not config.share_sessions or config.allow_overlap:
        return list(config.lanes)
    candidates: dict[tuple[str, ...], list[Lane]] = {}
    for lane in config.lanes:
        if _may_share(lane, config, workers) and (counts is None or counts.get(lane.name, 0) > 0):
            candidates.setdefault(lane.pytest_args, []).append(lane)
    sessions: dict[str, Shared] = {}
    for group in candidates.values():
        if len(group) > 1 and any(workers(lane) > 0 for lane in group):
            shared = _shared(group, workers)
            sessions.update({lane.name: shared for lane in group})
    planned: list[Planned] = []
    for lane in config.lanes:
        shared = sessions.get(lane.name)
        if shared is None:
            planned.append(lane)
        elif lane is shared.lanes[0]:
            planned.append(shared)
    return planned


def effective_workers(config: Config, workers: Callable[[Lane], int]) -> dict[str, int]:
    """Each lane's xdist workers as its tests meet them: a lane of a shared session runs on the session's
    workers (a serial lane on one of them, but beside the others, so priced like them)."""
    found = {lane.name: workers(lane) for lane in config.lanes}
    for unit in plan(config, workers):
        if isinstance(unit, Shared):
            found.update({lane.name: workers(unit.lane) for lane in unit.lanes})
    return found


def leaders(config: Config, workers: Callable[[Lane], int]) -> list[str]:
    """One lane name per pytest session a run starts (a shared session's first lane): each pays a start-up."""
    return [unit.lanes[0].name if isinstance(unit, Shared) else unit.name for unit in plan(config, workers)]


def _may_share(lane: Lane, config: Config, workers: Callable[[Lane], int]) -> bool:
    if not lane.concurrent or lane.markers is None:
        return False
    return workers(lane) > 0 or config.scheduler == "duration"


def _shared(lanes: Sequence[Lane], workers: Callable[[Lane], int]) -> Shared:
    markers = " or ".join(f"({lane.markers})" for lane in lanes)
    services = tuple(dict.fromkeys(name for lane in lanes for name in lane.services))
    lane = dataclasses.replace(
        lanes[0],
        name=JOIN.join(lane.name for lane in lanes),
        markers=markers,
        workers=max(workers(lane) for lane in lanes),
        services=services,
        allow_empty=all(lane.allow_empty for lane in lanes),
    )
    serial = tuple(lane.name for lane in lanes if workers(lane) == 0)
    return Shared(tuple(lanes), lane, serial)


def split(
    results: Results, assignment: Mapping[str, Sequence[str]], lanes: Sequence[str]
) -> dict[str, Results]:
    """Each lane's results from its shared session's: its own tests, counted as pytest would have counted
    them in a session of its own, with the session's exit status as it applies to the lane.

    A test the assignment does not know (a module that failed to import reports as its file) is every
    lane's: a session of its own would have met it too. So are the session's internal errors, and an exit
    status that is no test's doing (interrupted, an internal or usage error)."""
    mine: dict[str, list[TestOutcome]] = {name: [] for name in lanes}
    for outcome in results.tests:
        owners = [name for name in assignment.get(outcome.nodeid, ()) if name in mine] or list(lanes)
        for name in owners:
            mine[name].append(outcome)
    return {name: _lane_results(results, tests, assignment) for name, tests in mine.items()}


def _lane_results(
    results: Results, tests: Sequence[TestOutcome], assignment: Mapping[str, Sequence[str]]
) -> Results:
    counts = Counter(o.outcome for o in tests if o.outcome in _CATEGORIES)
    reruns = sum(o.reruns for o in tests)
    if reruns:
        counts["rerun"] = reruns
    session = results.session
    status = session.exitstatus
    if status is not None and status not in _WHOLE_SESSION:
        if any(o.outcome in _FAILING for o in tests):
            status = int(PytestExit.TESTS_FAILED)
        else:
            status = int(PytestExit.OK if tests else PytestExit.NO_TESTS_COLLECTED)
    # A collection error's entry is no selected test.
    selected = sum(1 for o in tests if o.nodeid in assignment)
    return Results(
        tuple(tests), dict(counts), dataclasses.replace(session, exitstatus=status, selected=selected)
    )


__all__ = ["JOIN", "Planned", "Session", "Shared", "effective_workers", "leaders", "plan", "split"]
