"""The one glob rule: what config accepts is what the gate matches; anything else gets the spelling to use."""

from __future__ import annotations

import pytest

from ci_toolkit.config import glob_problem


@pytest.mark.parametrize(
    "pattern", ["app/**", "**/test_*.py", "app/[ab]*.py", "app/models.py", "*", "**", "a/**/b/*.py"]
)
def test_good_globs(pattern: str) -> None:
    assert glob_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("./x", 'a glob without a leading "./" (write "x")'),
        ("././x", 'a glob without a leading "./" (write "x")'),
        ("./x/", 'a glob without a leading "./" (write "x/**")'),
        ("./", 'a glob without a leading "./" (write "**")'),
        ("x/", 'a glob naming files, not a directory (write "x/**")'),
        ("x//y", 'a glob without empty segments ("//") (write "x/y")'),
        ("a//b//c.py", 'a glob without empty segments ("//") (write "a/b/c.py")'),
        ("", "a non-empty glob pattern"),
        ("a\\b", 'a glob with "/" separators and no backslashes'),
        ("/a", "a glob relative to the project root"),
        ("C:/a", "a glob relative to the project root"),
        ("a/../b", 'a glob inside the project root, without "." or ".." segments'),
        ("a/./b", 'a glob inside the project root, without "." or ".." segments'),
        ("app/**.py", 'a glob with "**" only as a whole path segment (write "app/**/*.py")'),
        ("app**", 'a glob with "**" only as a whole path segment (write "app*/**")'),
        ("a/x**y**z", 'a glob with "**" only as a whole path segment (write "a/x*/**/*y*/**/*z")'),
        ("a/***", 'a glob with "**" only as a whole path segment (write "a/**/*")'),
    ],
)
def test_refused_globs_name_the_spelling_to_use(pattern: str, problem: str) -> None:
    assert glob_problem(pattern) == problem
