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
import math
import os
import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, Literal

from ci_toolkit.config.keypath import KeyPath, show_value
from ci_toolkit.config.services import ServiceTables
from ci_toolkit.errors import ConfigError
from ci_toolkit.run import layout as outdir
from ci_toolkit.services.base import ServiceSpec

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
COVERAGE_KEYS = ("source", "branch", "fail_under", "paths", "groups", "critical")

_TABLE = ("tool", "ci-toolkit")
_LANE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Users and databases end up in SQL statements and initdb flags: plain identifiers need no quoting.
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_PERCENT = "a number 0-100"
_WORKERS = '"auto" or a whole number >= 0'
_WORKERS_CAP = "(4 per CPU, and never less than 64)"
_STR_LIST = "a list of strings"


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


class _Parser(ServiceTables):
    """Walks the document once; every check raises with the full key path."""

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
