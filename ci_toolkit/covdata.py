"""The coverage model the gate judges, and the loaders that build it (the I/O edge).

`load()` accepts either input, told apart by content, never by file name:

- a coverage.py data file (SQLite). It is analysed by coverage.py itself, so ``# pragma: no cover``,
  ``exclude_lines`` / ``exclude_also``, ``omit`` / ``include``, ``[paths]`` and plugins from the project's
  coverage configuration all apply exactly as ``coverage report`` would apply them. The analysis runs as
  ``coverage json`` in a child process whose working directory is the project root, so coverage.py finds its
  configuration (.coveragerc, setup.cfg, tox.ini, pyproject.toml, or $COVERAGE_RCFILE) the way it always
  does. A child process, not an in-process call, because coverage.py keeps the directory that reported
  paths are relative to in module globals, and changing them (and the cwd) inside a process that may
  itself be measured by coverage would corrupt that measurement.
- the output of ``coverage json`` (a JSON object with "meta" and "files"), taken as already analysed.
  Relative paths in it are taken as relative to the project root.

Fail closed: a data file that names a source file which no longer exists (or no longer parses) is an error
telling the user to re-run the tests, not a file silently left out of the gate. (A project that set
coverage.py's own ``ignore_errors = true`` has asked for such files to be skipped, and coverage.py does so.)
A data file that measured nothing gives an empty report, which the gate fails.

Paths in the model are POSIX paths relative to the project root when the file is under it, else absolute.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePath
from typing import Any

from ci_toolkit.errors import DataError

_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Measure:
    """Covered units (lines + branches) out of the total; exact integers, never rounded."""

    covered: int
    total: int

    def __add__(self, other: Measure) -> Measure:
        return Measure(self.covered + other.covered, self.total + other.total)

    @property
    def percent(self) -> float:
        """For display and JSON only; decisions use `meets()`. Nothing to cover counts as 100%."""
        return 100.0 if self.total == 0 else self.covered * 100 / self.total

    def meets(self, minimum: float) -> bool:
        """covered/total >= minimum%, decided on exact rationals (the floor as written, e.g. 85.1)."""
        if self.total == 0:
            return True
        return Fraction(self.covered * 100, self.total) >= Fraction(str(minimum))

    @property
    def display(self) -> str:
        """The percentage with two decimals, truncated (99.996 shows 99.99, never 100.00)."""
        if self.total == 0:
            return "100.00"
        hundredths = self.covered * 10000 // self.total
        return f"{hundredths // 100}.{hundredths % 100:02d}"

    @staticmethod
    def sum(measures: Iterable[Measure]) -> Measure:
        covered = total = 0
        for m in measures:
            covered += m.covered
            total += m.total
        return Measure(covered, total)


@dataclass(frozen=True)
class FileCoverage:
    path: str  # POSIX, relative to the project root when under it
    statements: int
    missing_lines: tuple[int, ...] = ()
    excluded_lines: tuple[int, ...] = ()
    branches: int = 0
    missing_branches: tuple[tuple[int, int], ...] = ()  # (from, to); to < 0 is an exit from the code object

    @property
    def covered_lines(self) -> int:
        return self.statements - len(self.missing_lines)

    @property
    def covered_branches(self) -> int:
        return self.branches - len(self.missing_branches)

    @property
    def covered(self) -> int:
        return self.covered_lines + self.covered_branches

    @property
    def total(self) -> int:
        return self.statements + self.branches

    @property
    def measure(self) -> Measure:
        return Measure(self.covered, self.total)

    @property
    def percent(self) -> float:
        return self.measure.percent


@dataclass(frozen=True)
class CoverageReport:
    files: tuple[FileCoverage, ...] = ()  # sorted by path (enforced)
    has_branches: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(sorted(self.files, key=lambda f: f.path)))

    @property
    def total(self) -> Measure:
        return Measure.sum(f.measure for f in self.files)

    def get(self, path: str) -> FileCoverage | None:
        for f in self.files:
            if f.path == path:
                return f
        return None


def load(path: Path, root: Path, *, config_file: Path | None = None) -> CoverageReport:
    """Read a coverage.py data file or a ``coverage json`` report (see the module docstring).

    *config_file* overrides coverage.py's own configuration discovery (used when ci-toolkit wrote the
    configuration the tests ran with).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; run the tests with coverage first (or pass the right path)")
    if not path.is_file():
        raise DataError(f"{path}: is a directory, not a coverage data file or coverage json report")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if head == _SQLITE_MAGIC:
        return _load_data_file(path, Path(root), config_file)
    data = _read_json(path)
    if data is None:
        raise DataError(
            f"{path}: not a coverage data file or coverage json report "
            "(expected a coverage.py SQLite data file or the output of `coverage json`)"
        )
    return from_json(data, Path(root), source=path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("meta"), dict) and isinstance(data.get("files"), dict):
        return data
    return None


