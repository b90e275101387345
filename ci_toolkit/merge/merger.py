"""`ci-toolkit merge` without the command line: find and check the shards, read all of them, then write
the local output dir as an unsharded run leaves it. Every check runs before the output dir is cleared,
so bad input destroys nothing already there (a shard folder may even be the output dir itself)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import DataError
from ci_toolkit.merge import lanes as merged_lanes
from ci_toolkit.merge import remap, shards
from ci_toolkit.run import combine, layout
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.run.exchange import run_record
from ci_toolkit.run.layout import RunPaths
from ci_toolkit.run.results import LaneResult

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.planning import Plan
    from ci_toolkit.run.exchange.results import Results


@dataclass(frozen=True)
class Merged:
    lanes: tuple[LaneResult, ...]
    coverage_file: Path | None  # None: no shard left coverage data
    shards: int  # how many were merged
    notes: tuple[str, ...] = ()  # what --allow-partial let through, for the summary
    plan: Plan | None = None  # the plan every shard ran (the completeness check made it one)
    realised: Mapping[int, float] = field(default_factory=dict)  # shard K -> its lanes' wall time


def merge(
    config: Config, folders: Sequence[Path], *, expect: int | None = None, partial: bool = False
) -> Merged:
    """Merge the shards below `folders` into the configured output dir, which the caller holds locked."""
    notes: list[str] = []
    found = [shards.read(folder) for folder in shards.find(folders)]
    _settle(shards.check(found, expect), partial, notes)
    usable = [s for s in found if s.record is not None]
    paths = RunPaths.for_config(config)
    scratch = Path(tempfile.mkdtemp(prefix=".merge.", suffix=".tmp", dir=paths.output_dir))
    try:
        coverage_file = _coverage(config, usable, scratch / layout.COVERAGE_DATA, partial, notes)
        lane_parts, junit_parts = _lanes(usable)
        junit: dict[str, bytes] = {}
        for lane, files in junit_parts.items():
            try:
                junit[lane] = merged_lanes.merge_junit(files)
            except DataError as exc:
                _settle([shards.Problem(str(exc), True)], partial, notes)
        # Everything is read and checked: from here on the output dir is rewritten.
        paths.prepare(config)  # the caller's layout.lock() checked and claimed the output dir
        if coverage_file is not None:
            shutil.move(str(coverage_file), paths.coverage_file)
            coverage_file = paths.coverage_file
        results = _write_lanes(config, paths, lane_parts, junit, usable)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    run_record.write(paths.run_file, results, None)
    plan = next((s.plan for s in usable if s.plan is not None), None)
    realised = {s.record.shard: sum(s.record.lanes.values()) for s in usable if s.record is not None}
    return Merged(tuple(results), coverage_file, len(usable), tuple(notes), plan, realised)


def _settle(problems: Sequence[shards.Problem], partial: bool, notes: list[str]) -> None:
    """The first problem stops the merge, unless --allow-partial lets every one of them through."""
    for problem in problems:
        if not (partial and problem.partial_ok):
            raise DataError(problem.message)
    notes.extend(f"partial merge (--allow-partial): {p.message}" for p in problems)


def _coverage(
    config: Config, found: Sequence[shards.Shard], out: Path, partial: bool, notes: list[str]
) -> Path | None:
    inputs: list[Path] = []
    for shard in found:
        own = shard.coverage_file
        for path in [own] if own is not None else shard.lane_coverage_files():
            problem = combine.unreadable(path)
            if problem is None:
                inputs.append(path)
            else:
                _settle([shards.Problem(f"{shard.label}: {problem}", True)], partial, notes)
    measured = {path: combine.measured_files(path) for path in inputs}
    mapped = remap.remap(
        sorted({name for names in measured.values() for name in names}),
        config.root,
        aliases=remap.coverage_aliases(config.root),
    )
    if mapped.unmapped:
        _settle(
            [
                shards.Problem(
                    f"{len(mapped.unmapped)} measured path(s) name no file in {config.root}: "
                    f"{mapped.describe_unmapped()}; add them to [tool.coverage.paths] or check out the "
                    "same commit the shards ran",
                    True,
                )
            ],
            partial,
            notes,
        )
    return combine.combine_mapped([(path, mapped.mapping) for path in inputs], out)


def _lanes(found: Sequence[shards.Shard]) -> tuple[dict[str, list[Results]], dict[str, list[Path]]]:
    """Each lane's results files and JUnit files across the shards, read (a bad one is a DataError)."""
    parts: dict[str, list[Results]] = {}
    junit: dict[str, list[Path]] = {}
    for shard in found:
        for path in shard.results_files():
            parts.setdefault(path.stem, []).append(results_file.read(path))
            xml = shard.folder / layout.JUNIT / f"{path.stem}.xml"
            if xml.is_file():
                junit.setdefault(path.stem, []).append(xml)
    return parts, junit


def _write_lanes(
    config: Config,
    paths: RunPaths,
    parts: dict[str, list[Results]],
    junit: dict[str, bytes],
    found: Sequence[shards.Shard],
) -> list[LaneResult]:
    from ci_toolkit.files.atomic import write_bytes
    from ci_toolkit.run.exchange import owner

    run_id = owner.new_run_id()
    walls = merged_lanes.wall_times([s.record.lanes for s in found if s.record is not None])
    names = [lane.name for lane in config.lanes]
    names += [name for name in sorted(parts) if name not in names]  # lanes this checkout does not configure
    results: list[LaneResult] = []
    for name in names:
        if name not in parts:
            results.append(merged_lanes.skipped_lane(name))
            continue
        merged = merged_lanes.merge_results(parts[name], run_id)
        results_file.write(paths.results_file(name), merged)
        xml = None
        if name in junit:
            xml = paths.junit_file(name)
            write_bytes(xml, junit[name])
        results.append(merged_lanes.lane_result(name, merged, walls.get(name, 0.0), xml))
    return results
