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

What is judged is exactly the coverage ``source`` (`resolve_source`): a measured file outside it
(``--cov=tests``, ``addopts = "--cov=."``) never counts, and every Python file under it that the data does
not name (never imported, and not listed by coverage.py because the run had no ``source`` or ``--cov``
alone) counts at 0%, analysed by coverage.py like the rest, so ``omit`` and exclusions still apply.

Input is checked before it is believed: a file that is not a regular file, an empty file, a truncated or
damaged SQLite file, an SQLite database without coverage.py's tables, JSON no report can be (NaN, Infinity,
nesting past the recursion limit) and a report whose numbers do not add up (negative counts, more missing
than statements, lines both executed and missing, branch counts that do not sum) are each one DataError
naming the file and the entry, never a number judged. Data measured in another project or checkout (none
of its files under the source, and files that do not exist here) is refused rather than judged at 0%.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePath
from typing import Any

from ci_toolkit.errors import ConfigError, DataError

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_WAIT = 5.0  # seconds to wait for a writer's lock (a run finishing its data file) before giving up


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


# -- the source: what the gate judges -------------------------------------------------------------------

# The names coverage.py takes for importable Python files (coverage.files.find_python_files).
_PY_FILE = re.compile(r"[^.#~!$@%^&*()+=,]+\.pyw?")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def resolve_source(entries: Sequence[str], root: Path, where: str) -> tuple[Path, ...]:
    """The directories and files the coverage `source` entries name, as absolute paths.

    An entry is a path relative to *root* when one exists there (coverage.py too takes a directory first),
    else a package or module name looked up under *root* and *root*/src. *where* names the configuration
    file in the error raised for an entry that names nothing.
    """
    found: list[Path] = []
    for entry in entries:
        path = _source_path(entry, Path(root))
        if path is None:
            raise ConfigError(
                f"{where}: tool.ci-toolkit.coverage.source: {json.dumps(entry)} is neither a directory or "
                f"file under {root} nor a package or module there or in {Path(root) / 'src'}; "
                "fix the name, or give the path relative to the project root"
            )
        found.append(path)
    return tuple(found)


def _source_path(entry: str, root: Path) -> Path | None:
    direct = Path(os.path.normpath(root / entry))
    if direct.is_dir() or direct.is_file():
        return direct
    if not _DOTTED.fullmatch(entry):
        return None
    *parents, name = entry.split(".")
    for base in (root, root / "src"):
        for candidate in (base.joinpath(*parents, name), base.joinpath(*parents, f"{name}.py")):
            if candidate.exists():
                return candidate
    return None


def in_source(path: str, root: Path, source: Sequence[Path]) -> bool:
    """Whether the model *path* (relative to *root*, or absolute) lies in one of the *source* paths."""
    return _within(_real(Path(root) / path), [_real(s) for s in source])


def _real(path: Path | str) -> str:
    return os.path.realpath(path)


def _within(real: str, sources: Sequence[str]) -> bool:
    """Both sides are real paths, so a symlinked checkout and coverage.py's real file names agree."""
    return any(real == s or real.startswith(s.rstrip(os.sep) + os.sep) for s in sources)


def _candidate_files(source: Sequence[Path]) -> set[str]:
    """Every file coverage.py could take as Python under *source*: a superset (namespace packages included,
    `omit` not applied), only to tell whether coverage.py must be asked at all."""
    found: set[str] = set()
    for entry in source:
        if entry.is_file():
            found.add(_real(entry))
            continue
        for dirpath, _dirs, names in os.walk(entry):
            found.update(_real(os.path.join(dirpath, n)) for n in names if _PY_FILE.fullmatch(n))
    return found


def _label(source: Sequence[Path], root: Path) -> str:
    return ", ".join(_relative_path(str(s), root) for s in source)


