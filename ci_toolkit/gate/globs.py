"""Glob patterns over relative POSIX paths, and the "most specific pattern wins" rule.

Syntax (the same for every coverage floor in [tool.ci-toolkit]):

- ``*`` matches any run of characters inside one path segment, ``?`` one character, ``[abc]`` / ``[!abc]``
  a character class; none of them ever matches ``/``.
- ``**`` as a whole segment matches zero or more directories: ``app/**`` matches every file under ``app``,
  ``**/models.py`` matches ``models.py`` at any depth, including the top level.
- A pattern ending in ``/`` means the whole directory (``app/`` is ``app/**``); a leading ``./`` is ignored.
- Matching is case-sensitive and anchored: the pattern must match the whole path.
"""

from __future__ import annotations

import functools
import re

_WILDCARD_CHARS = frozenset("*?[")


def normalize(pattern: str) -> str:
    """The canonical form of *pattern* (what is compiled and what specificity is computed on)."""
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern.endswith("/"):
        pattern += "**"
    return pattern


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        i += 1
        if c == "*":
            # Consecutive stars inside a segment are one star: "a**b" is not a directory wildcard.
            while i < n and segment[i] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = _class_end(segment, i)
            if end < 0:
                out.append(re.escape(c))  # an unclosed "[" is a literal, as in fnmatch
                continue
            body = segment[i:end]
            i = end + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            # Escape what re treats specially inside a class; "-" keeps its range meaning.
            body = "".join("\\" + ch if ch in "\\^[]&~|" else ch for ch in body)
            # A class never matches the separator, negated or not.
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


def _class_end(segment: str, start: int) -> int:
    """Index of the "]" closing a class opened just before *start*, or -1."""
    j = start
    if j < len(segment) and segment[j] == "!":
        j += 1
    if j < len(segment) and segment[j] == "]":
        j += 1  # a "]" right after "[" or "[!" is a member, not the end
    return segment.find("]", j)


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile *pattern* (see the module docstring) into an anchored regular expression."""
    segments = normalize(pattern).split("/")
    parts: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
        else:
            parts.append(_translate_segment(segment) + ("" if last else "/"))
    return re.compile("".join(parts) + r"\Z")


def matches(pattern: str, path: str) -> bool:
    """Whether the relative POSIX *path* matches *pattern*."""
    return compile_glob(pattern).match(path) is not None


def is_literal(pattern: str) -> bool:
    """True for an exact path: a pattern without any wildcard."""
    return not any(c in _WILDCARD_CHARS for c in normalize(pattern))


def specificity(pattern: str) -> tuple[int, int, int]:
    """A sort key: the larger, the more specific the pattern.

    In order: an exact path beats any glob; then the pattern with more wildcard-free segments;
    then the one with more literal characters. Ties (equal keys) are broken by the caller,
    which picks the stricter (higher) floor.
    """
    norm = normalize(pattern)
    segments = norm.split("/")
    literal_segments = sum(1 for s in segments if not any(c in _WILDCARD_CHARS for c in s))
    literal_chars = sum(len(_literal_text(s)) for s in segments)
    return (1 if is_literal(norm) else 0, literal_segments, literal_chars)


def _literal_text(segment: str) -> str:
    """The characters of *segment* that match only themselves."""
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        i += 1
        if c in "*?":
            continue
        if c == "[":
            end = _class_end(segment, i)
            if end >= 0:
                i = end + 1
                continue
        out.append(c)
    return "".join(out)
