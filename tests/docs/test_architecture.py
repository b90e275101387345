"""docs/architecture.md names every module of ci_toolkit/ by its path, and no module that does not exist.

Modules move while the package grows; this keeps the page's one-line-per-module table in step with the tree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
MODULE = re.compile(r"ci_toolkit/[\w/]*\w\.py")


def test_the_architecture_page_lists_exactly_the_modules() -> None:
    actual = {path.relative_to(ROOT).as_posix() for path in (ROOT / "ci_toolkit").rglob("*.py")}
    named = set(MODULE.findall(PAGE.read_text(encoding="utf-8")))

    missing = sorted(actual - named)
    gone = sorted(named - actual)
    if missing or gone:
        lines = [f"not on the page: {m}" for m in missing]
        lines += [f"on the page, not in ci_toolkit/: {g}" for g in gone]
        pytest.fail("docs/architecture.md is out of date:\n  " + "\n  ".join(lines), pytrace=False)
