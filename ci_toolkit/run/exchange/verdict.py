"""lanes-verdict: ci-toolkit's go-ahead, once it has checked the lanes against collected.json.

The pytest that collected (and every lane started meanwhile) waits for it before running any test
(`--ci-toolkit-verdict`). Lanes that are wrong get no verdict: ci-toolkit stops their pytest instead.
"""

from __future__ import annotations

from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.run import exchange

VERSION = 1
OPTION = "--ci-toolkit-verdict"
WHAT = "ci-toolkit lanes verdict"
GO = "go"
TIMEOUT = 300.0  # seconds; ci-toolkit answers within a poll interval of collected.json appearing


def write(path: Path, run_id: str) -> None:
    """Let the pytest processes of run `run_id` go on."""
    exchange.write(path, {"version": VERSION, "run": run_id, "verdict": GO})


def read(path: Path, run_id: str) -> bool | None:
    """True: run `run_id` may go on; False: the go is another run's (never ours to take); None: no
    verdict yet. A DataError when the file is not one this module writes."""
    try:
        doc = exchange.load(path, WHAT)
    except FileNotFoundError:
        return None
    doc = exchange.versioned(doc, path, WHAT, VERSION, run=str, verdict=str)
    if doc["verdict"] != GO:
        raise DataError(f"{path}: not a version {VERSION} {WHAT}: unknown verdict {doc['verdict']!r}")
    return doc["run"] == run_id


def wait(path: Path, run_id: str, timeout: float = TIMEOUT) -> bool:
    """read(), once there is a verdict; a TimeoutError after `timeout` seconds without one."""
    missing = f"{OPTION}={path}: no verdict from ci-toolkit in {timeout:.0f} s"
    return exchange.wait(lambda: read(path, run_id), timeout, missing)
