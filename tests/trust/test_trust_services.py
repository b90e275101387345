"""Issue 9 (trust), services: what `local` does to a `services up` server, a run killed while a server
starts, passwords that need escaping in URLs, and custom servers that daemonize.

Real servers (PostgreSQL and Redis through the native backend), real `ci-toolkit` processes, real
clients (psycopg, redis-py); every test ends with the process table and TMPDIR checked (World).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import TIMEOUT, World, processes_mentioning

from ci_toolkit.services import binaries, templates
from ci_toolkit.services import env as env_mod
from ci_toolkit.services.backends.native import NativeBackend
from ci_toolkit.services.base import Endpoint, ServiceSpec

if TYPE_CHECKING:
    from conftest import SampleProject

pytestmark = pytest.mark.e2e

Factory = Callable[..., "SampleProject"]


def _native_missing() -> str | None:
    backend = NativeBackend()
    for kind in ("postgres", "redis"):
        reason = backend.unavailable_reason(ServiceSpec(name=kind, kind=kind))
        if reason is not None:
            return reason
    return None


_MISSING = _native_missing()
needs_servers = pytest.mark.skipif(_MISSING is not None, reason=f"no PostgreSQL/Redis binaries: {_MISSING}")
psycopg = pytest.importorskip("psycopg")
redis = pytest.importorskip("redis")

PASSWORD = "p@ss:w/rd#?%"


def _state(project: Path) -> list[dict[str, object]]:
    path = project / ".ci-toolkit" / "services" / "state.json"
    return json.loads(path.read_text())["services"] if path.exists() else []


def _pids(project: Path) -> dict[str, int]:
    return {r["endpoint"]["name"]: r["endpoint"]["handle"]["pid"] for r in _state(project)}  # type: ignore[index]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _kill_orphaned_pytest(world: World, project: Path) -> None:
    """A SIGKILLed ci-toolkit leaves its pytest children (their own process groups) running: by hand."""
    for line in world.ours(project):
        pid = int(line.split(":")[0])
        if str(project) in line and str(world.tmpdir) not in line:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def _reap(world: World) -> Iterator[None]:
    """A failing test must not leave servers behind on this machine: kill what runs from our TMPDIR."""
    yield
    for line in world.ours():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


@pytest.fixture
def down_at_the_end(world: World) -> Iterator[list[Path]]:
    """Projects whose services a failing test might leave up: `services down` runs on them at the end."""
    projects: list[Path] = []
    yield projects
    for project in projects:
        world.run(project, "services", "down")


# --- item 7: `local` and the servers of `services up` ----------------------------------------------

REUSE_CONFIG = """
[tool.ci-toolkit]

[[tool.ci-toolkit.lanes]]
name = "db"
markers = "integration"
workers = 2
services = ["postgres", "redis"]

[[tool.ci-toolkit.lanes]]
name = "rest"
markers = "not integration"
workers = 0

[tool.ci-toolkit.services.postgres]
database = "app"
database_per_worker = true
ready_timeout = 30
export = { DATABASE_URL = "postgresql://{user}:{password}@{host}:{port}/{database}" }

