"""Glob matching over relative POSIX paths and the specificity order; patterns follow config's one rule."""

from __future__ import annotations

import pytest

from ci_toolkit.config.globs import compile_glob, is_literal, matches, segments, specificity


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("app/models.py", "app/models.py", True),
        ("app/models.py", "app/models.pyc", False),
        ("app/models.py", "x/app/models.py", False),
        ("app/*.py", "app/models.py", True),
        ("app/*.py", "app/sub/models.py", False),  # * stays inside one segment
        ("app/*", "app/.hidden", True),
        ("app/**", "app/x.py", True),
        ("app/**", "app/a/b/c.py", True),
        ("app/**", "apps/x.py", False),
        ("app/**", "app", False),
        ("**/x.py", "x.py", True),  # zero directories
        ("**/x.py", "a/b/x.py", True),
        ("**/x.py", "a/bx.py", False),
        ("a/**/b.py", "a/b.py", True),
        ("a/**/b.py", "a/x/y/b.py", True),
        ("a/**/b.py", "ab.py", False),
        ("**", "anything/at/all.py", True),
        ("a/?.py", "a/b.py", True),
        ("a/?.py", "a/bc.py", False),
        ("a?b", "a/b", False),  # ? never matches the separator
        ("a/[bc].py", "a/c.py", True),
        ("a/[bc].py", "a/d.py", False),
        ("a/[!bc].py", "a/d.py", True),
        ("a/[!bc].py", "a/b.py", False),
        ("a[!x]b", "a/b", False),  # nor does a negated class
        ("a[/]b", "a/b", False),
        ("a/[a-c]x", "a/bx", True),
        ("a/[]]x", "a/]x", True),  # "]" first in a class is a member
        ("a/[[]x", "a/[x", True),
        ("a/[&~|^]x", "a/^x", True),
        ("a[b", "a[b", True),  # an unclosed "[" is literal
        ("a.b+c(d)", "a.b+c(d)", True),  # regex metacharacters are literal
        ("App/x.py", "app/x.py", False),  # case-sensitive
    ],
)
def test_matches(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_compiled_patterns_are_cached() -> None:
    assert compile_glob("app/**/x.py") is compile_glob("app/**/x.py")


def test_literal() -> None:
    assert is_literal("app/models.py")
    assert not is_literal("app/*.py") and not is_literal("app/**") and not is_literal("a/[bc]")


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        ("./x", 'expected a glob without a leading "./" (write "x")'),
        ("././x", 'expected a glob without a leading "./" (write "x")'),
        ("x/", 'expected a glob naming files, not a directory (write "x/**")'),
        ("x//y", 'expected a glob without empty segments ("//") (write "x/y")'),
        ("a**b.py", 'expected a glob with "**" only as a whole path segment (write "a*/**/*b.py")'),
        ("", "expected a non-empty glob pattern"),
    ],
)
def test_patterns_config_refuses_are_refused_here_too(pattern: str, hint: str) -> None:
    # One rule (ci_toolkit.config.patterns): what the gate matches is what the configuration accepted.
    for use in (compile_glob, is_literal, specificity, segments, lambda p: matches(p, "x/y")):
        with pytest.raises(ValueError) as info:
            use(pattern)
        assert str(info.value) == f"invalid glob {pattern!r}: {hint}"


@pytest.mark.parametrize(
    ("more", "less"),
    [
        ("app/models.py", "app/*.py"),  # exact beats glob
        ("x.py", "app/api/v1/**/*.py"),  # exact beats any glob, however long
        ("app/api/*.py", "app/**"),  # more literal segments
        ("app/api/*", "**/v1.py"),
        ("app/test_*.py", "app/*.py"),  # then more literal characters
        ("app/[ab]x.py", "app/*.py"),  # a class is not a literal character
    ],
)
def test_specificity_order(more: str, less: str) -> None:
    assert specificity(more) > specificity(less)


def test_specificity_values() -> None:
    assert specificity("app/models.py") == (1, 2, 12)
    assert specificity("app/**") == (0, 1, 3)
    assert specificity("a/[ab]*?[x") == (0, 1, 3)  # "a", then the unclosed "[" and "x" are literal
