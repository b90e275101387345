"""[tool.ci-toolkit] read once into frozen, typed objects.

All validation happens here, so the rest of ci-toolkit can trust every value: a bad key, type or value
stops the run before any test starts, with one line naming the file, the key path, what was expected
and what was found, e.g.::

    pyproject.toml: tool.ci-toolkit.coverage.paths."app/**": expected a number 0-100, got "high"

Where the configuration comes from: ``--config PATH``, else the nearest ``pyproject.toml`` walking up
from the current directory. A ``pyproject.toml`` without ``[tool.ci-toolkit]`` gives the defaults: one
lane ``all`` that selects every test and no coverage floors.

Every option (unknown keys are errors, with a suggestion when one is close)::

    [tool.ci-toolkit]
    workers = "auto"            # pytest-xdist workers per lane: "auto" (one per CPU) or a whole number,
                                # at most max_workers(): 4 per CPU, and never less than 64; 0: no xdist
    output_dir = ".ci-toolkit"  # where reports and data go; relative to the project root, inside it,
                                # not in .git; ci-toolkit's own (ci_toolkit.outdir: a directory it did
                                # not make and that is not empty is refused, never cleared)
    pytest_args = []            # extra pytest arguments for every lane
    allow_unselected = false    # false: a collected test that no lane selects fails the run
    allow_overlap = false       # false: a test that two lanes select fails the run
    timings = ".ci-toolkit/timings.json"  # timing history (relative to the root, or absolute); kept
                                # across runs, so not one of the names ci-toolkit clears or writes in
                                # output_dir (outdir.RESERVED), and not a pyproject.toml
    timings_alpha = 0.3         # smoothing, 0 < a <= 1: new = a * this run + (1 - a) * history
    timings_prune_after = 10    # whole number >= 1: drop tests not seen for more than this many runs
    scheduler = "duration"      # xdist scheduling: "duration" (ours, longest first, no tail) or "xdist"
    keep_together = []          # globs over test files, or node id prefixes ("tests/test_db.py::TestDB"),
                                # whose tests always run in one shard
    shard_overhead = 2.0        # seconds each shard pays once (start-up, collection), a number >= 0

    [[tool.ci-toolkit.lanes]]   # absent: one lane "all" selecting every test; `lanes = []` is an error
    name = "unit"               # required, unique, [A-Za-z0-9][A-Za-z0-9_.-]*
    markers = "not integration" # a pytest -m expression, checked with pytest's parser; absent: every test
    workers = 4                 # overrides the top-level workers for this lane
    pytest_args = ["-x"]        # added after the top-level pytest_args
    allow_empty = false         # true: selecting no test is not an error for this lane
    services = ["db"]           # services started before this lane runs; each must be configured below
    concurrent = false          # true: may run alongside other concurrent lanes that share no service,
                                # as far as cores allow (ci_toolkit.lane_pool); false: runs alone

    [tool.ci-toolkit.coverage]
    source = ["app"]            # package names or relative paths to measure; absent: from the layout
    branch = true               # measure branch coverage
    fail_under = 0              # floor for the whole project, a number 0-100
    [tool.ci-toolkit.coverage.paths]     # per-file floors: every matched file must reach it
    "app/legacy/**" = 60
    [tool.ci-toolkit.coverage.groups]    # aggregate floors: all matched files together must reach it
    "app/api/**" = 90
    [tool.ci-toolkit.coverage.critical]  # per-file, fail-closed; or a list of globs, each meaning 100
    "app/payments/**" = 100

    [tool.ci-toolkit.services.db]  # NAME: [A-Za-z0-9][A-Za-z0-9_-]*; a service lanes can name
    kind = "postgres"           # postgres, redis, mysql, mariadb, custom; default: NAME when it is a kind
    backend = "auto"            # auto (docker, else native), docker, native, external
    version = "17"              # major version: the image tag (docker), checked against binaries (native)
    image = "postgres:17"       # docker image; default from kind and version
    user = "postgres"           # default per kind (postgres: postgres, mysql/mariadb: root, redis: none)
    password = "postgres"       # default per kind (postgres: postgres, mysql/mariadb: root, redis: none)
    database = "app"            # default per kind (postgres: postgres, mysql/mariadb: test, redis: "0")
    host = "127.0.0.1"          # where an external service runs
    port = 5432                 # 1-65535; required for external, else a free port is picked
    ready_timeout = 60          # seconds until a service that never becomes ready fails the run
    database_per_worker = false # true: each xdist worker gets <database>_gw0, _gw1, ... (not redis)
    command = ["srv", "--port", "{port}"]  # custom kind only: argv with {port}, {host}, {data_dir}
    [tool.ci-toolkit.services.db.settings]  # server settings: postgres -c k=v, redis --k v, mysql --k=v
    max_connections = 200
    [tool.ci-toolkit.services.db.env]       # extra container environment (docker)
    TZ = "UTC"
    [tool.ci-toolkit.services.db.export]    # VAR = template; absent: DB_URL = the kind's URL
    DATABASE_URL = "postgresql://{user}:{password}@{host}:{port}/{database}"  # also {name}

Glob patterns are relative POSIX paths from the project root (no leading "/" or "./", no "..", no
backslashes); ``**`` matches any number of directories and must be a whole segment ("app/**/*.py").
"""

