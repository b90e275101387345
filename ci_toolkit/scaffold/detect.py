"""What a project already says about its tests, read for `ci-toolkit init`: the packages to measure, the
pytest markers it declares (and which of them a test file applies), and the coverage settings it has.

Each reader takes the parsed pyproject.toml and the project root; the ini files pytest and coverage.py
also read (pytest.ini, setup.cfg, tox.ini, .coveragerc) are read here too. A file that cannot be parsed
is one ConfigError naming it, never a guess.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import ConfigError

DEFAULT_FLOOR = 80.0
# Where pytest reads its ini options, as (file, section); pyproject.toml is read separately.
PYTEST_INI = (("pytest.ini", "pytest"), ("setup.cfg", "tool:pytest"), ("tox.ini", "pytest"))
# Where coverage.py reads its options besides pyproject.toml, as (file, section prefix).
COVERAGE_INI = ((".coveragerc", ""), ("setup.cfg", "coverage:"), ("tox.ini", "coverage:"))
# Directories never searched for marker uses: other people's code, or nobody's.
_SKIPPED_DIRS = frozenset({"node_modules", "site-packages", "build", "dist", "venv", "env", "__pycache__"})
_MAX_SCANNED_FILE = 1 << 20  # generated or vendored giants say nothing about the tests' markers
_FAIL_UNDER_OPTION = re.compile(r"--cov-fail-under(?:=(?P<value>\S+))?$")


@dataclass(frozen=True)
class Found:
    """A detected value and where it came from, which the rendered table says in a comment."""

    value: Any
    origin: str


@dataclass(frozen=True)
class Facts:
    source: Found | None  # tuple[str, ...] of packages or paths; None: nothing found
    branch: Found | None  # bool
    fail_under: Found | None  # float
    markers: tuple[str, ...]  # declared marker names, in declaration order
    applied: frozenset[str]  # those a Python file under the root applies (pytest.mark.NAME)


def detect(root: Path, pyproject: Mapping[str, Any]) -> Facts:
    markers = declared_markers(root, pyproject)
    return Facts(
        source=source(root, pyproject),
        branch=branch(root, pyproject),
        fail_under=fail_under(root, pyproject),
        markers=markers,
        applied=applied_markers(root, markers),
    )


def _table(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, Mapping) else {}
    return data


def read_ini(path: Path) -> configparser.ConfigParser | None:
    """The ini file at `path`, None when there is none."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        reason = " ".join(str(getattr(exc, "strerror", None) or exc).split())
        raise ConfigError(f"{path}: cannot read it to detect the project's settings: {reason}") from None
    return parser


def _ini_values(root: Path, files: tuple[tuple[str, str], ...], suffix: str, key: str) -> Iterator[Found]:
    for name, section in files:
        parser = read_ini(root / name)
        section += suffix
        if parser is not None and parser.has_option(section, key):
            yield Found(parser.get(section, key), f"{name} [{section}] {key}")


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return []


def marker_name(declaration: str) -> str:
    """`serial: runs alone` and `slow(reason): ...` declare `serial` and `slow`."""
    return declaration.split(":", 1)[0].split("(", 1)[0].strip()


def declared_markers(root: Path, pyproject: Mapping[str, Any]) -> tuple[str, ...]:
    """Every marker declared where pytest reads markers, each once, in the order found."""
    declarations = _lines(_table(pyproject, "tool", "pytest", "ini_options").get("markers"))
    declarations += _lines(_table(pyproject, "tool", "pytest").get("markers"))  # pytest 9's native table
    for found in _ini_values(root, PYTEST_INI, "", "markers"):
        declarations += _lines(found.value)
    names = (marker_name(line) for line in declarations)
    return tuple(dict.fromkeys(name for name in names if name))


