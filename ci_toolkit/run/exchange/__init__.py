"""The files ci-toolkit and the pytest processes it starts hand each other: one module a file, each with
its writer and its reader side by side, its VERSION, and a DataError naming the file when what is read is
not what the writer writes.

    owner.py       the run id and the parent pid every child is tied to (options, CI_TOOLKIT_PARENT_PID)
    lanes.py       lanes.json: each lane's marker expression, for the child that collects
    collected.py   collected.json: which lanes select each collected test, and its xdist group
    verdict.py     lanes-verdict: the go-ahead after the lanes check
    results.py     results/<lane>.json: every test's outcome and durations, and what the session did
    plan.py        plan.json: the shard plan a lane's pytest selects its share from
    sidecar.py     the xdist workers' groups, for the duration scheduler in the controller
    worker_env.py  CI_TOOLKIT_WORKER_ENV: each xdist worker's own values of the services' variables
    services_env.py  a lane's services' variables, for its pytest started before they were ready

Every file carries the id of the run it belongs to, so that a pytest of an earlier run (one that outlived
a killed ci-toolkit for a moment) never takes this run's word for its own, nor this run its word.

Light on purpose: the plugin imports these in every pytest ci-toolkit starts, so nothing here imports
click, pytest, coverage or the services at module level.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ci_toolkit.errors import DataError
from ci_toolkit.files.atomic import write_text

POLL = 0.01  # seconds between looks for a file another process writes
_T = TypeVar("_T")


def dumps(doc: Any) -> str:
    # Not indented: only programs read these, and indenting takes json's pure-Python encoder, several
    # times slower than its C one, at the end of every pytest session (the results of every test).
    return json.dumps(doc, allow_nan=False) + "\n"


def write(path: Path, doc: Any) -> None:
    """Atomically: a reader polling for the file sees all of it or nothing."""
    write_text(path, dumps(doc))


def load(path: Path, what: str) -> Any:
    """The JSON document at `path`. FileNotFoundError passes through (whether a missing file is an
    error is the reader's call); anything else unreadable is a DataError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # Recursion: nested deep
        raise DataError(f"{path}: unreadable {what}: {exc}") from None


def versioned(doc: Any, path: Path, what: str, version: int, **shape: type) -> dict[str, Any]:
    """`doc`, once it is an object of `version` whose `shape` keys hold those types; else a DataError."""
    if (
        not isinstance(doc, dict)
        or doc.get("version") != version
        or not all(isinstance(doc.get(key), kind) for key, kind in shape.items())
    ):
        raise DataError(f"{path}: not a version {version} {what}")
    return doc


def strings(value: Any) -> bool:
    """Whether `value` is a {str: str} mapping."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def wait(read: Callable[[], _T | None], timeout: float, missing: str) -> _T:
    """The first answer of `read` (a module's reader of one file) that is not None, looked for every POLL
    seconds; a TimeoutError saying `missing` after `timeout` seconds without one."""
    deadline = time.monotonic() + timeout
    while (found := read()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(missing)
        time.sleep(POLL)
    return found
