"""The docker backend: command construction as pure functions, and the lifecycle driven through the
`docker` CLI.

No Docker engine can run here, so the lifecycle tests stand the engine in at the process boundary: a
stand-in `docker` executable (tests/fake_docker/) first on PATH records every argv and answers like
the CLI, and its `run` starts a real TCP listener playing the container's published port, so the
backend's host-side readiness probe makes a real connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_toolkit.services import kinds, probes
from ci_toolkit.services.backends import docker
from ci_toolkit.services.backends.docker import DockerBackend, run_command
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.kinds import postgres

FAKE_DIR = Path(__file__).parents[1] / "fake_docker"
HOST = "127.0.0.1"


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


# -- pure command construction ---------------------------------------------------------------------


def test_run_command_for_postgres_defaults() -> None:
    argv = run_command(ServiceSpec("db", "postgres"), run_id="r1", project="p1")
    assert argv[:3] == ["docker", "run", "--detach"]
    assert "--rm" not in argv  # kept after a failure so its logs can be read
    assert flag_values(argv, "--name") == ["ci-toolkit-db-r1"]
    assert flag_values(argv, "--label") == [
        "ci-toolkit=1",
        "ci-toolkit.project=p1",
        "ci-toolkit.run=r1",
        "ci-toolkit.service=db",
    ]
    assert flag_values(argv, "--publish") == ["127.0.0.1::5432"]
    assert flag_values(argv, "--env") == [
        "POSTGRES_USER=postgres",
        "POSTGRES_PASSWORD=postgres",
        "POSTGRES_DB=postgres",
        "PGDATA=/var/lib/postgresql/data",
    ]
    assert flag_values(argv, "--health-cmd") == ["pg_isready -U postgres -d postgres -h 127.0.0.1"]
    assert flag_values(argv, "--health-interval") == ["1s"]
    assert flag_values(argv, "--health-retries") == ["60"]
    assert flag_values(argv, "--tmpfs") == ["/var/lib/postgresql/data"]
    assert argv[-1] == "postgres:17-alpine"


def test_run_command_puts_server_settings_after_the_image() -> None:
    spec = ServiceSpec(
        "db", "postgres", version="16", settings={"fsync": "off", "max_connections": "200"}, ready_timeout=5
    )
    argv = run_command(spec, run_id="r", project="p")
    image = argv.index("postgres:16-alpine")
    assert argv[image + 1 :] == ["-c", "fsync=off", "-c", "max_connections=200"]
    assert flag_values(argv, "--health-retries") == ["5"]


def test_run_command_for_redis_with_password_runs_redis_server_with_flags() -> None:
    spec = ServiceSpec("cache", "redis", password="pw", settings={"maxmemory": "64mb"})
    argv = run_command(spec, run_id="r", project="p")
    image = argv.index("redis:7-alpine")
    assert argv[image + 1 :] == ["redis-server", "--maxmemory", "64mb", "--requirepass", "pw"]
    assert flag_values(argv, "--publish") == ["127.0.0.1::6379"]
    assert flag_values(argv, "--health-cmd") == ["redis-cli -h 127.0.0.1 -a pw --no-auth-warning ping"]
    assert "--tmpfs" not in argv


def test_run_command_for_plain_redis_has_no_command() -> None:
    argv = run_command(ServiceSpec("redis", "redis"), run_id="r", project="p")
    assert argv[-1] == "redis:7-alpine"


@pytest.mark.parametrize(("kind", "image"), [("mysql", "mysql:8.4"), ("mariadb", "mariadb:11")])
def test_run_command_for_mysql_family(kind: str, image: str) -> None:
    spec = ServiceSpec("db", kind, settings={"max_connections": "50"}, env={"TZ": "UTC"})
    argv = run_command(spec, run_id="r", project="p")
    assert argv[argv.index(image) + 1 :] == ["--max_connections=50"]
    assert flag_values(argv, "--tmpfs") == ["/var/lib/mysql"]
    assert f"{kind.upper()}_ROOT_PASSWORD=root" in flag_values(argv, "--env")
    assert "TZ=UTC" in flag_values(argv, "--env")
    assert flag_values(argv, "--publish") == ["127.0.0.1::3306"]


def test_run_command_with_a_fixed_host_port() -> None:
    argv = run_command(ServiceSpec("db", "postgres", port=15432), run_id="r", project="p")
    assert flag_values(argv, "--publish") == ["127.0.0.1:15432:5432"]


def test_run_command_for_a_custom_image_of_a_known_kind_leaves_its_data_dir_alone() -> None:
    argv = run_command(ServiceSpec("db", "postgres", image="postgis/postgis:16-3.4"), run_id="r", project="p")
    assert "--tmpfs" not in argv
    assert not any(value.startswith("PGDATA=") for value in flag_values(argv, "--env"))
    assert argv[-1] == "postgis/postgis:16-3.4"


def test_run_command_for_custom_kind() -> None:
    spec = ServiceSpec("mail", "custom", image="axllent/mailpit", port=1025, export={"SMTP": "{host}:{port}"})
    argv = run_command(spec, run_id="r", project="p", docker="/opt/docker")
    assert argv[0] == "/opt/docker"
    assert flag_values(argv, "--publish") == ["127.0.0.1::1025"]
    assert "--health-cmd" not in argv
    assert argv[-1] == "axllent/mailpit"


def test_run_command_for_custom_kind_without_port_is_an_error() -> None:
    with pytest.raises(ServiceError, match="needs port"):
        run_command(ServiceSpec("mail", "custom", image="x"), run_id="r", project="p")


def test_other_commands() -> None:
    assert docker.port_command("abc", 5432) == ["docker", "port", "abc", "5432/tcp"]
    assert docker.inspect_health_command("abc") == ["docker", "inspect", "--format", "{{json .State}}", "abc"]
    assert docker.logs_command("abc", tail=5) == ["docker", "logs", "--tail", "5", "abc"]
    assert docker.rm_command(["a", "b"]) == ["docker", "rm", "--force", "--volumes", "a", "b"]
    assert docker.leftovers_command("p1") == [
        "docker", "ps", "--all", "--quiet", "--filter", "label=ci-toolkit.project=p1",
    ]  # fmt: skip
    assert docker.info_command() == ["docker", "info", "--format", "{{.ServerVersion}}"]


def in_container(kind: str, user: str, password: str, database: str) -> Endpoint:
    return Endpoint("db", kind, "docker", HOST, 1, user, password, database, handle={"container": "abc"})


def test_create_databases_command_for_postgres_quotes_names() -> None:
    endpoint = in_container("postgres", "app", "pw", "appdb")
    argv = docker.create_databases_command(endpoint, ["t_gw0", 'we"ird'])
    assert argv[:5] == ["docker", "exec", "--env", "PGPASSWORD=pw", "abc"]
    assert argv[5:12] == ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d"]
    assert flag_values(argv, "-c") == [
        'DROP DATABASE IF EXISTS "t_gw0"',
        'CREATE DATABASE "t_gw0"',
        'DROP DATABASE IF EXISTS "we""ird"',
        'CREATE DATABASE "we""ird"',
    ]


@pytest.mark.parametrize(("kind", "client"), [("mysql", "mysql"), ("mariadb", "mariadb")])
def test_create_databases_command_for_mysql_family(kind: str, client: str) -> None:
    argv = docker.create_databases_command(in_container(kind, "app", "pw", "test"), ["t_gw0"])
    assert argv == [
        "docker", "exec", "--env", "MYSQL_PWD=pw", "abc", client, "-uroot", "-e",
        "DROP DATABASE IF EXISTS `t_gw0`; CREATE DATABASE `t_gw0`",
    ]  # fmt: skip


def test_create_databases_command_for_redis_is_an_error() -> None:
    with pytest.raises(ServiceError, match="no databases"):
        docker.create_databases_command(in_container("redis", "", "", "0"), ["x"])


def test_parse_port() -> None:
    assert docker.parse_port("127.0.0.1:49153\n") == 49153
    assert docker.parse_port("0.0.0.0:1\n[::]:1\n") == 1
    with pytest.raises(ValueError, match="no host port"):
        docker.parse_port("")


def test_project_id_is_stable_and_short(tmp_path: Path) -> None:
    assert docker.project_id(tmp_path) == docker.project_id(tmp_path / "." / "")
    assert len(docker.project_id(tmp_path)) == 12
    assert docker.project_id(tmp_path) != docker.project_id(tmp_path / "other")


# -- lifecycle against the stand-in CLI ------------------------------------------------------------


@dataclass
class FakeDocker:
    state: Path

    def calls(self, command: str | None = None) -> list[list[str]]:
        log = self.state / "argv.log"
        if not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [call for call in calls if command is None or call[:1] == [command]]

    def containers(self) -> dict[str, dict[str, object]]:
        folder = self.state / "containers"
        if not folder.exists():
            return {}
        return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; the stand-in's listeners are not our children anyway.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDocker]:
    """The stand-in `docker` first on PATH (the Docker engine cannot run here)."""
    state = tmp_path / "fake-docker"
    monkeypatch.setenv("PATH", f"{FAKE_DIR}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_DIR", str(state))
    monkeypatch.setenv("FAKE_DOCKER_PYTHON", sys.executable)
    monkeypatch.setattr(docker, "POLL_INTERVAL", 0.02)  # the stand-in answers at once
    for knob in ("ENGINE", "HEALTHY_AFTER", "PROTOCOL", "EXITED", "RUN_ERROR", "EXEC_ERROR"):
        monkeypatch.delenv(f"FAKE_DOCKER_{knob}", raising=False)
    fake = FakeDocker(state)
    yield fake
    # Kill listeners of containers a failing test left, so no process outlives the test.
    for record in fake.containers().values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(record["pid"]), signal.SIGKILL)  # type: ignore[call-overload]


def test_unavailable_reason_when_the_engine_answers(fake_docker: FakeDocker) -> None:
    """Engine stood in by tests/fake_docker (none can run here)."""
    backend = DockerBackend(project="p")
    assert backend.unavailable_reason(ServiceSpec("db", "postgres")) is None
    backend.unavailable_reason(ServiceSpec("cache", "redis"))
    assert len(fake_docker.calls("info")) == 1  # asked once per backend


def test_unavailable_reason_when_no_engine_answers(
    fake_docker: FakeDocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): the CLI reports no daemon."""
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    reason = DockerBackend().unavailable_reason(ServiceSpec("db", "postgres"))
    assert reason is not None
    assert "no Docker engine answers" in reason
    assert "Cannot connect to the Docker daemon" in reason


