"""Timing history: smoothed per-test durations that planning and scheduling estimate from.

The history is a small versioned JSON file::

    {"version": 1, "tool": "ci-toolkit", "project": "app", "run": 12,
     "tests": {"tests/test_a.py::test_x": {"setup": 0.01, "call": 1.25, "teardown": 0.0,
                                           "runs": 12, "last_seen": 12, "lane": "unit"}}}

A history is advisory: a bad one must never stop a test run, so `load` reports what is wrong with it in
one warning line and carries on with an empty history. The core (`update`, `merge`, `Estimator`) is pure.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ci_toolkit import atomic
from ci_toolkit.errors import DataError
from ci_toolkit.results import TestOutcome

HISTORY_VERSION = 1
TOOL = "ci-toolkit"
DEFAULT_CALL = 1.0  # seconds assumed for a test when nothing at all is known
_DIGITS = 4  # 0.1 ms: finer than any timer noise worth keeping, and keeps the file diffable
_COUNTED = frozenset({"passed", "failed", "xfailed", "xpassed"})


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

    @property
    def duration(self) -> float:
        return self.setup + self.call + self.teardown


@dataclass(frozen=True)
class History:
    project: str  # pyproject [project].name, else the root directory's name
    run: int = 0  # runs merged so far (monotonic)
    tests: Mapping[str, TestTiming] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """One run's measured seconds for one test."""

    setup: float
    call: float
    teardown: float
    lane: str = ""


def empty(project: str) -> History:
    return History(project=project, run=0, tests={})


def project_name(root: Path) -> str:
    """What identifies a project's history: pyproject's [project].name, else the root directory's name."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        name = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        name = None
    return name if isinstance(name, str) and name.strip() else root.absolute().name


# -- load / save --------------------------------------------------------------------------------------


def warn(message: str) -> None:
    print(f"ci-toolkit: warning: {message}", file=sys.stderr, flush=True)


def load(path: Path, project: str) -> History:
    """The history in `path`; missing: empty; unusable or another project's: one warning line and empty."""
    try:
        return read(path, project)
    except FileNotFoundError:
        return empty(project)
    except DataError as exc:
        warn(f"{exc}; ignored: no timing history used")
        return empty(project)


def read(path: Path, project: str | None = None) -> History:
    """Strict `load`: raises FileNotFoundError, or DataError (one line naming the file) for bad content.

    `project` None accepts any project (the command that merges shards checks projects itself).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable timing history: {_reason(exc)}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: timing history is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    history = from_json(doc, str(path))
    if project is not None and history.project != project:
        raise DataError(f"{path}: timing history is for project {history.project!r}, not {project!r}")
    return history


def from_json(doc: Any, label: str) -> History:
    if not isinstance(doc, dict) or doc.get("tool") != TOOL:
        if is_durations_file(doc):
            raise DataError(
                f"{label}: looks like a pytest-split durations file, not a ci-toolkit timing history "
                "(convert it with `ci-toolkit timings import`)"
            )
        raise DataError(f"{label}: not a ci-toolkit timing history")
    if doc.get("version") != HISTORY_VERSION:
        raise DataError(
            f"{label}: timing history version {doc.get('version')!r} is not supported "
            f"(this ci-toolkit reads version {HISTORY_VERSION})"
        )
    project, run, tests = doc.get("project"), doc.get("run"), doc.get("tests")
    if not isinstance(project, str) or not _count(run) or not isinstance(tests, dict):
        raise DataError(f'{label}: malformed timing history (needs "project", "run" and "tests")')
    timings: dict[str, TestTiming] = {}
    for nodeid, entry in tests.items():
        try:
            timings[nodeid] = _timing(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{label}: malformed timing history entry {nodeid!r}: {exc}") from None
    return History(project=project, run=run, tests=timings)


def is_durations_file(doc: Any) -> bool:
    """pytest-split's `.test_durations`: {nodeid: seconds}."""
    return (
        isinstance(doc, dict)
        and bool(doc)
        and all(isinstance(k, str) and "::" in k and _seconds(v) for k, v in doc.items())
    )


