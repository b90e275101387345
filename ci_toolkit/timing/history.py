"""Timing history: smoothed per-test durations that planning and scheduling estimate from.

The history is a small versioned JSON file::

    {"version": 1, "tool": "ci-toolkit", "project": "app", "run": 12,
     "tests": {"tests/test_a.py::test_x": {"setup": 0.01, "call": 1.25, "teardown": 0.0,
                                           "runs": 12, "last_seen": 12, "lane": "unit"}}}

A history is advisory: a bad one must never stop a test run, so `load` reports what is wrong with it in
one warning line, once per run, and carries on. A file ci-toolkit cannot use (unreadable, not JSON, another
tool's, another project's, a newer version's) is never written over: `locate` keeps this project's history
beside it instead (`beside`). One malformed entry drops that entry, not the file. Every duration from outside
(history, JUnit, pytest-split durations, results files) must be a number of seconds 0-MAX_SECONDS, which
keeps NaN and Infinity out of every file and every sum. The core (`update`, `merge`, `Estimator`) is pure.
"""

from __future__ import annotations

import json
import os
import re
import stat
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from ci_toolkit.errors import DataError
from ci_toolkit.files import atomic
from ci_toolkit.run.results import TestOutcome

HISTORY_VERSION = 1
TOOL = "ci-toolkit"
DEFAULT_CALL = 1.0  # seconds assumed for a test when nothing at all is known
_DIGITS = 4  # 0.1 ms: finer than any timer noise worth keeping, and keeps the file diffable
_COUNTED = frozenset({"passed", "failed", "xfailed", "xpassed"})
# The longest duration taken for a measurement (11.6 days): anything longer, like NaN, Infinity or a
# negative number, is a damaged or hostile input. It also keeps every sum a plan or report makes finite.
MAX_SECONDS = 1_000_000.0
# Set by `ci-toolkit local` for its lanes' pytest: the history it names is reported on by the run itself.
REPORTED_ENV = "CI_TOOLKIT_TIMINGS_REPORTED"


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


def tell(path: Path, message: str) -> None:
    """Warn about the history configured as `path`: once per process, and not at all in the pytest of a
    lane whose ci-toolkit run names `path` in REPORTED_ENV (that run says it once itself)."""
    reported = os.environ.get(REPORTED_ENV)
    if reported and os.path.abspath(reported) == os.path.abspath(path):
        return
    key = f"{os.path.abspath(path)}\0{message}"  # a relative name in the message may mean two files
    if key not in _told:
        _told.add(key)
        warn(message)


_told: set[str] = set()  # what this process has warned about already


class _NotOurs(Exception):
    """A file that is not a usable timing history of the project asked for; str: why, without the path."""


@dataclass(frozen=True)
class Located:
    """A project's timing history and the file it is saved to."""

    history: History
    target: Path | None  # None: neither the configured file nor the one beside it may be written over


def beside(path: Path, project: str) -> Path:
    """Where this project's history goes while `path` holds something ci-toolkit cannot use."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", project).strip("-")[:64] or "project"
    stem = path.stem if path.suffix == ".json" else path.name
    return path.with_name(f"{stem}.ci-toolkit-{slug}.json")


def locate(path: Path, project: str) -> Located:
    """The history configured as `path`, or, when `path` holds anything but a history of `project` that
    this ci-toolkit can read, the one beside it (never written over: it may be a user's file, another
    project's history or a newer ci-toolkit's). One warning line, once per run, says which; a missing
    file is an empty history without a word."""
    try:
        history, dropped = _read(path, project)
    except FileNotFoundError:
        return Located(empty(project), path)
    except _NotOurs as exc:
        reason = f"{path}: {exc}"
    else:
        if dropped:
            tell(path, f"{path}: {dropped}")
        return Located(history, path)
    other = beside(path, project)
    try:
        history, dropped = _read(other, project)
    except FileNotFoundError:
        tell(path, f"{reason}; left as it is: this project's history is kept in {other} instead")
        return Located(empty(project), other)
    except _NotOurs as exc:
        tell(
            path,
            f"{reason}; {other}: {exc}; both left as they are: no timing history used or saved "
            "(move one away)",
        )
        return Located(empty(project), None)
    tell(path, f"{reason}; left as it is: this project's history is read from and saved to {other}")
    if dropped:
        tell(path, f"{other}: {dropped}")
    return Located(history, other)


def load(path: Path, project: str) -> History:
    """The project's history for readers (see `locate`): never fails, at worst empty."""
    return locate(path, project).history