def test_unavailable_reason_when_docker_info_hangs(
    fake_docker: FakeDocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): `docker info` never returns."""
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "hang")
    monkeypatch.setattr(docker, "INFO_TIMEOUT", 0.5)
    reason = docker.engine_unavailable_reason()
    assert reason == "no Docker engine answered `docker info` within 0.5s"


def test_unavailable_reason_without_the_cli() -> None:
    reason = DockerBackend(docker="/nonexistent/docker").unavailable_reason(ServiceSpec("db", "postgres"))
    assert reason is not None
    assert "not on PATH" in reason


def test_unavailable_reason_for_custom_without_image_or_port(fake_docker: FakeDocker) -> None:
    """Engine stood in by tests/fake_docker (none can run here)."""
    backend = DockerBackend()
    assert "needs image" in (backend.unavailable_reason(ServiceSpec("x", "custom")) or "")
    assert "needs port" in (backend.unavailable_reason(ServiceSpec("x", "custom", image="i")) or "")


def test_start_postgres_waits_for_healthy_and_a_real_probe(fake_docker: FakeDocker, tmp_path: Path) -> None:
    """Engine stood in by tests/fake_docker (none can run here); the published port is a real
    listener answering the PostgreSQL startup message."""
    backend = DockerBackend(project="proj", run_id="run1")
    endpoint = backend.start(ServiceSpec("db", "postgres", user="app", password="pw"), tmp_path)
    try:
        (container,) = fake_docker.containers()
        assert endpoint.host == "127.0.0.1"
        assert endpoint.port == fake_docker.containers()[container]["port"]
        assert (endpoint.user, endpoint.password, endpoint.database) == ("app", "pw", "postgres")
        assert endpoint.handle["container"] == container
        assert endpoint.backend == "docker"
        assert postgres.ready(endpoint.host, endpoint.port)
        run = fake_docker.calls("run")[0]
        assert "ci-toolkit.project=proj" in run and "ci-toolkit.run=run1" in run
        assert fake_docker.calls("port") == [["port", container, "5432/tcp"]]
        # "starting" twice, then "healthy": the backend kept polling until healthy.
        assert len(fake_docker.calls("inspect")) == 3
        assert backend.is_running(endpoint)
        json.dumps(endpoint.handle)  # goes into the state file
    finally:
        backend.stop(endpoint)
    assert fake_docker.containers() == {}
    assert fake_docker.calls("rm")[-1] == ["rm", "--force", "--volumes", container]
    assert not backend.is_running(endpoint)
    backend.stop(endpoint)  # idempotent: "No such container" is fine


def test_start_redis_with_password_probes_with_auth(fake_docker: FakeDocker, tmp_path: Path) -> None:
    """Engine stood in by tests/fake_docker (none can run here); the port is a real RESP listener."""
    backend = DockerBackend()
    endpoint = backend.start(ServiceSpec("cache", "redis", password="pw"), tmp_path)
    try:
        assert (endpoint.password, endpoint.database) == ("pw", "0")
        assert fake_docker.calls("run")[0][-3:] == ["redis-server", "--requirepass", "pw"]
    finally:
        backend.stop(endpoint)


def test_custom_image_without_healthcheck_relies_on_the_probe(
    fake_docker: FakeDocker, tmp_path: Path
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): no healthcheck, so health is absent
    and the TCP probe decides."""
    backend = DockerBackend()
    spec = ServiceSpec("mail", "custom", image="mailpit", port=1025, export={"SMTP": "{host}:{port}"})
    endpoint = backend.start(spec, tmp_path)
    try:
        assert len(fake_docker.calls("inspect")) == 1
        assert probes.tcp_open(endpoint.host, endpoint.port)
    finally:
        backend.stop(endpoint)


