"""The timing history as the plugin reads it, for shards planned here and the duration scheduler: the file
given with --ci-timings, else the one the project's [tool.ci-toolkit] names, read the way
`ci-toolkit plan` reads it, so that a shard planned here is the shard `plan` would make.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_toolkit.timing import Estimator, History

PYPROJECT = "pyproject.toml"


def estimator(timings: Path | None, root: Path, inipath: Path | None = None) -> Estimator:
    """The duration scheduler's estimates: from `timings` (--ci-timings) when given, else from the history
    the project's [tool.ci-toolkit] names, as `--ci-shard` reads it (a plain `pytest -n 2 --ci-scheduler
    duration` would otherwise schedule without the history the project keeps)."""
    from ci_toolkit import timing as history

    if timings is None:
        return history.Estimator(shard_inputs(root, inipath, None).history)
    return history.Estimator(history.load(timings, history.project_name(root)))


@dataclass(frozen=True)
class ShardInputs:
    """What a shard planned here prices its tests with, and, for the header, where the history came from."""

    history: History
    keep_together: tuple[str, ...]
    overhead: float | str  # the shard_overhead key: seconds, or "auto" (planning.pricing)
    origin: str  # the history's path relative to the rootdir, or "none (why)"


def shard_inputs(rootdir: Path, inipath: Path | None, timings: Path | None) -> ShardInputs:
    """The project's settings and history: `timings` (--ci-timings) when given, else the configured one.

    A [tool.ci-toolkit] that cannot be loaded does not stop pytest: the history is advisory, and every
    shard reading the same file falls back alike, so the shards still partition the suite. The defaults
    are used instead, without the configured history (its path is one of the settings that failed), and
    `origin` names the file and the problem. A history file that cannot be used is reported as
    everywhere else in ci-toolkit (ci_toolkit.timing.locate: one warning line, then the history beside it
    or none).
    """
    from ci_toolkit import config as config_mod
    from ci_toolkit import timing as history
    from ci_toolkit.errors import ConfigError
    from ci_toolkit.run import layout

    # pytest's own configuration file when it is a pyproject.toml; else the one at the rootdir, as ci-toolkit
    # (run from the project root) finds it.
    pyproject = inipath if inipath is not None and inipath.name == PYPROJECT else rootdir / PYPROJECT
    problem = ""
    try:
        if pyproject.is_file():
            loaded = config_mod.load(pyproject, cwd=rootdir)
        else:
            loaded = config_mod.parse({}, pyproject, cwd=rootdir)
    except ConfigError as exc:
        problem = str(exc)
        loaded = config_mod.parse({}, pyproject, cwd=rootdir)
    project = history.project_name(loaded.root)
    path = timings if timings is not None else None if problem else layout.timings_path(loaded)
    if path is None:
        found, origin = history.empty(project), f"none ({problem})"
    else:
        located = history.locate(path, project)
        found = located.history
        used = located.target
        if used is not None and used.is_file():
            origin = config_mod.display_path(used, rootdir)
        else:
            shown = config_mod.display_path(path, rootdir)
            origin = f"none ({shown} {'not found' if used == path else 'not usable'})"
        if problem:
            origin = f"{origin}; defaults for the rest ({problem})"
    return ShardInputs(found, loaded.keep_together, loaded.shard_overhead, origin)
