"""Combine the coverage data of every lane (each already holding its xdist workers') into one file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
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
        try:
            coverage.CoverageData(basename=str(path)).read()
        except (CoverageException, sqlite3.Error) as exc:
            raise DataError(
                f"{path}: not a readable coverage data file: {' '.join(str(exc).split())}"
            ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)  # coverage creates its SQLite file itself
    try:
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
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return out
