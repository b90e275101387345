"""The tests tree itself: pytest imports test modules and conftest files by basename (rootdir-relative,
no packages), so two of one name shadow each other; a collection error is how that showed up."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_basenames_are_unique() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_one_conftest() -> None:
    """A second conftest.py would be imported as `conftest` too, hiding the shared one from
    `from conftest import ...`; shared fixtures go in tests/conftest.py, helpers in a named module."""
    assert sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("conftest.py")) == ["conftest.py"]
