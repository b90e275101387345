"""Byte budgets: a report made to fit where it is posted, trimming its least important rows first.

A report is a list of sections; a section's rows are the only thing ever left out, whole (a table row, a
list item, a task of a timeline), so a table row, a code span or a `<details>` block is never cut: a
section's head and tail (a table's header, `<details>` and `</details>`, a code fence) stay together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

COMMENT_LIMIT = 65_536  # characters a GitHub pull-request comment holds
SUMMARY_LIMIT = 1_048_576  # bytes a GitHub job summary holds


@dataclass
class Section:
    head: list[str]  # lines kept whenever the section is
    rows: list[str] = field(default_factory=list)  # most important first; trimmed from the end
    tail: list[str] = field(default_factory=list)
    priority: int = 0  # 0: kept whole (the verdict); higher numbers are left out first
    left_out: int = 0
    dropped: bool = False

    def lines(self) -> list[str]:
        if self.dropped:
            return []
        more = [f"_… and {self.left_out} more left out_", ""] if self.left_out else []
        return [*self.head, *self.rows, *self.tail, *more]


def _size(lines: Sequence[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def render(sections: Sequence[Section]) -> str:
    lines = [line for s in sections for line in s.lines()]
    return "\n".join(lines).rstrip("\n") + "\n"


def fit(sections: Sequence[Section], max_bytes: int | None) -> str:
    """The sections as one text of at most *max_bytes* UTF-8 bytes (when it can be done without cutting
    the verdict), the least important rows left out first and counted in a last line."""
    text = render(sections)
    if max_bytes is None or len(text.encode("utf-8")) <= max_bytes:
        return text
    # Room for the closing note, whatever the count it will say.
    budget = max_bytes - len(_note(10**9, max_bytes).encode("utf-8")) - 2
    size = _size([line for s in sections for line in s.lines()])
    for section in sorted((s for s in sections if s.priority > 0), key=lambda s: -s.priority):
        while size > budget and section.rows:
            size -= _size([section.rows.pop()])
            section.left_out += 1
        if size > budget and not section.rows:
            size -= _size(section.head) + _size(section.tail)
            section.dropped = True
    # The notes each trimmed section gained may still overflow: trim on, measuring the real text.
    while len(render(sections).encode("utf-8")) > budget and any(s.rows for s in sections if s.priority):
        victim = max((s for s in sections if s.rows and s.priority), key=lambda s: s.priority)
        victim.rows.pop()
        victim.left_out += 1
    left_out = sum(s.left_out for s in sections)
    return render(sections) + "\n" + _note(left_out, max_bytes) + "\n"


def _note(left_out: int, max_bytes: int) -> str:
    return f"_{left_out} {'row' if left_out == 1 else 'rows'} left out to fit {max_bytes} bytes._"
