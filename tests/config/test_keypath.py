"""Key paths and values shown as a user would write them in TOML."""

from __future__ import annotations

import pytest

from ci_toolkit.config.keypath import format_key_path


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("tool", "ci-toolkit", "lanes", 1, "workers"), "tool.ci-toolkit.lanes[1].workers"),
        (("tool", "ci-toolkit", "coverage", "paths", "app/**"), 'tool.ci-toolkit.coverage.paths."app/**"'),
        (("a", 'say "hi"\n'), 'a."say \\"hi\\"\\n"'),
    ],
)
def test_format_key_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_key_path(path) == text
