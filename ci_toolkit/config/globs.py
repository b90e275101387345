"""Glob patterns over relative POSIX paths, and the "most specific pattern wins" rule.

Syntax (the same for every coverage floor in [tool.ci-toolkit]):

- ``*`` matches any run of characters inside one path segment, ``?`` one character, ``[abc]`` / ``[!abc]``
  a character class; none of them ever matches ``/``.
- ``**`` as a whole segment matches zero or more directories: ``app/**`` matches every file under ``app``,
  ``**/models.py`` matches ``models.py`` at any depth, including the top level.
- Matching is case-sensitive and anchored: the pattern must match the whole path.

Which patterns are accepted is `ci_toolkit.config.patterns.glob_problem`, the rule the configuration applies:
every function here raises ValueError for any other pattern ("./app", "app/", "a**b"), so what is matched is
always what the configuration accepted and the reports show.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from ci_toolkit.config.patterns import glob_problem

_WILDCARD_CHARS = frozenset("*?[")


@functools.lru_cache(maxsize=1024)
def segments(pattern: str) -> tuple[str, ...]:
    """The path segments of an accepted *pattern*; ValueError naming the spelling to use for any other."""
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"invalid glob {pattern!r}: expected {problem}")
    return tuple(pattern.split("/"))


def _tokens(segment: str) -> Iterator[tuple[str, str]]:
    """*segment* read once into ("*", ""), ("?", ""), ("[", class body) and ("", literal character)."""
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        i += 1
        if c in "*?":
            yield c, ""  # "**" inside a segment is refused before it gets here
        elif c == "[" and (end := _class_end(segment, i)) >= 0:
            yield "[", segment[i:end]
            i = end + 1
        else:
            yield "", c  # an unclosed "[" is a literal, as in fnmatch


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    for kind, text in _tokens(segment):
        if kind == "*":
            out.append("[^/]*")
        elif kind == "?":
            out.append("[^/]")
        elif kind == "[":
            negate = text.startswith("!")
            body = text[1:] if negate else text
            # Escape what re treats specially inside a class; "-" keeps its range meaning.
            body = "".join("\\" + ch if ch in "\\^[]&~|" else ch for ch in body)
            # A class never matches the separator, negated or not.
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
        else:
            out.append(re.escape(text))
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
    parts: list[str] = []
    split = segments(pattern)
    for index, segment in enumerate(split):
        last = index == len(split) - 1
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
    return not any(c in _WILDCARD_CHARS for c in "".join(segments(pattern)))


def specificity(pattern: str) -> tuple[int, int, int]:
    """A sort key: the larger, the more specific the pattern.

    In order: an exact path beats any glob; then the pattern with more wildcard-free segments;
    then the one with more literal characters. Ties (equal keys) are broken by the caller,
    which picks the stricter (higher) floor.
    """
    split = segments(pattern)
    literal_segments = sum(1 for s in split if not any(c in _WILDCARD_CHARS for c in s))
    literal_chars = sum(len(_literal_text(s)) for s in split)
    return (1 if literal_segments == len(split) else 0, literal_segments, literal_chars)


def _literal_text(segment: str) -> str:
    """The characters of *segment* that match only themselves."""
    return "".join(text for kind, text in _tokens(segment) if not kind)
