"""Finding and reading the pyproject.toml: every problem with the file itself is a one-line ConfigError."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ci_toolkit.config.model import Config
from ci_toolkit.config.parser import display_path, parse
from ci_toolkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in `start` or one of its parents."""
    start = start.absolute()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load(config_path: Path | None = None, cwd: Path | None = None) -> Config:
    """Read and validate the configuration; every problem is a one-line ConfigError."""
    cwd = (cwd if cwd is not None else Path.cwd()).absolute()
    if config_path is None:
        found = find_pyproject(cwd)
        if found is None:
            raise ConfigError(
                f"no pyproject.toml found in {cwd} or any parent directory: "
                "run ci-toolkit inside a project or pass --config PATH"
            )
        path = found
    else:
        # Relative to the given cwd, not the process's, so callers and tests stay explicit.
        path = config_path if config_path.is_absolute() else cwd / config_path
    label = display_path(path, cwd)
    if config_path is not None and path.exists() and not path.is_file():
        # /dev/null, a FIFO: never opened (a FIFO blocks), and its directory must not become a project root.
        raise ConfigError(f"{label}: cannot read: not a regular file; --config must name a pyproject.toml")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: cannot read: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(label, text, exc)) from None
    return parse(data, path, cwd=cwd)


def _toml_error(label: str, text: str, exc: Exception) -> str:
    reason = " ".join(str(exc).split())  # one line whatever the parser version writes
    line = getattr(exc, "lineno", None)  # set by tomllib from Python 3.14 on
    if not isinstance(line, int):  # pragma: no branch - Python < 3.14 gives no lineno
        match = _TOML_LINE.search(reason)
        # "(at end of document)" carries no number: the last line is where the document ended.
        line = int(match.group(1)) if match else max(1, text.count("\n") + (not text.endswith("\n")))
    return f"{label}:{line}: invalid TOML: {reason}"
