"""The configuration loader: every bad input is one line naming file, key and value; good input is typed."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import Config, CoverageConfig, Floor, Lane, load, max_workers, parse
from ci_toolkit.errors import ConfigError, ExitCode
from ci_toolkit.run import layout as outdir
from ci_toolkit.services.base import ServiceSpec

SOURCE = Path("pyproject.toml")


def tool(table: dict[str, Any]) -> dict[str, Any]:
    return {"tool": {"ci-toolkit": table}}


def cov(table: dict[str, Any]) -> dict[str, Any]:
    return tool({"coverage": table})


def svc(name: str, table: dict[str, Any], **top: Any) -> dict[str, Any]:
    return tool({"services": {name: table}, **top})


def parse_here(data: dict[str, Any], tmp_path: Path) -> Config:
    return parse(data, tmp_path / "pyproject.toml", cwd=tmp_path)


def error_of(data: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        parse_here(data, tmp_path)
    assert info.value.exit_code == ExitCode.USAGE_ERROR
    message = str(info.value)
    assert "\n" not in message
    return message


def write(directory: Path, text: str, name: str = "pyproject.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- exact messages for representative cases ------------------------------------------------------------

EXACT = [
    pytest.param(
        cov({"paths": {"app/**": "high"}}),
        'pyproject.toml: tool.ci-toolkit.coverage.paths."app/**": expected a number 0-100, got "high"',
        id="threshold-string",
    ),
    pytest.param(
        cov({"fail_undr": 80}),
        'pyproject.toml: tool.ci-toolkit.coverage.fail_undr: unknown key; did you mean "fail_under"?',
        id="unknown-key-suggestion",
    ),
    pytest.param(
        cov({"fail_under": 101}),
        "pyproject.toml: tool.ci-toolkit.coverage.fail_under: expected a number 0-100, got 101",
        id="threshold-101",
    ),
    pytest.param(
        cov({"fail_under": -1}),
        "pyproject.toml: tool.ci-toolkit.coverage.fail_under: expected a number 0-100, got -1",
        id="threshold-negative",
    ),
    pytest.param(
        cov({"fail_under": True}),
        "pyproject.toml: tool.ci-toolkit.coverage.fail_under: expected a number 0-100, got true",
        id="bool-is-not-a-number",
    ),
    pytest.param(
        tool({"lanes": []}),
        "pyproject.toml: tool.ci-toolkit.lanes: expected at least one lane, got []",
        id="empty-lanes",
    ),
    pytest.param(
        tool({"lanes": [{"name": "unit"}, {"name": "unit"}]}),
        'pyproject.toml: tool.ci-toolkit.lanes[1].name: duplicate lane name "unit", also used by lanes[0]',
        id="duplicate-lane",
    ),
    pytest.param(
        tool({"lanes": [{"name": "ok"}, {"name": "a", "markers": "a and"}]}),
        'pyproject.toml: tool.ci-toolkit.lanes[1].markers: invalid marker expression "a and": '
        "at column 6: expected not OR left parenthesis OR identifier; got end of input",
        id="marker-syntax",
    ),
    pytest.param(
        cov({"critical": ["app/**.py"]}),
        "pyproject.toml: tool.ci-toolkit.coverage.critical[0]: "
        'expected a glob with "**" only as a whole path segment (write "app/**/*.py"), got "app/**.py"',
        id="glob-double-star",
    ),
    pytest.param(
        tool({"output_dir": "../reports"}),
        "pyproject.toml: tool.ci-toolkit.output_dir: "
        'expected a directory inside the project root, got "../reports"',
        id="output-dir-escapes",
    ),
    pytest.param(
        tool({"workers": -2}),
        'pyproject.toml: tool.ci-toolkit.workers: expected "auto" or a whole number >= 0, got -2',
        id="workers-negative",
    ),
]


@pytest.mark.parametrize(("data", "message"), EXACT)
def test_exact_messages(data: dict[str, Any], message: str, tmp_path: Path) -> None:
    assert error_of(data, tmp_path) == message


# -- every bad input kind names the key path and what was wrong ------------------------------------------

BAD = [
    # unknown keys, at each level
    (tool({"worker": 2}), 'tool.ci-toolkit.worker: unknown key; did you mean "workers"?'),
    (tool({"zzz": 1}), "tool.ci-toolkit.zzz: unknown key; valid keys: workers, output_dir"),
    (
        tool({"lanes": [{"name": "a", "marker": "x"}]}),
        'lanes[0].marker: unknown key; did you mean "markers"?',
    ),
    (cov({"brnch": False}), 'coverage.brnch: unknown key; did you mean "branch"?'),
    # wrong types
    (tool({"workers": "4"}), 'tool.ci-toolkit.workers: expected "auto" or a whole number >= 0, got "4"'),
    (tool({"workers": 1.5}), "got 1.5"),
    (tool({"workers": True}), "tool.ci-toolkit.workers: expected"),
    (tool({"pytest_args": "-x"}), 'pytest_args: expected a list of strings, got "-x"'),
    (tool({"pytest_args": ["-x", 3]}), "pytest_args[1]: expected a string, got 3"),
    (tool({"allow_overlap": "yes"}), 'allow_overlap: expected true or false, got "yes"'),
    (tool({"allow_unselected": 1}), "allow_unselected: expected true or false, got 1"),
    (tool({"coverage": 80}), "tool.ci-toolkit.coverage: expected a table, got 80"),
    (
        tool({"lanes": {"name": "a"}}),
        'lanes: expected an array of tables ([[tool.ci-toolkit.lanes]]), got {name = "a"}',
    ),
    (tool({"lanes": ["unit"]}), 'lanes[0]: expected a table, got "unit"'),
    (
        tool({"lanes": [{"name": "a", "workers": "many"}]}),
        'lanes[0].workers: expected "auto" or a whole number',
    ),
    (
        tool({"lanes": [{"name": "a", "allow_empty": "no"}]}),
        'lanes[0].allow_empty: expected true or false, got "no"',
    ),
    (
        tool({"lanes": [{"name": "a", "concurrent": "yes"}]}),
        'lanes[0].concurrent: expected true or false, got "yes"',
    ),
    (tool({"lanes": [{"name": "a", "pytest_args": [None]}]}), "lanes[0].pytest_args[0]: expected a string"),
    (cov({"branch": 1}), "coverage.branch: expected true or false, got 1"),
    (
        cov({"fail_under": datetime.date(2026, 1, 2)}),
        "coverage.fail_under: expected a number 0-100, got 2026-01-02",
    ),
    (cov({"paths": ["app/**"]}), 'coverage.paths: expected a table of "glob" = number 0-100, got ["app/**"]'),
    (
        cov({"critical": "app/**"}),
        'coverage.critical: expected a list of globs or a table of "glob" = number',
    ),
    (cov({"critical": [1]}), "coverage.critical[0]: expected a glob pattern (a string), got 1"),
    (cov({"source": 3}), "coverage.source: expected a package name or relative path, or a non-empty list"),
    (cov({"source": []}), "coverage.source: expected a package name or relative path, or a non-empty list"),
    (cov({"source": ["app", ""]}), 'coverage.source[1]: expected a package name or relative path, got ""'),
    (
        cov({"source": "/abs/app"}),
        "coverage.source: expected a package name or a path relative to the project",
    ),
    ({"tool": 1}, "pyproject.toml: tool: expected a table, got 1"),
    (tool(3), "pyproject.toml: tool.ci-toolkit: expected a table, got 3"),  # type: ignore[arg-type]
    # thresholds out of range, booleans and nan are not numbers
    (cov({"groups": {"app/**": 100.5}}), 'coverage.groups."app/**": expected a number 0-100, got 100.5'),
    (
        cov({"critical": {"app/x.py": -0.1}}),
        'coverage.critical."app/x.py": expected a number 0-100, got -0.1',
    ),
    (cov({"paths": {"app/**": False}}), 'coverage.paths."app/**": expected a number 0-100, got false'),
    (cov({"fail_under": float("nan")}), "coverage.fail_under: expected a number 0-100, got nan"),
    # lanes
    (tool({"lanes": [{"markers": "unit"}]}), 'tool.ci-toolkit.lanes[0]: missing required key "name"'),
    (
        tool({"lanes": [{"name": "my lane"}]}),
        "lanes[0].name: expected a lane name matching [A-Za-z0-9][A-Za-z0-9_.-]*",
    ),
    (tool({"lanes": [{"name": "-x"}]}), "lanes[0].name: expected a lane name matching"),
    (
        tool({"lanes": [{"name": ""}]}),
        'lanes[0].name: expected a lane name matching [A-Za-z0-9][A-Za-z0-9_.-]*, got ""',
    ),
    (
        tool({"lanes": [{"name": 7}]}),
        "lanes[0].name: expected a lane name matching [A-Za-z0-9][A-Za-z0-9_.-]*, got 7",
    ),
    (
        tool({"lanes": [{"name": "a", "markers": ""}]}),
        "lanes[0].markers: expected a pytest marker expression",
    ),
    (
        tool({"lanes": [{"name": "a", "markers": "  "}]}),
        "lanes[0].markers: expected a pytest marker expression",
    ),
    (
        tool({"lanes": [{"name": "a", "markers": "(a"}]}),
        'invalid marker expression "(a": at column 3: expected right',
    ),
    (
        tool({"lanes": [{"name": "a", "markers": "a b"}]}),
        'invalid marker expression "a b": at column 3: expected end',
    ),
    # globs
    (cov({"paths": {"": 50}}), 'coverage.paths."": expected a non-empty glob pattern, got ""'),
    (
        cov({"paths": {"/app/**": 50}}),
        'paths."/app/**": expected a glob relative to the project root, got "/app/**"',
    ),
    (cov({"paths": {"C:/app/**": 50}}), "expected a glob relative to the project root"),
    (
        cov({"paths": {"app\\x.py": 50}}),
        'expected a glob with "/" separators and no backslashes, got "app\\\\x.py"',
    ),
    (
        cov({"critical": ["./app/x.py"]}),
        'expected a glob without a leading "./" (write "app/x.py"), got "./app/x.py"',
    ),
    (
        cov({"critical": ["app/"]}),
        'expected a glob naming files, not a directory (write "app/**"), got "app/"',
    ),
    (cov({"critical": ["app//x.py"]}), 'expected a glob without empty segments ("//")'),
    (
        cov({"critical": ["app/../x.py"]}),
        'expected a glob inside the project root, without "." or ".." segments',
    ),
    (cov({"critical": ["app/**x/*.py"]}), '(write "app/**/*x/*.py")'),
    (cov({"groups": {"app**": 90}}), '(write "app*/**")'),
    (
        cov({"critical": ["a.py", "a.py"]}),
        'coverage.critical[1]: duplicate pattern "a.py", also at critical[0]',
    ),
    # output_dir
    (
        tool({"output_dir": "/tmp/out"}),
        "output_dir: expected a directory path relative to the project root, not absolute",
    ),
    (
        tool({"output_dir": "a/../../b"}),
        'output_dir: expected a directory inside the project root, got "a/../../b"',
    ),
    (tool({"output_dir": "."}), 'output_dir: expected a subdirectory of the project root, got "."'),
    (tool({"output_dir": "a/.."}), "output_dir: expected a subdirectory of the project root"),
    (tool({"output_dir": ""}), 'output_dir: expected a directory path relative to the project root, got ""'),
    (tool({"output_dir": 5}), "output_dir: expected a directory path relative to the project root, got 5"),
    (tool({"output_dir": "a/.git/out"}), 'output_dir: expected a directory outside .git, got "a/.git/out"'),
    (
        tool({"workers": 100_000}),
        'workers: expected "auto" or a whole number >= 0 and at most '
        f"{max_workers()} (4 per CPU, and never less than 64), got 100000",
    ),
]


@pytest.mark.parametrize(("data", "fragment"), BAD, ids=[fragment[:50] for _, fragment in BAD])
def test_bad_input_is_one_line_naming_the_key(data: dict[str, Any], fragment: str, tmp_path: Path) -> None:
    message = error_of(data, tmp_path)
    assert message.startswith("pyproject.toml: tool")
    assert fragment in message


# -- happy paths ----------------------------------------------------------------------------------------


def test_pyproject_without_table_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[project]\nname = "demo"\n')
    config = load(cwd=tmp_path)
    assert config == Config(root=tmp_path, path=path)
    assert config.lanes == (Lane(name="all"),)
    assert config.workers == "auto"
    assert config.output_dir == Path(".ci-toolkit")
    assert config.coverage == CoverageConfig()


def test_empty_table_gives_defaults(tmp_path: Path) -> None:
    assert parse_here(tool({}), tmp_path) == Config(root=tmp_path, path=tmp_path / "pyproject.toml")


FULL_EXAMPLE = """
[project]
name = "shop"

