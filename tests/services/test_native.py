"""The native backend against real servers: system packages and PyPI wheels, real clients, no mocks."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import processes_mentioning

from ci_toolkit.services import binaries, kinds, templates
from ci_toolkit.services.backends.native import NativeBackend, free_port
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec


def _hint(kind: str) -> str:
    install = kinds.get(kind).install
    assert install is not None
    return install.binaries_hint()


def _have(kind: str, source: str) -> bool:
    return any(b.source == source for b in kinds.get(kind).candidates(source))


def _need(kind: str, source: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not _have(kind, source), reason=f"no {source} {kind} binaries: {_hint(kind)}")


needs_any_redis = pytest.mark.skipif(
    not kinds.get("redis").candidates(), reason=f"no redis server: {_hint('redis')}"
)
needs_any_postgres = pytest.mark.skipif(
    not kinds.get("postgres").candidates(), reason=f"no postgres server: {_hint('postgres')}"
)


def _url(spec: ServiceSpec, endpoint: Endpoint, database: str | None = None) -> str:
    (template,) = templates.exports(spec).values()
    return templates.render(template, endpoint.fields(database))


def _leftovers(marker: str) -> list[str]:
    """Processes whose command line or working directory mentions `marker`, and temp dirs named by it."""
    found = processes_mentioning(marker)
    where = Path(marker) if marker.startswith("/") else Path(tempfile.gettempdir()) / marker
    found += [str(p) for p in where.parent.glob(f"{where.name}*")]
    return found


def _assert_gone(backend: NativeBackend, endpoint: Endpoint) -> None:
    assert not backend.is_running(endpoint)
    assert not Path(endpoint.handle["root"]).exists()
    assert _leftovers(endpoint.handle["root"]) == []


@pytest.fixture
def started() -> Iterator[Callable[[NativeBackend, ServiceSpec], Endpoint]]:
    """start(), with everything started stopped at the end even when an assertion fails first."""
    running: list[tuple[NativeBackend, Endpoint]] = []

    def start(backend: NativeBackend, spec: ServiceSpec) -> Endpoint:
        endpoint = backend.start(spec, Path.cwd())
        running.append((backend, endpoint))
        return endpoint

    yield start
    for backend, endpoint in running:
        backend.stop(endpoint)


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reuse_initdb"),
    [
        pytest.param("system", True, marks=_need("postgres", "system"), id="system"),
        pytest.param("wheel", False, marks=_need("postgres", "wheel"), id="wheel-initdb"),
    ],
)
def test_postgres_round_trip_and_databases(source: str, reuse_initdb: bool, started) -> None:
    psycopg = pytest.importorskip("psycopg")
    backend = NativeBackend(prefer=source, reuse_initdb=reuse_initdb)
    spec = ServiceSpec(name=f"pg-{source}", kind="postgres", database="app", password="s3cr'et")
    endpoint = started(backend, spec)
    assert endpoint.handle["source"] == source
    assert backend.is_running(endpoint)
    if os.geteuid() == 0:  # initdb refuses root: the server runs as an unprivileged account
        status = Path(f"/proc/{endpoint.handle['pid']}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert endpoint.handle["run_as"] in ("postgres", "nobody") and uid != "0"

    with psycopg.connect(_url(spec, endpoint)) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        assert conn.execute("SELECT name FROM t ORDER BY id").fetchall() == [("one",), ("two",)]
        assert conn.execute("SELECT current_database()").fetchone() == ("app",)
    with pytest.raises(psycopg.OperationalError, match="password"):  # TCP really checks the password
        psycopg.connect(
            _url(spec, endpoint).replace("s3cr%27et", "wrong").replace("s3cr'et", "wrong")
        ).close()

    backend.create_databases(endpoint, ["app_gw0", "app_gw1"])
    with psycopg.connect(_url(spec, endpoint, "app_gw0")) as conn:
        conn.execute("CREATE TABLE leftover (x int)")
    backend.create_databases(endpoint, ["app_gw0", "app_gw1"])  # recreated empty, even if connected before
    with psycopg.connect(_url(spec, endpoint, "app_gw0")) as conn:
        assert conn.execute("SELECT to_regclass('leftover')").fetchone() == (None,)
    with psycopg.connect(_url(spec, endpoint, "app_gw1")) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("app_gw1",)

    backend.stop(endpoint)
    _assert_gone(backend, endpoint)
    backend.stop(endpoint)  # idempotent


@needs_any_postgres
def test_postgres_that_cannot_start_reports_the_log_and_leaves_nothing() -> None:
    name = f"pgbad{os.getpid()}"
    spec = ServiceSpec(name=name, kind="postgres", settings={"shared_buffers": "lots"})
    with pytest.raises(ServiceError) as caught:
        NativeBackend().start(spec, Path.cwd())
    message = str(caught.value)
    assert "\n" not in message and f'service "{name}"' in message
    assert 'invalid value for parameter "shared_buffers"' in message.split("log: ", 1)[1]
    assert _leftovers(f"ci-toolkit-{name}-") == []


# --- Redis / Valkey -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "password"),
    [
        pytest.param("system", None, marks=_need("redis", "system"), id="system"),
        pytest.param("wheel", "pw", marks=_need("redis", "wheel"), id="wheel-valkey-password"),
    ],
)
def test_redis_round_trip(source: str, password: str | None, started) -> None:
    redis = pytest.importorskip("redis")
    backend = NativeBackend(prefer=source)
    spec = ServiceSpec(name=f"cache-{source}", kind="redis", password=password)
    endpoint = started(backend, spec)
    assert endpoint.handle["source"] == source

    client = redis.Redis.from_url(_url(spec, endpoint))
    assert client.set("greeting", "hello") and client.get("greeting") == b"hello"
    via_socket = redis.Redis(unix_socket_path=endpoint.handle["socket"], password=password)
    assert via_socket.get("greeting") == b"hello"
    client.close()
    via_socket.close()
    if password:
        with pytest.raises(redis.AuthenticationError):
            no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
            redis.Redis(host="127.0.0.1", port=endpoint.port, password="wrong", retry=no_retry).ping()

    backend.stop(endpoint)
    _assert_gone(backend, endpoint)
    backend.stop(endpoint)


@needs_any_redis
def test_a_port_taken_after_it_was_chosen_is_retried(started) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = iter([taken])
        backend = NativeBackend(pick_port=lambda: next(ports, None) or free_port())
        endpoint = started(backend, ServiceSpec(name="retry", kind="redis"))
        assert endpoint.port != taken
        assert "Address already in use" in Path(endpoint.handle["log"]).read_text()

        always_taken = NativeBackend(pick_port=lambda: taken)
        with pytest.raises(ServiceError, match=rf"port {taken} is in use; log: .*Address already in use"):
            always_taken.start(ServiceSpec(name="taken", kind="redis"), Path.cwd())


@needs_any_postgres
def test_postgres_port_retry(started) -> None:
    psycopg = pytest.importorskip("psycopg")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = iter([taken])
        backend = NativeBackend(pick_port=lambda: next(ports, None) or free_port())
        spec = ServiceSpec(name="pgretry", kind="postgres")
        endpoint = started(backend, spec)
        assert endpoint.port != taken
        assert "could not bind" in Path(endpoint.handle["log"]).read_text()
        with psycopg.connect(_url(spec, endpoint)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


# --- MariaDB / MySQL ----------------------------------------------------------------------------


@pytest.mark.skipif(
    NativeBackend().unavailable_reason(ServiceSpec(name="m", kind="mariadb")) is not None,
    reason=f"no mariadb server and client: {_hint('mariadb')}",
)
def test_mariadb_round_trip(started) -> None:
    backend = NativeBackend()
    spec = ServiceSpec(name="maria", kind="mariadb", user="app", password="pw")
    endpoint = started(backend, spec)
    client = endpoint.handle["client"]

    def sql(statement: str, database: str = "test") -> str:
        argv = [client, "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", str(endpoint.port)]
        argv += ["-u", "app", "--password=pw", "-N", "-B", database, "-e", statement]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()

    sql("CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    assert sql("SELECT name FROM t ORDER BY id") == "one\ntwo"
    backend.create_databases(endpoint, ["test_gw0", "test_gw1"])
    sql("CREATE TABLE leftover (x INT)", "test_gw0")
    backend.create_databases(endpoint, ["test_gw0"])
    assert sql("SHOW TABLES", "test_gw0") == ""
    backend.stop(endpoint)
    _assert_gone(backend, endpoint)


# --- lifecycle ----------------------------------------------------------------------------------


def test_a_service_never_ready_times_out_with_the_log_tail_and_is_killed(tmp_path: Path) -> None:
    name = f"never{os.getpid()}"
    # A custom server that logs, then never listens: the readiness probe can only time out.
    spec = ServiceSpec(
        name=name,
        kind="custom",
        command=("sh", "-c", "echo booting {data_dir}; echo still booting; exec sleep 60"),
        ready_timeout=0.5,
        export={"X": "{host}:{port}"},
    )
    with pytest.raises(ServiceError, match=r"not ready within 0\.5 s; log: booting .* \| still booting$"):
        NativeBackend().start(spec, tmp_path)
    assert _leftovers(f"ci-toolkit-{name}-") == []


@needs_any_redis
def test_a_server_outlives_the_process_that_started_it_and_another_stops_it() -> None:
    script = (
        "import json, pathlib; from ci_toolkit.services.backends.native import NativeBackend;"
        "from ci_toolkit.services.base import ServiceSpec;"
        "e = NativeBackend().start(ServiceSpec(name='detached', kind='redis'), pathlib.Path('.'));"
        "print(json.dumps(e.__dict__ | {'handle': dict(e.handle)}))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    endpoint = Endpoint(**json.loads(out))
    backend = NativeBackend()
    try:
        assert backend.is_running(endpoint)
    finally:
        backend.stop(endpoint)
    _assert_gone(backend, endpoint)


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        handle = {"pid": stranger.pid, "pgid": stranger.pid, "started": "linux:0", "root": str(tmp_path)}
        endpoint = Endpoint("old", "redis", "native", "127.0.0.1", 1, handle=handle)
        backend = NativeBackend()
        assert not backend.is_running(endpoint)
        backend.stop(endpoint)
        assert stranger.poll() is None
        assert tmp_path.exists()  # not a dir start() made: never deleted
    finally:
        stranger.kill()
        stranger.wait()


def test_unavailable_reason_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = NativeBackend()
    reason = backend.unavailable_reason(ServiceSpec(name="db", kind="postgres", version="99"))
    assert reason is not None
    assert "postgres 99" in reason or "no postgres server" in reason
    assert "pip install 'ci-toolkit[embedded]'" in reason and "apt install postgresql" in reason
    assert "brew install postgresql@17" in reason
    custom = ServiceSpec(name="c", kind="custom", command=("no-such-binary-xyz",))
    assert 'command "no-such-binary-xyz" not found' in (backend.unavailable_reason(custom) or "")
    with pytest.raises(ServiceError, match="not found"):
        backend.start(custom, Path.cwd())

    assert binaries.prefer_order(None)[0] == "system"
    monkeypatch.setenv(binaries.PREFER_ENV, "wheel")
    assert binaries.prefer_order(None) == ("wheel", "system")
    with pytest.raises(ValueError, match="system"):
        NativeBackend(prefer="docker")


@pytest.fixture
def own_tempdir(monkeypatch) -> Iterator[Path]:
    """A temp dir (and so an initdb cache) of the test's own, which the server's account can enter."""
    path = Path(tempfile.mkdtemp(prefix="cache-test-", dir="/tmp"))
    path.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@_need("postgres", "system")
def test_initdb_result_is_saved_once_and_reused(started, own_tempdir: Path) -> None:
    """The first start saves a pristine initdb result (save_initdb); the next one copies it."""
    spec = ServiceSpec(name="pg-cache", kind="postgres", password="pw")
    first = started(NativeBackend(prefer="system", save_initdb=True), spec)
    saved = list(binaries.cache_dir().glob("pgdata-*"))
    assert len(saved) == 1 and (saved[0] / "PG_VERSION").is_file()
    assert not (saved[0] / "postmaster.pid").exists(), "the template never ran a server"

    second = started(NativeBackend(prefer="system"), spec)
    assert "could not copy" not in Path(second.handle["log"]).read_text()
    assert second.port != first.port


@_need("postgres", "system")
def test_no_initdb_result_is_saved_on_ci(started, own_tempdir: Path, monkeypatch) -> None:
    """CI machines are usually fresh: saving would cost a copy that no later start uses."""
    monkeypatch.setenv("CI", "true")
    started(NativeBackend(prefer="system"), ServiceSpec(name="pg-ci", kind="postgres"))
    assert list(binaries.cache_dir().glob("pgdata-*")) == []