def _timing(entry: Any) -> TestTiming:
    if not isinstance(entry, dict):
        raise TypeError("expected an object")
    phases = [entry.get(name, 0.0) for name in ("setup", "call", "teardown")]
    if not all(_seconds(value) for value in phases):
        raise ValueError("phase seconds must be numbers >= 0")
    runs, last_seen, lane = entry.get("runs", 1), entry.get("last_seen", 0), entry.get("lane", "")
    if not _count(runs) or not _count(last_seen) or not isinstance(lane, str):
        raise ValueError("runs and last_seen must be whole numbers >= 0, lane a string")
    return TestTiming(*(float(v) for v in phases), runs=runs, last_seen=last_seen, lane=lane)


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def to_json(history: History) -> dict[str, Any]:
    return {
        "version": HISTORY_VERSION,
        "tool": TOOL,
        "project": history.project,
        "run": history.run,
        "tests": {
            nodeid: {
                "setup": round(t.setup, _DIGITS),
                "call": round(t.call, _DIGITS),
                "teardown": round(t.teardown, _DIGITS),
                "runs": t.runs,
                "last_seen": t.last_seen,
                "lane": t.lane,
            }
            for nodeid, t in history.tests.items()
        },
    }


def save(path: Path, history: History) -> None:
    """Write atomically, keys sorted so that histories diff and merge cleanly."""
    atomic.write_text(path, json.dumps(to_json(history), indent=1, sort_keys=True) + "\n")


# -- observations -------------------------------------------------------------------------------------


def observations_from_results(outcomes: Iterable[TestOutcome], lane: str = "") -> dict[str, Observation]:
    """What a run measured. Skips and errors are left out: their times say nothing about a real run."""
    return {
        o.nodeid: Observation(o.setup, o.call, o.teardown, lane) for o in outcomes if o.outcome in _COUNTED
    }


def observations_from_junit(path: Path, root: Path, lane: str = "") -> dict[str, Observation]:
    """Per-test times from pytest's JUnit XML (xunit1 or xunit2), node ids rebuilt against `root`.

    JUnit keeps only each test's total time: it goes into `call`. Skipped and errored cases are left out,
    as are cases whose file cannot be found under `root` (one warning line says how many).
    """
    from junitparser import Error, JUnitXml, JUnitXmlError, Skipped

    try:
        xml = JUnitXml.fromfile(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such JUnit XML file") from None
    except OSError as exc:
        raise DataError(f"{path}: unreadable JUnit XML file: {_reason(exc)}") from None
    except (SyntaxError, JUnitXmlError) as exc:  # ElementTree's ParseError is a SyntaxError
        raise DataError(f"{path}: not a JUnit XML file: {' '.join(str(exc).split())}") from None
    resolver = _NodeIds(root)
    observed: dict[str, Observation] = {}
    unresolved = 0
    for case in (case for suite in xml for case in suite):
        if any(isinstance(r, (Skipped, Error)) for r in case.result):
            continue
        classname, name = case.classname or "", case.name or ""
        if not classname or not name:  # a module that failed or was skipped at collection
            continue
        nodeid = resolver.nodeid(classname, name, case._elem.get("file"))
        if nodeid is None:
            unresolved += 1
            continue
        observed[nodeid] = Observation(0.0, max(case.time or 0.0, 0.0), 0.0, lane)
    if unresolved:
        warn(f"{path}: {unresolved} test case(s) whose file was not found under {root} were skipped")
    return observed


def observations_from_durations(path: Path, lane: str = "") -> dict[str, Observation]:
    """pytest-split's durations file ({nodeid: seconds}); its one number per test goes into `call`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such durations file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable durations file: {_reason(exc)}") from None
    if not is_durations_file(doc):
        raise DataError(f'{path}: not a pytest-split durations file ({{"node id": seconds, ...}})')
    return {nodeid: Observation(0.0, float(seconds), 0.0, lane) for nodeid, seconds in doc.items()}


def observations_from_file(path: Path, root: Path, lane: str = "") -> dict[str, Observation]:
    """JUnit XML or a pytest-split durations file, told apart by their first character."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: unreadable: {_reason(exc)}") from None
    if head.startswith(b"{"):
        return observations_from_durations(path, lane)
    return observations_from_junit(path, root, lane)