[tool.ci-toolkit]
workers = "auto"
output_dir = "build/ci"
pytest_args = ["-ra", "--strict-markers"]
allow_unselected = false
allow_overlap = true

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not integration and not serial"

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 2
pytest_args = ["-x"]
concurrent = true

[[tool.ci-toolkit.lanes]]
name = "serial"
markers = "serial"
workers = 0
allow_empty = true

[tool.ci-toolkit.coverage]
source = ["app", "src/tools"]
fail_under = 85
branch = true

[tool.ci-toolkit.coverage.paths]
"app/legacy/**" = 60
"app/legacy/old.py" = 12.5

[tool.ci-toolkit.coverage.groups]
"app/api/**" = 90

[tool.ci-toolkit.coverage.critical]
"app/payments/**" = 100
"app/auth/tokens.py" = 95
"""


def test_full_example(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_EXAMPLE)
    config = load(path, cwd=tmp_path)
    assert config == Config(
        root=tmp_path,
        path=path,
        workers="auto",
        output_dir=Path("build/ci"),
        pytest_args=("-ra", "--strict-markers"),
        allow_unselected=False,
        allow_overlap=True,
        lanes=(
            Lane(name="unit", markers="not integration and not serial"),
            Lane(name="integration", markers="integration", workers=2, pytest_args=("-x",), concurrent=True),
            Lane(name="serial", markers="serial", workers=0, allow_empty=True),
        ),
        coverage=CoverageConfig(
            source=("app", "src/tools"),
            branch=True,
            fail_under=85.0,
            paths=(Floor("app/legacy/**", 60.0), Floor("app/legacy/old.py", 12.5)),
            groups=(Floor("app/api/**", 90.0),),
            critical=(Floor("app/payments/**", 100.0), Floor("app/auth/tokens.py", 95.0)),
        ),
    )
    assert all(isinstance(floor.minimum, float) for floor in config.coverage.paths)
    assert isinstance(config.coverage.fail_under, float)


def test_critical_list_means_100_each_and_table_keeps_numbers(tmp_path: Path) -> None:
    listed = parse_here(cov({"critical": ["app/payments/**", "app/auth/tokens.py"]}), tmp_path)
    assert listed.coverage.critical == (Floor("app/payments/**", 100.0), Floor("app/auth/tokens.py", 100.0))
    table = parse_here(cov({"critical": {"app/payments/**": 99}}), tmp_path)
    assert table.coverage.critical == (Floor("app/payments/**", 99.0),)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (tool({"workers": 0}), 0),
        (tool({"workers": 16}), 16),
        (tool({"workers": "auto"}), "auto"),
    ],
)
def test_workers_values(data: dict[str, Any], expected: object, tmp_path: Path) -> None:
    assert parse_here(data, tmp_path).workers == expected


def test_edge_values_are_accepted(tmp_path: Path) -> None:
    config = parse_here(
        tool(
            {
                "output_dir": "a/../reports",
                "lanes": [{"name": "v1.2_x-y", "markers": "slow and (db or not net)"}],
                "coverage": {"source": "app.core", "fail_under": 100, "paths": {"**": 0, "*.py": 0.5}},
            }
        ),
        tmp_path,
    )
    assert config.output_dir == Path("a/../reports")
    assert config.lanes[0].workers is None
    assert config.coverage.source == ("app.core",)
    assert config.coverage.fail_under == 100.0
    assert config.coverage.paths == (Floor("**", 0.0), Floor("*.py", 0.5))


def test_string_source_is_shown_as_given_and_root_is_cwd(tmp_path: Path) -> None:
    assert parse({}, "<memory>", cwd=tmp_path) == Config(root=tmp_path, path=None)
    with pytest.raises(ConfigError, match=r"^<memory>: tool\.ci-toolkit\.workers: "):
        parse(tool({"workers": "x"}), "<memory>", cwd=tmp_path)


# -- services ---------------------------------------------------------------------------------------------

SERVICES_EXACT = [
    pytest.param(
        svc("db", {"kind": "postgress"}),
        'pyproject.toml: tool.ci-toolkit.services.db.kind: unknown kind "postgress"; '
        'did you mean "postgres"? valid kinds: postgres, redis, mysql, mariadb, custom',
        id="unknown-kind",
    ),
    pytest.param(
        svc("db", {"version": "16"}),
        'pyproject.toml: tool.ci-toolkit.services.db: missing required key "kind" ("db" is not a kind); '
        "valid kinds: postgres, redis, mysql, mariadb, custom",
        id="name-not-a-kind",
    ),
    pytest.param(
        svc("db", {"kind": "postgres", "export": {"DATABASE_URL": "postgresql://{user}:{pasword}@{host}"}}),
        "pyproject.toml: tool.ci-toolkit.services.db.export.DATABASE_URL: unknown field {pasword} in the "
        "template (did you mean {password}?); valid fields: host, port, user, password, database, name",
        id="export-unknown-field",
    ),
    pytest.param(
        svc("postgres", {"export": {"DATABASE_URL": "postgresql://{user@{host}"}}),
        "pyproject.toml: tool.ci-toolkit.services.postgres.export.DATABASE_URL: invalid template "
        '"postgresql://{user@{host}": unbalanced "{" or "}" (write "{{" or "}}" for a literal brace)',
        id="export-unbalanced-brace",
    ),
    pytest.param(
        svc("postgres", {"export": {"DATABASE-URL": "{host}"}}),
        "pyproject.toml: tool.ci-toolkit.services.postgres.export.DATABASE-URL: expected an environment "
        'variable name matching [A-Za-z_][A-Za-z0-9_]*, got "DATABASE-URL"',
        id="export-bad-var-name",
    ),
    pytest.param(
        svc("redis", {"database_per_worker": True}),
        "pyproject.toml: tool.ci-toolkit.services.redis.database_per_worker: kind redis has no databases "
        "to create per worker; only postgres, mysql, mariadb do",
        id="per-worker-on-redis",
    ),
    pytest.param(
        svc("postgres", {"backend": "external", "host": "db.internal"}),
        'pyproject.toml: tool.ci-toolkit.services.postgres: missing required key "port" '
        '(backend "external" connects to a running service)',
        id="external-without-port",
    ),
    pytest.param(
        svc("postgres", {"port": 0}),
        "pyproject.toml: tool.ci-toolkit.services.postgres.port: expected a port number 1-65535, got 0",
        id="port-0",
    ),
    pytest.param(
        svc("postgres", {"port": 70000}),
        "pyproject.toml: tool.ci-toolkit.services.postgres.port: expected a port number 1-65535, got 70000",
        id="port-70000",
    ),
    pytest.param(
        svc("redis", {"ready_timeout": 0}),
        "pyproject.toml: tool.ci-toolkit.services.redis.ready_timeout: "
        "expected a number of seconds > 0, got 0",
        id="ready-timeout-0",
    ),
    pytest.param(
        svc("postgres", {"command": ["postgres", "-p", "{port}"]}),
        "pyproject.toml: tool.ci-toolkit.services.postgres.command: only kind custom takes a command; "
        "ci-toolkit runs the postgres server itself",
        id="command-on-postgres",
    ),
    pytest.param(
        svc("api", {"kind": "custom", "command": ["api", "--port", "{port}"]}),
        'pyproject.toml: tool.ci-toolkit.services.api: missing required key "export" '
        "(kind custom has no default URL to export)",
        id="custom-without-export",
    ),
    pytest.param(
        svc("db", {"kind": "postgres"}, lanes=[{"name": "it", "services": ["db", "pg"]}]),
        'pyproject.toml: tool.ci-toolkit.lanes[0].services[1]: unknown service "pg"; configured: db',
        id="lane-undefined-service",
    ),
    pytest.param(
        svc("db", {"kind": "postgres", "pasword": "x"}),
        'pyproject.toml: tool.ci-toolkit.services.db.pasword: unknown key; did you mean "password"?',
        id="unknown-service-key",
    ),
]


@pytest.mark.parametrize(("data", "message"), SERVICES_EXACT)
def test_services_exact_messages(data: dict[str, Any], message: str, tmp_path: Path) -> None:
    assert error_of(data, tmp_path) == message


SERVICES_BAD = [
    (
        tool({"services": ["db"]}),
        'services: expected a table of services ([tool.ci-toolkit.services.NAME]), got ["db"]',
    ),
    (
        svc("my db", {"kind": "redis"}),
        'services."my db": expected a service name matching [A-Za-z0-9][A-Za-z0-9_-]*',
    ),
    (svc("_db", {"kind": "redis"}), "services._db: expected a service name matching"),
    (svc("db", "postgres"), 'services.db: expected a table, got "postgres"'),  # type: ignore[arg-type]
    (svc("db", {"kind": 5}), "services.db.kind: unknown kind 5; valid kinds: postgres, redis"),
    (svc("db", {"kind": "zzz"}), 'services.db.kind: unknown kind "zzz"; valid kinds: postgres'),
    (
        svc("redis", {"backend": "podman"}),
        'redis.backend: expected one of auto, docker, native, external, got "podman"',
    ),
    (
        svc("redis", {"version": "7 beta"}),
        'redis.version: expected a version such as "17" or "8.4", got "7 beta"',
    ),
    (svc("redis", {"version": True}), "redis.version: expected a version such as"),
    (svc("redis", {"version": -1}), "redis.version: expected a version such as"),
    (
        svc("redis", {"image": "redis 7"}),
        'redis.image: expected a docker image name without spaces, got "redis 7"',
    ),
    (svc("redis", {"image": ""}), 'redis.image: expected a docker image name without spaces, got ""'),
    (svc("redis", {"host": 127}), "redis.host: expected a host name or IP address without spaces, got 127"),
    (svc("redis", {"password": 1234}), "redis.password: expected a string, got 1234"),
    (
        svc("postgres", {"password": "line\nbreak"}),
        "postgres.password: expected a password without line breaks or other control characters",
    ),
    (svc("redis", {"user": "alice"}), "redis.user: expected no user for redis (set password: it protects"),
    (
        svc("redis", {"database": "one"}),
        'redis.database: expected a redis database number such as "0", got "one"',
    ),
    (
        svc("postgres", {"user": "app-user"}),
        "postgres.user: expected a user name matching [A-Za-z_][A-Za-z0-9_]*",
    ),
    (
        svc("mysql", {"database": ""}),
        'mysql.database: expected a database name matching [A-Za-z_][A-Za-z0-9_]*, got ""',
    ),
    (svc("postgres", {"database": 5}), "postgres.database: expected a string, got 5"),
    (svc("postgres", {"port": True}), "postgres.port: expected a port number 1-65535, got true"),
    (svc("postgres", {"port": "5432"}), 'postgres.port: expected a port number 1-65535, got "5432"'),
    (
        svc("postgres", {"settings": ["fsync=off"]}),
        'postgres.settings: expected a table of setting = value, got ["fsync=off"]',
    ),
    (
        svc("postgres", {"settings": {"bad key": 1}}),
        'postgres.settings."bad key": expected a setting name matching',
    ),
    (
        svc("postgres", {"settings": {"fsync": [1]}}),
        "postgres.settings.fsync: expected a string, number or true/false, got [1]",
    ),
    (
        svc("postgres", {"settings": {"x": float("inf")}}),
        "postgres.settings.x: expected a string, number or true/false, got inf",
    ),
    (
        svc("postgres", {"settings": {"x": "a\nb"}}),
        "postgres.settings.x: expected a string, number or true/false",
    ),
    (
        svc("api", {"kind": "custom", "settings": {"x": 1}, "export": {"A": "{host}"}}),
        "api.settings: kind custom takes no settings; put the server's options in command",
    ),
    (svc("postgres", {"env": "TZ=UTC"}), 'postgres.env: expected a table of VAR = "value", got "TZ=UTC"'),
    (
        svc("postgres", {"env": {"1TZ": "UTC"}}),
        "postgres.env.1TZ: expected an environment variable name matching",
    ),
    (svc("postgres", {"env": {"TZ": 0}}), "postgres.env.TZ: expected a string, got 0"),
    (svc("postgres", {"export": {}}), "postgres.export: expected at least one VAR = template, got {}"),
    (svc("postgres", {"export": {"URL": 5}}), "postgres.export.URL: expected a template string, got 5"),
    (
        svc("postgres", {"export": {"URL": "{db}"}}),
        "export.URL: unknown field {db} in the template; valid fields:",
    ),
    (
        svc("postgres", {"export": {"URL": "{}"}}),
        "export.URL: unknown field {} in the template; valid fields:",
    ),
    (
        svc("postgres", {"export": {"URL": "{port:>6}"}}),
        'export.URL: invalid template "{port:>6}": placeholder "{port}" must not use "!" or ":"',
    ),
    (
        tool(
            {
                "services": {
                    "pg": {"kind": "postgres"},
                    "pg2": {"kind": "postgres", "export": {"PG_URL": "{host}"}},
                }
            }
        ),
        'services.pg2.export: variable PG_URL is also exported by service "pg"; set export so that each',
    ),
    (
        tool({"services": {"a-b": {"kind": "redis"}, "a_b": {"kind": "redis"}}}),
        'services.a_b.export: variable A_B_URL is also exported by service "a-b"',
    ),
    (
        svc("1db", {"kind": "postgres"}),
        'services.1db: the default variable name "1DB_URL" is not a valid environment variable name; '
        "set export",
    ),
    (
        svc("postgres", {"database_per_worker": "yes"}),
        'database_per_worker: expected true or false, got "yes"',
    ),
    (
        svc("api", {"kind": "custom", "database_per_worker": True, "export": {"A": "{host}"}}),
        "api.database_per_worker: kind custom has no databases to create per worker",
    ),
    (svc("redis", {"ready_timeout": -5}), "redis.ready_timeout: expected a number of seconds > 0, got -5"),
    (
        svc("redis", {"ready_timeout": True}),
        "redis.ready_timeout: expected a number of seconds > 0, got true",
    ),
    (
        svc("redis", {"ready_timeout": "60s"}),
        'redis.ready_timeout: expected a number of seconds > 0, got "60s"',
    ),
    (
        svc("redis", {"ready_timeout": float("inf")}),
        "redis.ready_timeout: expected a number of seconds > 0, got inf",
    ),
    (
        svc("api", {"kind": "custom", "export": {"A": "{host}"}, "command": "api --port 1"}),
        'api.command: expected a list of strings, got "api --port 1"',
    ),
    (
        svc("api", {"kind": "custom", "export": {"A": "{host}"}, "command": []}),
        "api.command: expected a non-empty list of strings (the program and its arguments), got []",
    ),
    (
        svc("api", {"kind": "custom", "export": {"A": "{host}"}, "command": ["api", "--dir={datadir}"]}),
        "api.command[1]: unknown field {datadir} in the template (did you mean {data_dir}?); "
        "valid fields: port, host, data_dir",
    ),
    (
        svc("db", {"kind": "postgres"}, lanes=[{"name": "it", "services": "db"}]),
        'lanes[0].services: expected a list of strings, got "db"',
    ),
    (
        svc("db", {"kind": "postgres"}, lanes=[{"name": "it", "services": ["db", "db"]}]),
        'lanes[0].services[1]: duplicate service "db"',
    ),
    (
        svc("db", {"kind": "postgres"}, lanes=[{"name": "it", "services": ["dbb"]}]),
        'lanes[0].services[0]: unknown service "dbb"; did you mean "db"?',
    ),
    (
        tool({"lanes": [{"name": "it", "services": ["db"]}]}),
        'lanes[0].services[0]: unknown service "db"; no services are configured '
        "(add [tool.ci-toolkit.services.NAME])",
    ),
]


@pytest.mark.parametrize(
    ("data", "fragment"), SERVICES_BAD, ids=[fragment[:50] for _, fragment in SERVICES_BAD]
)
def test_bad_services_are_one_line_naming_the_key(
    data: dict[str, Any], fragment: str, tmp_path: Path
) -> None:
    message = error_of(data, tmp_path)
    assert message.startswith("pyproject.toml: tool.ci-toolkit.")
    assert fragment in message


SERVICES_EXAMPLE = """
[tool.ci-toolkit]
workers = 2

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not integration"

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
services = ["postgres", "cache"]