[tool.ci-toolkit.services.redis]
"""

# One test, whichever worker runs it: it finds every worker's database empty (an earlier run on the
# same server left a table in one of them), then leaves a table in its own.
CREATES_A_TABLE = """\
    import os

    import psycopg
    import pytest
    import redis


    @pytest.mark.integration
    def test_fresh_databases():
        url = os.environ["DATABASE_URL"]
        for worker in ("gw0", "gw1"):
            with psycopg.connect(url.rsplit("_", 1)[0] + "_" + worker) as conn:
                assert conn.execute("SELECT to_regclass('marker')").fetchone() == (None,)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE marker (x int)")
        redis.Redis.from_url(os.environ["REDIS_URL"]).set("k", "v")
    """


@needs_servers
def test_local_reuses_the_up_servers_with_the_same_settings_and_leaves_them_running(
    sample_project_factory: Factory, world: World, down_at_the_end: list[Path]
) -> None:
    project = sample_project_factory(
        files={"tests/test_integration.py": CREATES_A_TABLE}, pyproject_extra=REUSE_CONFIG
    )
    down_at_the_end.append(project.root)
    up = world.run(project.root, "services", "up")
    assert up.code == 0, up.describe()
    servers = _pids(project.root)
    assert sorted(servers) == ["postgres", "redis"]

    for _ in range(2):  # twice: the second run must find the workers' databases fresh again
        run = world.run(project.root, "local")
        assert run.code == 0, run.describe()
        assert run.stderr.count("already running (native), reused") == 2, run.describe()
        assert "stopped" not in run.stderr, run.describe()
        assert _pids(project.root) == servers
        assert all(_alive(pid) for pid in servers.values()), run.describe()
        assert [r["owner"] for r in _state(project.root)] == ["up", "up"]

    down = world.run(project.root, "services", "down")
    assert down.code == 0, down.describe()
    world.assert_nothing_left(project.root)


@needs_servers
def test_local_starts_its_own_server_beside_an_up_server_with_other_settings(
    sample_project_factory: Factory, world: World, down_at_the_end: list[Path]
) -> None:
    project = sample_project_factory(
        files={"tests/test_integration.py": CREATES_A_TABLE}, pyproject_extra=REUSE_CONFIG
    )
    down_at_the_end.append(project.root)
    up = world.run(project.root, "services", "up", "postgres")
    assert up.code == 0, up.describe()
    servers = _pids(project.root)
    with psycopg.connect(up.stdout.strip().split("=", 1)[1], autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")  # e.g. migrations a later CI step relies on

    project.write("pyproject.toml", (project.root / "pyproject.toml").read_text().replace(
        'database = "app"', 'database = "app"\nsettings = { max_connections = 50 }'
    ))  # fmt: skip
    run = world.run(project.root, "local")
    assert run.code == 0, run.describe()
    assert "service postgres: starting postgres (native)" in run.stderr, run.describe()
    assert "service postgres: stopped\n" in run.stderr  # its own, at the end
    assert "replaced" not in run.stderr, run.describe()
    assert _pids(project.root) == servers and _alive(servers["postgres"])
    with psycopg.connect(up.stdout.strip().split("=", 1)[1]) as conn:  # untouched
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == ("kept",)

    down = world.run(project.root, "services", "down")
    assert down.code == 0, down.describe()
    world.assert_nothing_left(project.root)


# --- item 8: a run killed while a server starts ----------------------------------------------------

ONE_POSTGRES = """
[tool.ci-toolkit]
workers = 0

[[tool.ci-toolkit.lanes]]
name = "all"
services = ["postgres"]

[tool.ci-toolkit.services.postgres]
database = "app"
ready_timeout = 60
"""


def _root_dirs(world: World) -> list[Path]:
    return [world.tmpdir / name for name in world.data_dirs()]


# When to SIGKILL `ci-toolkit local`, as a condition polled every few milliseconds.
MOMENTS: dict[str, Callable[[World, Path], bool]] = {
    "at-once": lambda world, project: True,
    "state-file": lambda world, project: (project / ".ci-toolkit/services/state.json").exists(),
    "data-dir": lambda world, project: bool(_root_dirs(world)),
    "initdb": lambda world, project: any((root / "data").exists() for root in _root_dirs(world)),
    "server": lambda world, project: any(
        (root / "data/postmaster.pid").exists() for root in _root_dirs(world)
    ),
}


@needs_servers
@pytest.mark.parametrize("then", ["down", "local"])
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_run_killed_while_its_server_starts_leaves_nothing_after_down_or_the_next_run(
    sample_project_factory: Factory, world: World, moment: str, then: str
) -> None:
    project = sample_project_factory(pyproject_extra=ONE_POSTGRES)
    proc = world.start(project.root, "local")
    condition = MOMENTS[moment]
    deadline = time.monotonic() + TIMEOUT
    while not condition(world, project.root):
        assert proc.poll() is None, f"ci-toolkit ended before {moment}: {proc.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    _kill_orphaned_pytest(world, project.root)
    proc.communicate()
    # Recorded before made: whatever exists now, the state file names it.
    records = _state(project.root)
    roots = {r["endpoint"]["handle"].get("root") for r in records}  # type: ignore[index]
    assert {str(root) for root in _root_dirs(world)} <= roots, records
    workdirs = {r["workdir"] for r in records}
    assert {str(p) for p in (project.root / ".ci-toolkit/services").glob("work/*")} <= workdirs, records
    if moment == "server":
        assert world.ours(), "the server should be running now"
    if moment in ("data-dir", "initdb", "server"):
        status = world.run(project.root, "services", "status")
        assert [line.split()[4] for line in status.stdout.splitlines()[1:]] == ["interrupted"], (
            status.describe()
        )

    if then == "down":
        after = world.run(project.root, "services", "down")
    else:
        after = world.run(project.root, "local")
    assert after.code == 0, after.describe()
    world.assert_nothing_left(project.root)
    assert not list((project.root / ".ci-toolkit/services").glob("work/*"))


# --- item 13: passwords that URLs must escape ------------------------------------------------------

PASSWORD_CONFIG = f"""
[tool.ci-toolkit]
workers = 0

