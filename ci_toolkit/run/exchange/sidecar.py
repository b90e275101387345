"""The xdist sidecar: {nodeid: xdist_group} of the tests an xdist worker collected, for the duration
scheduler in the controller, which receives node ids only (xdist_group marks are not part of them).

The controller names a directory in each worker's workerinput[KEY]; every worker writes `<worker>.json`
there (the plugin's GroupReporter) before it tells the controller its collection is done; the scheduler
reads the first one (ci_toolkit.pytest_plugin.scheduler): every worker collects the same tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.run import exchange

VERSION = 1
KEY = "ci_toolkit_sidecar"  # in xdist's workerinput: the directory the workers write to
WHAT = "ci-toolkit xdist sidecar"


def write(directory: Path, worker: str, groups: Mapping[str, str]) -> None:
    exchange.write(directory / f"{worker}.json", {"version": VERSION, "groups": dict(groups)})


def read(directory: Path) -> dict[str, str]:
    """The groups the first worker wrote ({} when none has); a DataError when its file is not one."""
    for path in sorted(directory.glob("*.json")):
        try:
            doc = exchange.load(path, WHAT)
        except FileNotFoundError:
            continue  # gone with its worker: another worker's says the same
        groups = exchange.versioned(doc, path, WHAT, VERSION, groups=dict)["groups"]
        if not exchange.strings(groups):
            raise DataError(f"{path}: not a version {VERSION} {WHAT}: groups are not names")
        return groups
    return {}
