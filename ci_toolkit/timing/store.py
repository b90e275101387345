"""The timing history file: read, located beside a file that is not ours, written atomically.

The history is a small versioned JSON file::

    {"version": 2, "tool": "ci-toolkit", "project": "app", "run": 12,
     "tests": {"tests/test_a.py::test_x": {"setup": 0.01, "call": 1.25, "teardown": 0.0,
                                           "runs": 12, "last_seen": 12, "lane": "unit", "mode": "branch",
                                           "also": {"off": {"setup": 0.0, "call": 0.4, ...}}}}}

"mode" is what the durations were measured under (ci_toolkit.timing.modes), left out when unknown;
"also" holds the test's entries in other modes, only for a test measured in several. Version 1 had
neither: its entries are read as of unknown mode (""). An optional "sessions" object holds, per mode, what a
pytest session pays besides its tests (smoothing.SessionTiming): {"line": {"startup": 2.1, "setup": 0.4,
"runs": 3, "last_seen": 12}}. Readers that predate it ignore it, so the version stays 2.

A history is advisory: a bad one must never stop a test run, so `load` reports what is wrong with it in
one warning line, once per run, and carries on. A file ci-toolkit cannot use (unreadable, not JSON, another
tool's, another project's, a newer version's) is never written over: `locate` keeps this project's history
beside it instead (`beside`). One malformed entry drops that entry, not the file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.files import atomic
from ci_toolkit.timing.modes import is_mode
from ci_toolkit.timing.observe import durations
from ci_toolkit.timing.reading import (
    REPORTED_ENV,
    Unusable,
    data_error,
    decode,
    parse_json,
    read_bytes,
    short,
    warn,
)
from ci_toolkit.timing.smoothing import (
    MAX_SECONDS,
    History,
    SessionTiming,
    TestTiming,
    build,
    empty,
    is_count,
    is_seconds,
)

HISTORY_VERSION = 2
_READS = (1, HISTORY_VERSION)  # version 1: no modes
TOOL = "ci-toolkit"
_WHAT = "timing history"
_DIGITS = 4  # 0.1 ms: finer than any timer noise worth keeping, and keeps the file diffable


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
        return Located(_read_told(path, project), path)
    except FileNotFoundError:
        return Located(empty(project), path)
    except Unusable as exc:
        reason = f"{path}: {exc}"
    other = beside(path, project)
    try:
        history, dropped = _read(other, project)
    except FileNotFoundError:
        tell(path, f"{reason}; left as it is: this project's history is kept in {other} instead")
        return Located(empty(project), other)
    except Unusable as exc:
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
        return _read_told(path, project)
    except Unusable as exc:
        raise data_error(path, _WHAT, exc) from None


def read_own(path: Path, project: str) -> History:
    """The history a command is about to replace with `project`'s: empty when `path` is missing, and a
    DataError when it holds anything else (a user's file, another project's or a newer ci-toolkit's
    history): a file ci-toolkit cannot read is never written over."""
    try:
        return _read_told(path, project)
    except FileNotFoundError:
        return empty(project)
    except Unusable as exc:
        raise DataError(
            f"{path}: refuse to write over a file that is not ours ({exc}); "
            "name a new file or this project's timing history"
        ) from None


def _read_told(path: Path, project: str | None) -> History:
    """`_read`, saying which malformed entries it dropped."""
    history, dropped = _read(path, project)
    if dropped:
        tell(path, f"{path}: {dropped}")
    return history


def _read(path: Path, project: str | None) -> tuple[History, str]:
    """The history in `path` and a note on the entries dropped ("" for none); FileNotFoundError, or
    Unusable saying why it is not a usable history of `project`."""
    text = decode(read_bytes(path, _WHAT), _WHAT)
    try:
        doc = parse_json(text)
    except Unusable as exc:
        raise Unusable(f"timing history is not valid JSON ({exc})") from None
    history, dropped = _from_json(doc)
    if project is not None and history.project != project:
        raise Unusable(f"timing history is for project {short(history.project)}, not {project!r}")
    return history, dropped


def _from_json(doc: Any) -> tuple[History, str]:
    if not isinstance(doc, dict) or doc.get("tool") != TOOL:
        if durations(doc)[0]:
            raise Unusable(
                "looks like a pytest-split durations file, not a ci-toolkit timing history "
                "(convert it with `ci-toolkit timings import`)"
            )
        raise Unusable("not a ci-toolkit timing history")
    version = doc.get("version")
    if not is_count(version) or version not in _READS:
        raise Unusable(
            f"timing history version {short(version)} is not supported "
            f"(this ci-toolkit reads versions {_READS[0]}-{HISTORY_VERSION})"
        )
    project, run, tests = doc.get("project"), doc.get("run"), doc.get("tests")
    if not isinstance(project, str) or not is_count(run) or not isinstance(tests, dict):
        raise Unusable('malformed timing history (needs "project", "run" and "tests")')
    flat: dict[tuple[str, str], TestTiming] = {}
    bad: list[str] = []
    for nodeid, entry in tests.items():
        try:
            flat.update(((nodeid, t.mode), t) for t in _timings(entry, version))
        except (KeyError, TypeError, ValueError) as exc:
            bad.append(f"{short(nodeid)}: {exc}")
    sessions: dict[str, SessionTiming] = {}
    found = doc.get("sessions", {})
    if not isinstance(found, dict):
        bad.append('"sessions": expected an object of modes')
        found = {}
    for mode, entry in found.items():
        try:
            sessions[mode] = _session(mode, entry)
        except (TypeError, ValueError) as exc:
            bad.append(f"sessions {short(mode)}: {exc}")
    dropped = ""
    if bad:
        entries = "entry" if len(bad) == 1 else "entries"
        dropped = f"{len(bad)} malformed timing history {entries} dropped, e.g. {bad[0]}"
    return build(project, run, flat, sessions), dropped


def _session(mode: Any, entry: Any) -> SessionTiming:
    if not isinstance(entry, dict):
        raise TypeError("expected an object")
    if not is_mode(mode):
        raise ValueError(f"unknown mode {short(mode)}")
    seconds = [entry.get("startup"), entry.get("setup", 0.0)]
    if not all(is_seconds(value) for value in seconds):
        raise ValueError(f"startup and setup must be numbers 0-{MAX_SECONDS:.0f}")
    runs, last_seen = entry.get("runs", 1), entry.get("last_seen", 0)
    if not is_count(runs) or not is_count(last_seen):
        raise ValueError("runs and last_seen must be whole numbers >= 0")
    return SessionTiming(*(float(v) for v in seconds), runs=runs, last_seen=last_seen)


def _timings(entry: Any, version: int) -> list[TestTiming]:
    """A test's entries: its own and, from version 2 on, those in its other modes ("also")."""
    if version == 1:
        return [_timing(entry, "")]
    if not isinstance(entry, dict):
        raise TypeError("expected an object")
    also = entry.get("also", {})
    if not isinstance(also, dict) or not all(isinstance(v, dict) for v in also.values()):
        raise TypeError('"also" must map modes to entries')
    first = _timing(entry, entry.get("mode", ""))
    return [first, *(_timing(other, mode) for mode, other in also.items() if mode != first.mode)]


