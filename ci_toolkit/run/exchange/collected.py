"""collected.json: which lanes select each collected test, and the xdist group of those that have one.

Written by the plugin's LaneCollector (`--ci-toolkit-collect`) in the pytest that collects for the lanes
check; read by ci-toolkit, which polls for it while that pytest waits for the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.run import exchange

VERSION = 1
OPTION = "--ci-toolkit-collect"
WHAT = "ci-toolkit lane assignment"


@dataclass(frozen=True)
class Collected:
    tests: dict[str, tuple[str, ...]]  # nodeid -> names of the lanes selecting it, in collection order
    groups: dict[str, str]  # nodeid -> xdist_group name, for the tests that have one


def write(path: Path, run_id: str, tests: Mapping[str, Sequence[str]], groups: Mapping[str, str]) -> None:
    doc = {
        "version": VERSION,
        "run": run_id,
        "tests": {nodeid: list(lanes) for nodeid, lanes in tests.items()},
        "groups": dict(groups),
    }
    exchange.write(path, doc)


def read(path: Path, run_id: str) -> Collected | None:
    """What a pytest of run `run_id` wrote; None while there is nothing (or only another run's file).
    A DataError when the file is not one this module writes."""
    try:
        doc = exchange.load(path, WHAT)
    except FileNotFoundError:
        return None
    if isinstance(doc, dict) and doc.get("run") != run_id:
        return None  # another run's, whatever it holds: never ours to judge
    doc = exchange.versioned(doc, path, WHAT, VERSION, tests=dict, groups=dict)
    tests = doc["tests"]
    if not all(
        isinstance(lanes, list) and all(isinstance(n, str) for n in lanes) for lanes in tests.values()
    ):
        raise DataError(f"{path}: not a version {VERSION} {WHAT}: a test's lanes are not a list of names")
    if not exchange.strings(doc["groups"]):
        raise DataError(f"{path}: not a version {VERSION} {WHAT}: groups are not names")
    return Collected({nodeid: tuple(lanes) for nodeid, lanes in tests.items()}, doc["groups"])
