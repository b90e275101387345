"""The coverage model the gate judges: exact counts per file and for a whole run.

Built by `ci_toolkit.gate.covdata.load` from coverage.py's data or its JSON report; no I/O here. Paths are
POSIX paths relative to the project root when the file is under it, else absolute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction


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
    # What ran, for patch coverage (which needs the lines and branches themselves, not counts). Left out
    # of equality and repr: two files are the same coverage when their counts and misses are.
    executed_lines: tuple[int, ...] = field(default=(), compare=False, repr=False)
    executed_branches: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)

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
