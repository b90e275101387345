"""run.json: which shard a run was and how long each lane took, for `ci-toolkit split-report`.

Written by the runner at the end of every `ci-toolkit local` run; read back from a shard's output dir.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import DataError
from ci_toolkit.files.atomic import write_text

if TYPE_CHECKING:
    from ci_toolkit.run.results import LaneResult

NAME = "run.json"
VERSION = 1


@dataclass(frozen=True)
class RunRecord:
    shard: int
    shards: int
    lanes: Mapping[str, float]  # lane -> wall time, seconds


def to_json(results: Sequence[LaneResult], shard: tuple[int, int] | None) -> dict[str, Any]:
    return {
        "version": VERSION,
        "shard": None if shard is None else shard[0],
        "shards": None if shard is None else shard[1],
        "wall_time": round(sum(lane.wall_time for lane in results), 4),
        "lanes": {lane.name: round(lane.wall_time, 4) for lane in results},
    }


def write(path: Path, results: Sequence[LaneResult], shard: tuple[int, int] | None) -> None:
    write_text(path, json.dumps(to_json(results, shard), indent=1, allow_nan=False) + "\n")


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a shard's output dir; every failure one DataError line naming `path`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no {what} here: is this the output dir of a `local --shard` run?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what}: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: {what} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError:  # an integer of more digits than int() takes
        raise DataError(f"{path}: {what} is not valid JSON (a number too long)") from None
    except RecursionError:
        raise DataError(f"{path}: {what} is not valid JSON (nested too deeply)") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: not a ci-toolkit {what}")
    return doc


def read(path: Path) -> RunRecord:
    """A sharded run's record; DataError for an unsharded run, another version, or a malformed file."""
    from ci_toolkit.timing.smoothing import MAX_SECONDS

    run = read_json(path, "run record")
    if run.get("version") != VERSION:
        raise DataError(
            f"{path}: run record version {json.dumps(run.get('version'))}, this ci-toolkit reads {VERSION}; "
            "rerun the shard with this version"
        )
    index, shards, lanes = run.get("shard"), run.get("shards"), run.get("lanes")
    if index is None:
        raise DataError(f"{path}: not a sharded run; run `ci-toolkit local --shard K/N`")
    if not (_whole(index) and _whole(shards) and 1 <= index <= shards and isinstance(lanes, dict)):
        raise DataError(f'{path}: malformed run record (needs "shard", "shards" and "lanes")')
    seconds: dict[str, float] = {}
    for lane, value in lanes.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
            raise DataError(f"{path}: lane {lane}: wall time must be a number of seconds 0-{MAX_SECONDS:.0f}")
        seconds[str(lane)] = float(value)
    return RunRecord(index, shards, seconds)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
