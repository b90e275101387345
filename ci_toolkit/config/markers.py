"""pytest marker expressions, compiled and matched exactly as `pytest -m` does, on every pytest we support.

Both sides use this: the configuration checks each lane's `markers` when it is read, and the pytest plugin
evaluates them against the collected items. pytest's parser is private (`_pytest.mark.expression`) and has
changed shape: before 8.4 it raises its own ParseError ("at column N: message"), from 8.4 on a SyntaxError
(offset, msg). Here both become one ValueError with the same text.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

Matcher = Callable[..., bool]

_STANDALONE = "ci_toolkit.config._pytest_mark_expression"


def _expression_module() -> ModuleType:
    """pytest's `_pytest.mark.expression`. In a pytest process, the one pytest uses. In ci-toolkit's own
    process, which checks the lanes' expressions before it starts pytest, that module's file alone: it
    needs only the standard library, while importing it the usual way imports `_pytest.mark`, and with
    it most of pytest, tens of milliseconds before the first lane can start. A pytest whose module
    needs more is imported the usual way."""
    loaded = sys.modules.get("_pytest.mark.expression") or sys.modules.get(_STANDALONE)
    if loaded is not None:
        return loaded
    try:
        # Anything missing on the way (no pytest, another layout) raises, and the usual import decides.
        origin = Path(importlib.util.find_spec("_pytest").origin)  # type: ignore[union-attr,arg-type]
        spec = importlib.util.spec_from_file_location(_STANDALONE, origin.parent / "mark" / "expression.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[_STANDALONE] = module  # dataclasses looks its module up there
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        module.Expression.compile("a and not (b or c)")
    except Exception:
        sys.modules.pop(_STANDALONE, None)
        from _pytest.mark import expression

        return expression
    return module


def compile_expression(text: str) -> Any:
    """pytest's compiled expression for `text`; ValueError("at column N: message") when it is not one."""
    expression = _expression_module()

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
    expression = _expression_module()

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