[tool.ci-toolkit.services.postgres]
version = 16
user = "app"
password = "secret"
database = "shop"
database_per_worker = true
ready_timeout = 30

[tool.ci-toolkit.services.postgres.settings]
fsync = false
max_connections = 200
shared_buffers = "128MB"
random_page_cost = 1.5

[tool.ci-toolkit.services.postgres.export]
DATABASE_URL = "postgresql://{user}:{password}@{host}:{port}/{database}"
PGHOST = "{host}"
LITERAL = "{{not a field}} {name}"

[tool.ci-toolkit.services.cache]
kind = "redis"
backend = "native"
version = "7.2"
database = "3"
user = ""

[tool.ci-toolkit.services.cache.settings]
appendonly = false
save = ""

[tool.ci-toolkit.services.ext-mysql]
kind = "mariadb"
backend = "external"
host = "db.internal"
port = 3306
env = { TZ = "UTC" }

[tool.ci-toolkit.services.api]
kind = "custom"
image = "ghcr.io/acme/api:1"
user = "any thing"
command = ["api-server", "--port", "{port}", "--data={data_dir}", "--bind={host}"]
export = { API_URL = "http://{host}:{port}" }
"""


def test_services_example(tmp_path: Path) -> None:
    config = load(write(tmp_path, SERVICES_EXAMPLE), cwd=tmp_path)
    assert config.lanes[0].services == ()
    assert config.lanes[1].services == ("postgres", "cache")
    assert list(config.services) == ["postgres", "cache", "ext-mysql", "api"]
    assert config.services["postgres"] == ServiceSpec(
        name="postgres",
        kind="postgres",
        version="16",
        user="app",
        password="secret",
        database="shop",
        database_per_worker=True,
        ready_timeout=30.0,
        settings={
            "fsync": "off",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "random_page_cost": "1.5",
        },
        export={
            "DATABASE_URL": "postgresql://{user}:{password}@{host}:{port}/{database}",
            "PGHOST": "{host}",
            "LITERAL": "{{not a field}} {name}",
        },
    )
    assert config.services["cache"] == ServiceSpec(
        name="cache",
        kind="redis",
        backend="native",
        version="7.2",
        database="3",
        user="",
        settings={"appendonly": "no", "save": ""},
    )
    assert config.services["ext-mysql"] == ServiceSpec(
        name="ext-mysql", kind="mariadb", backend="external", host="db.internal", port=3306, env={"TZ": "UTC"}
    )
    assert config.services["api"] == ServiceSpec(
        name="api",
        kind="custom",
        image="ghcr.io/acme/api:1",
        user="any thing",
        command=("api-server", "--port", "{port}", "--data={data_dir}", "--bind={host}"),
        export={"API_URL": "http://{host}:{port}"},
    )
    assert isinstance(config.services["postgres"].ready_timeout, float)


def test_service_defaults_and_float_version(tmp_path: Path) -> None:
    config = parse_here(
        tool(
            {
                "services": {
                    "mysql": {"version": 8.4, "settings": {"skip_log_bin": True}, "ready_timeout": 0.5}
                }
            }
        ),
        tmp_path,
    )
    assert config.services == {
        "mysql": ServiceSpec(
            name="mysql", kind="mysql", version="8.4", settings={"skip_log_bin": "on"}, ready_timeout=0.5
        )
    }
    assert config.lanes == (Lane(name="all"),)
    assert parse_here(tool({"services": {}}), tmp_path).services == {}
    assert parse_here(tool({}), tmp_path).services == {}


def test_redis_settings_spell_booleans_yes_no(tmp_path: Path) -> None:
    config = parse_here(
        svc("redis", {"settings": {"appendonly": True}, "database_per_worker": False}), tmp_path
    )
    assert config.services["redis"].settings == {"appendonly": "yes"}
    assert config.services["redis"].database_per_worker is False


# -- timing history and splitting -------------------------------------------------------------------------

TIMING_BAD = [
    (tool({"timings": 3}), "tool.ci-toolkit.timings: expected a file path, got 3"),
    (tool({"timings": "  "}), 'tool.ci-toolkit.timings: expected a file path, got "  "'),
    (tool({"timings": "cache/"}), 'timings: expected a file path, not a directory, got "cache/"'),
    (tool({"timings": "cache\\"}), "timings: expected a file path, not a directory"),
    (
        tool({"timings": ".ci-toolkit/results/t.json"}),
        "timings: expected a file outside .ci-toolkit/results (cleared before every run), "
        'got ".ci-toolkit/results/t.json"',
    ),
    (
        tool({"output_dir": "build/ci", "timings": "./build/x/../ci/junit/t.json"}),
        "timings: expected a file outside build/ci/junit (cleared before every run)",
    ),
    (tool({"timings": ".ci-toolkit/.coverage"}), "expected a file outside .ci-toolkit/.coverage"),
    (
        tool({"timings": ".ci-toolkit/."}),
        'timings: expected a file path, not the output_dir directory, got ".ci-toolkit/."',
    ),
    (tool({"timings_alpha": 0}), "tool.ci-toolkit.timings_alpha: expected a number > 0 and <= 1, got 0"),
    (tool({"timings_alpha": 1.5}), "timings_alpha: expected a number > 0 and <= 1, got 1.5"),
    (tool({"timings_alpha": True}), "timings_alpha: expected a number > 0 and <= 1, got true"),
    (tool({"timings_alpha": "0.3"}), 'timings_alpha: expected a number > 0 and <= 1, got "0.3"'),
    (tool({"timings_alpha": float("nan")}), "timings_alpha: expected a number > 0 and <= 1, got nan"),
    (tool({"timings_prune_after": 0}), "timings_prune_after: expected a whole number of runs >= 1, got 0"),
    (
        tool({"timings_prune_after": 2.0}),
        "timings_prune_after: expected a whole number of runs >= 1, got 2.0",
    ),
    (tool({"timings_prune_after": True}), "timings_prune_after: expected a whole number of runs >= 1"),
    (tool({"scheduler": "load"}), 'tool.ci-toolkit.scheduler: expected "duration" or "xdist", got "load"'),
    (tool({"scheduler": 1}), 'scheduler: expected "duration" or "xdist", got 1'),
    (tool({"shard_overhead": -1}), 'shard_overhead: expected a number of seconds >= 0 or "auto", got -1'),
    (
        tool({"shard_overhead": float("inf")}),
        'shard_overhead: expected a number of seconds >= 0 or "auto", got inf',
    ),
    (
        tool({"shard_overhead": False}),
        'shard_overhead: expected a number of seconds >= 0 or "auto", got false',
    ),
    (
        tool({"shard_overhead": "Auto"}),
        'shard_overhead: expected a number of seconds >= 0 or "auto", got "Auto"',
    ),
    (tool({"keep_together": "tests/**"}), 'keep_together: expected a list of strings, got "tests/**"'),
    (tool({"keep_together": [1]}), "keep_together[0]: expected a string, got 1"),
    (
        tool({"keep_together": ["tests/db/**", "/abs/**"]}),
        'keep_together[1]: expected a glob relative to the project root, got "/abs/**"',
    ),
    (
        tool({"keep_together": ["tests/test_db.py::"]}),
        'keep_together[0]: expected a node id prefix such as "tests/test_db.py::TestDB", '
        'got "tests/test_db.py::"',
    ),
    (
        tool({"keep_together": ["./tests/test_db.py::TestDB"]}),
        'keep_together[0]: expected a glob without a leading "./" (write "tests/test_db.py")',
    ),
    (
        tool({"keep_together": ["tests/a.py", "tests/a.py"]}),
        'keep_together[1]: duplicate pattern "tests/a.py", also at keep_together[0]',
    ),
    (
        tool({"timings": ".ci-toolkit/.lock"}),
        'timings: expected a file ci-toolkit does not write itself, got ".ci-toolkit/.lock"',
    ),
    (
        tool({"timings": "conf/pyproject.toml"}),
        "timings: expected a timing history file, not pyproject.toml (the configuration file)",
    ),
    (tool({"timings_alfa": 0.5}), 'tool.ci-toolkit.timings_alfa: unknown key; did you mean "timings_alpha"?'),
]


@pytest.mark.parametrize(("data", "fragment"), TIMING_BAD, ids=[fragment[:50] for _, fragment in TIMING_BAD])
def test_bad_timing_keys_are_one_line_naming_the_key(
    data: dict[str, Any], fragment: str, tmp_path: Path
) -> None:
    message = error_of(data, tmp_path)
    assert message.startswith("pyproject.toml: tool.ci-toolkit.")
    assert fragment in message


def test_timing_keys_default(tmp_path: Path) -> None:
    config = parse_here(tool({}), tmp_path)
    assert config.timings == Path(".ci-toolkit/timings.json")
    assert (config.timings_alpha, config.timings_prune_after) == (0.3, 10)
    assert (config.scheduler, config.keep_together, config.shard_overhead) == ("duration", (), "auto")


def test_timing_keys_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [tool.ci-toolkit]
        output_dir = "build"
        timings = "build/history/timings.json"
        timings_alpha = 1
        timings_prune_after = 3
        scheduler = "xdist"
        keep_together = ["tests/db/**", "tests/test_api.py::TestOrders"]
        shard_overhead = 0
        """,
    )
    config = load(path, cwd=tmp_path)
    assert config.timings == Path("build/history/timings.json")
    assert config.timings_alpha == 1.0 and isinstance(config.timings_alpha, float)
    assert config.timings_prune_after == 3
    assert config.scheduler == "xdist"
    assert config.keep_together == ("tests/db/**", "tests/test_api.py::TestOrders")
    assert config.shard_overhead == 0.0 and isinstance(config.shard_overhead, float)