def test_never_healthy_fails_with_the_log_tail_and_removes_the_container(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): health stays "starting"."""
    monkeypatch.setenv("FAKE_DOCKER_HEALTHY_AFTER", "never")
    with pytest.raises(ServiceError) as raised:
        DockerBackend(run_id="r9").start(ServiceSpec("db", "postgres", ready_timeout=0.3), tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith('service "db": container ')
    assert "(postgres:17-alpine) not ready within 0.3s (health: starting;" in message
    assert message.endswith(
        "last log lines: fake server: initialising | fake server: still initialising | fake server: listening"
    )
    assert fake_docker.calls("rm")[-1] == ["rm", "--force", "--volumes", "ci-toolkit-db-r9"]
    assert fake_docker.containers() == {}


def test_healthy_but_the_host_probe_fails(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): the container reports healthy but
    the published port still answers "starting up"; the host-side probe is what decides."""
    monkeypatch.setenv("FAKE_DOCKER_HEALTHY_AFTER", "0")
    monkeypatch.setenv("FAKE_DOCKER_PROTOCOL", "postgres-starting")
    with pytest.raises(ServiceError) as raised:
        DockerBackend().start(ServiceSpec("db", "postgres", ready_timeout=0.3), tmp_path)
    assert "health: healthy; a PostgreSQL StartupMessage to 127.0.0.1:" in str(raised.value)
    assert "the database system is starting up" in str(raised.value)
    assert fake_docker.containers() == {}


