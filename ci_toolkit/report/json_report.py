"""The machine-readable summary (`--json FILE`, `report --format json`, `<output_dir>/report.json`).

The schema is ci_toolkit.report.model's `to_dict` (documented in docs/reference/json-output.md); this
module keeps the older call shape (lanes, verdict, extra) and writes a summary atomically at the edge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.files import atomic
from ci_toolkit.gate.verdict import Verdict
from ci_toolkit.report import model
from ci_toolkit.run import layout
from ci_toolkit.run.results import LaneResult

SCHEMA_VERSION = model.SCHEMA_VERSION
# Fields of the schema a caller of the older shape passed as `extra`; they fill the report's own fields.
_REPORT_FIELDS = ("exit_code", "services", "services_waited")


def to_dict(
    lanes: Sequence[LaneResult],
    verdict: Verdict | None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary as plain JSON-ready data. *extra* keys go to the top level but may not replace ours."""
    extra = dict(extra or {})
    fields = {key: extra.pop(key) for key in _REPORT_FIELDS if key in extra}
    report = model.build(lanes, verdict, **fields)
    return model.to_dict(model.with_extra(report, extra))


def write(path: Path, data: Mapping[str, Any]) -> None:
    """Write *data* as indented JSON, atomically (a reader never sees half a summary). A regular file is
    replaced only when it is ours (ci_toolkit.outputs: checked before the run, and again now); a device
    or FIFO is written directly. A failure is one line (DataError), never a traceback."""
    from ci_toolkit.files import outputs

    path = Path(path)
    try:
        target, through_proc = atomic.resolve(path)
        problem = None if through_proc or not target.is_file() else outputs.replace_problem(target)
        if problem is not None:
            raise DataError(f"--json {path}: {problem}")
        atomic.write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"--json {path}: cannot write the JSON summary: {exc.strerror or exc}") from None


REPORT_FILE = layout.REPORT


def save(path: Path, report: model.Report) -> None:
    """The report model into `path` (atomically), so that it can be rendered again without a run."""
    atomic.write_text(path, json.dumps(model.to_dict(report), indent=1) + "\n")


def load(path: Path) -> model.Report:
    """A report saved by `save`; every failure is one DataError line naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{path}: no saved report here: run `ci-toolkit local`, `gate` or `merge` first"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: cannot read the saved report: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: the saved report is not valid JSON ({exc})") from None
    return model.from_dict(doc, str(path))
