"""The document walker: reads each table as its rows in ci_toolkit.config.keys declare, into the model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_toolkit.config.keypath import KeyPath
from ci_toolkit.config.keys import COVERAGE, LANE, REQUIRED, TOP, Table
from ci_toolkit.config.model import Config, CoverageConfig, Lane
from ci_toolkit.config.values import Values

TOOL_PATH: KeyPath = ("tool", "ci-toolkit")
_DEFAULTS = Config(root=Path())  # what a check needs from a top-level key that is not set


def parse(data: Mapping[str, Any], source: Path | str, *, cwd: Path | None = None) -> Config:
    """Validate an already-parsed pyproject document (the whole file, not just the table).

    `source` names the file in messages: a Path is shown relative to `cwd` when under it and becomes
    Config.path, its directory Config.root; a str is shown as is, and the root is `cwd`.
    """
    cwd = (cwd if cwd is not None else Path.cwd()).absolute()
    if isinstance(source, Path):
        path: Path | None = source if source.is_absolute() else cwd / source
        root = path.parent
        label = display_path(path, cwd)
    else:
        path, root, label = None, cwd, source
    return _Parser(label).config(data, root, path)


def display_path(path: Path, cwd: Path) -> str:
    """`path` relative to `cwd` when it lies under it, else absolute: what a user can paste back."""
    path, cwd = path.absolute(), cwd.absolute()
    for candidate, base in ((path, cwd), (path.resolve(), cwd.resolve())):
        try:
            return str(candidate.relative_to(base))
        except ValueError:
            continue
    return str(path)


class _Parser(Values):
    """Walks the document once; every check raises with the full key path."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.top: dict[str, Any] = {}  # [tool.ci-toolkit] as read so far, for the checks that need it

    def config(self, data: Mapping[str, Any], root: Path, path: Path | None) -> Config:
        tool = data.get("tool", {})
        if not isinstance(tool, Mapping):
            self.expected(("tool",), "a table", tool)
        if "ci-toolkit" not in tool:
            return Config(root=root, path=path)
        self.read(tool["ci-toolkit"], TOOL_PATH, TOP, into=self.top)
        return Config(root=root, path=path, **self.top)

    def read(
        self, value: Any, path: KeyPath, table: Table, into: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The keys of `table` found in `value`, each through its row's check, in the rows' order."""
        present = self.table(value, path, table.names)
        for option in table:
            if option.default is REQUIRED and option.name not in present:
                self.fail(path, f'missing required key "{option.name}"')
        values = {} if into is None else into
        for option in table:
            if option.name in present:
                check = getattr(self, str(option.check))
                needs = [self.top.get(name, getattr(_DEFAULTS, name)) for name in option.needs]
                values[option.name] = check(present[option.name], (*path, option.name), *needs)
        return values

    def lanes(self, value: Any, path: KeyPath) -> tuple[Lane, ...]:
        if not isinstance(value, list):
            self.expected(path, "an array of tables ([[tool.ci-toolkit.lanes]])", value)
        if not value:
            self.expected(path, "at least one lane", value)
        lanes: list[Lane] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            lane = Lane(**self.read(item, (*path, index), LANE))
            if lane.name in seen:
                self.fail(
                    (*path, index, "name"),
                    f'duplicate lane name "{lane.name}", also used by lanes[{seen[lane.name]}]',
                )
            seen[lane.name] = index
            lanes.append(lane)
        return tuple(lanes)

    def coverage(self, value: Any, path: KeyPath) -> CoverageConfig:
        return CoverageConfig(**self.read(value, path, COVERAGE))