from __future__ import annotations

import difflib
import json
import math
import os
import posixpath
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path, PureWindowsPath
from typing import Any, Literal, NoReturn

from ci_toolkit.errors import ConfigError
from ci_toolkit.run import layout as outdir
from ci_toolkit.services import catalog
from ci_toolkit.services.base import BACKENDS, KINDS, TEMPLATE_FIELDS, ServiceSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

Workers = int | Literal["auto"]


@dataclass(frozen=True)
class Floor:
    """A minimum coverage percentage (0-100) for the files a glob pattern matches."""

    pattern: str  # relative POSIX glob from the project root; `**` only as a whole segment
    minimum: float


@dataclass(frozen=True)
class CoverageConfig:
    """[tool.ci-toolkit.coverage]."""

    source: tuple[str, ...] = ()  # `source`: packages or relative paths; empty: detected from the layout
    branch: bool = True  # `branch`: measure branch coverage too
    fail_under: float = 0.0  # `fail_under`: floor for the whole project
    paths: tuple[Floor, ...] = ()  # `paths`: per-file floors; the most specific pattern wins
    groups: tuple[Floor, ...] = ()  # `groups`: aggregate floors over all files a pattern matches
    critical: tuple[Floor, ...] = ()  # `critical`: per-file, 100 unless given; fail-closed


@dataclass(frozen=True)
class Lane:
    """One [[tool.ci-toolkit.lanes]] entry: a pytest run over the tests its marker expression selects."""

    name: str  # `name`: unique; used in file names and reports, hence the restricted characters
    markers: str | None = None  # `markers`: a pytest -m expression; None selects every test
    workers: Workers | None = None  # `workers`: None: the top-level `workers`; 0 runs without xdist
    pytest_args: tuple[str, ...] = ()  # `pytest_args`: after the top-level ones, so a lane can override
    allow_empty: bool = False  # `allow_empty`: false: a lane that selects no test fails the run
    services: tuple[str, ...] = ()  # `services`: names of [tool.ci-toolkit.services.NAME] to run first
    concurrent: bool = False  # `concurrent`: may run alongside other concurrent lanes (lane_pool)


@dataclass(frozen=True)
class Config:
    """[tool.ci-toolkit]."""

    root: Path  # the directory holding pyproject.toml (the cwd when parse() was given no file)
    path: Path | None = None  # the pyproject.toml read; None when parse() was given no file
    workers: Workers = "auto"  # `workers`: xdist workers per lane, "auto" = one per CPU
    lanes: tuple[Lane, ...] = (Lane(name="all"),)  # `lanes`
    allow_unselected: bool = False  # `allow_unselected`: false: a test no lane selects fails the run
    allow_overlap: bool = False  # `allow_overlap`: false: a test two lanes select fails the run
    pytest_args: tuple[str, ...] = ()  # `pytest_args`: passed to every lane's pytest
    output_dir: Path = Path(".ci-toolkit")  # `output_dir`: relative to root, never outside it
    coverage: CoverageConfig = field(default_factory=CoverageConfig)  # [tool.ci-toolkit.coverage]
    # [tool.ci-toolkit.services.NAME], in file order (start order when a lane needs several)
    services: Mapping[str, ServiceSpec] = field(default_factory=dict)
    timings: Path = Path(".ci-toolkit/timings.json")  # `timings`: history file; relative to root or absolute
    timings_alpha: float = 0.3  # `timings_alpha`: EWMA weight of the newest run
    timings_prune_after: int = 10  # `timings_prune_after`: runs a test may go unseen before it is dropped
    scheduler: Literal["duration", "xdist"] = "duration"  # `scheduler`: who hands tests to xdist workers
    keep_together: tuple[str, ...] = ()  # `keep_together`: file globs or node id prefixes kept in one shard
    shard_overhead: float = 2.0  # `shard_overhead`: seconds of fixed cost per shard


