"""[tool.ci-toolkit] read once into frozen, typed objects.

All validation happens here; every error names the file, the key path and what was expected.
(The loader is being written; the types below are the contract the other modules use.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Workers = int | Literal["auto"]


@dataclass(frozen=True)
class Floor:
    """A minimum coverage percentage (0-100) for the files a glob pattern matches."""

    pattern: str
    minimum: float


@dataclass(frozen=True)
class CoverageConfig:
    source: tuple[str, ...] = ()  # empty: detected from the project layout
    branch: bool = True
    fail_under: float = 0.0
    paths: tuple[Floor, ...] = ()  # per-file floors; the most specific pattern wins
    groups: tuple[Floor, ...] = ()  # aggregate floors over all files a pattern matches
    critical: tuple[Floor, ...] = ()  # per-file, 100 unless given; fail-closed


@dataclass(frozen=True)
class Lane:
    name: str
    markers: str | None = None  # a pytest -m expression; None selects every test
    workers: Workers | None = None  # None: the top-level `workers`; 0 runs without xdist
    pytest_args: tuple[str, ...] = ()
    allow_empty: bool = False


@dataclass(frozen=True)
class Config:
    root: Path  # the directory holding pyproject.toml (or the cwd when run with defaults)
    path: Path | None = None  # the pyproject.toml read, None when defaults are used
    workers: Workers = "auto"
    lanes: tuple[Lane, ...] = (Lane(name="all"),)
    allow_unselected: bool = False
    allow_overlap: bool = False
    pytest_args: tuple[str, ...] = ()
    output_dir: Path = Path(".ci-toolkit")  # relative to root
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
