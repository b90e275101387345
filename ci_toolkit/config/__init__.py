"""[tool.ci-toolkit] read once into frozen, typed objects.

All validation happens here, so the rest of ci-toolkit can trust every value: a bad key, type or value
stops the run before any test starts, with one line naming the file, the key path, what was expected and
what was found. Every key is declared once, in `keys`; docs/reference/configuration.md is generated from
it (`python -m ci_toolkit.config.reference --write`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_toolkit.lazy import exports

if TYPE_CHECKING:
    from ci_toolkit.config.keys import COVERAGE_KEYS, LANE_KEYS, SCHEDULERS, TOP_KEYS, max_workers
    from ci_toolkit.config.model import Config, CoverageConfig, Floor, Lane, Workers
    from ci_toolkit.config.parser import _Parser as _Parser
    from ci_toolkit.config.parser import display_path, parse
    from ci_toolkit.config.patterns import glob_problem
    from ci_toolkit.config.pyproject import find_pyproject, load

# Each public name and the module that defines it, imported on first use (PEP 562): a pytest process that
# needs one leaf module (markers, globs) must not import the parser, the services' tables and every key.
_HOMES = {
    "COVERAGE_KEYS": "keys",
    "LANE_KEYS": "keys",
    "SCHEDULERS": "keys",
    "TOP_KEYS": "keys",
    "max_workers": "keys",
    "Config": "model",
    "CoverageConfig": "model",
    "Floor": "model",
    "Lane": "model",
    "Workers": "model",
    "_Parser": "parser",
    "display_path": "parser",
    "parse": "parser",
    "glob_problem": "patterns",
    "find_pyproject": "pyproject",
    "load": "pyproject",
}


__getattr__ = exports(__name__, _HOMES, globals())


__all__ = [
    "COVERAGE_KEYS",
    "LANE_KEYS",
    "SCHEDULERS",
    "TOP_KEYS",
    "Config",
    "CoverageConfig",
    "Floor",
    "Lane",
    "Workers",
    "display_path",
    "find_pyproject",
    "glob_problem",
    "load",
    "max_workers",
    "parse",
]
