"""pytest marker expressions, compiled and matched exactly as `pytest -m` does, on every pytest we support.

Both sides use this: the configuration checks each lane's `markers` when it is read, and the pytest plugin
evaluates them against the collected items. pytest's parser is private (`_pytest.mark.expression`) and has
changed shape: before 8.4 it raises its own ParseError ("at column N: message"), from 8.4 on a SyntaxError
(offset, msg). Here both become one ValueError with the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Matcher = Callable[..., bool]


def compile_expression(text: str) -> Any:
    """pytest's compiled expression for `text`; ValueError("at column N: message") when it is not one."""
    from _pytest.mark import expression

    parse_error: type[Exception] = getattr(expression, "ParseError", SyntaxError)
    try:
        return expression.Expression.compile(text)
    except SyntaxError as exc:
        raise ValueError(f"at column {exc.offset}: {' '.join(str(exc.msg).split())}") from None
    except parse_error as exc:  # pragma: no cover - pytest < 8.4
        hint = "" if "(" not in text or keyword_matching() else f" ({_KEYWORDS_NEED})"
        raise ValueError(" ".join(str(exc).split()) + hint) from None


_KEYWORDS_NEED = "matching a marker's arguments, name(key=value), needs pytest 8.3 or newer"


def keyword_matching() -> bool:
    """Whether this pytest's `-m` matches a marker's arguments (`integration(kind="db")`, pytest >= 8.3)."""
    from _pytest.mark import expression

    try:
        expression.Expression.compile('m(k="v")')
    except Exception:  # pragma: no cover - pytest < 8.3: its ParseError
        return False
    return True


def matcher(item: Any) -> Matcher:
    """The matcher `pytest -m` evaluates an item's expression against (pytest >= 8.3: with kwargs)."""
    try:
        from _pytest.mark import MarkMatcher
    except ImportError:  # pragma: no cover - a future pytest that moved it
        MarkMatcher = None
    if MarkMatcher is not None:
        if hasattr(MarkMatcher, "from_markers"):
            return MarkMatcher.from_markers(item.iter_markers())
        if hasattr(MarkMatcher, "from_item"):  # pragma: no cover - pytest 8.0-8.2
            return MarkMatcher.from_item(item)
    names = {mark.name for mark in item.iter_markers()}  # pragma: no cover - last resort: names only
    return lambda name, /, **kwargs: name in names and not kwargs  # pragma: no cover