def test_a_container_that_exits_fails_at_once(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): the container exits at start."""
    monkeypatch.setenv("FAKE_DOCKER_EXITED", "1")
    with pytest.raises(ServiceError, match=r"the container stopped \(exited, exit code 1\); last log lines"):
        DockerBackend().start(ServiceSpec("db", "mysql", ready_timeout=600), tmp_path)
    assert len(fake_docker.calls("inspect")) == 1
    assert fake_docker.containers() == {}


def test_docker_run_failure_is_reported_and_cleaned_up(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): `docker run` fails (port taken)."""
    error = "docker: Error response from daemon: Bind for 127.0.0.1:5432 failed: port is already allocated."
    monkeypatch.setenv("FAKE_DOCKER_RUN_ERROR", error)
    with pytest.raises(ServiceError) as raised:
        DockerBackend(run_id="r2").start(ServiceSpec("db", "postgres", port=5432), tmp_path)
    assert str(raised.value) == f'service "db": docker run postgres:17-alpine failed: {error}'
    # The container may exist (created, not started): removed by name.
    assert fake_docker.calls("rm") == [["rm", "--force", "--volumes", "ci-toolkit-db-r2"]]


def test_an_interrupt_while_waiting_removes_the_container(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here); Ctrl-C arrives during the wait."""

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(type(kinds.get("redis")), "probe", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DockerBackend(run_id="r3").start(ServiceSpec("cache", "redis"), tmp_path)
    assert fake_docker.calls("rm") == [["rm", "--force", "--volumes", "ci-toolkit-cache-r3"]]
    assert fake_docker.containers() == {}


def test_start_refuses_when_no_engine(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): it does not answer."""
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    with pytest.raises(ServiceError, match='service "db": docker backend unavailable: no Docker engine'):
        DockerBackend().start(ServiceSpec("db", "postgres"), tmp_path)
    assert fake_docker.calls("run") == []


