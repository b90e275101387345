"""Measured paths from other checkouts onto this one: `[tool.coverage.paths]` first (coverage.py's own
aliasing), else the longest path suffix that exists under the local root.

`remap` is pure apart from the `exists` callback it is given; `coverage_aliases` reads the project's
coverage configuration the way coverage.py finds it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coverage.files import PathAliases

SHOWN = 10  # unmappable paths named in a message; the rest are counted
# coverage.py's own order of configuration files (coverage.config.config_files_to_try): the first that
# holds coverage settings is the only one read. True: the file is coverage's own (no section prefix).
_CONFIG_FILES = ((".coveragerc", True), (".coveragerc.toml", True), ("setup.cfg", False), ("tox.ini", False))
_SEPARATORS = re.compile(r"[\\/]+")


@dataclass(frozen=True)
class Remap:
    mapping: Mapping[str, str]  # measured path -> the path it names in this checkout
    unmapped: tuple[str, ...]  # measured paths that name nothing here

    def describe_unmapped(self) -> str:
        shown = ", ".join(self.unmapped[:SHOWN])
        more = len(self.unmapped) - SHOWN
        return shown + (f" and {more} more" if more > 0 else "")


def parts(path: str) -> list[str]:
    """The components of a POSIX or Windows path (a drive letter is one more component)."""
    return [part for part in _SEPARATORS.split(path) if part and part != "."]


def remap(
    paths: Iterable[str],
    root: Path,
    exists: Callable[[str], bool] = os.path.exists,
    aliases: PathAliases | None = None,
) -> Remap:
    """Each measured path onto `root`: by `aliases` when they map it, kept when it already names a file
    under `root`, else `root` joined with its longest suffix that `exists`. A relative measured path
    (coverage's `relative_files`) stays relative."""
    mapping: dict[str, str] = {}
    unmapped: list[str] = []
    for path in dict.fromkeys(paths):
        found = _one(path, root, exists, aliases)
        if found is None:
            unmapped.append(path)
        else:
            mapping[path] = found
    return Remap(mapping, tuple(unmapped))


def _one(path: str, root: Path, exists: Callable[[str], bool], aliases: PathAliases | None) -> str | None:
    if aliases is not None:
        aliased = aliases.map(path, exists=lambda p: exists(_under(root, p)))
        if aliased != path:
            return aliased  # absolute under root, or relative when the data is (`relative_files`)
    relative = _relative(path)
    if relative and exists(_under(root, path)):
        return path
    if not relative and _inside(path, root) and exists(path):
        return path
    names = parts(path)
    for start in range(len(names)):
        suffix = names[start:]
        if start == 0 and not relative and re.fullmatch(r"[A-Za-z]:", suffix[0]):
            continue  # a drive letter is no directory of this checkout
        candidate = os.path.join(str(root), *suffix)
        if exists(candidate):
            return os.path.join(*suffix) if relative else candidate
    return path if not relative and exists(path) else None  # outside the checkout but present here


def _relative(path: str) -> bool:
    return not (path.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", path))


def _under(root: Path, path: str) -> str:
    return path if not _relative(path) else os.path.join(str(root), path)


def _inside(path: str, root: Path) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), str(root)]) == str(root)
    except ValueError:  # another drive, or a Windows path on POSIX
        return False


def coverage_aliases(root: Path) -> PathAliases | None:
    """The project's `[paths]` (`[tool.coverage.paths]`) as coverage.py's PathAliases, built as
    `coverage combine` builds them (each entry's first pattern is where the others map to); None when
    there are none."""
    from coverage.config import CoverageConfig

    config = CoverageConfig()
    rcfile = os.environ.get("COVERAGE_RCFILE")
    candidates = [(rcfile, True)] if rcfile else []
    candidates += [
        *((str(root / name), ours) for name, ours in _CONFIG_FILES),
        (str(root / "pyproject.toml"), False),
    ]
    for name, ours in candidates:
        if name is not None and os.path.isfile(name) and config.from_file(name, warn=_ignore, our_file=ours):
            break
    return build_aliases(config.paths, root, relative=config.relative_files)


def build_aliases(
    paths: Mapping[str, Sequence[str]], root: Path, *, relative: bool = False
) -> PathAliases | None:
    """`[paths]` entries as coverage.py's PathAliases, as `coverage combine` run in `root` builds them: each
    entry's first pattern is where the others map to, under `root` unless the data is relative."""
    from coverage.files import PathAliases

    if not paths:
        return None
    aliases = PathAliases(relative=relative)
    for patterns in paths.values():
        result = patterns[0]
        if not relative and _relative(result):
            result = os.path.join(str(root), result)
        for pattern in patterns[1:]:
            aliases.add(pattern, result)
    return aliases


def _ignore(message: str) -> None:
    """coverage.py's configuration warnings are the gate's to show, when it reads the same file."""
