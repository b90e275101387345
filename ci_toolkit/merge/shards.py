"""The shards to merge: found in the folders `actions/download-artifact` leaves (a shard's output dir
anywhere below each), then checked for completeness (`check`, pure) before anything is written."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import DataError
from ci_toolkit.run import layout

if TYPE_CHECKING:
    from ci_toolkit.planning import Plan
    from ci_toolkit.run.exchange.run_record import RunRecord

MARKERS = (layout.RUN, layout.PLAN)
# The combined data file under its own (hidden) name, or as an artifact upload that drops hidden files
# would have to be told to name it.
COVERAGE_NAMES = (layout.COVERAGE_DATA, layout.COVERAGE_DATA.lstrip("."))


@dataclass(frozen=True)
class Shard:
    folder: Path
    record: RunRecord | None  # None: the run ended before writing run.json
    plan: Plan | None

    @property
    def label(self) -> str:
        if self.record is None:
            return f"{self.folder} (shard unknown: no {layout.RUN})"
        return f"shard {self.record.shard}/{self.record.shards} ({self.folder})"

    @property
    def coverage_file(self) -> Path | None:
        """The shard's combined data file; failing that, its lanes' (a run killed before combining)."""
        for name in COVERAGE_NAMES:
            if (self.folder / name).is_file():
                return self.folder / name
        return None

    def lane_coverage_files(self) -> list[Path]:
        return sorted(
            path
            for name in COVERAGE_NAMES
            for path in (self.folder / layout.COVERAGE).glob(f"*/{name}")
            if path.is_file()
        )

    def results_files(self) -> list[Path]:
        return sorted((self.folder / layout.RESULTS).glob("*.json"))


def find(folders: Sequence[Path]) -> list[Path]:
    """Every shard output dir at or below `folders` (one holding run.json or plan.json), sorted; a folder
    with none is a DataError naming it."""
    found: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"{folder}: no such directory")
        mine: list[Path] = []
        for current, dirs, files in os.walk(folder):
            if any(marker in files for marker in MARKERS):
                mine.append(Path(current))
                dirs[:] = []  # a shard's own sub-folders (junit/, results/) hold no other shard
            else:
                dirs.sort()
        if not mine:
            raise DataError(
                f"{folder}: no shard here (no {' or '.join(MARKERS)} in it or below): "
                "is this an artifact of a `ci-toolkit local --shard K/N` run?"
            )
        found.extend(mine)
    return sorted(dict.fromkeys(path.resolve() for path in found))


def read(folder: Path) -> Shard:
    from ci_toolkit.run.exchange import plan as manifest
    from ci_toolkit.run.exchange import run_record

    record = run_record.read(folder / layout.RUN) if (folder / layout.RUN).is_file() else None
    plan = manifest.read(folder / layout.PLAN) if (folder / layout.PLAN).is_file() else None
    return Shard(folder, record, plan)


@dataclass(frozen=True)
class Problem:
    message: str
    partial_ok: bool  # --allow-partial merges the rest: a shard is missing, not wrong


def check(shards: Sequence[Shard], expect: int | None = None) -> list[Problem]:
    """Why `shards` are not one complete sharded run (empty: they are), one line each: a run that ended
    before its data, shards of two plans or of different counts, a duplicate or missing shard."""
    problems: list[Problem] = []
    for shard in shards:
        if shard.record is None:
            problems.append(Problem(f"{shard.label}: its run failed before writing its data", True))
        elif _planned_tests(shard) and not shard.results_files():
            problems.append(
                Problem(f"{shard.label}: its run failed before writing its data (no test results)", True)
            )
    recorded = [s for s in shards if s.record is not None]
    totals = sorted({s.record.shards for s in recorded if s.record is not None})
    total = expect if expect is not None else (totals[0] if len(totals) == 1 else None)
    if expect is None and len(totals) > 1:
        problems.append(
            Problem(
                "the shards disagree on how many there are ("
                + ", ".join(s.label for s in recorded)
                + "): they come from different runs; pass --expect-shards N to say which",
                False,
            )
        )
    prints = {s.plan.fingerprint for s in shards if s.plan is not None}
    if len(prints) > 1:
        first = next(s for s in shards if s.plan is not None)
        other = next(s for s in shards if s.plan is not None and s.plan.fingerprint != first.plan.fingerprint)
        problems.append(
            Problem(
                f"{other.label}: planned from another plan than {first.label} (plan fingerprints "
                "differ): the shards come from different runs or test suites",
                False,
            )
        )
    seen: dict[int, Shard] = {}
    for shard in recorded:
        assert shard.record is not None
        k = shard.record.shard
        if k in seen:
            problems.append(Problem(f"shard {k} found twice: {seen[k].folder} and {shard.folder}", False))
        seen.setdefault(k, shard)
        if total is not None and k > total:
            problems.append(Problem(f"{shard.label}: more shards than the {total} expected", False))
    if total is not None:
        missing = [k for k in range(1, total + 1) if k not in seen]
        if missing:
            names = ", ".join(f"{k}/{total}" for k in missing)
            problems.append(
                Problem(
                    f"shard{'s' if len(missing) > 1 else ''} {names} missing (found {len(seen)} of "
                    f"{total}): did every shard's job upload its artifact?",
                    True,
                )
            )
    return problems


def _planned_tests(shard: Shard) -> bool:
    if shard.plan is None or shard.record is None:
        return False
    k = shard.record.shard
    return k <= len(shard.plan.shards) and bool(shard.plan.shards[k - 1].tests)
