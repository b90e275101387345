"""lanes.json: each lane's marker expression (null: every test), for the pytest that collects for the
lanes check. Written by ci-toolkit, read by the plugin's LaneCollector (`--ci-toolkit-lanes`), and by its
SessionLanes in a session several lanes share (`--ci-toolkit-session-lanes`, with `--ci-toolkit-serial-lane`
for each lane whose tests stay on one worker)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import DataError
from ci_toolkit.run import exchange

if TYPE_CHECKING:
    from ci_toolkit.config import Lane

VERSION = 1
OPTION = "--ci-toolkit-lanes"
SESSION_OPTION = "--ci-toolkit-session-lanes"
SERIAL_OPTION = "--ci-toolkit-serial-lane"
WHAT = "ci-toolkit lanes file"


def spec(lanes: Sequence[Lane]) -> dict[str, str | None]:
    return {lane.name: lane.markers for lane in lanes}


def write(path: Path, lanes: Mapping[str, str | None]) -> None:
    exchange.write(path, {"version": VERSION, "lanes": dict(lanes)})


def read(path: Path) -> dict[str, str | None]:
    """{lane: marker expression or None}; a DataError naming the file when it is not one."""
    try:
        doc = exchange.versioned(exchange.load(path, WHAT), path, WHAT, VERSION, lanes=dict)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    lanes: dict[str, Any] = doc["lanes"]
    if not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in lanes.items()):
        raise DataError(f'{path}: not a version {VERSION} {WHAT}: expected {{"lane": "expression" or null}}')
    return lanes
