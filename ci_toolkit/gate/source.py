"""The coverage source: which files the gate judges, and the paths the model names them by.

What is judged is exactly the coverage ``source`` (`resolve_source`): a measured file outside it never
counts, and every Python file under it that the data does not name counts at 0%. Data measured in another
project or checkout (none of its files under the source, and files that do not exist here) is refused
(`foreign`) rather than judged at 0%.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from ci_toolkit.errors import ConfigError

# The names coverage.py takes for importable Python files (coverage.files.find_python_files).
_PY_FILE = re.compile(r"[^.#~!$@%^&*()+=,]+\.pyw?")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def resolve_source(entries: Sequence[str], root: Path, where: str) -> tuple[Path, ...]:
    """The directories and files the coverage `source` entries name, as absolute paths.

    An entry is a path relative to *root* when one exists there (coverage.py too takes a directory first),
    else a package or module name looked up under *root* and *root*/src. *where* names the configuration
    file in the error raised for an entry that names nothing.
    """
    found: list[Path] = []
    for entry in entries:
        path = _source_path(entry, Path(root))
        if path is None:
            raise ConfigError(
                f"{where}: tool.ci-toolkit.coverage.source: {json.dumps(entry)} is neither a directory or "
                f"file under {root} nor a package or module there or in {Path(root) / 'src'}; "
                "fix the name, or give the path relative to the project root"
            )
        found.append(path)
    return tuple(found)


def _source_path(entry: str, root: Path) -> Path | None:
    direct = Path(os.path.normpath(root / entry))
    if direct.is_dir() or direct.is_file():
        return direct
    if not _DOTTED.fullmatch(entry):
        return None
    *parents, name = entry.split(".")
    for base in (root, root / "src"):
        for candidate in (base.joinpath(*parents, name), base.joinpath(*parents, f"{name}.py")):
            if candidate.exists():
                return candidate
    return None


def in_source(path: str, root: Path, source: Sequence[Path]) -> bool:
    """Whether the model *path* (relative to *root*, or absolute) lies in one of the *source* paths."""
    return within(real(Path(root) / path), [real(s) for s in source])


def real(path: Path | str) -> str:
    return os.path.realpath(path)


def within(real_path: str, sources: Sequence[str]) -> bool:
    """Both sides are real paths, so a symlinked checkout and coverage.py's real file names agree."""
    return any(real_path == s or real_path.startswith(s.rstrip(os.sep) + os.sep) for s in sources)


def candidate_files(source: Sequence[Path]) -> set[str]:
    """Every file coverage.py could take as Python under *source*: a superset (namespace packages included,
    `omit` not applied), only to tell whether coverage.py must be asked at all."""
    found: set[str] = set()
    for entry in source:
        if entry.is_file():
            found.add(real(entry))
            continue
        for dirpath, _dirs, names in os.walk(entry):
            found.update(real(os.path.join(dirpath, n)) for n in names if _PY_FILE.fullmatch(n))
    return found


def relative_path(name: str, root: Path) -> str:
    """*name* as a POSIX path relative to *root* when under it, else absolute."""
    p = Path(name)
    if not p.is_absolute():
        return PurePath(os.path.normpath(name)).as_posix()
    # os.path.realpath, not Path.resolve: a symlink loop named in a report is a path, not a RuntimeError.
    for base in (root, Path(real(root))):
        for candidate in (p, Path(real(p))):
            try:
                return candidate.relative_to(base.absolute()).as_posix()
            except ValueError:
                continue
    return p.as_posix()


def elsewhere(names: Sequence[str], inside: int, exists: Callable[[str], bool]) -> dict[str, Any] | None:
    """What shows that data naming *names*, *inside* of them under the source, was measured in another
    project or checkout: none under the source, and some that do not exist here. None when it was not."""
    if not names or inside:
        return None
    gone = [name for name in names if not exists(name)]
    return {"example": gone[0], "gone": len(gone), "measured": len(names)} if gone else None


def foreign(path: Path, source: Sequence[Path], root: Path, facts: Mapping[str, Any]) -> str:
    """The message for data measured elsewhere, from the *facts* `elsewhere` found."""
    label = ", ".join(relative_path(str(s), root) for s in source)
    return (
        f"{path}: none of the {facts['measured']} files it names is under the coverage source "
        f"({label}), and {facts['gone']} do not exist here (e.g. {facts['example']}): "
        "was it measured in another project or checkout? "
        "Re-run the tests here, or map the paths with coverage.py's [paths] setting and `coverage combine`"
    )
