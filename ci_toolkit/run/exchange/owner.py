"""Which ci-toolkit process and run a pytest child belongs to.

`--ci-toolkit-run=ID` names the run: every file in this package carries its id, and a file of another run
is never taken for this one's. `--ci-toolkit-parent=PID` ties the child to the ci-toolkit process: it dies
with it. xdist's workers are handed their controller's options too, but their parent is the controller:
it passes its own pid to them in CI_TOOLKIT_PARENT_PID.
"""

from __future__ import annotations

import os
import uuid

from ci_toolkit.errors import DataError

RUN_OPTION = "--ci-toolkit-run"
PARENT_OPTION = "--ci-toolkit-parent"
PARENT_ENV = "CI_TOOLKIT_PARENT_PID"  # the xdist controller's pid, for its workers


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def args(run_id: str) -> list[str]:
    """Ties a pytest to this process and run: it dies with us (even when we are SIGKILLed), takes no other
    run's verdict, and writes nothing another run would take for its own."""
    return [f"{PARENT_OPTION}={os.getpid()}", f"{RUN_OPTION}={run_id}"]


def parse_pid(text: str, label: str = PARENT_OPTION) -> int:
    try:
        pid = int(text)
    except ValueError:
        pid = 0
    if pid < 1:
        raise DataError(f"{label}={text}: expected a process id")
    return pid
