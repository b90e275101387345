"""Reading the output of ``coverage json`` into the model, taken as already analysed by coverage.py.

Relative paths in it are taken as relative to the project root. JSON no report can be (NaN, Infinity,
nesting past the recursion limit) and a report whose numbers do not add up (see `jsoncheck`) are each one
DataError naming the file and the entry, never a number judged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.gate.inputfile import NOT_COVERAGE, unreadable
from ci_toolkit.gate.jsoncheck import Problems
from ci_toolkit.gate.measured import CoverageReport, FileCoverage
from ci_toolkit.gate.source import relative_path


class _Constant(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def read_json(path: Path) -> dict[str, Any]:
    """The parsed report, or one line saying why this file is none."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte order mark is no reason to refuse
    except OSError as exc:
        raise unreadable(path, exc) from None
    except UnicodeDecodeError:
        text = ""
    if not text.lstrip().startswith(("{", "[")):
        raise DataError(
            f"{path}: {NOT_COVERAGE} "
            "(expected a coverage.py SQLite data file or the output of `coverage json`)"
        )
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise DataError(f"{path}: {NOT_COVERAGE} (invalid JSON: nested too deeply)") from None
    except _Constant as exc:
        raise DataError(f"{path}: {NOT_COVERAGE} (invalid JSON: {exc} is not a JSON number)") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: {NOT_COVERAGE} (invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise DataError(f"{path}: {NOT_COVERAGE} (invalid JSON: a number with too many digits)") from None
    if not isinstance(data, dict):  # the text starts with "[": an array
        raise DataError(f"{path}: {NOT_COVERAGE} (a JSON array, not the object `coverage json` writes)")
    absent = [key for key in ("meta", "files") if key not in data]
    if absent:
        keys = " and ".join(f'"{key}"' for key in absent)
        raise DataError(
            f"{path}: {NOT_COVERAGE} (a JSON object without {keys}, which `coverage json` writes)"
        )
    return data


def from_json(data: Mapping[str, Any], root: Path, *, source: Path | str = "<json>") -> CoverageReport:
    """Build the model from a parsed ``coverage json`` document, refusing one that does not add up."""
    problems = Problems(Path(root))
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
        _file_from_json(relative_path(name, root), entry, has_branches)
        for name, entry in data["files"].items()
    )
    return CoverageReport(files=files, has_branches=has_branches)


def _file_from_json(path: str, entry: Mapping[str, Any], has_branches: bool) -> FileCoverage:
    summary = entry["summary"]
    missing_branches: tuple[tuple[int, int], ...] = ()
    executed_branches: tuple[tuple[int, int], ...] = ()
    branches = 0
    if has_branches:
        branches = summary["num_branches"]
        missing_branches = tuple(sorted((a, b) for a, b in entry["missing_branches"]))
        executed_branches = tuple(sorted((a, b) for a, b in entry.get("executed_branches", ())))
    return FileCoverage(
        path=path,
        statements=summary["num_statements"],
        missing_lines=tuple(sorted(entry["missing_lines"])),
        excluded_lines=tuple(sorted(entry.get("excluded_lines", ()))),
        branches=branches,
        missing_branches=missing_branches,
        executed_lines=tuple(sorted(entry.get("executed_lines", ()))),
        executed_branches=executed_branches,
    )
