"""The validated configuration: frozen dataclasses, one field per key of ci_toolkit.config.keys.

Defaults come from the key table, so `Config.timings_alpha` and the reference always agree; only the
structured keys (lanes, coverage, services) build theirs here, from their own tables' defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ci_toolkit.config.keys import COVERAGE, LANE, TOP
from ci_toolkit.services.base import ServiceSpec

Workers = int | Literal["auto"]


@dataclass(frozen=True)
class Floor:
    """A minimum coverage percentage (0-100) for the files a glob pattern matches."""

    pattern: str  # relative POSIX glob from the project root (ci_toolkit.config.patterns)
    minimum: float


@dataclass(frozen=True)
class CoverageConfig:
    """[tool.ci-toolkit.coverage]."""

    source: tuple[str, ...] = COVERAGE.defaults["source"]  # empty: detected from the layout
    branch: bool = COVERAGE.defaults["branch"]
    fail_under: float = COVERAGE.defaults["fail_under"]
    patch_fail_under: float | None = COVERAGE.defaults["patch_fail_under"]  # None: reported, not gated
    paths: tuple[Floor, ...] = COVERAGE.defaults["paths"]  # the most specific pattern wins
    groups: tuple[Floor, ...] = COVERAGE.defaults["groups"]
    critical: tuple[Floor, ...] = COVERAGE.defaults["critical"]  # 100 unless given; fail-closed


@dataclass(frozen=True)
class Lane:
    """One [[tool.ci-toolkit.lanes]] entry: a pytest run over the tests its marker expression selects."""

    name: str  # used in file names and reports, hence the restricted characters
    markers: str | None = LANE.defaults["markers"]  # None selects every test
    workers: Workers | None = LANE.defaults["workers"]  # None: the top-level `workers`
    pytest_args: tuple[str, ...] = LANE.defaults["pytest_args"]
    allow_empty: bool = LANE.defaults["allow_empty"]
    services: tuple[str, ...] = LANE.defaults["services"]
    concurrent: bool = LANE.defaults["concurrent"]


@dataclass(frozen=True)
class Config:
    """[tool.ci-toolkit]."""

    root: Path  # the directory holding pyproject.toml (the cwd when parse() was given no file)
    path: Path | None = None  # the pyproject.toml read; None when parse() was given no file
    workers: Workers = TOP.defaults["workers"]
    lanes: tuple[Lane, ...] = (Lane(name="all"),)
    allow_unselected: bool = TOP.defaults["allow_unselected"]
    allow_overlap: bool = TOP.defaults["allow_overlap"]
    pytest_args: tuple[str, ...] = TOP.defaults["pytest_args"]
    output_dir: Path = TOP.defaults["output_dir"]  # relative to root, never outside it
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    # In file order: the start order when a lane needs several.
    services: Mapping[str, ServiceSpec] = field(default_factory=dict)
    timings: Path = TOP.defaults["timings"]  # relative to root, or absolute
    timings_alpha: float = TOP.defaults["timings_alpha"]
    timings_prune_after: int = TOP.defaults["timings_prune_after"]
    scheduler: Literal["duration", "xdist"] = TOP.defaults["scheduler"]
    share_sessions: bool = TOP.defaults["share_sessions"]
    keep_together: tuple[str, ...] = TOP.defaults["keep_together"]
    shard_overhead: float | Literal["auto"] = TOP.defaults["shard_overhead"]
