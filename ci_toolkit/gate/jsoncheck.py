"""Checking a ``coverage json`` document before it is believed: every inconsistency, as "where: what".

Negative counts, more missing than measured, a line or branch both executed and missing, counts that do not
sum, a summary or totals that disagree with the lists: each is reported once, naming the entry. Lines and
branches are checked by the same rules (`Units`), which differ only in how a unit is spelled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.gate.source import relative_path


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


def _line(item: Any) -> int | None:
    return item if _is_int(item) and item >= 1 else None


def _branch(item: Any) -> tuple[int, int] | None:
    if not (isinstance(item, list) and len(item) == 2 and all(_is_int(n) for n in item)):
        return None
    return (item[0], item[1]) if item[0] >= 1 and item[1] != 0 else None


@dataclass(frozen=True)
class Units:
    """How a file entry lists one kind of measured unit, lines or branches."""

    noun: str  # "line"
    plural: str  # "lines"
    listing: str  # what a list of them is called in a message
    expected: str  # what one of them must be
    total: str  # the summary's count of them, e.g. "num_statements"
    missing: str  # the entry's list of the missing ones, and the summary's count of them
    executed: str  # the entry's list of the executed ones
    covered: str  # the summary's count of the covered ones
    # Whether executed + missing must be at least the total. So for lines: coverage.py lists every line that
    # ran, statement or not (line 1 of an empty module, on Python 3.10), so more is no damage. Not for
    # branches: a `# pragma: no branch` arc is neither, yet counted, and coverage.py before 7.6.2 lists
    # executed arcs that are no branches, so their number is bounded neither way.
    at_least: bool
    parse: Callable[[Any], Any]  # one JSON item as a unit, None when it is not one
    show: Callable[[Any], str]


LINES = Units(
    noun="line",
    plural="lines",
    listing="line numbers",
    expected="a line number (a whole number >= 1)",
    total="num_statements",
    missing="missing_lines",
    executed="executed_lines",
    covered="covered_lines",
    at_least=True,
    parse=_line,
    show=str,
)
BRANCHES = Units(
    noun="branch",
    plural="branches",
    listing="branches",
    expected="a branch [from line, to line] (whole numbers, from >= 1, to a line or a negative exit)",
    total="num_branches",
    missing="missing_branches",
    executed="executed_branches",
    covered="covered_branches",
    at_least=False,
    parse=_branch,
    show=_arc,
)
_COUNT = "a whole number >= 0"
_TOTALS = tuple(key for units in (LINES, BRANCHES) for key in (units.total, units.missing, units.covered))


class Problems:
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
        keys = set((*_TOTALS, "excluded_lines")).intersection(*counted)
        return {key: sum(counts[key] for counts in counted) for key in keys}

    def name(self, where: str, name: str, owners: dict[str, str]) -> bool:
        if not name:
            self.add(where, "a file name must not be empty")
            return False
        if "\0" in name:
            self.add(where, "a file name must not contain a NUL character")
            return False
        path = relative_path(name, self.root)
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
        statements = self.count(summary, LINES.total, f"{where}.summary", required=True)
        missing = self.listed(entry, where, LINES, LINES.missing, required=True)
        executed = self.listed(entry, where, LINES, LINES.executed, required=False)
        excluded = self.listed(entry, where, LINES, "excluded_lines", required=False)
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
        branch_counts = self.branch_counts(where, entry, summary, statement_lines)
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

    def listed(
        self, entry: Mapping[str, Any], where: str, units: Units, key: str, *, required: bool
    ) -> list[Any] | None:
        """The entry's list *key* of *units*, each valid and listed once; None when absent or wrong."""
        if key not in entry:
            if required:
                self.add(where, f'no "{key}"')
            return None
        value, here = entry[key], f"{where}.{key}"
        if not isinstance(value, list):
            self.add(here, f"expected a list of {units.listing}, got {_show(value)}")
            return None
        found: list[Any] = []
        for index, item in enumerate(value):
            unit = units.parse(item)
            if unit is None:
                self.add(f"{here}[{index}]", f"expected {units.expected}, got {_show(item)}")
                return None
            found.append(unit)
        twice = _repeated(found)
        if twice is not None:
            self.add(here, f"{units.noun} {units.show(twice)} is listed twice")
            return None
        return found

    def partition(
        self, where: str, units: Units, total: int, missing: Sequence[Any], executed: Sequence[Any] | None
    ) -> bool:
        """Whether the measured *units* split into executed and missing: none both, none more than *total*."""
        if len(missing) > total:
            self.add(
                f"{where}.{units.missing}",
                f"{len(missing)} missing {units.plural}, but {units.total} is {total}",
            )
            return False
        if executed is None:
            return True
        both = sorted(set(executed) & set(missing))
        if both:
            self.add(
                f"{where}.{units.executed}", f"{units.noun} {units.show(both[0])} is also in {units.missing}"
            )
            return False
        if units.at_least and len(executed) + len(missing) < total:
            self.add(
                f"{where}.{units.executed}",
                f"{len(executed)} executed and {len(missing)} missing {units.plural}, "
                f"fewer than {units.total} ({total})",
            )
            return False
        return True

    def tally(
        self,
        where: str,
        summary: Mapping[str, Any],
        units: Units,
        total: int,
        missing: Sequence[Any],
        **more: int,
    ) -> dict[str, int] | None:
        """The counts of *units* for the totals, when the summary's own counts agree with them."""
        counts = {
            units.total: total,
            units.missing: len(missing),
            units.covered: total - len(missing),
            **more,
        }
        return counts if self.summary_agrees(where, summary, counts) else None

    def line_counts(
        self,
        where: str,
        summary: Mapping[str, Any],
        statements: int,
        missing: list[int],
        executed: list[int] | None,
        excluded: list[int] | None,
    ) -> dict[str, int] | None:
        if not self.partition(where, LINES, statements, missing, executed):
            return None
        if excluded is None:
            return self.tally(where, summary, LINES, statements, missing)
        both = sorted(set(excluded) & {*missing, *(executed or ())})
        if both:
            self.add(f"{where}.excluded_lines", f"line {both[0]} is excluded, yet a statement too")
            return None
        return self.tally(where, summary, LINES, statements, missing, excluded_lines=len(excluded))

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

    def branch_counts(
        self, where: str, entry: Mapping[str, Any], summary: Mapping[str, Any], statements: set[int] | None
    ) -> dict[str, int] | None:
        before = len(self.found)
        total = self.count(summary, BRANCHES.total, f"{where}.summary", required=True)
        self.count(summary, "num_partial_branches", f"{where}.summary", required=False)
        missing = self.listed(entry, where, BRANCHES, BRANCHES.missing, required=True)
        executed = self.listed(entry, where, BRANCHES, BRANCHES.executed, required=False)
        if len(self.found) > before or total is None or missing is None:
            return None
        if not self.partition(where, BRANCHES, total, missing, executed):
            return None
        if statements is not None:
            for key, arcs in ((BRANCHES.missing, missing), (BRANCHES.executed, executed or [])):
                for index, arc in enumerate(arcs):
                    if arc[0] not in statements:
                        self.add(
                            f"{where}.{key}[{index}]",
                            f"branch {_arc(arc)} starts at line {arc[0]}, which is not a statement "
                            "(in neither executed_lines nor missing_lines)",
                        )
                        return None
        return self.tally(where, summary, BRANCHES, total, missing)

    def totals(self, totals: Any, sums: Mapping[str, int]) -> None:
        if not isinstance(totals, Mapping):
            self.add("totals", f"expected an object, got {_show(totals)}")
            return
        for key, expected in sorted(sums.items()):
            value = self.count(totals, key, "totals", required=False)
            if value is not None and value != expected:
                self.add(f"totals.{key}", f"{value}, but the files add up to {expected}")