[[tool.ci-toolkit.lanes]]
name = "all"
services = ["postgres", "redis"]

[tool.ci-toolkit.services.postgres]
user = "app_user"
password = {json.dumps(PASSWORD)}
database = "app"
ready_timeout = 30

[tool.ci-toolkit.services.postgres.export]
DATABASE_URL = "postgresql://{{user}}:{{password}}@{{host}}:{{port}}/{{database}}"
PGPASSWORD = "{{password}}"

[tool.ci-toolkit.services.redis]
password = {json.dumps(PASSWORD)}
"""

CONNECTS = """\
    import json
    import os
    import pathlib

    import psycopg
    import redis


    def test_connects_through_the_urls():
        with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app_user", "app")
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        client.set("k", "v")
        assert client.get("k") == b"v"
        names = ("DATABASE_URL", "REDIS_URL", "PGPASSWORD")
        values = {n: os.environ[n] for n in names}
        pathlib.Path(os.environ["RECORD_DIR"], "env.json").write_text(json.dumps(values))
    """


@needs_servers
def test_a_password_with_url_reserved_characters_connects_through_the_exported_urls(
    sample_project_factory: Factory, world: World
) -> None:
    project = sample_project_factory(files={"tests/test_unit.py": CONNECTS}, pyproject_extra=PASSWORD_CONFIG)
    run = world.run(project.root, "local", "--lane", "all")
    assert run.code == 0, run.describe()
    env = world.record("env")
    assert env["PGPASSWORD"] == PASSWORD  # not a URL: the value as written
    assert "p%40ss%3Aw%2Frd%23%3F%25@" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://:p%40ss%3Aw%2Frd%23%3F%25@127.0.0.1:")
    world.assert_nothing_left(project.root)


def test_url_templates_percent_encode_user_password_and_database_and_others_stay_raw() -> None:
    spec = ServiceSpec(
        "db", "custom",
        export={"URL": "x://{user}:{password}@{host}:{port}/{database}?n={name}", "RAW": "{user} {password}"},
    )  # fmt: skip
    endpoint = Endpoint("db", "custom", "native", "127.0.0.1", 5, "a b@c", PASSWORD, "d/b")
    assert env_mod.exports(spec, endpoint) == {
        "URL": "x://a%20b%40c:p%40ss%3Aw%2Frd%23%3F%25@127.0.0.1:5/d%2Fb?n=db",
        "RAW": f"a b@c {PASSWORD}",
    }
    assert templates.render("{password}", endpoint.fields()) == PASSWORD


# --- item 14: a custom server that daemonizes ------------------------------------------------------

DAEMON = """\
    import os
    import socket
    import sys
    import time

    port, mode = int(sys.argv[1]), sys.argv[2]
    if os.fork() > 0:
        os._exit(0)
    os.setsid()  # leaves ci-toolkit's process group and session
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    time.sleep(0.5)  # listening only well after the command that started it has exited
    if mode == "never":
        time.sleep(600)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    while True:
        conn, _ = server.accept()
        conn.sendall(b"hello\\n")
        conn.close()
    """

GREETS = """\
    import json
    import os
    import pathlib
    import socket


    def test_talks_to_the_daemon():
        host, port = os.environ["DAEMON_ADDR"].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            assert conn.recv(16) == b"hello\\n"
    """


def _daemon_project(factory: Factory, mode: str = "serve", ready_timeout: int = 20) -> SampleProject:
    project = factory(files={"tests/test_unit.py": GREETS, "daemon.py": DAEMON})
    script = project.root / "daemon.py"
    project.write("pyproject.toml", (project.root / "pyproject.toml").read_text() + textwrap.dedent(f"""
        [tool.ci-toolkit]
        workers = 0

        [[tool.ci-toolkit.lanes]]
        name = "all"
        services = ["daemon"]

        [tool.ci-toolkit.services.daemon]
        kind = "custom"
        command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, "{{port}}", "{mode}"]
        ready_timeout = {ready_timeout}
        export = {{ DAEMON_ADDR = "{{host}}:{{port}}" }}
        """))  # fmt: skip
    return project


@pytest.fixture
def no_daemon_survives(tmp_path: Path) -> Iterator[None]:
    """Whatever the outcome, no daemon of these tests outlives them (they run from under tmp_path)."""
    yield
    for line in processes_mentioning(str(tmp_path)):
        if "daemon.py" in line:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)


def test_a_custom_server_that_daemonizes_is_found_on_its_port_and_stopped(
    sample_project_factory: Factory, world: World, no_daemon_survives: None
) -> None:
    project = _daemon_project(sample_project_factory)
    run = world.run(project.root, "local")
    assert run.code == 0, run.describe()
    assert "1 passed" in run.stdout or "passed" in run.stdout
    world.assert_nothing_left(project.root)

    up = world.run(project.root, "services", "up")
    assert up.code == 0, up.describe()
    (pid,) = _pids(project.root).values()
    assert _alive(pid) and "daemon.py" in Path(f"/proc/{pid}/cmdline").read_text()
    status = world.run(project.root, "services", "status")
    assert status.stdout.splitlines()[1].split()[4] == "running", status.describe()
    down = world.run(project.root, "services", "down")
    assert down.code == 0, down.describe()
    world.assert_nothing_left(project.root)


def test_a_custom_server_that_daemonizes_and_never_listens_fails_and_is_stopped(
    sample_project_factory: Factory, world: World, no_daemon_survives: None
) -> None:
    project = _daemon_project(sample_project_factory, mode="never", ready_timeout=3)
    run = world.run(project.root, "local")
    assert run.code == 1, run.describe()
    errors = [line for line in run.stderr.splitlines() if line.startswith("ci-toolkit: error:")]
    assert len(errors) == 1 and 'service "daemon"' in errors[0], run.describe()
    assert "not ready within 3 s" in errors[0], errors[0]
    world.assert_nothing_left(project.root)


# --- siblings --------------------------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_staging_copy_a_killed_run_left_in_the_cache_is_removed_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed while it saved the initdb template (or copied wheel binaries) left a half copy."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    cache = binaries.cache_dir()
    old = time.time() - 2 * binaries.STALE_STAGING
    dead, alive = _dead_pid(), os.getppid()
    names = [f".pgdata-{dead}-a1", f".staging-{dead}-b_2", f".pgdata-{dead}-new", f".pgdata-{alive}-c3"]
    left = {name: cache / name for name in [*names, "pgdata-0123456789abcdef"]}
    for name, path in left.items():
        (path / "d").mkdir(parents=True)
        if not name.endswith("new"):
            os.utime(path, (old, old))
    assert binaries.cache_dir() == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [f".pgdata-{dead}-new", f".pgdata-{alive}-c3", "pgdata-0123456789abcdef"]
    )
    made = binaries.staging_dir(cache, ".pgdata-")
    assert made.name.startswith(f".pgdata-{os.getpid()}-")


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finding processes needs /proc")
@pytest.mark.skipif(_MISSING is not None, reason=f"no redis: {_MISSING}")
def test_stop_leaves_a_shell_opened_in_the_servers_directory_alone() -> None:
    """stop() also stops what a killed start left (found inside the service's temp dir), but only
    the service's own programs: someone reading the log from a shell there keeps the shell."""
    backend = NativeBackend()
    endpoint = backend.start(ServiceSpec("cache", "redis"), Path.cwd())
    visitor = subprocess.Popen(["sleep", "60"], cwd=endpoint.handle["root"])
    try:
        backend.stop(endpoint)
        assert visitor.poll() is None
        assert not backend.is_running(endpoint) and not Path(endpoint.handle["root"]).exists()
    finally:
        visitor.kill()
        visitor.wait()


FAKE_DOCKER = Path(__file__).parents[1] / "fake_docker"


def test_docker_notes_the_container_name_before_docker_run_and_stops_it_by_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed while `docker run` ran has only the noted name: `down` removes the container by it.
    (The stand-in docker CLI of tests/fake_docker: no Docker engine can run here.)"""
    from ci_toolkit.services.backends import docker

    state = tmp_path / "fake-docker"
    monkeypatch.setenv("PATH", f"{FAKE_DOCKER}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_DIR", str(state))
    monkeypatch.setenv("FAKE_DOCKER_PYTHON", sys.executable)
    monkeypatch.setattr(docker, "POLL_INTERVAL", 0.02)
    containers = state / "containers"
    notes: list[dict[str, object]] = []

    def note(update: object) -> None:
        if not notes:  # the first note comes before any container exists
            assert not list(containers.glob("*.json"))
        notes.append(dict(update))  # type: ignore[call-overload]

    backend = docker.DockerBackend(project="p")
    started = backend.start(ServiceSpec("db", "postgres"), tmp_path, note=note)
    (record,) = [json.loads(path.read_text()) for path in containers.glob("*.json")]
    try:
        assert notes[0]["name"] == record["name"] and "container" not in notes[0]
        assert notes[1] == {"container": started.handle["container"]}
        killed = Endpoint("db", "postgres", "docker", "", 0, handle=notes[0])  # what a killed run recorded
        assert backend.is_running(killed)
        backend.stop(killed)
        assert not list(containers.glob("*.json")) and not _alive(record["pid"])
        backend.stop(killed)  # idempotent
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record["pid"], signal.SIGKILL)


class _Noting:
    """A backend stand-in for the record-keeping logic only: it notes, then fails or "starts"."""

    name = "native"

    def __init__(self) -> None:
        self.stopped: list[dict[str, object]] = []
        self.states: list[list[dict[str, object]]] = []
        self.config_path: Path | None = None

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        return None

    def start(self, spec: ServiceSpec, workdir: Path, note: Callable[[dict[str, object]], None]) -> Endpoint:
        assert self.config_path is not None
        note({"root": "/nonexistent/ci-toolkit-x"})
        self.states.append(json.loads(self.config_path.read_text())["services"])
        raise KeyboardInterrupt  # a Ctrl-C mid-start

    def stop(self, endpoint: Endpoint) -> None:
        self.stopped.append(dict(endpoint.handle))

    def is_running(self, endpoint: Endpoint) -> bool:
        return True

    def create_databases(self, endpoint: Endpoint, names: object) -> None:
        raise AssertionError


def test_a_start_is_recorded_before_it_begins_and_a_starting_record_of_a_live_run_is_left_alone(
    tmp_path: Path,
) -> None:
    from ci_toolkit.config import Config
    from ci_toolkit.services import manager

    config = Config(root=tmp_path, services={"db": ServiceSpec("db", "postgres", backend="native")})
    fake = _Noting()
    fake.config_path = manager.state_path(config)
    services = manager.Services(config, backends=manager.Backends({"native": lambda: fake}), echo=print)
    with pytest.raises(KeyboardInterrupt):
        services.ensure(["db"])
    (seen,) = fake.states[0]
    assert seen["starting"] is True and seen["endpoint"]["handle"] == {"root": "/nonexistent/ci-toolkit-x"}  # type: ignore[index]
    assert not Path(str(seen["workdir"])).exists()  # made after the record, removed after the failure
    assert not fake.config_path.exists()  # nothing left to record

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "ci-toolkit"])
    try:
        record = manager.Record.from_json({**seen, "pid": live.pid})
        manager.save_state(fake.config_path, [record])
        deadline = time.monotonic() + 10  # until the child has exec'd, /proc shows our cmdline
        while b"ci-toolkit" not in Path(f"/proc/{live.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        other = manager.Services(config, backends=manager.Backends({"native": lambda: fake}), echo=print)
        assert other.clean_leftovers() == [] and fake.stopped == []  # another run is starting it
        live.kill()
        live.wait()
        assert [r.endpoint.name for r in other.clean_leftovers()] == ["db"]
        assert fake.stopped == [{"root": "/nonexistent/ci-toolkit-x"}]
    finally:
        live.kill()
        live.wait()
