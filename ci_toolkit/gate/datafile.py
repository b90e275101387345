"""Reading a coverage.py data file (SQLite): checked whole and coverage.py's, then analysed by coverage.py.

A truncated or damaged SQLite file, or an SQLite database without coverage.py's tables, is a DataError,
never a number judged; a data file that measured nothing gives an empty report, which the gate fails.
A data file of many files is analysed by one process per core (`analysis.parts_for`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.gate.analysis import analysis, parts_for
from ci_toolkit.gate.inputfile import NOT_COVERAGE, one_line
from ci_toolkit.gate.jsonreport import from_json
from ci_toolkit.gate.measured import CoverageReport
from ci_toolkit.gate.parsed import PARSES
from ci_toolkit.gate.source import in_source

SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_WAIT = 5.0  # seconds to wait for a writer's lock (a run finishing its data file) before giving up


def load_data_file(
    path: Path, root: Path, config_file: Path | None, source: Sequence[Path] | None
) -> CoverageReport:
    """The report of the data file *path* (see `ci_toolkit.gate.covdata.load`)."""
    data_file = path.resolve()
    measured, has_branches = _measured_files(data_file, path)
    if not measured or (source is not None and not source):
        return CoverageReport(files=(), has_branches=has_branches)
    scope = None if source is None else {"source": [str(s) for s in source], "known": []}
    # Parsed while the tests ran (ci_toolkit.gate.parsed), the files take this process a fraction of the
    # time: splitting them between processes would only add the children's start-up.
    parts = 1 if PARSES.complete else parts_for(len(measured))
    data = analysis(path, data_file, root, config_file, scope, parts=parts)
    if data is None:
        return CoverageReport(files=(), has_branches=has_branches)
    report = from_json(data, root, source=path)
    if source is None:
        return report
    # coverage.py was asked for the source only; this keeps anything else out even if it answered more.
    return CoverageReport(
        tuple(f for f in report.files if in_source(f.path, root, source)), report.has_branches
    )


def _measured_files(data_file: Path, shown: Path) -> tuple[list[str], bool]:
    """Open the SQLite file as coverage data; anything else is not ours to judge (nor to modify)."""
    from coverage import CoverageData
    from coverage.exceptions import CoverageException

    _check_sqlite(data_file, shown)
    try:
        cdata = CoverageData(basename=str(data_file))
        cdata.read()
        return sorted(cdata.measured_files()), cdata.has_arcs()
    except (CoverageException, sqlite3.Error) as exc:
        raise DataError(
            f"{shown}: not a usable coverage data file ({one_line(str(exc))}); "
            "re-run the tests to recreate it"
        ) from None


def _check_sqlite(data_file: Path, shown: Path) -> None:
    """Whole, sound, and coverage.py's: checked read-only, because older coverage.py versions quietly add
    their schema to any SQLite file without one, and SQLite reads a truncated file's missing pages as
    empty, which would make covered lines look missing."""
    damaged = _truncated(data_file)
    tables: set[str] = set()
    if damaged is None:
        try:
            uri = data_file.as_uri() + "?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=_SQLITE_WAIT)) as db:
                verdict = db.execute("pragma quick_check").fetchall()
                if verdict != [("ok",)]:
                    damaged = one_line(str(verdict[0][0]))
                tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise DataError(f"{shown}: cannot be read ({exc}; is a test run still writing it?)") from None
            damaged = str(exc)
        except sqlite3.Error as exc:
            damaged = str(exc)
    if damaged is not None:
        raise DataError(
            f"{shown}: {NOT_COVERAGE} (a truncated or damaged SQLite file: {damaged}); "
            "if it is coverage data, re-run the tests to recreate it"
        )
    if "coverage_schema" not in tables:
        raise DataError(f"{shown}: {NOT_COVERAGE} (an SQLite database without coverage.py's tables)")


def _truncated(data_file: Path) -> str | None:
    """Why the file cannot be a whole SQLite database, from its header and size; None when it can."""
    try:
        with data_file.open("rb") as fh:
            header = fh.read(100)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        return exc.strerror or str(exc)
    if len(header) < 100:
        return f"{size} bytes, less than an SQLite header"
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        return f"its header gives an impossible page size, {page}"
    if size % page:
        return f"{size} bytes is not a whole number of {page}-byte pages"
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header is valid when its change counter matches (SQLite >= 3.7.0 writes both).
    if header[24:28] == header[92:96] and pages * page > size:
        return f"{size} bytes of the {pages * page} its header gives"
    return None