def test_shard_overhead_auto_is_read_as_written(tmp_path: Path) -> None:
    config = parse_here(tool({"shard_overhead": "auto"}), tmp_path)
    assert config.shard_overhead == "auto"


@pytest.mark.parametrize(
    "value",
    [
        "timings.json",  # at the root
        "../shared-cache/timings.json",  # outside the project: a CI cache directory
        ".ci-toolkit/junit.json",  # beside the cleared directories, not in them
        ".ci-toolkit-old/results/t.json",  # a sibling of output_dir that only shares its prefix
        "/var/cache/ci/timings.json",
    ],
)
def test_timings_paths_that_survive_a_run_are_accepted(value: str, tmp_path: Path) -> None:
    assert parse_here(tool({"timings": value}), tmp_path).timings == Path(value)


@pytest.mark.parametrize("name", outdir.CLEARED)
def test_timings_cannot_be_what_the_run_layout_clears(name: str, tmp_path: Path) -> None:
    # The names come from ci_toolkit.run.layout alone: config keeps no copy that could drift.
    message = error_of(tool({"timings": f".ci-toolkit/{name}"}), tmp_path)
    assert f"expected a file outside .ci-toolkit/{name} (cleared before every run)" in message


@pytest.mark.parametrize("name", [name for name in outdir.RESERVED if name not in outdir.CLEARED])
def test_timings_cannot_be_a_file_the_run_layout_writes(name: str, tmp_path: Path) -> None:
    message = error_of(tool({"output_dir": "build", "timings": f"build/{name}"}), tmp_path)
    assert "expected a file ci-toolkit does not write itself" in message


def test_patch_fail_under_is_a_percent_and_absent_means_not_gated(tmp_path: Path) -> None:
    assert CoverageConfig().patch_fail_under is None
    for given in (90, 0, 12.5):
        config = parse_here(tool({"coverage": {"patch_fail_under": given}}), tmp_path)
        assert config.coverage.patch_fail_under == float(given)
    for bad, shown in ((101, "101"), (True, "true"), ("90", '"90"')):
        assert error_of(cov({"patch_fail_under": bad}), tmp_path) == (
            f"pyproject.toml: tool.ci-toolkit.coverage.patch_fail_under: expected a number 0-100, got {shown}"
        )
