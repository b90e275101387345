"""The timing history model: smoothed per-test durations, one more run folded in (EWMA), histories merged.

Each entry holds durations of one mode (see `modes`): a test measured in several modes has one entry per
mode, and runs of one mode are never averaged with another's. What a pytest session costs before and besides
its tests (its start-up and session-scoped fixtures, `SessionTiming`) is kept per mode alike.

Pure: no I/O. Every duration from outside must be a number of seconds 0-MAX_SECONDS (`is_seconds`), which
keeps NaN and Infinity out of every file and every sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

# The longest duration taken for a measurement (11.6 days): anything longer, like NaN, Infinity or a
# negative number, is a damaged or hostile input. It also keeps every sum a plan or report makes finite.
MAX_SECONDS = 1_000_000.0


@dataclass(frozen=True)
class TestTiming:
    """Smoothed seconds per phase of one test."""

    __test__ = False  # not a pytest test class, whatever its name says
    setup: float
    call: float
    teardown: float
    runs: int = 1  # how many runs contributed
    last_seen: int = 0  # History.run when last observed
    lane: str = ""  # the lane it last ran in ("" unknown)
    mode: str = ""  # what it was measured under (ci_toolkit.timing.modes; "" unknown)

    @property
    def duration(self) -> float:
        return self.setup + self.call + self.teardown


@dataclass(frozen=True)
class SessionTiming:
    """Smoothed seconds a pytest session of one mode pays once, whatever tests it runs."""

    startup: float  # from its process start to its first test: interpreter, imports, plugins, collection
    setup: float = 0.0  # session-scoped fixtures (measured where the tests run in the recording process)
    runs: int = 1
    last_seen: int = 0

    @property
    def total(self) -> float:
        return self.startup + self.setup


@dataclass(frozen=True)
class SessionCost:
    """One session's measured start-up and session fixture set-up, in seconds."""

    startup: float
    setup: float = 0.0


@dataclass(frozen=True)
class History:
    project: str  # pyproject [project].name, else the root directory's name
    run: int = 0  # runs merged so far (monotonic)
    # Each test's most recently measured entry: what readers that do not ask for a mode use.
    tests: Mapping[str, TestTiming] = field(default_factory=dict)
    # A test's entries in its other modes, by mode (only tests measured in more than one).
    other_modes: Mapping[str, Mapping[str, TestTiming]] = field(default_factory=dict)
    sessions: Mapping[str, SessionTiming] = field(default_factory=dict)  # by mode


@dataclass(frozen=True)
class Observation:
    """One run's measured seconds for one test."""

    setup: float
    call: float
    teardown: float
    lane: str = ""
    mode: str = ""


def empty(project: str) -> History:
    return History(project=project, run=0, tests={})