def _timing(entry: Any, mode: Any) -> TestTiming:
    if not isinstance(entry, dict):
        raise TypeError("expected an object")
    phases = [entry.get(name, 0.0) for name in ("setup", "call", "teardown")]
    if not all(is_seconds(value) for value in phases):
        raise ValueError(f"phase seconds must be numbers 0-{MAX_SECONDS:.0f}")
    runs, last_seen, lane = entry.get("runs", 1), entry.get("last_seen", 0), entry.get("lane", "")
    if not is_count(runs) or not is_count(last_seen) or not isinstance(lane, str):
        raise ValueError("runs and last_seen must be whole numbers >= 0, lane a string")
    if not is_mode(mode):
        raise ValueError(f"unknown mode {short(mode)}")
    return TestTiming(*(float(v) for v in phases), runs=runs, last_seen=last_seen, lane=lane, mode=mode)


def to_json(history: History) -> dict[str, Any]:
    tests: dict[str, dict[str, Any]] = {}
    for nodeid, lead in history.tests.items():
        also = {key: _entry(t) for key, t in history.other_modes.get(nodeid, {}).items() if key != lead.mode}
        mode = {"mode": lead.mode} if lead.mode else {}  # unknown (imported, version 1): as version 1 wrote
        tests[nodeid] = {**_entry(lead), **mode, **({"also": also} if also else {})}
    sessions = {
        mode: {
            "startup": round(t.startup, _DIGITS),
            "setup": round(t.setup, _DIGITS),
            "runs": t.runs,
            "last_seen": t.last_seen,
        }
        for mode, t in sorted(history.sessions.items())
    }
    return {
        "version": HISTORY_VERSION,
        "tool": TOOL,
        "project": history.project,
        "run": history.run,
        "tests": tests,
        **({"sessions": sessions} if sessions else {}),
    }


def _entry(t: TestTiming) -> dict[str, Any]:
    return {
        "setup": round(t.setup, _DIGITS),
        "call": round(t.call, _DIGITS),
        "teardown": round(t.teardown, _DIGITS),
        "runs": t.runs,
        "last_seen": t.last_seen,
        "lane": t.lane,
    }


def save(path: Path, history: History) -> None:
    """Write atomically, keys sorted and one test a line, so that histories diff and merge cleanly. NaN or
    Infinity is a ValueError before anything is written: no reader, ours included, could use the file."""
    atomic.write_text(path, dumps(to_json(history)))


def dumps(doc: dict[str, Any]) -> str:
    """`doc` as JSON with each test's entry on a line of its own. Indenting every level would cost json's
    pure-Python encoder, several times slower than its C one on a history of thousands of tests."""
    encode = json.JSONEncoder(sort_keys=True, allow_nan=False, separators=(", ", ": ")).encode
    lines = [f" {encode(key)}: {encode(value)}" for key, value in sorted(doc.items()) if key != "tests"]
    tests = doc.get("tests", {})
    entries = ",\n".join(f"  {encode(nodeid)}: {encode(tests[nodeid])}" for nodeid in sorted(tests))
    lines.append(f' "tests": {{\n{entries}\n }}' if tests else ' "tests": {}')
    return "{\n" + ",\n".join(lines) + "\n}\n"