TOP_KEYS = (
    "workers",
    "output_dir",
    "pytest_args",
    "allow_unselected",
    "allow_overlap",
    "lanes",
    "coverage",
    "services",
    "timings",
    "timings_alpha",
    "timings_prune_after",
    "scheduler",
    "keep_together",
    "shard_overhead",
)
SCHEDULERS = ("duration", "xdist")
LANE_KEYS = ("name", "markers", "workers", "pytest_args", "allow_empty", "services", "concurrent")
SERVICE_KEYS = (
    "kind",
    "backend",
    "version",
    "image",
    "user",
    "password",
    "database",
    "host",
    "port",
    "settings",
    "env",
    "export",
    "database_per_worker",
    "ready_timeout",
    "command",
)
COVERAGE_KEYS = ("source", "branch", "fail_under", "paths", "groups", "critical")

_TABLE = ("tool", "ci-toolkit")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_LANE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Users and databases end up in SQL statements and initdb flags: plain identifiers need no quoting.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SETTING_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_COMMAND_FIELDS = ("port", "host", "data_dir")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_PERCENT = "a number 0-100"
_WORKERS = '"auto" or a whole number >= 0'
_WORKERS_CAP = "(4 per CPU, and never less than 64)"
_STR_LIST = "a list of strings"

KeyPath = tuple[str | int, ...]


def max_workers() -> int:
    """The most xdist workers `workers` may ask for: 4 per CPU, and never less than 64, so that a
    configuration written on a big machine still validates on a small CI runner."""
    return max(64, 4 * (os.cpu_count() or 1))


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


def format_key_path(path: KeyPath) -> str:
    """`tool.ci-toolkit.lanes[1].name`; segments that are not TOML bare keys are double-quoted."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            shown = segment if _BARE_KEY.fullmatch(segment) else json.dumps(segment, ensure_ascii=False)
            text += f".{shown}" if text else shown
    return text


def show_value(value: Any, limit: int = 60) -> str:
    """A value as TOML would spell it, shortened to one readable line."""
    text = _toml_repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else repr(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_repr(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{format_key_path((str(k),))} = {_toml_repr(v)}" for k, v in value.items())
        return "{" + items + "}"
    return repr(value)


def _toml_error(label: str, text: str, exc: Exception) -> str:
    reason = " ".join(str(exc).split())  # one line whatever the parser version writes
    line = getattr(exc, "lineno", None)  # set by tomllib from Python 3.14 on
    if not isinstance(line, int):  # pragma: no branch - Python < 3.14 gives no lineno
        match = _TOML_LINE.search(reason)
        # "(at end of document)" carries no number: the last line is where the document ended.
        line = int(match.group(1)) if match else max(1, text.count("\n") + (not text.endswith("\n")))
    return f"{label}:{line}: invalid TOML: {reason}"


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not an accepted glob (the text after "expected"), or None when it is fine."""
    if not pattern:
        return "a non-empty glob pattern"
    if "\\" in pattern:
        return 'a glob with "/" separators and no backslashes'
    if pattern.startswith("/") or PureWindowsPath(pattern).drive:
        return "a glob relative to the project root"
    segments = pattern.split("/")
    if segments[0] == ".":
        rest = pattern
        while rest.startswith("./"):
            rest = rest[2:]
        return f'a glob without a leading "./" (write "{rest or "**"}")'
    if segments[-1] == "":
        return f'a glob naming files, not a directory (write "{pattern}**")'
    if "" in segments:
        return 'a glob without empty segments ("//")'
    if "." in segments or ".." in segments:
        return 'a glob inside the project root, without "." or ".." segments'
    for segment in segments:
        if "**" in segment and segment != "**":
            hint = "/".join(_split_double_star(s) if "**" in s else s for s in segments)
            return f'a glob with "**" only as a whole path segment (write "{hint}")'
    return None


