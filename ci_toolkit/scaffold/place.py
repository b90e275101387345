"""Putting the rendered [tool.ci-toolkit] into the bytes of a pyproject.toml, every other byte kept.

A file without the table gets it appended, in the file's own line ending, after a blank line. A file
that has it is refused unless `force`; then the lines of its tables (each `[tool.ci-toolkit...]` header
down to the next other header, leaving the blank lines and the comments written right above that header)
are replaced by the new text. Either way the result is parsed again and must mean exactly what the file
meant with only tool.ci-toolkit changed; when it does not (the table written inline in `[tool]`, as
dotted keys, a header inside a multi-line string), nothing is written and one line says why.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_toolkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

BOM = b"\xef\xbb\xbf"
_HEADER = re.compile(r"[ \t]*\[\[?(?P<key>[^\[\]]+)\]\]?[ \t]*(?:#.*)?")
_KEY_PART = re.compile(
    r"""[ \t]*(?:"(?P<basic>(?:[^"\\]|\\.)*)"|'(?P<literal>[^']*)'|(?P<bare>[A-Za-z0-9_-]+))[ \t]*"""
)


@dataclass(frozen=True)
class Placed:
    data: bytes
    how: str  # what happened, for the summary line: "appended", "replaced lines 3-20", "unchanged"


def parse(text: str, label: str) -> dict[str, Any]:
    """The TOML document `text`; ConfigError (one line, with the line number) when it is not one."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {' '.join(str(exc).split())}; fix it first") from None


def decode(data: bytes, label: str) -> str:
    """The text of a pyproject.toml's bytes, a UTF-8 BOM left aside."""
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text (bad byte at offset {exc.start}); fix it first") from None


def has_table(document: Mapping[str, Any]) -> bool:
    tool = document.get("tool")
    return isinstance(tool, Mapping) and "ci-toolkit" in tool


def header_key(line: str) -> tuple[str, ...] | None:
    """The dotted key of a table header line (`[a."b".c]`, `[[a.b]]`), None for any other line."""
    match = _HEADER.fullmatch(line.rstrip("\r\n"))
    if match is None:
        return None
    parts: list[str] = []
    for piece in _split_dotted(match["key"]):
        part = _KEY_PART.fullmatch(piece)
        if part is None:
            return None
        parts.append(next(value for value in part.groups() if value is not None))
    return tuple(parts)


def _split_dotted(key: str) -> list[str]:
    pieces, current, quote = [], "", ""
    for char in key:
        if quote:
            quote = "" if char == quote and not current.endswith("\\") else quote
        elif char in "\"'":
            quote = char
        elif char == ".":
            pieces.append(current)
            current = ""
            continue
        current += char
    return [*pieces, current]


def _ours(key: tuple[str, ...] | None) -> bool:
    return key is not None and key[:2] == ("tool", "ci-toolkit")


def table_spans(lines: list[str]) -> list[tuple[int, int]]:
    """The [start, end) line ranges of the tool.ci-toolkit tables: from each of our headers to the next
    other header, less the blank lines and the comments attached to that next header."""
    keys = [header_key(line) for line in lines]
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(lines):
        if not _ours(keys[index]):
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and (keys[index] is None or _ours(keys[index])):
            index += 1
        end = index
        if end < len(lines):  # comments right above another header belong to it
            while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
                end -= 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        spans.append((start, end))
    return spans


def _expected(document: Mapping[str, Any], table_text: str) -> dict[str, Any]:
    """What the file must mean once the table is in: the same, tool.ci-toolkit aside. (Called once the
    result parsed, so `tool` is a table: a `tool` that is not one makes [tool.ci-toolkit] invalid TOML.)"""
    ours = tomllib.loads(table_text)["tool"]["ci-toolkit"]
    return {**document, "tool": {**document.get("tool", {}), "ci-toolkit": ours}}


def place(original: bytes | None, table_text: str, *, force: bool, label: str) -> Placed:
    """The new bytes of the pyproject.toml `label` (`original`: its bytes, None when there is none) with
    `table_text` (LF line endings) as its [tool.ci-toolkit]."""
    if original is None:
        return Placed(table_text.encode("utf-8"), "created")
    text = decode(original, label)
    document = parse(text, label)
    newline = "\r\n" if "\r\n" in text else "\n"
    new_table = table_text.replace("\n", newline)
    if not has_table(document):
        if not text.strip():
            separator = ""
        elif text.endswith("\n"):
            separator = "" if text.endswith(newline * 2) else newline
        else:
            separator = newline * 2
        result, how = text + separator + new_table, "appended"
        problem = "appending it would change what the file's other tables mean"
    elif not force:
        raise ConfigError(f"{label}: [tool.ci-toolkit] is there already; pass --force to replace it")
    else:
        lines = text.splitlines(keepends=True)
        spans = table_spans(lines)
        kept = list(lines)
        for start, end in reversed(spans):
            kept[start:end] = [new_table] if (start, end) == spans[0] else []
        result = "".join(kept)
        shown = ", ".join(f"{start + 1}-{end}" for start, end in spans)
        how = f"replaced lines {shown}"
        problem = (
            "its [tool.ci-toolkit] is not written as [tool.ci-toolkit...] tables of their own (inline in "
            "[tool], or as dotted keys), so --force cannot replace just those lines; edit it by hand"
        )
    try:
        same = tomllib.loads(result) == _expected(document, table_text)
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise ConfigError(f"{label}: {problem}; nothing was written")
    data = (BOM if original.startswith(BOM) else b"") + result.encode("utf-8")
    return Placed(data, "unchanged" if data == original else how)