def test_create_databases_runs_the_client_in_the_container(fake_docker: FakeDocker, tmp_path: Path) -> None:
    """Engine stood in by tests/fake_docker (none can run here)."""
    backend = DockerBackend()
    endpoint = backend.start(ServiceSpec("db", "postgres", database="app"), tmp_path)
    try:
        backend.create_databases(endpoint, ["app_gw0", "app_gw1"])
        backend.create_databases(endpoint, [])
        (call,) = fake_docker.calls("exec")
        assert call[:4] == ["exec", "--env", "PGPASSWORD=postgres", endpoint.handle["container"]]
        assert flag_values(call, "-c")[-1] == 'CREATE DATABASE "app_gw1"'
    finally:
        backend.stop(endpoint)


def test_create_databases_failure_and_kinds_without_databases(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): the client in the container fails."""
    backend = DockerBackend()
    endpoint = backend.start(ServiceSpec("db", "mariadb"), tmp_path)
    try:
        monkeypatch.setenv("FAKE_DOCKER_EXEC_ERROR", "ERROR 1044 (42000): Access denied")
        with pytest.raises(ServiceError, match=r"creating databases test_gw0 failed: ERROR 1044"):
            backend.create_databases(endpoint, ["test_gw0"])
    finally:
        backend.stop(endpoint)
    redis = Endpoint("cache", "redis", "docker", "127.0.0.1", 1, handle={"container": "x"})
    with pytest.raises(ServiceError, match="has no databases"):
        backend.create_databases(redis, ["x"])


def test_stop_reports_other_failures(fake_docker: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine stood in by tests/fake_docker (none can run here): the CLI is there, the engine is not."""
    endpoint = Endpoint("db", "postgres", "docker", "127.0.0.1", 1, handle={"container": "abc"})
    DockerBackend().stop(Endpoint("db", "postgres", "docker", "127.0.0.1", 1))  # nothing to stop
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ServiceError, match="docker CLI"):
        DockerBackend().stop(endpoint)


def test_remove_leftovers_by_project_label_keeps_the_ones_asked(
    fake_docker: FakeDocker, tmp_path: Path
) -> None:
    """Engine stood in by tests/fake_docker (none can run here): three containers of two projects."""
    mine_a = DockerBackend(project="mine", run_id="a").start(ServiceSpec("cache", "redis"), tmp_path)
    mine_b = DockerBackend(project="mine", run_id="b").start(ServiceSpec("cache", "redis"), tmp_path)
    theirs = DockerBackend(project="theirs", run_id="c").start(ServiceSpec("cache", "redis"), tmp_path)
    removed = DockerBackend(project="mine").remove_leftovers(keep=[mine_a])
    assert removed == [f"container {mine_b.handle['container'][:12]}"]
    assert set(fake_docker.containers()) == {mine_a.handle["container"], theirs.handle["container"]}
    assert docker.remove_leftovers("theirs") == [theirs.handle["container"][:12]]
    assert docker.remove_leftovers("mine") == [mine_a.handle["container"][:12]]
    assert docker.remove_leftovers("mine") == []
    assert fake_docker.containers() == {}


def test_remove_leftovers_without_docker_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert docker.remove_leftovers("p") == []
    assert DockerBackend(project="p").remove_leftovers([]) == []  # no engine: nothing it could remove


def test_no_listener_survives_stop(fake_docker: FakeDocker, tmp_path: Path) -> None:
    """Engine stood in by tests/fake_docker (none can run here): `rm -f` kills the stand-in
    container's listener process, so the port really closes."""
    backend = DockerBackend()
    endpoint = backend.start(ServiceSpec("cache", "redis"), tmp_path)
    pid = int(next(iter(fake_docker.containers().values()))["pid"])  # type: ignore[call-overload]
    backend.stop(endpoint)
    assert not probes.wait_ready(lambda: probes.tcp_open(endpoint.host, endpoint.port), timeout=0)
    assert not process_alive(pid)