def _path_parts(path: str) -> list[str]:
    """A relative path's segments after resolving "." and "..", whichever separator it was written with."""
    return [part for part in posixpath.normpath(path.replace("\\", "/")).split("/") if part not in ("", ".")]


def _split_double_star(segment: str) -> str:
    """'**.py' -> '**/*.py', 'app**' -> 'app*/**': the pattern the user most likely meant."""
    pieces = segment.split("**")
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if piece:
            if index > 0 and not piece.startswith("*"):
                piece = "*" + piece
            if index < len(pieces) - 1 and not piece.endswith("*"):
                piece += "*"
            parts.append(piece)
        if index < len(pieces) - 1 and (not parts or parts[-1] != "**"):
            parts.append("**")
    return "/".join(parts)


class _Parser:
    """Walks the document once; every check raises with the full key path."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise ConfigError(f"{self.label}: {format_key_path(path)}: {message}")

    def expected(self, path: KeyPath, what: str, value: Any) -> NoReturn:
        self.fail(path, f"expected {what}, got {show_value(value)}")

    def table(self, value: Any, path: KeyPath, allowed: Collection[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.expected(path, "a table", value)
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f'did you mean "{close[0]}"?' if close else "valid keys: " + ", ".join(allowed)
                self.fail((*path, key), f"unknown key; {hint}")
        return value

    # -- scalars -----------------------------------------------------------------------------------

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            self.expected(path, "true or false", value)
        return value

    def percent(self, value: Any, path: KeyPath) -> float:
        # bool is an int subclass, and `true` meaning 1% would be a silent surprise.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
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
            self.expected(path, f'"auto" or a whole number >= 0 and at most {cap} {_WORKERS_CAP}', value)
        return value

    def strings(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.expected(path, _STR_LIST, value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.expected((*path, index), "a string", item)
        return tuple(value)

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

    # -- tables ------------------------------------------------------------------------------------

    def config(self, data: Mapping[str, Any], root: Path, path: Path | None) -> Config:
        tool = data.get("tool", {})
        if not isinstance(tool, Mapping):
            self.expected(("tool",), "a table", tool)
        if "ci-toolkit" not in tool:
            return Config(root=root, path=path)
        table = self.table(tool["ci-toolkit"], _TABLE, TOP_KEYS)
        kwargs: dict[str, Any] = {}
        if "workers" in table:
            kwargs["workers"] = self.workers(table["workers"], (*_TABLE, "workers"))
        if "output_dir" in table:
            kwargs["output_dir"] = self.output_dir(table["output_dir"], (*_TABLE, "output_dir"))
        if "pytest_args" in table:
            kwargs["pytest_args"] = self.strings(table["pytest_args"], (*_TABLE, "pytest_args"))
        for key in ("allow_unselected", "allow_overlap"):
            if key in table:
                kwargs[key] = self.boolean(table[key], (*_TABLE, key))
        # Services first: lanes refer to them by name.
        services: Mapping[str, ServiceSpec] = {}
        if "services" in table:
            services = kwargs["services"] = self.services(table["services"], (*_TABLE, "services"))
        if "lanes" in table:
            kwargs["lanes"] = self.lanes(table["lanes"], (*_TABLE, "lanes"), services)
        if "coverage" in table:
            kwargs["coverage"] = self.coverage(table["coverage"], (*_TABLE, "coverage"))
        self.timing_keys(table, kwargs)
        return Config(root=root, path=path, **kwargs)

    # -- timings and splitting ---------------------------------------------------------------------

    def timing_keys(self, table: Mapping[str, Any], kwargs: dict[str, Any]) -> None:
        if "timings" in table:
            output_dir = kwargs.get("output_dir", Config.output_dir)
            kwargs["timings"] = self.timings(table["timings"], (*_TABLE, "timings"), output_dir)
        if "timings_alpha" in table:
            alpha = table["timings_alpha"]
            if not self.is_number(alpha) or not 0 < alpha <= 1:
                self.expected((*_TABLE, "timings_alpha"), "a number > 0 and <= 1", alpha)
            kwargs["timings_alpha"] = float(alpha)
        if "timings_prune_after" in table:
            runs = table["timings_prune_after"]
            if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
                self.expected((*_TABLE, "timings_prune_after"), "a whole number of runs >= 1", runs)
            kwargs["timings_prune_after"] = runs
        if "scheduler" in table:
            scheduler = table["scheduler"]
            if scheduler not in SCHEDULERS:
                self.expected((*_TABLE, "scheduler"), '"duration" or "xdist"', scheduler)
            kwargs["scheduler"] = scheduler
        if "keep_together" in table:
            kwargs["keep_together"] = self.keep_together(table["keep_together"], (*_TABLE, "keep_together"))
        if "shard_overhead" in table:
            overhead = table["shard_overhead"]
            if not self.is_number(overhead) or not 0 <= overhead < math.inf:
                self.expected((*_TABLE, "shard_overhead"), "a number of seconds >= 0", overhead)
            kwargs["shard_overhead"] = float(overhead)

    @staticmethod
    def is_number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

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
            if pattern in seen:
                self.fail(
                    (*path, index), f'duplicate pattern "{pattern}", also at keep_together[{seen[pattern]}]'
                )
            seen[pattern] = index
        return patterns

    def lanes(self, value: Any, path: KeyPath, services: Mapping[str, ServiceSpec]) -> tuple[Lane, ...]:
        if not isinstance(value, list):
            self.expected(path, "an array of tables ([[tool.ci-toolkit.lanes]])", value)
        if not value:
            self.expected(path, "at least one lane", value)
        lanes: list[Lane] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            lane = self.lane(item, (*path, index), services)
            if lane.name in seen:
                self.fail(
                    (*path, index, "name"),
                    f'duplicate lane name "{lane.name}", also used by lanes[{seen[lane.name]}]',
                )
            seen[lane.name] = index
            lanes.append(lane)
        return tuple(lanes)

    def lane(self, value: Any, path: KeyPath, services: Mapping[str, ServiceSpec]) -> Lane:
        table = self.table(value, path, LANE_KEYS)
        if "name" not in table:
            self.fail(path, 'missing required key "name"')
        name = table["name"]
        if not isinstance(name, str) or not _LANE_NAME.fullmatch(name):
            self.expected((*path, "name"), "a lane name matching [A-Za-z0-9][A-Za-z0-9_.-]*", name)
        kwargs: dict[str, Any] = {}
        if "markers" in table:
            kwargs["markers"] = self.markers(table["markers"], (*path, "markers"))
        if "workers" in table:
            kwargs["workers"] = self.workers(table["workers"], (*path, "workers"))
        if "pytest_args" in table:
            kwargs["pytest_args"] = self.strings(table["pytest_args"], (*path, "pytest_args"))
        if "allow_empty" in table:
            kwargs["allow_empty"] = self.boolean(table["allow_empty"], (*path, "allow_empty"))
        if "services" in table:
            kwargs["services"] = self.lane_services(table["services"], (*path, "services"), services)
        if "concurrent" in table:
            kwargs["concurrent"] = self.boolean(table["concurrent"], (*path, "concurrent"))
        return Lane(name=name, **kwargs)

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

    def markers(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            self.expected(path, "a pytest marker expression (omit the key to select every test)", value)
        from ci_toolkit.config import markers

        try:
            markers.compile_expression(value)
        except ValueError as exc:
            self.fail(path, f"invalid marker expression {show_value(value)}: {exc}")
        return value

    def coverage(self, value: Any, path: KeyPath) -> CoverageConfig:
        table = self.table(value, path, COVERAGE_KEYS)
        kwargs: dict[str, Any] = {}
        if "source" in table:
            kwargs["source"] = self.source(table["source"], (*path, "source"))
        if "branch" in table:
            kwargs["branch"] = self.boolean(table["branch"], (*path, "branch"))
        if "fail_under" in table:
            kwargs["fail_under"] = self.percent(table["fail_under"], (*path, "fail_under"))
        for key in ("paths", "groups"):
            if key in table:
                kwargs[key] = self.floors(table[key], (*path, key))
        if "critical" in table:
            kwargs["critical"] = self.critical(table["critical"], (*path, "critical"))
        return CoverageConfig(**kwargs)

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
        floors: list[Floor] = []
        for index, pattern in enumerate(value):
            pattern = self.glob(pattern, (*path, index))
            if pattern in seen:
                self.fail((*path, index), f'duplicate pattern "{pattern}", also at critical[{seen[pattern]}]')
            seen[pattern] = index
            floors.append(Floor(pattern, 100.0))
        return tuple(floors)

    # -- services ----------------------------------------------------------------------------------

    def services(self, value: Any, path: KeyPath) -> dict[str, ServiceSpec]:
        if not isinstance(value, Mapping):
            self.expected(path, "a table of services ([tool.ci-toolkit.services.NAME])", value)
        specs: dict[str, ServiceSpec] = {}
        exported: dict[str, str] = {}
        for name, table in value.items():
            spec = self.service(name, table, (*path, name))
            for var in catalog.exports(spec):
                if var in exported:
                    # Two services writing one variable: whichever started last would silently win.
                    self.fail(
                        (*path, name, "export"),
                        f'variable {var} is also exported by service "{exported[var]}"; set export '
                        "so that each variable comes from one service",
                    )
                exported[var] = name
            specs[name] = spec
        return specs

    def service(self, name: str, value: Any, path: KeyPath) -> ServiceSpec:
        if not _SERVICE_NAME.fullmatch(name):
            self.fail(path, "expected a service name matching [A-Za-z0-9][A-Za-z0-9_-]*")
        table = self.table(value, path, SERVICE_KEYS)
        kind = self.kind(name, table, path)
        info = catalog.get(kind)
        kwargs: dict[str, Any] = {}
        if "backend" in table:
            backend = table["backend"]
            if backend not in BACKENDS:
                self.expected((*path, "backend"), f"one of {', '.join(BACKENDS)}", backend)
            kwargs["backend"] = backend
        if "version" in table:
            kwargs["version"] = self.version(table["version"], (*path, "version"))
        if "image" in table:
            kwargs["image"] = self.word(table["image"], (*path, "image"), "a docker image name")
        if "host" in table:
            kwargs["host"] = self.word(table["host"], (*path, "host"), "a host name or IP address")
        for key in ("user", "database"):
            if key in table:
                kwargs[key] = self.credential(kind, key, table[key], (*path, key))
        if "password" in table:
            kwargs["password"] = self.password(table["password"], (*path, "password"))
        if "port" in table:
            port = table["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                self.expected((*path, "port"), "a port number 1-65535", port)
            kwargs["port"] = port
        if kwargs.get("backend") == "external" and "port" not in kwargs:
            self.fail(path, 'missing required key "port" (backend "external" connects to a running service)')
        if "settings" in table:
            kwargs["settings"] = self.settings(kind, table["settings"], (*path, "settings"))
        if "env" in table:
            env = self.env_names(table["env"], (*path, "env"))
            for var, text in env.items():
                self.string(text, (*path, "env", var))
            kwargs["env"] = dict(env)
        if "export" in table:
            kwargs["export"] = self.export(table["export"], (*path, "export"))
        elif kind == "custom":
            self.fail(path, 'missing required key "export" (kind custom has no default URL to export)')
        elif not catalog.ENV_NAME.fullmatch(catalog.default_var(name)):
            self.fail(
                path,
                f'the default variable name "{catalog.default_var(name)}" is not a valid environment '
                "variable name; set export",
            )
        if "database_per_worker" in table:
            per_worker = self.boolean(table["database_per_worker"], (*path, "database_per_worker"))
            if per_worker and not info.has_databases:
                with_databases = ", ".join(k for k in KINDS if catalog.get(k).has_databases)
                self.fail(
                    (*path, "database_per_worker"),
                    f"kind {kind} has no databases to create per worker; only {with_databases} do",
                )
            kwargs["database_per_worker"] = per_worker
        if "ready_timeout" in table:
            timeout = table["ready_timeout"]
            if (
                isinstance(timeout, bool)
                or not isinstance(timeout, (int, float))
                or not 0 < timeout < math.inf
            ):
                self.expected((*path, "ready_timeout"), "a number of seconds > 0", timeout)
            kwargs["ready_timeout"] = float(timeout)
        if "command" in table:
            kwargs["command"] = self.command(kind, table["command"], (*path, "command"))
        return ServiceSpec(name=name, kind=kind, **kwargs)

    def kind(self, name: str, table: Mapping[str, Any], path: KeyPath) -> str:
        if "kind" not in table:
            if name in KINDS:
                return name
            self.fail(
                path,
                f'missing required key "kind" ("{name}" is not a kind); valid kinds: {", ".join(KINDS)}',
            )
        kind = table["kind"]
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, KINDS, n=1) if isinstance(kind, str) else []
            hint = f'did you mean "{close[0]}"? ' if close else ""
            self.fail(
                (*path, "kind"), f"unknown kind {show_value(kind)}; {hint}valid kinds: {', '.join(KINDS)}"
            )
        return kind

    def string(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str):
            self.expected(path, "a string", value)
        return value

    def word(self, value: Any, path: KeyPath, what: str) -> str:
        if not isinstance(value, str) or not value or any(char.isspace() for char in value):
            self.expected(path, f"{what} without spaces", value)
        return value

    def version(self, value: Any, path: KeyPath) -> str:
        # `version = 16` and `version = 8.4` are what people write; both mean the string.
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            value = str(value)
        if not isinstance(value, str) or not _VERSION.fullmatch(value):
            self.expected(path, 'a version such as "17" or "8.4"', value)
        return value

    def password(self, value: Any, path: KeyPath) -> str:
        text = self.string(value, path)
        # A server reads its password from a line of a file (initdb --pwfile) or an argument: a control
        # character would cut it short there and leave a password nobody typed.
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
            self.expected(path, "a password without line breaks or other control characters", value)
        return text

    def credential(self, kind: str, key: str, value: Any, path: KeyPath) -> str:
        text = self.string(value, path)
        if kind == "redis":
            if key == "user" and text:
                self.expected(
                    path, 'no user for redis (set password: it protects the default user), or ""', value
                )
            if key == "database" and not text.isdigit():
                self.expected(path, 'a redis database number such as "0"', value)
        elif kind != "custom" and not _IDENTIFIER.fullmatch(text):
            self.expected(path, f"a {key} name matching [A-Za-z_][A-Za-z0-9_]*", value)
        return text

    def settings(self, kind: str, value: Any, path: KeyPath) -> dict[str, str]:
        if kind == "custom":
            self.fail(path, "kind custom takes no settings; put the server's options in command")
        if not isinstance(value, Mapping):
            self.expected(path, "a table of setting = value", value)
        settings: dict[str, str] = {}
        for key, item in value.items():
            if not _SETTING_KEY.fullmatch(key):
                self.fail((*path, key), "expected a setting name matching [A-Za-z0-9_][A-Za-z0-9_.-]*")
            if isinstance(item, bool):
                # Each server spells booleans its own way; redis accepts only yes/no.
                settings[key] = ("yes" if item else "no") if kind == "redis" else ("on" if item else "off")
            elif isinstance(item, (int, float)) and math.isfinite(item):
                settings[key] = str(item)
            elif isinstance(item, str) and "\n" not in item:
                settings[key] = item
            else:
                self.expected((*path, key), "a string, number or true/false", item)
        return settings

    def env_names(self, value: Any, path: KeyPath) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.expected(path, 'a table of VAR = "value"', value)
        for var in value:
            if not catalog.ENV_NAME.fullmatch(var):
                self.expected(
                    (*path, var), "an environment variable name matching [A-Za-z_][A-Za-z0-9_]*", var
                )
        return value

    def export(self, value: Any, path: KeyPath) -> dict[str, str]:
        export = self.env_names(value, path)
        if not export:
            self.expected(path, "at least one VAR = template", value)
        for var, template in export.items():
            self.template(template, (*path, var), TEMPLATE_FIELDS)
        return dict(export)

    def template(self, value: Any, path: KeyPath, fields: tuple[str, ...]) -> str:
        if not isinstance(value, str):
            self.expected(path, "a template string", value)
        try:
            names = catalog.template_fields(value)
        except ValueError as exc:
            self.fail(path, f"invalid template {show_value(value)}: {exc}")
        for name in names:
            if name not in fields:
                close = difflib.get_close_matches(name, fields, n=1)
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                self.fail(
                    path, f"unknown field {{{name}}} in the template{hint}; valid fields: {', '.join(fields)}"
                )
        return value

    def command(self, kind: str, value: Any, path: KeyPath) -> tuple[str, ...]:
        if kind != "custom":
            self.fail(path, f"only kind custom takes a command; ci-toolkit runs the {kind} server itself")
        argv = self.strings(value, path)
        if not argv:
            self.expected(path, "a non-empty list of strings (the program and its arguments)", value)
        for index, arg in enumerate(argv):
            self.template(arg, (*path, index), _COMMAND_FIELDS)
        return argv
