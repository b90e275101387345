"""Summaries of a run: pure renderers from lane results and the gate verdict.

`terminal.render` gives the human summary, `json_report.to_dict` the machine one; both count tests the
same way: xfailed counts as skipped, xpassed as passed, and errors count as failed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ci_toolkit.gate.verdict import Verdict
from ci_toolkit.run.results import LaneResult


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0  # failures and errors
    skipped: int = 0
    errors: int = 0  # the errors among `failed`, shown separately per lane

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.passed + other.passed,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.errors + other.errors,
        )


def lane_counts(lane: LaneResult) -> Counts:
    errors = lane.count("error")
    return Counts(
        passed=lane.count("passed") + lane.count("xpassed"),
        failed=lane.count("failed") + errors,
        skipped=lane.count("skipped") + lane.count("xfailed"),
        errors=errors,
    )


def total_counts(lanes: Sequence[LaneResult]) -> Counts:
    total = Counts()
    for lane in lanes:
        total += lane_counts(lane)
    return total


def summary_line(lanes: Sequence[LaneResult]) -> str:
    """The last line of every summary; CI parses it, so its shape never changes."""
    c = total_counts(lanes)
    return f"ci-toolkit: {c.passed} passed, {c.failed} failed, {c.skipped} skipped"


def overall_passed(lanes: Sequence[LaneResult], verdict: Verdict | None) -> bool:
    """Every lane ok and the gate (when it ran) passed."""
    return all(lane.ok for lane in lanes) and (verdict is None or verdict.passed)


# C0 and C1 controls, DEL, lone surrogates, and the bidirectional overrides that reorder what a reader
# sees: none may reach the terminal from a test's id or message, or it could repaint the summary (or fake
# its last line), or fail to encode at all.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with every control character shown as an escape (e.g. \\x1b), never acted on."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