def _python_files(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not Path(directory, d, "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory, name)


def applied_markers(root: Path, markers: tuple[str, ...]) -> frozenset[str]:
    """The markers some Python file applies as `mark.NAME` (decorators, pytestmark, param marks). Text
    is enough: it decides only whether a lane is generated with allow_empty."""
    if not markers:
        return frozenset()
    pattern = re.compile(r"\bmark\.(" + "|".join(re.escape(name) for name in markers) + r")\b")
    applied: set[str] = set()
    for path in _python_files(root):
        try:
            if path.stat().st_size > _MAX_SCANNED_FILE:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        applied.update(pattern.findall(text))
        if len(applied) == len(markers):
            break
    return frozenset(applied)


def _number(found: Found) -> Found | None:
    value = found.value
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return Found(number, found.origin) if 0 <= number <= 100 else None


def _addopts(root: Path, pyproject: Mapping[str, Any]) -> Iterator[Found]:
    value = _table(pyproject, "tool", "pytest", "ini_options").get("addopts")
    if isinstance(value, list):
        value = shlex.join(item for item in value if isinstance(item, str))
    if isinstance(value, str):
        yield Found(value, "pyproject.toml [tool.pytest.ini_options] addopts")
    yield from _ini_values(root, PYTEST_INI, "", "addopts")


def cov_fail_under(addopts: str) -> str | None:
    """The value of the last `--cov-fail-under` in an addopts string (pytest-cov takes the last)."""
    try:
        words = shlex.split(addopts)
    except ValueError:
        words = addopts.split()
    value = None
    for index, word in enumerate(words):
        match = _FAIL_UNDER_OPTION.match(word)
        if match is not None:
            value = match["value"] or (words[index + 1] if index + 1 < len(words) else None)
    return value


def fail_under(root: Path, pyproject: Mapping[str, Any]) -> Found | None:
    """The floor the project holds itself to now: coverage.py's fail_under, else pytest-cov's option."""
    candidates: list[Found] = []
    value = _table(pyproject, "tool", "coverage", "report").get("fail_under")
    if value is not None:
        candidates.append(Found(value, "pyproject.toml [tool.coverage.report] fail_under"))
    candidates += _ini_values(root, COVERAGE_INI, "report", "fail_under")
    for found in _addopts(root, pyproject):
        option = cov_fail_under(found.value)
        if option is not None:
            candidates.append(Found(option, f"--cov-fail-under in {found.origin}"))
    return next((number for number in map(_number, candidates) if number is not None), None)


def branch(root: Path, pyproject: Mapping[str, Any]) -> Found | None:
    value = _table(pyproject, "tool", "coverage", "run").get("branch")
    if isinstance(value, bool):
        return Found(value, "pyproject.toml [tool.coverage.run] branch")
    for found in _ini_values(root, COVERAGE_INI, "run", "branch"):
        text = found.value.strip().lower()
        if text in configparser.ConfigParser.BOOLEAN_STATES:
            return Found(configparser.ConfigParser.BOOLEAN_STATES[text], found.origin)
    return None


def source(root: Path, pyproject: Mapping[str, Any]) -> Found | None:
    """What to measure: coverage.py's own `source`, else the packages the build backend ships, else the
    packages found in the layout (as `ci-toolkit local` finds them)."""
    configured = _lines(_table(pyproject, "tool", "coverage", "run").get("source"))
    if configured:
        return Found(tuple(configured), "pyproject.toml [tool.coverage.run] source")
    for found in _ini_values(root, COVERAGE_INI, "run", "source"):
        entries = [entry.strip() for entry in found.value.replace(",", "\n").splitlines() if entry.strip()]
        if entries:
            return Found(tuple(entries), found.origin)
    declared = _build_packages(pyproject)
    if declared is not None:
        return declared
    from ci_toolkit.run.argv import detect_sources  # the stage `local` measures with, imported on use

    try:
        return Found(detect_sources(root), "the packages found in the layout")
    except ConfigError:
        return None


def _build_packages(pyproject: Mapping[str, Any]) -> Found | None:
    """Top-level packages named in setuptools, hatch or poetry settings (globs and finds are left to the
    layout scan)."""
    setuptools = _table(pyproject, "tool", "setuptools").get("packages")
    names = [name for name in _lines(setuptools) if "." not in name]
    if names:
        return Found(tuple(names), "pyproject.toml [tool.setuptools] packages")
    hatch = _lines(_table(pyproject, "tool", "hatch", "build", "targets", "wheel").get("packages"))
    paths = [path.strip("/") for path in hatch if not any(c in path for c in "*?[")]
    if paths:
        return Found(tuple(paths), "pyproject.toml [tool.hatch.build.targets.wheel] packages")
    poetry = _table(pyproject, "tool", "poetry").get("packages")
    entries: list[str] = []
    for entry in poetry if isinstance(poetry, list) else []:
        include = entry.get("include") if isinstance(entry, Mapping) else None
        if isinstance(include, str) and not any(c in include for c in "*?["):
            where = entry.get("from")
            entries.append(f"{where.strip('/')}/{include}" if isinstance(where, str) else include)
    if entries:
        return Found(tuple(entries), "pyproject.toml [tool.poetry] packages")
    return None
