"""The coverage gate: a pure function from (coverage report, coverage config) to a verdict.

Checks, all fail-closed:

- "data": the report has no measured file at all -> fail (nothing measured cannot pass a gate); also
  when there is no coverage source to judge (`unjudged`).
- "total": lines + branches of every measured file together vs ``fail_under``. The report holds only the
  coverage source (see `ci_toolkit.gate.source`): what else a run measured never counts.
- "file": every file matched by a ``paths`` pattern vs the floor of the most specific matching pattern
  (see `ci_toolkit.config.globs.specificity`; on equal specificity the stricter floor wins).
- "group": the files a ``groups`` pattern matches, aggregated, vs its floor.
- "critical": every file a ``critical`` pattern matches, each on its own, vs its floor (100 unless given:
  every line and every branch covered). A file that was never imported is in the data at 0% and fails.
- "pattern": a pattern in ``paths``, ``groups`` or ``critical`` that matches no measured file fails, so a
  renamed module or a wrong coverage source cannot silently switch a floor off.
- "patch": the changed measured lines and their branches (`ci_toolkit.gate.patch`) vs
  ``patch_fail_under``; present only when a base was given (--base), and never failing without a floor.

Percentages are compared exactly on integers and rationals (covered * 100 >= minimum * total), never on
rounded floats. A file with no statements and no branches counts as 100% covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ci_toolkit.config import CoverageConfig, Floor
from ci_toolkit.config.globs import matches, specificity
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure

if TYPE_CHECKING:  # patch.py formats its ranges with this module's functions
    from ci_toolkit.gate.patch import Patch

CheckKind = Literal["data", "total", "file", "group", "critical", "pattern", "patch"]

NO_DATA = "no coverage data: no file was measured; check the coverage source and that the tests ran"
NO_MATCH = "pattern matches no measured file; check the path or coverage source"
NO_PATCH_LINES = "no changed line is measured"


@dataclass(frozen=True)
class Check:
    kind: CheckKind
    subject: str  # a file path ("file", "critical"), a pattern ("group", "pattern"), or "total"/"data"
    minimum: float | None
    measure: Measure | None
    passed: bool
    missing_lines: str = ""  # "12-14, 20" (file and critical checks)
    missing_branches: str = ""  # "20->22, 31->exit" (file and critical checks)
    pattern: str = ""  # the pattern that set this floor (file, critical, group, pattern checks)
    origin: str = ""  # the config list the pattern came from: "paths" | "groups" | "critical"
    detail: str = ""  # human explanation for data/pattern checks, or e.g. "3 files" for groups

    @property
    def percent(self) -> str:
        """Two decimals, truncated: never shown as reaching a floor it missed."""
        return self.measure.display if self.measure is not None else ""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    total: Measure
    checks: tuple[Check, ...]
    patch: Patch | None = None  # patch coverage, when a base was given (--base)
    # Every judged file's measure, by path: what a saved verdict needs for a later --compare.
    files: tuple[tuple[str, Measure], ...] = ()

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def of_kind(self, kind: CheckKind) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.kind == kind)


def evaluate(report: CoverageReport, cov: CoverageConfig, patch: Patch | None = None) -> Verdict:
    """Judge *report* against the floors in *cov*, and *patch* (when a base was given) against
    ``patch_fail_under``. Pure: no I/O, no clock, no globals."""
    total = report.total
    if not report.files:
        return unjudged(NO_DATA)

    checks: list[Check] = [
        Check(
            kind="total",
            subject="total",
            minimum=cov.fail_under,
            measure=total,
            passed=total.meets(cov.fail_under),
        )
    ]
    checks.extend(_file_checks(report.files, cov.paths))
    checks.extend(_group_checks(report.files, cov.groups))
    checks.extend(_critical_checks(report.files, cov.critical))
    checks.extend(_unmatched(report.files, "paths", cov.paths))
    checks.extend(_unmatched(report.files, "groups", cov.groups))
    checks.extend(_unmatched(report.files, "critical", cov.critical))
    if patch is not None:
        checks.append(_patch_check(patch, cov.patch_fail_under))
    return Verdict(
        passed=all(c.passed for c in checks),
        total=total,
        checks=tuple(checks),
        patch=patch,
        files=tuple((f.path, f.measure) for f in report.files),
    )


def unjudged(detail: str) -> Verdict:
    """The failing verdict when there is nothing to judge; *detail* says why and what to do."""
    data = Check(kind="data", subject="data", minimum=None, measure=None, passed=False, detail=detail)
    return Verdict(passed=False, total=Measure(0, 0), checks=(data,))


def floor_for(path: str, floors: Iterable[Floor]) -> Floor | None:
    """The floor of the most specific pattern matching *path*; ties go to the higher minimum."""
    candidates = [f for f in floors if matches(f.pattern, path)]
    if not candidates:
        return None
    return max(candidates, key=lambda f: (specificity(f.pattern), f.minimum))


def _file_check(kind: CheckKind, f: FileCoverage, floor: Floor, origin: str) -> Check:
    measure = f.measure
    return Check(
        kind=kind,
        subject=f.path,
        minimum=floor.minimum,
        measure=measure,
        passed=measure.meets(floor.minimum),
        missing_lines=format_ranges(f.missing_lines),
        missing_branches=format_arcs(f.missing_branches),
        pattern=floor.pattern,
        origin=origin,
    )


def _file_checks(files: Sequence[FileCoverage], floors: Sequence[Floor]) -> list[Check]:
    out: list[Check] = []
    for f in files:
        floor = floor_for(f.path, floors)
        if floor is not None:
            out.append(_file_check("file", f, floor, "paths"))
    return out


def _group_checks(files: Sequence[FileCoverage], floors: Sequence[Floor]) -> list[Check]:
    out: list[Check] = []
    for floor in floors:
        members = [f for f in files if matches(floor.pattern, f.path)]
        if not members:
            continue  # reported by _unmatched
        detail = f"{len(members)} file{'s' if len(members) != 1 else ''}"
        out.append(_pattern_check("group", floor, "groups", Measure.sum(f.measure for f in members), detail))
    return out


def _critical_checks(files: Sequence[FileCoverage], floors: Sequence[Floor]) -> list[Check]:
    return [
        _file_check("critical", f, floor, "critical")
        for floor in floors
        for f in files
        if matches(floor.pattern, f.path)
    ]


def _unmatched(files: Sequence[FileCoverage], origin: str, floors: Sequence[Floor]) -> list[Check]:
    out: list[Check] = []
    for floor in floors:
        if any(matches(floor.pattern, f.path) for f in files):
            continue
        detail = NO_MATCH
        # A bare directory name is a common slip; say what would have matched.
        prefix = floor.pattern.rstrip("/") + "/"
        if any(f.path.startswith(prefix) for f in files):
            detail += f" (for every file under it, write '{prefix}**')"
        out.append(_pattern_check("pattern", floor, origin, None, detail))
    return out


def _patch_check(patch: Patch, minimum: float | None) -> Check:
    """The changed measured lines against ``patch_fail_under``; without a floor, shown and always passed."""
    uncovered = "; ".join(f.summary for f in patch.files if f.uncovered)
    branches = "; ".join(f"{f.path} {f.missing_branches}" for f in patch.files if f.missing_branches)
    n = len(patch.files)
    detail = f"{n} file{'s' if n != 1 else ''} changed since {patch.base}" if n else NO_PATCH_LINES
    return Check(
        kind="patch",
        subject="patch",
        minimum=minimum,
        measure=patch.measure,
        passed=minimum is None or patch.measure.meets(minimum),
        missing_lines=uncovered,
        missing_branches=branches,
        origin="patch_fail_under",
        detail=detail,
    )


def _pattern_check(kind: CheckKind, floor: Floor, origin: str, measure: Measure | None, detail: str) -> Check:
    """A check of a pattern itself: of the files it matches together ("group"), or of matching any
    ("pattern": no measure, so failed)."""
    return Check(
        kind=kind,
        subject=floor.pattern,
        minimum=floor.minimum,
        measure=measure,
        passed=measure is not None and measure.meets(floor.minimum),
        pattern=floor.pattern,
        origin=origin,
        detail=detail,
    )


def format_ranges(lines: Iterable[int]) -> str:
    """Compress line numbers into coverage-style ranges: [12, 13, 14, 20] -> "12-14, 20"."""
    ordered = sorted(set(lines))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        start = end = ordered[i]
        while i + 1 < len(ordered) and ordered[i + 1] == end + 1:
            i += 1
            end = ordered[i]
        parts.append(str(start) if start == end else f"{start}-{end}")
        i += 1
    return ", ".join(parts)


def format_arcs(arcs: Iterable[tuple[int, int]]) -> str:
    """Missing branches as coverage shows them: "20->22, 31->exit" (a negative target leaves the code)."""
    return ", ".join(f"{a}->{b if b > 0 else 'exit'}" for a, b in sorted(set(arcs)))


def format_floor(minimum: float | None) -> str:
    """A floor as the user wrote it: 85.0 -> "85", 84.5 -> "84.5"."""
    if minimum is None:
        return ""
    text = repr(float(minimum))
    return text[:-2] if text.endswith(".0") else text
