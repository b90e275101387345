"""Loading coverage input into the model the gate judges (the I/O edge of the gate).

`load()` accepts either input, told apart by content, never by file name: a coverage.py data file (SQLite,
`datafile`), analysed by coverage.py itself (`analysis`), or the output of ``coverage json`` (`jsonreport`),
taken as already analysed. Either way what is judged is exactly the coverage ``source`` (`source`), and input
is checked before it is believed: anything that is not coverage data, or does not add up, is one DataError
naming the file and the entry, never a number judged.

The model (`Measure`, `FileCoverage`, `CoverageReport`) lives in `ci_toolkit.gate.measured`; it and the
readers' entry points are importable from here too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.gate.analysis import analyse, analysis
from ci_toolkit.gate.datafile import SQLITE_MAGIC, load_data_file
from ci_toolkit.gate.inputfile import check_regular, unreadable
from ci_toolkit.gate.jsonreport import from_json, read_json
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.source import candidate_files, elsewhere, foreign, in_source, real, resolve_source

__all__ = [
    "CoverageReport",
    "FileCoverage",
    "Measure",
    "analyse",
    "from_json",
    "in_source",
    "load",
    "resolve_source",
]


def load(
    path: Path, root: Path, *, config_file: Path | None = None, source: Sequence[Path] | None = None
) -> CoverageReport:
    """Read a coverage.py data file or a ``coverage json`` report (see the module docstring).

    *source* (from `resolve_source`) is what is judged: files outside it are left out, files under it the
    input does not name are added at 0%. None keeps every measured file, and adds none.
    *config_file* overrides coverage.py's own configuration discovery (used when ci-toolkit wrote the
    configuration the tests ran with).
    """
    path, root = Path(path), Path(root)
    check_regular(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise unreadable(path, exc) from None
    if head == SQLITE_MAGIC:
        return load_data_file(path, root, config_file, source)
    report = from_json(read_json(path), root, source=path)
    if source is None:
        return report
    return _json_in_source(report, path, root, config_file, tuple(source))


def _json_in_source(
    report: CoverageReport, path: Path, root: Path, config_file: Path | None, source: tuple[Path, ...]
) -> CoverageReport:
    """The report's files under *source*, plus the source files it does not name, analysed at 0%."""
    if not source:
        return CoverageReport(files=(), has_branches=report.has_branches)
    inside = tuple(f for f in report.files if in_source(f.path, root, source))
    facts = elsewhere([f.path for f in report.files], len(inside), lambda name: (root / name).exists())
    if facts is not None:
        raise DataError(foreign(path, source, root, facts))
    known = {real(root / f.path) for f in inside}
    if not candidate_files(source) - known:
        return CoverageReport(files=inside, has_branches=report.has_branches)
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-cov-") as tmp:
        # An empty data file of the report's kind (lines or branches): what coverage.py analyses the
        # unnamed files against, so they come out with every statement (and branch) missing.
        empty = Path(tmp) / "empty.coverage"
        from coverage import CoverageData

        data = CoverageData(basename=str(empty))
        if report.has_branches:
            data.add_arcs({})
        else:
            data.add_lines({})
        data.write()
        scope = {"source": [str(s) for s in source], "known": sorted(known)}
        analysed = analysis(path, empty, root, config_file, scope)
    extra = () if analysed is None else from_json(analysed, root, source=path).files
    return CoverageReport(files=inside + extra, has_branches=report.has_branches)
