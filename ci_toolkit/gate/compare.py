"""The delta against a saved verdict (--compare FILE): the total's change and the files that changed.

The saved verdict is the `--json` output of `local`, `merge` or `gate` on the default branch. `read`
checks it and keeps what a delta needs (`Baseline`); `delta` is pure. A file that is not such a verdict is
one DataError line, never a delta against nonsense.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import DataError
from ci_toolkit.gate.measured import Measure

if TYPE_CHECKING:
    from ci_toolkit.gate.verdict import Verdict

# Checks that name one file and carry its measure: all a verdict saved without a file list says per file.
_FILE_KINDS = ("file", "critical")


@dataclass(frozen=True)
class FileDelta:
    path: str
    before: float | None  # percent; None: the file was not measured on that side
    after: float | None


@dataclass(frozen=True)
class Delta:
    total_before: float
    total_after: float
    files: tuple[FileDelta, ...]  # only the files whose coverage changed

    @property
    def total_change(self) -> float:
        return self.total_after - self.total_before


@dataclass(frozen=True)
class Baseline:
    """What a saved verdict says: the total and each file's measure."""

    total: Measure
    files: Mapping[str, Measure]
    complete: bool  # True: every measured file is listed; False: only the files that had a check


def _not_a_verdict(path: Path, why: str) -> DataError:
    return DataError(
        f"--compare {path}: {why}; expected the --json output of `ci-toolkit local`, `merge` or `gate`"
    )


def _measure(entry: Any) -> Measure | None:
    if not isinstance(entry, Mapping):
        return None
    covered, total = entry.get("covered"), entry.get("total")
    ok = all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (covered, total))
    return Measure(covered, total) if ok and covered <= total else None


def _files(path: Path, coverage: Mapping[str, Any]) -> tuple[dict[str, Measure], bool]:
    listed = coverage.get("files")
    complete = isinstance(listed, list)
    entries = listed if complete else coverage.get("checks", [])
    if not isinstance(entries, list):
        raise _not_a_verdict(path, '"coverage.checks" is not a list')
    files: dict[str, Measure] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise _not_a_verdict(path, f"coverage entry {i} is not an object")
        if not complete and entry.get("kind") not in _FILE_KINDS:
            continue
        name = entry.get("path", entry.get("subject"))
        measure = _measure(entry)
        if not isinstance(name, str) or measure is None:
            raise _not_a_verdict(path, f"coverage entry {i} has no path with covered <= total counts")
        files[name] = measure
    return files, complete


def parse(doc: Any, path: Path) -> Baseline:
    """A parsed verdict document into its `Baseline` (see `read`)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("schema_version"), int):
        raise _not_a_verdict(path, "not a ci-toolkit verdict (no schema_version)")
    coverage = doc.get("coverage")
    if not isinstance(coverage, Mapping):
        raise _not_a_verdict(path, "that run judged no coverage")
    total = _measure(coverage.get("total"))
    if total is None:
        raise _not_a_verdict(path, '"coverage.total" has no covered <= total counts')
    files, complete = _files(path, coverage)
    return Baseline(total=total, files=files, complete=complete)


def read(path: Path) -> Baseline:
    """The saved verdict at *path*, or one line saying why it cannot be compared against."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataError(f"--compare {path}: cannot read it ({why})") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _not_a_verdict(path, "not JSON") from None
    return parse(doc, path)


def _percent(measure: Measure | None) -> float | None:
    return None if measure is None else measure.percent


def delta(before: Baseline, after: Verdict) -> Delta:
    """The change from *before* to *after*: the total, and the files whose percentage moved, appeared or
    went away. Against a baseline that listed only some files, only those files are compared."""
    now = dict(after.files)
    paths = set(now) | set(before.files) if before.complete else set(now) & set(before.files)
    files = []
    for name in sorted(paths):
        was, is_ = _percent(before.files.get(name)), _percent(now.get(name))
        if was != is_:
            files.append(FileDelta(name, was, is_))
    return Delta(before.total.percent, after.total.percent, tuple(files))