def read(path: Path, project: str | None = None) -> History:
    """Strict `load` of exactly `path`: FileNotFoundError, or DataError (one line naming the file) when
    it is not a usable history. Malformed entries are dropped with one warning line.

    `project` None accepts any project (the command that merges shards checks projects itself).
    """
    try:
        history, dropped = _read(path, project)
    except _NotOurs as exc:
        raise DataError(f"{path}: {exc}") from None
    if dropped:
        tell(path, f"{path}: {dropped}")
    return history


def read_own(path: Path, project: str) -> History:
    """The history a command is about to replace with `project`'s: empty when `path` is missing, and a
    DataError when it holds anything else (a user's file, another project's or a newer ci-toolkit's
    history): a file ci-toolkit cannot read is never written over."""
    try:
        return read(path, project)
    except FileNotFoundError:
        return empty(project)
    except DataError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise DataError(
            f"{path}: refuse to write over a file that is not ours ({reason}); "
            "name a new file or this project's timing history"
        ) from None


def _read(path: Path, project: str | None) -> tuple[History, str]:
    """The history in `path` and a note on the entries dropped ("" for none)."""
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO or a device: reading may never end
            raise _NotOurs("unreadable timing history: not a regular file")
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # "a/h.json" where a is a file: no such history
        raise FileNotFoundError(path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _NotOurs(f"unreadable timing history: {_reason(exc)}") from None
    try:
        doc = _json(text)
    except _NotOurs as exc:
        raise _NotOurs(f"timing history is not valid JSON ({exc})") from None
    history, dropped = _from_json(doc)
    if project is not None and history.project != project:
        raise _NotOurs(f"timing history is for project {_short(history.project)}, not {project!r}")
    return history, dropped


def _json(text: str) -> Any:
    """json.loads; _NotOurs saying why not, for any text (json raises more than JSONDecodeError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _NotOurs(f"{exc.msg} at line {exc.lineno}") from None
    except ValueError:  # an integer of more digits than int() takes
        raise _NotOurs("a number too long") from None
    except RecursionError:
        raise _NotOurs("nested too deeply") from None


def _from_json(doc: Any) -> tuple[History, str]:
    if not isinstance(doc, dict) or doc.get("tool") != TOOL:
        if _durations(doc)[0]:
            raise _NotOurs(
                "looks like a pytest-split durations file, not a ci-toolkit timing history "
                "(convert it with `ci-toolkit timings import`)"
            )
        raise _NotOurs("not a ci-toolkit timing history")
    if doc.get("version") != HISTORY_VERSION:
        raise _NotOurs(
            f"timing history version {_short(doc.get('version'))} is not supported "
            f"(this ci-toolkit reads version {HISTORY_VERSION})"
        )
    project, run, tests = doc.get("project"), doc.get("run"), doc.get("tests")
    if not isinstance(project, str) or not _count(run) or not isinstance(tests, dict):
        raise _NotOurs('malformed timing history (needs "project", "run" and "tests")')
    timings: dict[str, TestTiming] = {}
    bad: list[str] = []
    for nodeid, entry in tests.items():
        try:
            timings[nodeid] = _timing(entry)
        except (KeyError, TypeError, ValueError) as exc:
            bad.append(f"{_short(nodeid)}: {exc}")
    dropped = ""
    if bad:
        entries = "entry" if len(bad) == 1 else "entries"
        dropped = f"{len(bad)} malformed timing history {entries} dropped, e.g. {bad[0]}"
    return History(project=project, run=run, tests=timings), dropped


def _durations(doc: Any) -> tuple[dict[str, float], list[str]]:
    """A pytest-split durations document's usable {nodeid: seconds} and the node ids of its bad values
    ({}, [] when the document is no such file: an object whose keys are all node ids)."""
    if not isinstance(doc, dict) or not doc or not all(isinstance(k, str) and "::" in k for k in doc):
        return {}, []
    found = {nodeid: float(value) for nodeid, value in doc.items() if _seconds(value)}
    return found, [nodeid for nodeid in doc if nodeid not in found]


def _timing(entry: Any) -> TestTiming:
    if not isinstance(entry, dict):
        raise TypeError("expected an object")
    phases = [entry.get(name, 0.0) for name in ("setup", "call", "teardown")]
    if not all(_seconds(value) for value in phases):
        raise ValueError(f"phase seconds must be numbers 0-{MAX_SECONDS:.0f}")
    runs, last_seen, lane = entry.get("runs", 1), entry.get("last_seen", 0), entry.get("lane", "")
    if not _count(runs) or not _count(last_seen) or not isinstance(lane, str):
        raise ValueError("runs and last_seen must be whole numbers >= 0, lane a string")
    return TestTiming(*(float(v) for v in phases), runs=runs, last_seen=last_seen, lane=lane)


def _seconds(value: Any) -> bool:
    """A duration worth keeping: a number, neither NaN nor negative nor absurdly long (see MAX_SECONDS)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_SECONDS


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _short(value: Any) -> str:
    """repr() for a message line (see _clip)."""
    return _clip(repr(value))


def _clip(text: str) -> str:
    """At most 80 characters: a hostile file must not make a message line a megabyte long."""
    return text if len(text) <= 80 else text[:77] + "..."


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
    """Write atomically, keys sorted so that histories diff and merge cleanly. NaN or Infinity is a
    ValueError before anything is written: no reader, ours included, could use the file."""
    text = json.dumps(to_json(history), indent=1, sort_keys=True, allow_nan=False)
    atomic.write_text(path, text + "\n")


# -- observations -------------------------------------------------------------------------------------


def observations_from_results(outcomes: Iterable[TestOutcome], lane: str = "") -> dict[str, Observation]:
    """What a run measured. Skips and errors are left out: their times say nothing about a real run; so
    are outcomes whose durations are not seconds (a damaged results file)."""
    return {
        o.nodeid: Observation(o.setup, o.call, o.teardown, lane)
        for o in outcomes
        if o.outcome in _COUNTED and all(_seconds(v) for v in (o.setup, o.call, o.teardown))
    }


def observations_from_junit(path: Path, root: Path, lane: str = "") -> dict[str, Observation]:
    """Per-test times from pytest's JUnit XML (xunit1 or xunit2), node ids rebuilt against `root`.

    JUnit keeps only each test's total time: it goes into `call`. Skipped and errored cases are left out,
    as are cases whose file cannot be found under `root` or whose time is not a number of seconds (one
    warning line each says how many). A file none of whose cases is usable for those reasons is a
    DataError.
    """
    from junitparser import Error, JUnitXml, JUnitXmlError, Skipped

    try:
        xml = JUnitXml.fromfile(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such JUnit XML file") from None
    except OSError as exc:
        raise DataError(f"{path}: unreadable JUnit XML file: {_reason(exc)}") from None
    except (SyntaxError, JUnitXmlError) as exc:  # ElementTree's ParseError is a SyntaxError
        raise DataError(f"{path}: not a JUnit XML file: {_clip(' '.join(str(exc).split()))}") from None
    except RecursionError:
        raise DataError(f"{path}: not a JUnit XML file: nested too deeply") from None
    resolver = _NodeIds(root)
    observed: dict[str, Observation] = {}
    unresolved = 0
    bad_times: list[str] = []
    for case in (case for suite in xml for case in suite):
        if any(isinstance(r, (Skipped, Error)) for r in case.result):
            continue
        classname, name = case.classname or "", case.name or ""
        if not classname or not name:  # a module that failed or was skipped at collection
            continue
        seconds = _junit_time(case._elem.get("time"))
        if seconds is None:
            bad_times.append(case._elem.get("time"))
            continue
        nodeid = resolver.nodeid(classname, name, case._elem.get("file"))
        if nodeid is None:
            unresolved += 1
            continue
        observed[nodeid] = Observation(0.0, seconds, 0.0, lane)
    problems = []
    if bad_times:
        problems.append(
            f"{len(bad_times)} test case(s) with a time that is not a number of seconds "
            f'0-{MAX_SECONDS:.0f} were skipped (e.g. "{_clip(bad_times[0])}")'
        )
    if unresolved:
        problems.append(f"{unresolved} test case(s) whose file was not found under {root} were skipped")
    if problems and not observed:
        raise DataError(f"{path}: no usable test time: " + "; ".join(problems))
    for problem in problems:
        warn(f"{path}: {problem}")
    return observed


def _junit_time(text: str | None) -> float | None:
    """JUnit's time= in seconds (absent: 0), None unless a number of seconds (see _seconds)."""
    if text is None:
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if _seconds(seconds) else None


def observations_from_durations(path: Path, lane: str = "") -> dict[str, Observation]:
    """pytest-split's durations file ({nodeid: seconds}); its one number per test goes into `call`.
    Values that are not seconds are dropped with one warning line; a file of nothing else is an error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such durations file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable durations file: {_reason(exc)}") from None
    try:
        doc = _json(text)
    except _NotOurs as exc:
        raise DataError(f"{path}: unreadable durations file: {exc}") from None
    found, bad = _durations(doc)
    if not found:
        raise DataError(f'{path}: not a pytest-split durations file ({{"node id": seconds, ...}})')
    if bad:
        warn(
            f"{path}: {len(bad)} duration(s) that are not a number of seconds 0-{MAX_SECONDS:.0f} were "
            f"skipped (e.g. {_short(bad[0])}: {_short(doc[bad[0]])})"
        )
    return {nodeid: Observation(0.0, seconds, 0.0, lane) for nodeid, seconds in found.items()}


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
    themselves, so the split between path and classes is found by walking the real tree under root:
    only names that are there are tried, each (directory, position) once, so a classname of thousands
    of parts, or a tree with symlink loops, costs no more than the tree it walks.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._cache: dict[str, _Split | None] = {}
        self._listings: dict[str, list[_Entry]] = {}

    def nodeid(self, classname: str, name: str, file: str | None) -> str | None:
        located = None
        if file:  # xunit1; may name the file a test was inherited from, so it must agree with classname
            path = file.replace("\\", "/")
            module = path[:-3].replace("/", ".") if path.endswith(".py") else ""
            if module and (classname == module or classname.startswith(module + ".")):
                located = (path, tuple(filter(None, classname[len(module) :].split("."))))
        if located is None:
            if classname not in self._cache:
                self._cache[classname] = self._locate(classname.split("."))
            located = self._cache[classname]
        if located is None:
            return None
        path, classes = located
        return "::".join((path, *classes, name))

    def _locate(self, parts: list[str]) -> _Split | None:
        """The split of `parts` into an existing .py file (reached through directories) and classes: at
        each level the entry that takes the most parts first, a directory before a module of that name.
        Depth first, with a stack of its own (a deep tree must not reach the recursion limit)."""
        stack: list[_Step] = [_Step(self._root, 0, "")]
        seen: set[tuple[tuple[int, int], int]] = set()
        while stack:
            step = stack.pop()
            if step.found is not None:
                return step.found
            options: list[tuple[int, int, _Step]] = []
            for entry in self._listing(step.directory):
                end = step.taken + len(entry.words)
                if tuple(parts[step.taken : end]) != entry.words:
                    continue
                name, prefix = ".".join(entry.words), step.prefix
                if entry.identity is None:
                    options.append((end, 0, _Step(found=(f"{prefix}{name}.py", tuple(parts[end:])))))
                elif end < len(parts) and (entry.identity, end) not in seen:
                    seen.add((entry.identity, end))  # reached again by another way: it fails again
                    options.append((end, 1, _Step(step.directory / name, end, f"{prefix}{name}/")))
            # The most parts, and then a directory, must come off the stack first.
            stack.extend(option for _, _, option in sorted(options, key=lambda o: (o[0], o[1])))
        return None

    def _listing(self, directory: Path) -> list[_Entry]:
        """The subdirectories and .py files in `directory`; none when it cannot be listed (gone, a path
        too long, a symlink loop)."""
        key = str(directory)
        if key not in self._listings:
            try:
                with os.scandir(directory) as entries:
                    self._listings[key] = [found for entry in entries if (found := _entry(entry))]
            except OSError:
                self._listings[key] = []
        return self._listings[key]


_Split = tuple[str, tuple[str, ...]]  # (the test file's path, the classes in it)


class _Entry(NamedTuple):
    words: tuple[str, ...]  # the name split at dots (a module's without ".py")
    identity: tuple[int, int] | None  # a directory's (device, inode); None: a module


class _Step(NamedTuple):
    directory: Path = Path()
    taken: int = 0  # parts of the classname that `directory` accounts for
    prefix: str = ""  # `directory` relative to the root, with a trailing "/"
    found: _Split | None = None  # the answer, once a module is reached


def _entry(entry: os.DirEntry[str]) -> _Entry | None:
    try:
        if entry.is_dir():
            info = entry.stat()
            return _Entry(tuple(entry.name.split(".")), (info.st_dev, info.st_ino))
        if entry.name.endswith(".py") and entry.is_file():
            return _Entry(tuple(entry.name[:-3].split(".")), None)
    except OSError:
        pass
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