class _NodeIds:
    """pytest's JUnit classname back into a node id.

    pytest writes classname = the node id's file path with "/" -> "." and ".py" dropped, then the classes,
    all joined by "."; name = the function name with its parameters. Directory names may contain dots
    themselves, so the split between path and classes is found by walking the real tree under root.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._cache: dict[str, tuple[str, tuple[str, ...]] | None] = {}

    def nodeid(self, classname: str, name: str, file: str | None) -> str | None:
        located = None
        if file:  # xunit1; may name the file a test was inherited from, so it must agree with classname
            path = file.replace("\\", "/")
            module = path[:-3].replace("/", ".") if path.endswith(".py") else ""
            if module and (classname == module or classname.startswith(module + ".")):
                located = (path, tuple(filter(None, classname[len(module) :].split("."))))
        if located is None:
            if classname not in self._cache:
                self._cache[classname] = self._locate(self._root, classname.split("."), "")
            located = self._cache[classname]
        if located is None:
            return None
        path, classes = located
        return "::".join((path, *classes, name))

    def _locate(self, directory: Path, parts: list[str], prefix: str) -> tuple[str, tuple[str, ...]] | None:
        """The longest split of `parts` into an existing .py file (or directory to descend) and classes."""
        for k in range(len(parts), 0, -1):
            head = ".".join(parts[:k])
            if k < len(parts) and (directory / head).is_dir():
                found = self._locate(directory / head, parts[k:], f"{prefix}{head}/")
                if found is not None:
                    return found
            if (directory / f"{head}.py").is_file():
                return f"{prefix}{head}.py", tuple(parts[k:])
        return None


# -- the pure core ------------------------------------------------------------------------------------


def update(
    history: History, observed: Mapping[str, Observation], *, alpha: float = 0.3, prune_after: int = 10
) -> History:
    """One more run: EWMA per phase, so recent runs count most and one slow outlier fades."""
    run = history.run + 1
    tests = dict(history.tests)
    for nodeid, obs in observed.items():
        old = tests.get(nodeid)
        if old is None:
            tests[nodeid] = TestTiming(obs.setup, obs.call, obs.teardown, 1, run, obs.lane)
        else:
            tests[nodeid] = TestTiming(
                _ewma(alpha, obs.setup, old.setup),
                _ewma(alpha, obs.call, old.call),
                _ewma(alpha, obs.teardown, old.teardown),
                old.runs + 1,
                run,
                obs.lane or old.lane,
            )
    kept = {nodeid: t for nodeid, t in tests.items() if run - t.last_seen <= prune_after}
    return History(project=history.project, run=run, tests=dict(sorted(kept.items())))


def _ewma(alpha: float, new: float, old: float) -> float:
    return alpha * new + (1 - alpha) * old


def merge(histories: Sequence[History]) -> History:
    """Several shards' or runs' histories of one project as one: the freshest entry of each test wins.

    Shards of one CI run share a run number, so ties are the normal case for tests that ran in two
    shards (e.g. both lanes); they are averaged.
    """
    if not histories:
        raise ValueError("merge() needs at least one history")
    project = histories[0].project
    by_test: dict[str, list[TestTiming]] = {}
    for history in histories:
        for nodeid, timing in history.tests.items():
            by_test.setdefault(nodeid, []).append(timing)
    tests: dict[str, TestTiming] = {}
    for nodeid, entries in sorted(by_test.items()):
        newest = max(t.last_seen for t in entries)
        best = [t for t in entries if t.last_seen == newest]
        tests[nodeid] = best[0] if len(best) == 1 else _average(best)
    return History(project=project, run=max(h.run for h in histories), tests=tests)


def _average(entries: Sequence[TestTiming]) -> TestTiming:
    n = len(entries)
    return TestTiming(
        sum(t.setup for t in entries) / n,
        sum(t.call for t in entries) / n,
        sum(t.teardown for t in entries) / n,
        max(t.runs for t in entries),
        entries[0].last_seen,
        next((t.lane for t in entries if t.lane), ""),
    )


# -- estimates ----------------------------------------------------------------------------------------

DEFAULT = TestTiming(0.0, DEFAULT_CALL, 0.0, runs=0, last_seen=0)
SOURCES = ("history", "file", "directory", "lane", "global", "default")


class Estimator:
    """Seconds for any node id: its history, else the nearest group of known tests that it belongs to.

    Called for every collected test (thousands), so group means are computed once up front.
    """

    def __init__(self, history: History, lanes: Mapping[str, str] | None = None) -> None:
        self._known = dict(history.tests)
        self._lanes = dict(lanes or {})
        files: dict[str, list[TestTiming]] = {}
        dirs: dict[str, list[TestTiming]] = {}
        by_lane: dict[str, list[TestTiming]] = {}
        for nodeid, timing in self._known.items():
            path = file_of(nodeid)
            files.setdefault(path, []).append(timing)
            for parent in _parents(path):
                dirs.setdefault(parent, []).append(timing)
            lane = self._lanes.get(nodeid) or timing.lane
            if lane:
                by_lane.setdefault(lane, []).append(timing)
        self._files = {key: _mean(group) for key, group in files.items()}
        self._dirs = {key: _mean(group) for key, group in dirs.items()}
        self._by_lane = {key: _mean(group) for key, group in by_lane.items()}
        self._global = _median(list(self._known.values())) if self._known else None
        self._cache: dict[str, tuple[TestTiming, str]] = {}

    def __call__(self, nodeid: str) -> TestTiming:
        return self._lookup(nodeid)[0]

    def source(self, nodeid: str) -> str:
        """Where the estimate comes from: one of SOURCES."""
        return self._lookup(nodeid)[1]

    def _lookup(self, nodeid: str) -> tuple[TestTiming, str]:
        found = self._cache.get(nodeid)
        if found is None:
            found = self._cache[nodeid] = self._estimate(nodeid)
        return found

    def _estimate(self, nodeid: str) -> tuple[TestTiming, str]:
        known = self._known.get(nodeid)
        if known is not None:
            return known, "history"
        path = file_of(nodeid)
        if path in self._files:
            return self._files[path], "file"
        for parent in _parents(path):
            if parent in self._dirs:
                return self._dirs[parent], "directory"
        lane = self._lanes.get(nodeid, "")
        if lane in self._by_lane:
            return self._by_lane[lane], "lane"
        if self._global is not None:
            return self._global, "global"
        return DEFAULT, "default"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _parents(path: str) -> list[str]:
    """Nearest first, without the root: a mean over the whole project is what "global" is for."""
    return [str(parent) for parent in PurePosixPath(path).parents if str(parent) != "."]


def _mean(group: Sequence[TestTiming]) -> TestTiming:
    n = len(group)
    return TestTiming(
        sum(t.setup for t in group) / n,
        sum(t.call for t in group) / n,
        sum(t.teardown for t in group) / n,
        runs=0,
        last_seen=0,
    )


def _median(group: Sequence[TestTiming]) -> TestTiming:
    """The median duration, split into phases like the median test's, so setup-heavy suites stay so."""
    ordered = sorted(group, key=lambda t: (t.duration, t.setup, t.call))
    middle = ordered[(len(ordered) - 1) // 2]
    total = statistics.median(t.duration for t in ordered)
    if middle.duration <= 0:
        return TestTiming(0.0, total, 0.0, runs=0, last_seen=0)
    scale = total / middle.duration
    return TestTiming(middle.setup * scale, middle.call * scale, middle.teardown * scale, runs=0, last_seen=0)