def from_json(data: Mapping[str, Any], root: Path, *, source: Path | str = "<json>") -> CoverageReport:
    """Build the model from a parsed ``coverage json`` document."""
    try:
        has_branches = bool(data["meta"].get("branch_coverage", False))
        files = tuple(
            _file_from_json(_relative_path(name, root), entry, has_branches)
            for name, entry in data["files"].items()
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(
            f"{source}: malformed coverage json report ({type(exc).__name__}: {exc}); "
            "regenerate it with `coverage json`"
        ) from None
    return CoverageReport(files=files, has_branches=has_branches)


def _file_from_json(path: str, entry: Mapping[str, Any], has_branches: bool) -> FileCoverage:
    summary = entry["summary"]
    missing_branches: tuple[tuple[int, int], ...] = ()
    branches = 0
    if has_branches:
        branches = int(summary.get("num_branches", 0))
        missing_branches = tuple(sorted((int(a), int(b)) for a, b in entry.get("missing_branches", ())))
    return FileCoverage(
        path=path,
        statements=int(summary["num_statements"]),
        missing_lines=tuple(sorted(int(n) for n in entry["missing_lines"])),
        excluded_lines=tuple(sorted(int(n) for n in entry.get("excluded_lines", ()))),
        branches=branches,
        missing_branches=missing_branches,
    )


def _relative_path(name: str, root: Path) -> str:
    """*name* as a POSIX path relative to *root* when under it, else absolute."""
    p = Path(name)
    if not p.is_absolute():
        return PurePath(os.path.normpath(name)).as_posix()
    for base in (root, root.resolve()):
        for candidate in (p, p.resolve()):
            try:
                return candidate.relative_to(base.absolute()).as_posix()
            except ValueError:
                continue
    return p.as_posix()


def analyse(data_file: str, out: str, rcfile: str) -> dict[str, str]:
    """coverage.py's own JSON report of `data_file`, written to `out`; run with cwd = the project root
    so coverage finds the project's configuration exactly as `coverage report` would there."""
    import coverage
    from coverage.exceptions import CoverageException, NoDataError, NoSource, NotPython

    try:
        cov = coverage.Coverage(data_file=data_file, config_file=rcfile or True)
        cov.load()
        cov.json_report(outfile=out)
    except NoDataError as exc:
        return {"status": "nodata", "message": str(exc)}
    except (NoSource, NotPython) as exc:
        return {"status": "source", "message": str(exc)}
    except CoverageException as exc:
        return {"status": "error", "message": str(exc)}
    except Exception as exc:  # a broken coverage plugin or config: the user's to fix, so one line
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok"}


# The child's first line drops the cwd from sys.path, so a project module called "coverage" or "json"
# cannot shadow the real ones. It prints one JSON status line on stdout.
_ANALYSE = """\
import sys
if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]
import json
from ci_toolkit.covdata import analyse
print(json.dumps(analyse(*sys.argv[1:4])))
"""

# Variables that would make the child measure itself (and write data files into the project).
_CHILD_ENV_DROP = (
    "COVERAGE_PROCESS_START",
    "COVERAGE_PROCESS_CONFIG",
    "COV_CORE_SOURCE",
    "COV_CORE_CONFIG",
    "COV_CORE_DATAFILE",
)


def _analyse_here(data_file: Path, out: Path, rcfile: str, root: Path) -> dict[str, Any] | None:
    """Analyse in this process when that is safe, saving an interpreter start-up; None when it is not.

    coverage.py fixes its idea of the current directory when a Coverage object is made, and a process
    being measured (our own test suite) must not have its cwd moved under it: then a child does it.
    """
    import coverage

    if coverage.Coverage.current() is not None or os.environ.get("CI_TOOLKIT_ANALYSE_IN_CHILD"):
        return None
    before = Path.cwd()
    os.chdir(root)
    try:
        return analyse(str(data_file), str(out), rcfile)
    finally:
        os.chdir(before)


def _analyse_in_child(path: Path, data_file: Path, out: Path, rcfile: str, root: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _ANALYSE, str(data_file), str(out), rcfile],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise DataError(f"{path}: could not run coverage.py to analyse it ({exc})") from None
    return _child_status(proc)


def _load_data_file(path: Path, root: Path, config_file: Path | None) -> CoverageReport:
    data_file = path.resolve()
    measured, has_branches = _measured_files(data_file, path)
    if not measured:
        return CoverageReport(files=(), has_branches=has_branches)
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-cov-") as tmp:
        out = Path(tmp) / "coverage.json"
        rcfile = str(Path(config_file).resolve()) if config_file is not None else ""
        status = _analyse_here(data_file, out, rcfile, root)
        if status is None:
            status = _analyse_in_child(path, data_file, out, rcfile, root)
        kind, message = status.get("status"), str(status.get("message", "")).strip()
        if kind == "nodata":
            return CoverageReport(files=(), has_branches=has_branches)
        if kind == "source":
            raise DataError(
                f"{path}: {message} (the data names a source file that is gone or changed); "
                "re-run the tests to refresh the coverage data"
            )
        if kind != "ok":
            raise DataError(f"{path}: coverage.py could not analyse it: {message or 'unknown error'}")
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: coverage.py wrote no usable JSON report ({exc})") from None
    return from_json(data, root, source=path)


def _child_status(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        try:
            status = json.loads(lines[-1])
        except ValueError:
            status = None
        if isinstance(status, dict):
            return status
    # The child died before reporting (e.g. a broken coverage plugin); keep its last words on one line.
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"status": "error", "message": f"exit code {proc.returncode}: {tail}"}


def _measured_files(data_file: Path, shown: Path) -> tuple[list[str], bool]:
    """Open the SQLite file as coverage data; anything else is not ours to judge (nor to modify)."""
    from coverage import CoverageData
    from coverage.exceptions import CoverageException

    # Older coverage.py versions quietly add their schema to any SQLite file without one, so look first,
    # read-only, for the table every coverage.py data file has.
    try:
        uri = data_file.as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            db.execute("select version from coverage_schema").fetchone()
    except sqlite3.Error as exc:
        raise DataError(
            f"{shown}: not a coverage data file or coverage json report (an SQLite database: {exc})"
        ) from None
    try:
        cdata = CoverageData(basename=str(data_file))
        cdata.read()
        return sorted(cdata.measured_files()), cdata.has_arcs()
    except (CoverageException, sqlite3.Error) as exc:
        raise DataError(
            f"{shown}: not a usable coverage data file ({_one_line(str(exc))}); "
            "re-run the tests to recreate it"
        ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())
