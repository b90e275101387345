"""What a run measured, as observations to fold into a history: from a run's results, from JUnit XML, or
from a pytest-split durations file (`ci-toolkit timings import`).

Skipped and errored tests are left out: their times say nothing about a real run; so are times that are not
a number of seconds (see `is_seconds`). A file with nothing usable in it is a DataError.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import DataError
from ci_toolkit.timing.nodeids import NodeIds
from ci_toolkit.timing.reading import Unusable, clip, data_error, decode, parse_json, read_bytes, short, warn
from ci_toolkit.timing.sessions import own_phases
from ci_toolkit.timing.smoothing import MAX_SECONDS, Observation, is_seconds

if TYPE_CHECKING:
    from ci_toolkit.run.results import TestOutcome

_COUNTED = frozenset({"passed", "failed", "xfailed", "xpassed"})
_JUNIT = "JUnit XML file"
_DURATIONS = "durations file"


def observations_from_results(
    outcomes: Iterable[TestOutcome], lane: str = "", mode: str = ""
) -> dict[str, Observation]:
    """What a run measured, in `mode` (ci_toolkit.timing.modes). Skips and errors are left out: their
    times say nothing about a real run; so are outcomes whose durations are not seconds (a damaged
    results file). What the session paid rather than the test is taken off it (`sessions.own_phases`)."""
    usable = [o for o in outcomes if all(is_seconds(v) for v in (o.setup, o.call, o.teardown))]
    return {
        nodeid: Observation(o.setup, o.call, o.teardown, lane, mode)
        for nodeid, o in own_phases(usable, _COUNTED).items()
    }


def observations_from_file(path: Path, root: Path, lane: str = "") -> dict[str, Observation]:
    """JUnit XML or a pytest-split durations file, told apart by their first character."""
    data = _read(path, "")
    if data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _from_durations(path, data, lane)
    return _from_junit(path, data, root, lane)


def observations_from_junit(path: Path, root: Path, lane: str = "") -> dict[str, Observation]:
    """Per-test times from pytest's JUnit XML (xunit1 or xunit2), node ids rebuilt against `root`.

    JUnit keeps only each test's total time: it goes into `call`. Skipped and errored cases are left out,
    as are cases whose file cannot be found under `root` or whose time is not a number of seconds (one
    warning line each says how many). A file none of whose cases is usable for those reasons is a
    DataError.
    """
    return _from_junit(path, _read(path, _JUNIT), root, lane)


def observations_from_durations(path: Path, lane: str = "") -> dict[str, Observation]:
    """pytest-split's durations file ({nodeid: seconds}); its one number per test goes into `call`.
    Values that are not seconds are dropped with one warning line; a file of nothing else is an error."""
    return _from_durations(path, _read(path, _DURATIONS), lane)


def _read(path: Path, what: str) -> bytes:
    try:
        return read_bytes(path, what)
    except (FileNotFoundError, Unusable) as exc:
        raise data_error(path, what, exc) from None


def _from_junit(path: Path, data: bytes, root: Path, lane: str) -> dict[str, Observation]:
    from junitparser import Error, JUnitXml, JUnitXmlError, Skipped

    try:
        xml = JUnitXml.fromstring(data)
    except (SyntaxError, JUnitXmlError) as exc:  # ElementTree's ParseError is a SyntaxError
        raise DataError(f"{path}: not a {_JUNIT}: {clip(' '.join(str(exc).split()))}") from None
    except RecursionError:
        raise DataError(f"{path}: not a {_JUNIT}: nested too deeply") from None
    resolver = NodeIds(root)
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
            f'0-{MAX_SECONDS:.0f} were skipped (e.g. "{clip(bad_times[0])}")'
        )
    if unresolved:
        problems.append(f"{unresolved} test case(s) whose file was not found under {root} were skipped")
    if problems and not observed:
        raise DataError(f"{path}: no usable test time: " + "; ".join(problems))
    for problem in problems:
        warn(f"{path}: {problem}")
    return observed


def _junit_time(text: str | None) -> float | None:
    """JUnit's time= in seconds (absent: 0), None unless a number of seconds (see is_seconds)."""
    if text is None:
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if is_seconds(seconds) else None


def _from_durations(path: Path, data: bytes, lane: str) -> dict[str, Observation]:
    try:
        doc = parse_json(decode(data, _DURATIONS, "utf-8-sig"), _DURATIONS)
    except Unusable as exc:
        raise data_error(path, _DURATIONS, exc) from None
    found, bad = durations(doc)
    if not found:
        raise DataError(f'{path}: not a pytest-split durations file ({{"node id": seconds, ...}})')
    if bad:
        warn(
            f"{path}: {len(bad)} duration(s) that are not a number of seconds 0-{MAX_SECONDS:.0f} were "
            f"skipped (e.g. {short(bad[0])}: {short(doc[bad[0]])})"
        )
    return {nodeid: Observation(0.0, seconds, 0.0, lane) for nodeid, seconds in found.items()}


def durations(doc: Any) -> tuple[dict[str, float], list[str]]:
    """A pytest-split durations document's usable {nodeid: seconds} and the node ids of its bad values
    ({}, [] when the document is no such file: an object whose keys are all node ids)."""
    if not isinstance(doc, dict) or not doc or not all(isinstance(k, str) and "::" in k for k in doc):
        return {}, []
    found = {nodeid: float(value) for nodeid, value in doc.items() if is_seconds(value)}
    return found, [nodeid for nodeid in doc if nodeid not in found]
