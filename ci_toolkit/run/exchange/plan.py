"""plan.json: the shard plan (a ci_toolkit.planning manifest) a lane's pytest selects its share from.

Written by `ci-toolkit local --shard` for its lanes (and by `ci-toolkit plan --manifest` for CI jobs), read
by the plugin's ShardSelector (`--ci-plan`). The manifest's fields and version are ci_toolkit.planning's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import DataError
from ci_toolkit.files.atomic import write_text

if TYPE_CHECKING:
    from ci_toolkit.planning import Plan

OPTION = "--ci-plan"


def dumps(plan: Plan) -> str:
    from ci_toolkit import planning

    return json.dumps(planning.to_json(plan), indent=2, allow_nan=False) + "\n"


def write(path: Path, plan: Plan) -> None:
    write_text(path, dumps(plan))


def read(path: Path, label: str | None = None) -> Plan:
    """The manifest's Plan; any problem is one DataError line starting with `label` (default: the path)."""
    from ci_toolkit import planning

    label = str(path) if label is None else label
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{label}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DataError(f"{label}: cannot read: {reason}") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
        raise DataError(f"{label}: not a plan manifest: not JSON ({exc})") from None
    return planning.from_json(doc, label)
