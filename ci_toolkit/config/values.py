"""The checks the key table names (`Option.check`): each turns one TOML value into the model's value, or
raises ConfigError naming the key path, what was expected and what was found."""

from __future__ import annotations

import difflib
import math
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import Any

from ci_toolkit.config.keypath import KeyPath, show_value
from ci_toolkit.config.keys import LANE_NAME, SCHEDULERS, WORKERS_CAP, max_workers
from ci_toolkit.config.markers import compile_expression
from ci_toolkit.config.model import Floor, Workers
from ci_toolkit.config.patterns import glob_problem
from ci_toolkit.config.services import ServiceTables
from ci_toolkit.run import layout as outdir
from ci_toolkit.services.base import ServiceSpec

_PERCENT = "a number 0-100"
_WORKERS = '"auto" or a whole number >= 0'


def _path_parts(path: str) -> list[str]:
    """A relative path's segments after resolving "." and "..", whichever separator it was written with."""
    return [part for part in posixpath.normpath(path.replace("\\", "/")).split("/") if part not in ("", ".")]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Values(ServiceTables):
    """One method per kind of value; the service keys' checks come from ServiceTables."""

    def percent(self, value: Any, path: KeyPath) -> float:
        # bool is an int subclass, and `true` meaning 1% would be a silent surprise.
        if not _is_number(value) or not 0 <= value <= 100:
            self.expected(path, _PERCENT, value)
        return float(value)

    def workers(self, value: Any, path: KeyPath) -> Workers:
        if value == "auto":
            return value
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.expected(path, _WORKERS, value)
        cap = max_workers()
        if value > cap:
            # Each worker is a process: a typo must not fork thousands of them.
            self.expected(path, f"{_WORKERS} and at most {cap} ({WORKERS_CAP})", value)
        return value

    def glob(self, pattern: Any, path: KeyPath) -> str:
        if not isinstance(pattern, str):
            self.expected(path, "a glob pattern (a string)", pattern)
        problem = glob_problem(pattern)
        if problem:
            self.expected(path, problem, pattern)
        return pattern

    def output_dir(self, value: Any, path: KeyPath) -> Path:
        if not isinstance(value, str) or not value:
            self.expected(path, "a directory path relative to the project root", value)
        if value.startswith(("/", "\\")) or PureWindowsPath(value).drive:
            self.expected(path, "a directory path relative to the project root, not absolute", value)
        if ".git" in re.split(r"[/\\]", value):
            self.expected(path, "a directory outside .git", value)
        depth = 0
        for part in re.split(r"[/\\]", value):
            if part == "..":
                depth -= 1
                if depth < 0:
                    self.expected(path, "a directory inside the project root", value)
            elif part not in ("", "."):
                depth += 1
        if depth == 0:
            # Reports and data files would land between the project's own files.
            self.expected(path, "a subdirectory of the project root", value)
        return Path(value)

    # -- timings and splitting ---------------------------------------------------------------------

    def timings(self, value: Any, path: KeyPath, output_dir: Path) -> Path:
        if not isinstance(value, str) or not value.strip():
            self.expected(path, "a file path", value)
        if value.endswith(("/", "\\")):
            self.expected(path, "a file path, not a directory", value)
        if not Path(value).is_absolute():
            # Lexically, like output_dir: the file need not exist yet.
            parts = _path_parts(value)
            inside = _path_parts(str(output_dir))
            rest = parts[len(inside) :] if parts[: len(inside)] == inside else None
            if rest == []:
                self.expected(path, "a file path, not the output_dir directory", value)
            if rest and rest[0] in outdir.CLEARED:
                cleared = posixpath.join(*inside, rest[0])
                self.expected(path, f"a file outside {cleared} (cleared before every run)", value)
            if rest and rest[0] in outdir.RESERVED:
                self.expected(path, "a file ci-toolkit does not write itself", value)
        if Path(value).name == "pyproject.toml":
            # The history would be written over the project's configuration.
            self.expected(path, "a timing history file, not pyproject.toml (the configuration file)", value)
        return Path(value)

    def timings_alpha(self, value: Any, path: KeyPath) -> float:
        if not _is_number(value) or not 0 < value <= 1:
            self.expected(path, "a number > 0 and <= 1", value)
        return float(value)

    def timings_prune_after(self, value: Any, path: KeyPath) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.expected(path, "a whole number of runs >= 1", value)
        return value

    def scheduler(self, value: Any, path: KeyPath) -> str:
        if value not in SCHEDULERS:
            self.expected(path, " or ".join(f'"{name}"' for name in SCHEDULERS), value)
        return value

    def shard_overhead(self, value: Any, path: KeyPath) -> float | str:
        if value == "auto":
            return value
        if not _is_number(value) or not 0 <= value < math.inf:
            self.expected(path, 'a number of seconds >= 0 or "auto"', value)
        return float(value)

    def keep_together(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        patterns = self.strings(value, path)
        seen: dict[str, int] = {}
        for index, pattern in enumerate(patterns):
            file_part, sep, rest = pattern.partition("::")
            problem = glob_problem(file_part)
            if sep and not rest:
                problem = 'a node id prefix such as "tests/test_db.py::TestDB"'
            if problem:
                self.expected((*path, index), problem, pattern)
            self.once(seen, pattern, path, index)
        return patterns

    def once(self, seen: dict[str, int], pattern: str, path: KeyPath, index: int) -> None:
        """Record the pattern at `path`[index]; one listed before fails, naming where it was first."""
        if pattern in seen:
            self.fail((*path, index), f'duplicate pattern "{pattern}", also at {path[-1]}[{seen[pattern]}]')
        seen[pattern] = index

    # -- lanes -------------------------------------------------------------------------------------

    def lane_name(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str) or not LANE_NAME.fullmatch(value):
            self.expected(path, f"a lane name matching {LANE_NAME.pattern}", value)
        return value

    def markers(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            self.expected(path, "a pytest marker expression (omit the key to select every test)", value)
        try:
            compile_expression(value)
        except ValueError as exc:
            self.fail(path, f"invalid marker expression {show_value(value)}: {exc}")
        return value

    def lane_services(
        self, value: Any, path: KeyPath, services: Mapping[str, ServiceSpec]
    ) -> tuple[str, ...]:
        names = self.strings(value, path)
        for index, name in enumerate(names):
            if name not in services:
                if not services:
                    hint = "no services are configured (add [tool.ci-toolkit.services.NAME])"
                else:
                    close = difflib.get_close_matches(name, services, n=1)
                    hint = f'did you mean "{close[0]}"?' if close else "configured: " + ", ".join(services)
                self.fail((*path, index), f"unknown service {show_value(name)}; {hint}")
            if name in names[:index]:
                self.fail((*path, index), f"duplicate service {show_value(name)}")
        return names

    # -- coverage ----------------------------------------------------------------------------------

    def source(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        what = "a package name or relative path, or a non-empty list of them"
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.expected(path, what, value)
        for index, item in enumerate(items):
            item_path = path if isinstance(value, str) else (*path, index)
            if not isinstance(item, str) or not item.strip():
                self.expected(item_path, "a package name or relative path", item)
            if item.startswith(("/", "\\")) or PureWindowsPath(item).drive:
                self.expected(item_path, "a package name or a path relative to the project root", item)
        return tuple(items)

    def floors(self, value: Any, path: KeyPath) -> tuple[Floor, ...]:
        if not isinstance(value, Mapping):
            self.expected(path, 'a table of "glob" = number 0-100', value)
        return tuple(
            Floor(self.glob(pattern, (*path, pattern)), self.percent(minimum, (*path, pattern)))
            for pattern, minimum in value.items()
        )

    def critical(self, value: Any, path: KeyPath) -> tuple[Floor, ...]:
        if isinstance(value, Mapping):
            return self.floors(value, path)
        if not isinstance(value, list):
            self.expected(path, 'a list of globs or a table of "glob" = number 0-100', value)
        seen: dict[str, int] = {}
        for index, pattern in enumerate(value):
            self.once(seen, self.glob(pattern, (*path, index)), path, index)
        return tuple(Floor(pattern, 100.0) for pattern in seen)
