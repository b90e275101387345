"""The workflow template `init` copies is the repository's workflows/ci.yml itself, reachable as package
data (the wheel's content was checked by hand with `pip wheel`; building one here needs the network)."""

from __future__ import annotations

import fnmatch
import sys
from importlib import resources
from pathlib import Path

import ci_toolkit
from ci_toolkit.scaffold import template

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

REPO = Path(ci_toolkit.__file__).parent.parent
CANONICAL = REPO / "workflows" / "ci.yml"
LINK = Path(template.__file__).parent / "workflows"


def test_the_template_through_importlib_resources_is_workflows_ci_yml() -> None:
    data = resources.files("ci_toolkit.scaffold").joinpath("workflows", "ci.yml").read_bytes()
    assert data == CANONICAL.read_bytes()
    assert template.workflow() == data


def test_there_is_one_copy_the_package_links_to() -> None:
    assert LINK.is_symlink()
    assert LINK.resolve() == CANONICAL.parent.resolve()


def test_the_wheel_is_told_to_carry_it() -> None:
    settings = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = settings["package-data"]["ci_toolkit.scaffold"]
    assert any(fnmatch.fnmatch("workflows/ci.yml", pattern) for pattern in patterns)
    assert any(fnmatch.fnmatch("ci_toolkit.scaffold", p) for p in settings["packages"]["find"]["include"])
