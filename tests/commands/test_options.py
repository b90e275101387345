"""ci_toolkit.commands.options: the options several commands take are declared there, and only there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ci_toolkit
from ci_toolkit.commands import options
from ci_toolkit.services.base import BACKENDS

PACKAGE = Path(ci_toolkit.__file__).parent
COMMAND_SOURCES = [*sorted((PACKAGE / "commands").glob("*.py")), PACKAGE / "cli.py"]


def flags_declared_in(path: Path) -> set[str]:
    """The option names given to click.option(...) calls in a module."""
    flags: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "option":
            for arg in node.args:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and arg.value.startswith("--")
                ):
                    flags.update(arg.value.split("/"))
    return flags


@pytest.mark.parametrize("flag", ["--config", "--json", "--color", "--backend", "--project"])
def test_a_shared_option_is_declared_once(flag: str) -> None:
    declaring = [path.name for path in COMMAND_SOURCES if flag in flags_declared_in(path)]
    assert declaring == ["options.py"]


def test_the_backend_choices_are_the_backends() -> None:
    assert options.BACKEND_CHOICES == BACKENDS
