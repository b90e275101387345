"""Strings from test ids, messages and paths made inert for GitHub Markdown.

Escaped text cannot break a table row, open HTML, start or close a code span, format, link, ping anyone
(`@user`, `@org/team`) or reference an issue (`#123`, `GH-123`). Everything is written as an HTML entity
or followed by an invisible word joiner, so what a reader sees is the original text.
"""

from __future__ import annotations

import re

from ci_toolkit.report import printable

# Markdown and HTML syntax characters, shown as entities: never acted on, inside a table cell or not.
_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "&#124;",
    "`": "&#96;",
    "\\": "&#92;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "~": "&#126;",
    "$": "&#36;",  # math: $...$
}
# A word joiner after "@" and "#" (and inside "GH-"): GitHub links a mention or reference only when the
# name or number follows at once, and the joiner is invisible.
JOINER = "&#8288;"
_INERT = {**_ENTITIES, "@": "@" + JOINER, "#": "&#35;" + JOINER, "": JOINER}
# One pass, so that no entity written here is escaped again.
_ACTIVE = re.compile("[" + re.escape("".join(_ENTITIES)) + "@#]|(?<=[Gg])(?=[Hh]-)")
_SPACE = re.compile(r"\s+")
MAX_TEXT = 300  # characters of one string kept in a report (a message's first line is enough)


def text(value: str, limit: int = MAX_TEXT) -> str:
    """*value* on one line, at most *limit* characters (cut before escaping, so no entity is cut), inert."""
    line = _SPACE.sub(" ", printable(value)).strip()
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return _ACTIVE.sub(lambda m: _INERT[m.group()], line)


def code(value: str, limit: int = MAX_TEXT) -> str:
    """*value* shown as code: an HTML `<code>` element whose content is escaped text, so no backtick in
    it can close (or open) a Markdown code span and no `</code>` in it can end the element."""
    return f"<code>{text(value, limit)}</code>"


def label(value: str) -> str:
    """A name inside a Mermaid block: letters, digits and a few safe separators only."""
    return re.sub(r"[^A-Za-z0-9 ._/+=-]", "_", printable(value))[:80] or "_"