# -- loading ------------------------------------------------------------------------------------------------


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
    _check_regular(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if head == _SQLITE_MAGIC:
        return _load_data_file(path, root, config_file, source)
    data = _read_json(path)
    report = from_json(data, root, source=path)
    if source is None:
        return report
    return _json_in_source(report, path, root, config_file, tuple(source))


_NOT_COVERAGE = "not a coverage data file or coverage json report"


def _check_regular(path: Path) -> None:
    """A regular, non-empty file, or one line saying what it is instead (never a blocking open)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            target = os.readlink(path)
            raise DataError(
                f"{path}: a broken symbolic link (to {target}); pass the coverage data itself"
            ) from None
        raise DataError(
            f"{path}: no such file; run the tests with coverage first (or pass the right path)"
        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, {_NOT_COVERAGE}")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(
            f"{path}: {_NOT_COVERAGE} (it is {_file_kind(st.st_mode)}, not a regular file); "
            "pass a .coverage data file or the output of `coverage json`"
        )
    if st.st_size == 0:
        raise DataError(f"{path}: {_NOT_COVERAGE} (it is empty); run the tests with coverage first")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "a special file")


class _Constant(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def _read_json(path: Path) -> dict[str, Any]:
    """The parsed report, or one line saying why this file is none."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte order mark is no reason to refuse
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        text = ""
    if not text.lstrip().startswith(("{", "[")):
        raise DataError(
            f"{path}: {_NOT_COVERAGE} "
            "(expected a coverage.py SQLite data file or the output of `coverage json`)"
        )
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise DataError(f"{path}: {_NOT_COVERAGE} (invalid JSON: nested too deeply)") from None
    except _Constant as exc:
        raise DataError(f"{path}: {_NOT_COVERAGE} (invalid JSON: {exc} is not a JSON number)") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: {_NOT_COVERAGE} (invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise DataError(f"{path}: {_NOT_COVERAGE} (invalid JSON: a number with too many digits)") from None
    if not isinstance(data, dict):  # the text starts with "[": an array
        raise DataError(f"{path}: {_NOT_COVERAGE} (a JSON array, not the object `coverage json` writes)")
    absent = [key for key in ("meta", "files") if key not in data]
    if absent:
        keys = " and ".join(f'"{key}"' for key in absent)
        raise DataError(
            f"{path}: {_NOT_COVERAGE} (a JSON object without {keys}, which `coverage json` writes)"
        )
    return data


def from_json(data: Mapping[str, Any], root: Path, *, source: Path | str = "<json>") -> CoverageReport:
    """Build the model from a parsed ``coverage json`` document, refusing one that does not add up."""
    problems = _Problems(Path(root))
    problems.document(data)
    if problems.found:
        more = len(problems.found) - 1
        tail = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        raise DataError(
            f"{source}: malformed coverage json report: {problems.found[0]}{tail}; "
            "regenerate it with `coverage json`"
        )
    has_branches = bool(data["meta"].get("branch_coverage", False))
    files = tuple(
        _file_from_json(_relative_path(name, root), entry, has_branches)
        for name, entry in data["files"].items()
    )
    return CoverageReport(files=files, has_branches=has_branches)


def _file_from_json(path: str, entry: Mapping[str, Any], has_branches: bool) -> FileCoverage:
    summary = entry["summary"]
    missing_branches: tuple[tuple[int, int], ...] = ()
    branches = 0
    if has_branches:
        branches = summary["num_branches"]
        missing_branches = tuple(sorted((a, b) for a, b in entry["missing_branches"]))
    return FileCoverage(
        path=path,
        statements=summary["num_statements"],
        missing_lines=tuple(sorted(entry["missing_lines"])),
        excluded_lines=tuple(sorted(entry.get("excluded_lines", ()))),
        branches=branches,
        missing_branches=missing_branches,
    )


def _relative_path(name: str, root: Path) -> str:
    """*name* as a POSIX path relative to *root* when under it, else absolute."""
    p = Path(name)
    if not p.is_absolute():
        return PurePath(os.path.normpath(name)).as_posix()
    # os.path.realpath, not Path.resolve: a symlink loop named in a report is a path, not a RuntimeError.
    for base in (root, Path(_real(root))):
        for candidate in (p, Path(_real(p))):
            try:
                return candidate.relative_to(base.absolute()).as_posix()
            except ValueError:
                continue
    return p.as_posix()


# -- checking a coverage json report ------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any, limit: int = 40) -> str:
    """A value as JSON spells it, on one short line."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except RecursionError:  # nested deeper than this call's stack allows (json.loads ran shallower)
        text = f"a {type(value).__name__} nested too deeply to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _arc(arc: tuple[int, int]) -> str:
    return f"{arc[0]}->{arc[1] if arc[1] > 0 else 'exit'}"


def _repeated(items: Sequence[Any]) -> Any:
    seen: set[Any] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


_COUNT = "a whole number >= 0"
_LINE = "a line number (a whole number >= 1)"
_ARC = "a branch [from line, to line] (whole numbers, from >= 1, to a line or a negative exit)"
_LINE_TOTALS = ("num_statements", "missing_lines", "covered_lines", "excluded_lines")
_BRANCH_TOTALS = ("num_branches", "missing_branches", "covered_branches")


class _Problems:
    """Every inconsistency of a ``coverage json`` document, as "where: what", in document order.

    A value that is wrong is reported once; checks that depend on it are skipped, so one mistake does
    not echo through the lines after it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.found: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.found.append(f"{where}: {what}")

    def document(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            self.add("(top level)", f"expected an object, got {_show(data)}")
            return
        meta, files = data.get("meta"), data.get("files")
        branch = False
        if not isinstance(meta, Mapping):
            self.add("meta", f"expected an object, got {_show(meta)}")
        elif not isinstance(meta.get("branch_coverage", False), bool):
            self.add("meta.branch_coverage", f"expected true or false, got {_show(meta['branch_coverage'])}")
        else:
            branch = meta.get("branch_coverage", False)
        if not isinstance(files, Mapping):
            self.add("files", f"expected an object of file name: entry, got {_show(files)}")
            return
        sums = self.files(files, branch)
        if sums is not None and "totals" in data:
            self.totals(data["totals"], sums)

    def files(self, files: Mapping[str, Any], branch: bool) -> dict[str, int] | None:
        """Check every entry; the column sums of the counts when every entry is sound."""
        owners: dict[str, str] = {}
        counted: list[dict[str, int]] = []
        sound = True
        for name, entry in files.items():
            where = f"files[{_show(name, limit=200)}]"
            counts = self.entry(where, entry, branch) if self.name(where, name, owners) else None
            sound = sound and counts is not None
            if counts is not None:
                counted.append(counts)
        if not sound:
            return None
        keys = set(_LINE_TOTALS + _BRANCH_TOTALS).intersection(*counted)
        return {key: sum(counts[key] for counts in counted) for key in keys}

    def name(self, where: str, name: str, owners: dict[str, str]) -> bool:
        if not name:
            self.add(where, "a file name must not be empty")
            return False
        if "\0" in name:
            self.add(where, "a file name must not contain a NUL character")
            return False
        path = _relative_path(name, self.root)
        if path in owners:
            self.add(where, f"the same file as {owners[path]}; a file may be listed once")
            return False
        owners[path] = where
        return True

    def entry(self, where: str, entry: Any, branch: bool) -> dict[str, int] | None:
        """The entry's counts (for the totals), or None when something in it is wrong."""
        if not isinstance(entry, Mapping):
            self.add(where, f"expected an object (the file's entry), got {_show(entry)}")
            return None
        summary = entry.get("summary")
        if "summary" not in entry:
            self.add(where, 'no "summary"')
        elif not isinstance(summary, Mapping):
            self.add(f"{where}.summary", f"expected an object, got {_show(summary)}")
        before = len(self.found)
        statements = self.count(summary, "num_statements", f"{where}.summary", required=True)
        missing = self.lines(entry, "missing_lines", where, required=True)
        executed = self.lines(entry, "executed_lines", where, required=False)
        excluded = self.lines(entry, "excluded_lines", where, required=False)
        if not isinstance(summary, Mapping):
            return None
        counts = None
        if len(self.found) == before and statements is not None and missing is not None:
            counts = self.line_counts(where, summary, statements, missing, executed, excluded)
        if not branch:
            return counts
        # Branches are checked even when the lines are wrong (an independent mistake is reported too),
        # but whether a branch starts at a statement only when the lines are known to be right.
        statement_lines = None
        if counts is not None and executed is not None and missing is not None:
            statement_lines = {*executed, *missing}
        branch_counts = self.branches(where, entry, summary, statement_lines)
        return None if counts is None or branch_counts is None else {**counts, **branch_counts}

    def count(self, table: Any, key: str, where: str, *, required: bool) -> int | None:
        if not isinstance(table, Mapping):
            return None
        if key not in table:
            if required:
                self.add(where, f'no "{key}"')
            return None
        value = table[key]
        if not _is_int(value) or value < 0:
            self.add(f"{where}.{key}", f"expected {_COUNT}, got {_show(value)}")
            return None
        return int(value)

    def lines(self, entry: Mapping[str, Any], key: str, where: str, *, required: bool) -> list[int] | None:
        if key not in entry:
            if required:
                self.add(where, f'no "{key}"')
            return None
        value, here = entry[key], f"{where}.{key}"
        if not isinstance(value, list):
            self.add(here, f"expected a list of line numbers, got {_show(value)}")
            return None
        for index, item in enumerate(value):
            if not _is_int(item) or item < 1:
                self.add(f"{here}[{index}]", f"expected {_LINE}, got {_show(item)}")
                return None
        twice = _repeated(value)
        if twice is not None:
            self.add(here, f"line {twice} is listed twice")
            return None
        return value

    def arcs(
        self, entry: Mapping[str, Any], key: str, where: str, *, required: bool
    ) -> list[tuple[int, int]] | None:
        if key not in entry:
            if required:
                self.add(where, f'no "{key}"')
            return None
        value, here = entry[key], f"{where}.{key}"
        if not isinstance(value, list):
            self.add(here, f"expected a list of branches, got {_show(value)}")
            return None
        arcs: list[tuple[int, int]] = []
        for index, item in enumerate(value):
            if not (isinstance(item, list) and len(item) == 2 and all(_is_int(n) for n in item)) or (
                item[0] < 1 or item[1] == 0
            ):
                self.add(f"{here}[{index}]", f"expected {_ARC}, got {_show(item)}")
                return None
            arcs.append((item[0], item[1]))
        twice = _repeated(arcs)
        if twice is not None:
            self.add(here, f"branch {_arc(twice)} is listed twice")
            return None
        return arcs

    def line_counts(
        self,
        where: str,
        summary: Mapping[str, Any],
        statements: int,
        missing: list[int],
        executed: list[int] | None,
        excluded: list[int] | None,
    ) -> dict[str, int] | None:
        if len(missing) > statements:
            self.add(
                f"{where}.missing_lines", f"{len(missing)} missing lines, but num_statements is {statements}"
            )
            return None
        if executed is not None:
            both = sorted(set(executed) & set(missing))
            if both:
                self.add(f"{where}.executed_lines", f"line {both[0]} is also in missing_lines")
                return None
            if len(executed) + len(missing) != statements:
                self.add(
                    f"{where}.executed_lines",
                    f"{len(executed)} executed and {len(missing)} missing lines, "
                    f"but num_statements is {statements}",
                )
                return None
        if excluded is not None:
            both = sorted(set(excluded) & {*missing, *(executed or ())})
            if both:
                self.add(f"{where}.excluded_lines", f"line {both[0]} is excluded, yet a statement too")
                return None
        counts = {"num_statements": statements, "missing_lines": len(missing)}
        counts["covered_lines"] = statements - len(missing)
        if excluded is not None:
            counts["excluded_lines"] = len(excluded)
        return counts if self.summary_agrees(where, summary, counts) else None

    def summary_agrees(self, where: str, summary: Mapping[str, Any], counts: Mapping[str, int]) -> bool:
        """The summary's own counts, where it has them, say what the lists say."""
        agrees = True
        for key, expected in counts.items():
            value = self.count(summary, key, f"{where}.summary", required=False)
            if key in summary and value is None:
                agrees = False
            elif value is not None and value != expected:
                self.add(f"{where}.summary.{key}", f"{value}, but the entry's lists make it {expected}")
                agrees = False
        return agrees

    def branches(
        self, where: str, entry: Mapping[str, Any], summary: Mapping[str, Any], statements: set[int] | None
    ) -> dict[str, int] | None:
        before = len(self.found)
        total = self.count(summary, "num_branches", f"{where}.summary", required=True)
        self.count(summary, "num_partial_branches", f"{where}.summary", required=False)
        missing = self.arcs(entry, "missing_branches", where, required=True)
        executed = self.arcs(entry, "executed_branches", where, required=False)
        if len(self.found) > before or total is None or missing is None:
            return None
        if len(missing) > total:
            self.add(
                f"{where}.missing_branches", f"{len(missing)} missing branches, but num_branches is {total}"
            )
            return None
        if executed is not None:
            both = sorted(set(executed) & set(missing))
            if both:
                self.add(f"{where}.executed_branches", f"branch {_arc(both[0])} is also in missing_branches")
                return None
            # Not "==": a `# pragma: no branch` arc is neither executed nor missing, yet counted.
            if len(executed) + len(missing) > total:
                self.add(
                    f"{where}.executed_branches",
                    f"{len(executed)} executed and {len(missing)} missing branches, "
                    f"more than num_branches ({total})",
                )
                return None
        if statements is not None:
            for key, arcs in (("missing_branches", missing), ("executed_branches", executed or [])):
                for index, arc in enumerate(arcs):
                    if arc[0] not in statements:
                        self.add(
                            f"{where}.{key}[{index}]",
                            f"branch {_arc(arc)} starts at line {arc[0]}, which is not a statement "
                            "(in neither executed_lines nor missing_lines)",
                        )
                        return None
        counts = {
            "num_branches": total,
            "missing_branches": len(missing),
            "covered_branches": total - len(missing),
        }
        return counts if self.summary_agrees(where, summary, counts) else None

    def totals(self, totals: Any, sums: Mapping[str, int]) -> None:
        if not isinstance(totals, Mapping):
            self.add("totals", f"expected an object, got {_show(totals)}")
            return
        for key, expected in sorted(sums.items()):
            value = self.count(totals, key, "totals", required=False)
            if value is not None and value != expected:
                self.add(f"totals.{key}", f"{value}, but the files add up to {expected}")


# -- files under the source that a report does not name ----------------------------------------------------


def _json_in_source(
    report: CoverageReport, path: Path, root: Path, config_file: Path | None, source: tuple[Path, ...]
) -> CoverageReport:
    """The report's files under *source*, plus the source files it does not name, analysed at 0%."""
    if not source:
        return CoverageReport(files=(), has_branches=report.has_branches)
    inside = tuple(f for f in report.files if in_source(f.path, root, source))
    if report.files and not inside:
        gone = [f.path for f in report.files if not (root / f.path).exists()]
        if gone:
            raise DataError(_foreign(path, source, root, gone[0], len(gone), len(report.files)))
    known = {_real(root / f.path) for f in inside}
    if not _candidate_files(source) - known:
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
        analysed = _analysis(path, empty, root, config_file, scope)
    extra = () if analysed is None else from_json(analysed, root, source=path).files
    return CoverageReport(files=inside + extra, has_branches=report.has_branches)


def _foreign(path: Path, source: Sequence[Path], root: Path, example: str, gone: int, measured: int) -> str:
    return (
        f"{path}: none of the {measured} files it names is under the coverage source "
        f"({_label(source, root)}), and {gone} do not exist here (e.g. {example}): "
        "was it measured in another project or checkout? "
        "Re-run the tests here, or map the paths with coverage.py's [paths] setting and `coverage combine`"
    )


# -- analysis by coverage.py --------------------------------------------------------------------------------


def analyse(data_file: str, out: str, rcfile: str, scope_file: str = "") -> dict[str, str]:
    """coverage.py's own JSON report of `data_file`, written to `out`; run with cwd = the project root
    so coverage finds the project's configuration exactly as `coverage report` would there.

    With `scope_file` (JSON: "source", the absolute source paths, and "known", real paths already
    reported elsewhere), only measured files under the source are reported, plus the Python files under
    it that coverage.py would have listed as unexecuted had it measured with that source, less "known".
    """
    import coverage
    from coverage.exceptions import CoverageException, NoDataError, NoSource, NotPython

    try:
        cov = coverage.Coverage(data_file=data_file, config_file=rcfile or True)
        cov.load()
        morfs: list[str] | None = None
        if scope_file:
            morfs, foreign = _scoped_files(cov, json.loads(Path(scope_file).read_text(encoding="utf-8")))
            if foreign:
                return {"status": "foreign", "message": foreign}
            if not morfs:
                empty = {"meta": {"branch_coverage": cov.get_data().has_arcs()}, "files": {}}
                Path(out).write_text(json.dumps(empty), encoding="utf-8")
                return {"status": "ok"}
        cov.json_report(morfs=morfs, outfile=out)
    except NoDataError as exc:
        return {"status": "nodata", "message": str(exc)}
    except NoSource as exc:
        return {"status": "source", "message": str(exc)}
    except NotPython as exc:
        return {"status": "notpython", "message": str(exc)}
    except CoverageException as exc:
        return {"status": "error", "message": str(exc)}
    except Exception as exc:  # a broken coverage plugin or config: the user's to fix, so one line
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok"}


def _scoped_files(cov: Any, scope: Mapping[str, Any]) -> tuple[list[str], str]:
    """(the files to report, "" or what shows the data was measured somewhere else)."""
    measured = sorted(cov.get_data().measured_files())
    sources = [_real(s) for s in scope["source"]]
    inside = [m for m in measured if _within(_real(m), sources)]
    if measured and not inside:
        gone = [m for m in measured if not os.path.exists(m)]
        if gone:
            return [], json.dumps({"example": gone[0], "gone": len(gone), "measured": len(measured)})
    seen = {_real(m) for m in measured} | {_real(k) for k in scope.get("known", ())}
    return inside + [f for f in _unexecuted(sources, cov.config) if f not in seen], ""


def _unexecuted(sources: Sequence[str], config: Any) -> list[str]:
    """What coverage.py adds as unexecuted when it measures with `source`: its own file finder, its own
    rule for directories without __init__.py, and [run] omit (coverage.inorout)."""
    from coverage.files import GlobMatcher, canonical_filename, find_python_files, prep_patterns

    omit = GlobMatcher(prep_patterns(config.run_omit), "run_omit") if config.run_omit else None
    found: list[str] = []
    for src in sources:
        files = find_python_files(src, config.include_namespace_packages) if os.path.isdir(src) else [src]
        found += [canonical_filename(f) for f in files if os.path.isfile(f)]
    return sorted({f for f in found if omit is None or not omit.match(f)})


# The child's first line drops the cwd from sys.path, so a project module called "coverage" or "json"
# cannot shadow the real ones. It prints one JSON status line on stdout.
_ANALYSE = """\
import sys
if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]
import json
from ci_toolkit.gate.covdata import analyse
print(json.dumps(analyse(*sys.argv[1:5])))
"""

# Variables that would make the child measure itself (and write data files into the project).
_CHILD_ENV_DROP = (
    "COVERAGE_PROCESS_START",
    "COVERAGE_PROCESS_CONFIG",
    "COV_CORE_SOURCE",
    "COV_CORE_CONFIG",
    "COV_CORE_DATAFILE",
)


def _analyse_here(args: Sequence[str], root: Path) -> dict[str, Any] | None:
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
        return analyse(*args)
    finally:
        os.chdir(before)


def _analyse_in_child(path: Path, args: Sequence[str], root: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _ANALYSE, *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise DataError(f"{path}: could not run coverage.py to analyse it ({exc})") from None
    return _child_status(proc)


def _analysis(
    path: Path, data_file: Path, root: Path, config_file: Path | None, scope: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """coverage.py's JSON report of *data_file* (see `analyse`); None when it has nothing to report."""
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-cov-") as tmp:
        out = Path(tmp) / "coverage.json"
        scope_file = ""
        if scope is not None:
            scope_file = str(Path(tmp) / "scope.json")
            Path(scope_file).write_text(json.dumps(scope), encoding="utf-8")
        rcfile = str(Path(config_file).resolve()) if config_file is not None else ""
        args = (str(data_file), str(out), rcfile, scope_file)
        status = _analyse_here(args, root)
        if status is None:
            status = _analyse_in_child(path, args, root)
        kind, message = status.get("status"), str(status.get("message", "")).strip()
        if kind == "nodata":
            return None
        _raise_for(path, kind, message, root, scope)
        try:
            data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: coverage.py wrote no usable JSON report ({exc})") from None
    return data


def _raise_for(path: Path, kind: Any, message: str, root: Path, scope: Mapping[str, Any] | None) -> None:
    if kind == "ok":
        return
    if kind == "foreign" and scope is not None:
        facts = json.loads(message)
        source = [Path(s) for s in scope["source"]]
        raise DataError(_foreign(path, source, root, facts["example"], facts["gone"], facts["measured"]))
    if kind == "source":
        raise DataError(
            f"{path}: {message} (the data names a source file that is gone or changed); "
            "re-run the tests to refresh the coverage data"
        )
    if kind == "notpython":
        raise DataError(
            f"{path}: {_one_line(message)}; fix that file, or leave it out with coverage.py's `omit` setting"
        )
    raise DataError(f"{path}: coverage.py could not analyse it: {message or 'unknown error'}")


def _load_data_file(
    path: Path, root: Path, config_file: Path | None, source: Sequence[Path] | None
) -> CoverageReport:
    data_file = path.resolve()
    measured, has_branches = _measured_files(data_file, path)
    if not measured or (source is not None and not source):
        return CoverageReport(files=(), has_branches=has_branches)
    scope = None if source is None else {"source": [str(s) for s in source], "known": []}
    data = _analysis(path, data_file, root, config_file, scope)
    if data is None:
        return CoverageReport(files=(), has_branches=has_branches)
    report = from_json(data, root, source=path)
    if source is None:
        return report
    # coverage.py was asked for the source only; this keeps anything else out even if it answered more.
    return CoverageReport(
        tuple(f for f in report.files if in_source(f.path, root, source)), report.has_branches
    )


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


# -- the SQLite file itself ---------------------------------------------------------------------------------


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
            f"{shown}: not a usable coverage data file ({_one_line(str(exc))}); "
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
                    damaged = _one_line(str(verdict[0][0]))
                tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise DataError(f"{shown}: cannot be read ({exc}; is a test run still writing it?)") from None
            damaged = str(exc)
        except sqlite3.Error as exc:
            damaged = str(exc)
    if damaged is not None:
        raise DataError(
            f"{shown}: {_NOT_COVERAGE} (a truncated or damaged SQLite file: {damaged}); "
            "if it is coverage data, re-run the tests to recreate it"
        )
    if "coverage_schema" not in tables:
        raise DataError(f"{shown}: {_NOT_COVERAGE} (an SQLite database without coverage.py's tables)")


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


def _one_line(text: str) -> str:
    return " ".join(text.split())