def is_seconds(value: Any) -> bool:
    """A duration worth keeping: a number, neither NaN nor negative nor absurdly long (see MAX_SECONDS)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_SECONDS


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def update(
    history: History,
    observed: Mapping[str, Observation],
    *,
    alpha: float | None = None,
    prune_after: int | None = None,
    sessions: Iterable[tuple[str, SessionCost]] = (),
) -> History:
    """One more run: EWMA per phase, so recent runs count most and one slow outlier fades.

    *alpha* and *prune_after* are the configuration's `timings_alpha` and `timings_prune_after` (their
    defaults when None); *sessions*:
    the run's pytest sessions, as (mode, cost), several of one mode averaged first.
    """
    if alpha is None or prune_after is None:
        # The configured defaults; imported here, not at the top: the xdist scheduler reads histories
        # through this module and must not pay for the whole configuration package.
        from ci_toolkit.config import Config

        alpha = Config.timings_alpha if alpha is None else alpha
        prune_after = Config.timings_prune_after if prune_after is None else prune_after
    run = history.run + 1
    flat = entries(history)
    for nodeid, obs in observed.items():
        key = (nodeid, obs.mode)
        if key not in flat and obs.mode and (nodeid, "") in flat:
            # A version-1 entry (mode unknown) was most likely measured as this run is: it takes this mode.
            flat[key] = flat.pop((nodeid, ""))
        old = flat.get(key)
        if old is None:
            flat[key] = TestTiming(obs.setup, obs.call, obs.teardown, 1, run, obs.lane, obs.mode)
        else:
            flat[key] = TestTiming(
                _ewma(alpha, obs.setup, old.setup),
                _ewma(alpha, obs.call, old.call),
                _ewma(alpha, obs.teardown, old.teardown),
                old.runs + 1,
                run,
                obs.lane or old.lane,
                obs.mode,
            )
    kept = {key: t for key, t in flat.items() if run - t.last_seen <= prune_after}
    smoothed = dict(history.sessions)
    by_mode: dict[str, list[SessionCost]] = {}
    for key, cost in sessions:
        by_mode.setdefault(key, []).append(cost)
    for key, costs in by_mode.items():
        startup = sum(c.startup for c in costs) / len(costs)
        setup = sum(c.setup for c in costs) / len(costs)
        old = smoothed.get(key)
        if old is None:
            smoothed[key] = SessionTiming(startup, setup, 1, run)
        else:
            new = (_ewma(alpha, startup, old.startup), _ewma(alpha, setup, old.setup))
            smoothed[key] = SessionTiming(*new, old.runs + 1, run)
    alive = {key: t for key, t in smoothed.items() if run - t.last_seen <= prune_after}
    return build(history.project, run, kept, alive)


def entries(history: History) -> dict[tuple[str, str], TestTiming]:
    """Every entry of `history`, by (node id, mode)."""
    flat = {(nodeid, t.mode): t for nodeid, t in history.tests.items()}
    for nodeid, by_mode in history.other_modes.items():
        flat.update(((nodeid, key), replace(t, mode=key)) for key, t in by_mode.items())
    return flat


def build(
    project: str,
    run: int,
    flat: Mapping[tuple[str, str], TestTiming],
    sessions: Mapping[str, SessionTiming] | None = None,
) -> History:
    """The history of the entries `flat` (see `entries`): each test's freshest entry leads."""
    by_test: dict[str, list[TestTiming]] = {}
    for (nodeid, key), timing in sorted(flat.items()):
        by_test.setdefault(nodeid, []).append(replace(timing, mode=key))
    tests: dict[str, TestTiming] = {}
    others: dict[str, dict[str, TestTiming]] = {}
    for nodeid, group in by_test.items():
        lead = max(group, key=lambda t: (t.last_seen, t.mode))
        tests[nodeid] = lead
        if len(group) > 1:
            others[nodeid] = {t.mode: t for t in group if t is not lead}
    return History(project=project, run=run, tests=tests, other_modes=others, sessions=dict(sessions or {}))


def _ewma(alpha: float, new: float, old: float) -> float:
    return alpha * new + (1 - alpha) * old


def merge(histories: Sequence[History]) -> History:
    """Several shards' or runs' histories of one project as one: the freshest entry of each test in each
    mode wins.

    Shards of one CI run share a run number, so ties are the normal case for tests that ran in two
    shards (e.g. both lanes); they are averaged. So are the sessions of one mode: every shard measured its
    own start-up in that run.
    """
    if not histories:
        raise ValueError("merge() needs at least one history")
    by_entry: dict[tuple[str, str], list[TestTiming]] = {}
    by_mode: dict[str, list[SessionTiming]] = {}
    for history in histories:
        for key, timing in entries(history).items():
            by_entry.setdefault(key, []).append(timing)
        for key, session in history.sessions.items():
            by_mode.setdefault(key, []).append(session)
    flat: dict[tuple[str, str], TestTiming] = {}
    for key, group in by_entry.items():
        best = _newest(group)
        if len(best) == 1:
            flat[key] = best[0]
        else:
            lane = next((t.lane for t in best if t.lane), "")
            flat[key] = replace(
                mean(best), runs=max(t.runs for t in best), last_seen=best[0].last_seen, lane=lane
            )
    sessions: dict[str, SessionTiming] = {}
    for key, found in by_mode.items():
        best = _newest(found)
        sessions[key] = SessionTiming(
            sum(s.startup for s in best) / len(best),
            sum(s.setup for s in best) / len(best),
            max(s.runs for s in best),
            best[0].last_seen,
        )
    return build(histories[0].project, max(h.run for h in histories), flat, sessions)


_Seen = TypeVar("_Seen", TestTiming, SessionTiming)


def _newest(group: Sequence[_Seen]) -> list[_Seen]:
    """The members of *group* last seen in its latest run."""
    newest = max(item.last_seen for item in group)
    return [item for item in group if item.last_seen == newest]


def mean(group: Sequence[TestTiming]) -> TestTiming:
    """The phase-wise mean of *group*, as an estimate: of no run, never seen, in no lane."""
    n = len(group)
    return TestTiming(
        sum(t.setup for t in group) / n,
        sum(t.call for t in group) / n,
        sum(t.teardown for t in group) / n,
        runs=0,
        last_seen=0,
    )
