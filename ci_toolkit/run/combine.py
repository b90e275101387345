"""Combine the coverage data of every lane (each already holding its xdist workers') into one file; and,
for `ci-toolkit merge`, the shards' data files with their measured paths mapped onto this checkout."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ci_toolkit.errors import DataError


def combine(data_files: Sequence[Path], out: Path) -> Path | None:
    """Write the union of `data_files` to `out` and return it; None when there is no data at all.

    A corrupt input is a DataError rather than a warning: silently dropping a lane's data would make
    its files look uncovered (or, worse, absent) to the gate. `out` is replaced in one rename, so a
    crash leaves either the old file or the new one, never half of one.
    """
    import coverage
    from coverage.exceptions import CoverageException

    inputs = [path for path in data_files if path.is_file()]
    if not inputs:
        return None
    for path in inputs:
        problem = unreadable(path)
        if problem is not None:
            raise DataError(problem)
    with _replacing(out) as tmp:
        if len(inputs) == 1:
            # One lane: its data already holds every worker's, and a copy costs a fraction of a combine.
            shutil.copyfile(inputs[0], tmp)
            os.replace(tmp, out)
            return out
        # config_file=False: the project's coverage settings were applied when the data was measured.
        cov = coverage.Coverage(data_file=tmp, config_file=False)
        try:
            cov.combine([str(path) for path in inputs], strict=True, keep=True)
            cov.save()
        except (CoverageException, sqlite3.Error) as exc:
            # e.g. one lane measured branches and another did not (a lane's pytest_args added
            # --cov-branch): data that cannot be combined cannot be judged either.
            raise DataError(
                f"{out}: cannot combine the lanes' coverage data ({' '.join(str(exc).split())}); "
                "every lane must measure alike: check the lanes' pytest_args for --cov options"
            ) from None
        os.replace(tmp, out)
    return out


def unreadable(path: Path) -> str | None:
    """Why `path` is not a coverage data file coverage.py can read (one line naming it); None if it is."""
    import coverage
    from coverage.exceptions import CoverageException

    try:
        data = coverage.CoverageData(basename=str(path))
        data.read()
        data.measured_files()  # an empty or foreign SQLite file fails only here
    except (CoverageException, sqlite3.Error) as exc:
        return f"{path}: not a readable coverage data file: {' '.join(str(exc).split())}"
    return None


def measured_files(path: Path) -> set[str]:
    """The paths `path` holds data for, as they were measured (on whichever machine)."""
    import coverage

    data = coverage.CoverageData(basename=str(path))
    data.read()
    return set(data.measured_files())


def combine_mapped(inputs: Sequence[tuple[Path, Mapping[str, str]]], out: Path) -> Path | None:
    """The union of the data files in `inputs` written to `out`, each file's measured paths renamed by
    its mapping (a path it does not name is kept); None when there is no input. Replaced in one rename."""
    import coverage
    from coverage.exceptions import CoverageException

    if not inputs:
        return None
    with _replacing(out) as tmp:
        combined = coverage.CoverageData(basename=tmp)
        for path, mapping in inputs:
            data = coverage.CoverageData(basename=str(path))
            try:
                data.read()
                combined.update(data, map_path=_lookup(mapping))
            except (CoverageException, sqlite3.Error) as exc:
                raise DataError(
                    f"{path}: cannot combine with the other shards' coverage data "
                    f"({' '.join(str(exc).split())}); every shard must measure alike"
                ) from None
        combined.write()
        os.replace(tmp, out)
    return out


def _lookup(mapping: Mapping[str, str]) -> Callable[[str], str]:
    return lambda path: mapping.get(path, path)


@contextmanager
def _replacing(out: Path) -> Iterator[str]:
    """A free temporary name beside `out` for its new content; whatever is left there goes afterwards."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)  # coverage creates its SQLite file itself
    try:
        yield tmp
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
