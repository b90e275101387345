"""What a pytest session pays besides its tests' own time, taken out of one recorded run. Pure.

A session pays its start-up (interpreter, imports, plugins, conftest files, collection) and its
session-scoped fixtures once; every shard pays them again. The recorder measures both (the fixtures only where
the tests run in its own process, not under xdist) and names the test that paid the fixtures
(`session_setup`): that set-up is taken off the test and kept with the session, so that no plan charges it to
one test's module.

The first test to run in a module may also pay for what the module imports lazily (a heavy library imported in
a fixture or a test). When its call stands out from its siblings' (`STANDOUT` times the slowest of them, and
`MIN_EXCESS` over their median), the excess is moved to its setup, where the cost model
(ci_toolkit.planning.cost) finds a module's shared setup. Only for the test that ran first in its module in
that run: a test that is slow every time is left as it is.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ci_toolkit.timing.smoothing import SessionCost

if TYPE_CHECKING:
    from ci_toolkit.run.exchange.results import Session, TestOutcome

# A first test's call above its siblings' by less than this is noise, not a lazy import.
MIN_EXCESS = 0.005
# ... and it must be this many times the slowest sibling's call: a test slow on its own is not moved.
STANDOUT = 2.0


def session_cost(session: Session, outcomes: Iterable[TestOutcome]) -> SessionCost | None:
    """The session's start-up and session fixture set-up; None when its start-up was not recorded."""
    if session.startup is None:
        return None
    return SessionCost(session.startup, sum(o.session_setup for o in outcomes))


def own_phases(outcomes: Iterable[TestOutcome], counted: frozenset[str]) -> dict[str, TestOutcome]:
    """The outcomes whose outcome is in *counted*, by node id, with the session's set-up taken off the test
    that paid it and a first test's standing-out call moved to its setup (see the module docstring)."""
    chosen = {o.nodeid: o for o in outcomes if o.outcome in counted}
    siblings: dict[str, list[float]] = {}
    for o in chosen.values():
        if not o.first:
            siblings.setdefault(_module(o.nodeid), []).append(o.call)
    out: dict[str, TestOutcome] = {}
    for nodeid, o in chosen.items():
        setup = max(o.setup - o.session_setup, 0.0)
        moved = _excess(o.call, siblings.get(_module(nodeid), ())) if o.first else 0.0
        out[nodeid] = replace(o, setup=setup + moved, call=o.call - moved, session_setup=0.0)
    return out


def _excess(call: float, others: Sequence[float]) -> float:
    """How much of a first test's call stands out from its siblings' calls *others*."""
    if not others:
        return 0.0
    excess = call - statistics.median(others)
    return excess if excess >= MIN_EXCESS and call > STANDOUT * max(others) else 0.0


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]
