"""[tool.ci-toolkit] read once into frozen, typed objects.

All validation happens here, so the rest of ci-toolkit can trust every value: a bad key, type or value
stops the run before any test starts, with one line naming the file, the key path, what was expected and
what was found. Every key is declared once, in `keys`; docs/reference/configuration.md is generated from
it (`python -m ci_toolkit.config.reference --write`).
"""

from __future__ import annotations

from ci_toolkit.config.keys import COVERAGE_KEYS, LANE_KEYS, SCHEDULERS, TOP_KEYS, max_workers
from ci_toolkit.config.model import Config, CoverageConfig, Floor, Lane, Workers
from ci_toolkit.config.parse import _Parser as _Parser
from ci_toolkit.config.parse import display_path, parse
from ci_toolkit.config.patterns import glob_problem
from ci_toolkit.config.pyproject import find_pyproject, load

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
