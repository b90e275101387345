"""The services lifecycle as pure logic: backend choice, the state file, leftovers, stopping always,
rendering the variables and the env file.

`FakeBackend` below stands in for a backend ONLY in these lifecycle-logic tests: it starts nothing, it
just records what the lifecycle asks of it. Real servers (PostgreSQL and Redis through the native
backend) are exercised in tests/services/test_services_e2e.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import Config, Lane
from ci_toolkit.errors import ConfigError
from ci_toolkit.pytest_plugin.worker_env import WORKER_ENV as PLUGIN_WORKER_ENV
from ci_toolkit.pytest_plugin.worker_env import apply_worker_env
from ci_toolkit.run.exchange.worker_env import NAME as WORKER_ENV
from ci_toolkit.services import env as env_mod
from ci_toolkit.services import kinds, manager
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.manager import Backends, Record, Services
from ci_toolkit.signals import sigterm_as_interrupt

PG_URL = "postgresql://{user}:{password}@{host}:{port}/{database}"


class FakeBackend:
    """Records the lifecycle's calls; `alive` holds the ids of "running" services."""

    def __init__(self, name: str, reason: str | None = None, fail_start: BaseException | None = None) -> None:
        self.name = name
        self.reason = reason
        self.fail_start = fail_start
        self.fail_stop: Exception | None = None
        self.alive: set[int] = set()
        self.calls: list[tuple[str, str]] = []
        self.databases: list[tuple[str, tuple[str, ...]]] = []
        self.workdirs: list[Path] = []
        self.gate: threading.Event | None = None  # when set up, start() waits for it (a slow server)
        self.leftovers: list[str] = []  # what remove_leftovers() finds
        self.kept: list[list[Endpoint]] = []  # what each remove_leftovers() was asked to keep
        self._next = 0

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        return self.reason

    def start(self, spec: ServiceSpec, workdir: Path, note: Callable[[Mapping[str, Any]], None]) -> Endpoint:
        self.calls.append(("start", spec.name))
        self.workdirs.append(workdir)
        assert workdir.is_dir()
        if self.gate is not None:
            assert self.gate.wait(timeout=30), "the test never opened the gate"
        if self.fail_start is not None:
            raise self.fail_start
        self._next += 1
        self.alive.add(self._next)
        user, password, database = kinds.get(spec.kind).credentials(spec)
        return Endpoint(spec.name, spec.kind, self.name, "127.0.0.1", 5000 + self._next, user, password,
                        database, handle={"id": self._next})  # fmt: skip

    def stop(self, endpoint: Endpoint) -> None:
        self.calls.append(("stop", endpoint.name))
        if self.fail_stop is not None:
            raise self.fail_stop
        self.alive.discard(endpoint.handle["id"])

    def is_running(self, endpoint: Endpoint) -> bool:
        return endpoint.handle["id"] in self.alive

    def create_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        self.databases.append((endpoint.name, tuple(names)))

    def remove_leftovers(self, keep: Sequence[Endpoint]) -> list[str]:
        self.kept.append(list(keep))
        removed, self.leftovers = self.leftovers, []
        return removed


def spec(name: str, kind: str = "postgres", **kwargs: object) -> ServiceSpec:
    return ServiceSpec(name=name, kind=kind, **kwargs)  # type: ignore[arg-type]


def make_config(tmp_path: Path, *specs: ServiceSpec) -> Config:
    return Config(root=tmp_path, services={s.name: s for s in specs})


def make_services(
    config: Config, *fakes: FakeBackend, owner: str = "local", backend: str | None = None
) -> tuple[Services, list[str]]:
    lines: list[str] = []
    backends = Backends({fake.name: (lambda fake=fake: fake) for fake in fakes})
    services = Services(
        config, backend=backend, owner=owner, backends=backends, echo=lines.append,
        workdir_base=config.root / "work",
    )  # fmt: skip
    return services, lines


def state(config: Config) -> list[dict[str, object]]:
    path = manager.state_path(config)
    return json.loads(path.read_text())["services"] if path.exists() else []


# -- env rendering ----------------------------------------------------------------------------------


def endpoint(database: str = "app") -> Endpoint:
    return Endpoint("db", "postgres", "native", "127.0.0.1", 5432, "u", "p", database)


def test_exports_default_to_name_url_and_follow_the_export_table() -> None:
    assert env_mod.exports(spec("db"), endpoint()) == {"DB_URL": "postgresql://u:p@127.0.0.1:5432/app"}
    custom = spec("db", export={"DATABASE_URL": PG_URL, "PGHOST": "{host}", "WHO": "{name}"})
    assert env_mod.exports(custom, endpoint(), "app_gw1") == {
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/app_gw1",
        "PGHOST": "127.0.0.1",
        "WHO": "db",
    }


def test_worker_table_holds_only_the_variables_that_name_the_database() -> None:
    custom = spec("db", export={"DATABASE_URL": PG_URL, "PGHOST": "{host}"})
    assert env_mod.worker_databases("app", 3) == ["app_gw0", "app_gw1", "app_gw2"]
    table = env_mod.worker_table(custom, endpoint(), 2)
    assert table == {
        "DATABASE_URL": {
            "gw0": "postgresql://u:p@127.0.0.1:5432/app_gw0",
            "gw1": "postgresql://u:p@127.0.0.1:5432/app_gw1",
        }
    }
    encoded = env_mod.worker_env(table)
    assert json.loads(encoded[WORKER_ENV]) == table
    assert env_mod.worker_env({}) == {}
    assert WORKER_ENV == PLUGIN_WORKER_ENV


def test_env_file_is_name_value_lines_and_refuses_a_line_break() -> None:
    text = env_mod.env_file_text({"DATABASE_URL": "postgresql://u:p=x@h:1/db", "REDIS_URL": "redis://h:2/0"})
    assert text == "DATABASE_URL=postgresql://u:p=x@h:1/db\nREDIS_URL=redis://h:2/0\n"
    assert env_mod.env_file_text({}) == ""
    with pytest.raises(ConfigError, match=r"^exported variable DB_URL: .*line break"):
        env_mod.env_file_text({"DB_URL": "postgresql://u:two\nlines@h:1/db"})


def test_the_plugin_applies_the_worker_s_own_value_and_is_inert_otherwise() -> None:
    table = json.dumps({"DATABASE_URL": {"gw0": "db_gw0", "gw1": "db_gw1"}})
    environ = {"PYTEST_XDIST_WORKER": "gw1", PLUGIN_WORKER_ENV: table, "DATABASE_URL": "db"}
    assert apply_worker_env(environ) == {"DATABASE_URL": "db_gw1"}
    assert environ["DATABASE_URL"] == "db_gw1"
    controller = {PLUGIN_WORKER_ENV: table, "DATABASE_URL": "db"}
    assert apply_worker_env(controller) == {} and controller["DATABASE_URL"] == "db"
    assert apply_worker_env({"PYTEST_XDIST_WORKER": "gw0"}) == {}
    with pytest.raises(pytest.UsageError, match="no DATABASE_URL for xdist worker gw2"):
        apply_worker_env({"PYTEST_XDIST_WORKER": "gw2", PLUGIN_WORKER_ENV: table})
    with pytest.raises(pytest.UsageError, match="not the table ci-toolkit writes"):
        apply_worker_env({"PYTEST_XDIST_WORKER": "gw0", PLUGIN_WORKER_ENV: "[1]"})


# -- backend choice ---------------------------------------------------------------------------------


def test_auto_prefers_docker_then_native() -> None:
    docker, native = FakeBackend("docker"), FakeBackend("native")
    backends = Backends({"docker": lambda: docker, "native": lambda: native})
    assert manager.choose_backend(spec("db"), backends) is docker
    docker.reason = "no Docker engine answers"
    assert manager.choose_backend(spec("db"), backends) is native


def test_auto_with_nothing_available_says_what_to_install_in_one_line() -> None:
    backends = Backends(
        {
            "docker": lambda: FakeBackend("docker", "no engine"),
            "native": lambda: FakeBackend("native", "no pg"),
        }
    )
    with pytest.raises(ServiceError) as info:
        manager.choose_backend(spec("db"), backends)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        'service "db" (postgres): no backend can run it here (docker: no engine; native: no pg)'
    )
    hints = ("pip install 'ci-toolkit[embedded]'", "apt-get install postgresql", "brew install postgresql@17")
    for hint in (*hints, 'backend = "external"'):
        assert hint in message
    with pytest.raises(ServiceError) as info:
        manager.choose_backend(spec("cache", "redis"), backends)
    assert "apt-get install redis-server, brew install redis" in str(info.value)
    with pytest.raises(ServiceError) as info:
        manager.choose_backend(spec("sql", "mariadb"), backends)
    assert "apt-get install mariadb-server" in str(info.value) and "embedded" not in str(info.value)


def test_an_override_or_an_explicit_backend_is_used_or_refused_with_its_reason() -> None:
    docker, native = FakeBackend("docker"), FakeBackend("native", "postgres 99 not found")
    backends = Backends({"docker": lambda: docker, "native": lambda: native})
    assert manager.choose_backend(spec("db", backend="native"), backends, override="docker") is docker
    with pytest.raises(ServiceError, match=r'^service "db": backend native cannot run it here: postgres 99'):
        manager.choose_backend(spec("db"), backends, override="native")


# -- lifecycle --------------------------------------------------------------------------------------


def test_ensure_starts_each_service_once_in_configuration_order_and_records_it(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db", database="app"), spec("cache", "redis"))
    fake = FakeBackend("docker")
    services, lines = make_services(config, fake, FakeBackend("native"))
    with services:
        env = services.ensure(["cache", "db"])
        assert env == {
            "DB_URL": "postgresql://postgres:postgres@127.0.0.1:5001/app",
            "CACHE_URL": "redis://127.0.0.1:5002/0",
        }
        services.ensure(["db"])
        assert fake.calls == [("start", "db"), ("start", "cache")]
        recorded = state(config)
        assert [r["endpoint"]["name"] for r in recorded] == ["db", "cache"]  # type: ignore[index]
        assert recorded[0]["owner"] == "local" and recorded[0]["pid"] == os.getpid()
        assert recorded[0]["endpoint"]["handle"] == {"id": 1}  # type: ignore[index]
    assert fake.calls[2:] == [("stop", "cache"), ("stop", "db")]
    assert not manager.state_path(config).exists()
    assert not any(path.exists() for path in fake.workdirs)
    assert services.summary() is not None and services.summary().startswith("services: db (docker, ready in ")  # type: ignore[union-attr]
    assert any(line.startswith("ci-toolkit: service db: ready at 127.0.0.1:5001 (docker") for line in lines)


def test_a_background_start_is_waited_for_where_a_service_is_needed(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db", database="app"), spec("cache", "redis"))
    fake = FakeBackend("docker")
    fake.gate = threading.Event()
    services, lines = make_services(config, fake)
    with services:
        services.start_background(["db", "cache"])
        assert lines == []  # nothing said in the middle of whatever runs meanwhile
        assert services.starting()  # a lane needing them would wait: the runner starts others first
        fake.gate.set()
        env = services.ensure(["db"])
        assert env == {"DB_URL": "postgresql://postgres:postgres@127.0.0.1:5001/app"}
        assert [line.split(":")[1] for line in lines if "ready at" in line] == [
            " service db",
            " service cache",
        ]
        services.start_background(["db", "cache"])  # all running: nothing to do
        services.ensure(["cache"])
        assert fake.calls == [("start", "db"), ("start", "cache")]
        assert services.waited >= 0
    assert fake.alive == set() and not manager.state_path(config).exists()
    assert services.summary() is not None and "; the run waited " in services.summary()  # type: ignore[operator]


def test_a_background_start_failure_is_raised_where_the_service_is_needed(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db"))
    fake = FakeBackend("docker", fail_start=ServiceError('service "db": not ready; log: x'))
    services, _ = make_services(config, fake)
    with services:
        services.start_background(["db"])
        with pytest.raises(ServiceError, match=r"not ready; log: x$"):
            services.ensure(["db"])
        assert services.ensure([]) == {}  # raised once, then the run goes on as it decides
    assert not fake.workdirs[0].exists() and not manager.state_path(config).exists()


def test_leaving_the_block_during_a_background_start_waits_for_it_then_stops_it(tmp_path: Path) -> None:
    """The run may end (an error, Ctrl-C) while a server is still starting: it must not be left running."""
    config = make_config(tmp_path, spec("db"))
    fake = FakeBackend("docker")
    fake.gate = threading.Event()
    services, lines = make_services(config, fake)
    opener = threading.Timer(0.05, fake.gate.set)
    with pytest.raises(RuntimeError, match="the run failed"), services:
        services.start_background(["db"])
        opener.start()
        raise RuntimeError("the run failed")
    assert fake.calls == [("start", "db"), ("stop", "db")] and fake.alive == set()
    assert not manager.state_path(config).exists()
    assert any("service db: stopped" in line for line in lines)


def test_a_background_failure_nobody_waited_for_is_a_warning_when_the_block_ends(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db"))
    services, lines = make_services(config, FakeBackend("docker", fail_start=ServiceError("boom")))
    with services:
        services.start_background(["db"])
    assert lines[-1] == "ci-toolkit: warning: boom"


def test_an_unknown_name_is_a_one_line_config_error(tmp_path: Path) -> None:
    services, _ = make_services(make_config(tmp_path, spec("db")), FakeBackend("docker"))
    with pytest.raises(ConfigError, match=r'^no service named "dbb" in \[tool.ci-toolkit.services\] \(db\)$'):
        services.ensure(["dbb"])


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_leaving_the_block_stops_everything_whatever_ended_it(tmp_path: Path, error: BaseException) -> None:
    config = make_config(tmp_path, spec("db"), spec("cache", "redis"))
    fake = FakeBackend("docker")
    services, _ = make_services(config, fake)
    with pytest.raises(type(error)), services:
        services.ensure(["db", "cache"])
        raise error
    assert fake.alive == set()
    assert not manager.state_path(config).exists()


def test_a_start_that_fails_leaves_nothing_and_the_others_still_stop(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db"), spec("cache", "redis", backend="native"))
    docker = FakeBackend("docker")
    native = FakeBackend("native", fail_start=ServiceError('service "cache": not ready; log: a | b'))
    services, _ = make_services(config, docker, native)
    with pytest.raises(ServiceError, match=r"log: a \| b$"), services:
        services.ensure(["db", "cache"])
    assert docker.alive == set() and ("stop", "db") in docker.calls
    assert not native.workdirs[0].exists()
    assert not manager.state_path(config).exists()


def test_a_service_that_will_not_stop_stays_recorded_for_down(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db"))
    fake = FakeBackend("docker")
    services, lines = make_services(config, fake)
    with services:
        services.ensure(["db"])
        fake.fail_stop = ServiceError("docker rm failed")
    assert any("could not stop it (docker rm failed)" in line and "services down" in line for line in lines)
    assert [r["endpoint"]["name"] for r in state(config)] == ["db"]  # type: ignore[index]
    fake.fail_stop = None
    again, _ = make_services(config, fake)
    assert again.down() == []
    assert not manager.state_path(config).exists() and fake.alive == set()


def test_prepare_lane_creates_a_database_per_worker_and_passes_the_table(tmp_path: Path) -> None:
    db = spec("db", database="app", database_per_worker=True, export={"DATABASE_URL": PG_URL})
    config = make_config(tmp_path, db, spec("cache", "redis"))
    fake = FakeBackend("docker")
    services, _ = make_services(config, fake)
    with services:
        assert services.prepare_lane(Lane("unit"), 2) == {}
        assert fake.calls == []  # a lane without services starts none
        env = services.prepare_lane(Lane("db", services=("db", "cache")), 2)
        assert fake.databases == [("db", ("app_gw0", "app_gw1"))]
        assert env["DATABASE_URL"].endswith("/app")
        assert json.loads(env[WORKER_ENV]) == {
            "DATABASE_URL": {"gw0": env["DATABASE_URL"] + "_gw0", "gw1": env["DATABASE_URL"] + "_gw1"}
        }
        serial = services.prepare_lane(Lane("serial", services=("db",)), 0)
        assert WORKER_ENV not in serial and len(fake.databases) == 1
        assert [c for c in fake.calls if c[0] == "start"] == [("start", "db"), ("start", "cache")]


# -- leftovers, up, state ---------------------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def record(fake: FakeBackend, name: str, owner: str, pid: int, *, running: bool, data: Path) -> Record:
    fake._next += 1
    if running:
        fake.alive.add(fake._next)
    ep = Endpoint(name, "postgres", fake.name, "127.0.0.1", 6000 + fake._next, handle={"id": fake._next})
    workdir = data / name
    workdir.mkdir(parents=True)
    return Record(ep, str(workdir), owner, pid)


def test_leftovers_of_a_killed_run_are_stopped_and_up_services_are_kept(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db"), spec("cache", "redis"))
    fake = FakeBackend("docker")
    data = tmp_path / "data"
    killed = record(fake, "db", "local", dead_pid(), running=True, data=data)
    up = record(fake, "cache", "up", dead_pid(), running=True, data=data)
    gone = record(fake, "old", "up", dead_pid(), running=False, data=data)
    reused_pid = record(fake, "x", "local", os.getpid(), running=True, data=data)  # a container's pid 1 again
    manager.save_state(manager.state_path(config), [killed, up, gone, reused_pid])
    services, lines = make_services(config, fake)
    cleaned = services.clean_leftovers()
    assert {r.endpoint.name for r in cleaned} == {"db", "old", "x"}
    assert [r["endpoint"]["name"] for r in state(config)] == ["cache"]  # type: ignore[index]
    assert fake.alive == {up.endpoint.handle["id"]}
    assert sorted(path.name for path in data.iterdir()) == ["cache"]  # the others' data is gone
    assert any("db: stopped (left behind by an interrupted run)" in line for line in lines)
    assert [(r.endpoint.name, running) for r, running in services.status()] == [("cache", True)]


def test_the_backends_the_services_may_use_remove_what_they_made_but_never_recorded(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, spec("db"), spec("cache", "redis", backend="native"), spec("ext", backend="external")
    )
    docker, native = FakeBackend("docker"), FakeBackend("native")
    recorded = record(docker, "old", "up", os.getpid() + 10**6, running=True, data=tmp_path / "data")
    manager.save_state(manager.state_path(config), [recorded])
    docker.leftovers = ["container 0123456789ab"]
    services, lines = make_services(config, docker, native)  # no external backend here: skipped
    services.clean_leftovers(["cache"])
    assert docker.kept == [] and native.kept == [[]]  # a native service: docker is not asked
    services.clean_leftovers(["db", "cache", "ext"])
    assert docker.kept == [[recorded.endpoint]] and len(native.kept) == 2  # each asked once
    assert lines == ["ci-toolkit: removed container 0123456789ab left behind by an interrupted run"]
    services.clean_leftovers([])
    assert len(docker.kept) == 1


def test_backends_are_made_from_the_project_context(tmp_path: Path) -> None:
    from ci_toolkit.services.backends import docker

    backends = Backends(root=tmp_path)
    assert backends.get("docker").project == docker.project_id(tmp_path)  # type: ignore[attr-defined]
    assert backends.get("native").name == "native" and backends.get("external").name == "external"
    assert backends.get("native") is backends.get("native")
    with pytest.raises(ServiceError, match="unknown backend podman; expected one of docker, native"):
        backends.get("podman")
    with pytest.raises(ServiceError, match="backend docker is not available"):
        Backends({}).get("docker")


def test_up_reuses_a_running_service_with_the_same_settings_and_replaces_a_changed_one(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, spec("db"), spec("cache", "redis"))
    fake = FakeBackend("docker")
    first, _ = make_services(config, fake, owner="up")
    first.ensure(["db", "cache"])  # `up` leaves them running: no close()
    assert len(fake.alive) == 2
    changed = make_config(tmp_path, spec("db"), spec("cache", "redis", settings={"maxmemory": "10mb"}))
    second, lines = make_services(changed, fake, owner="up")
    second.clean_leftovers()
    second.ensure(["db", "cache"])
    assert [c for c in fake.calls if c[0] == "start"] == [
        ("start", "db"),
        ("start", "cache"),
        ("start", "cache"),
    ]
    assert ("stop", "cache") in fake.calls and len(fake.alive) == 2
    assert any("db: already running (docker), reused" in line for line in lines)
    second.close()  # on failure `up` closes: only what it started itself, never the reused one
    assert [r["endpoint"]["name"] for r in state(config)] == ["db"]  # type: ignore[index]
    local, _ = make_services(changed, fake)
    assert local.clean_leftovers() == []  # `local` leaves services of `up` alone
    assert local.down() == [] and fake.alive == set()


def test_an_unreadable_state_file_is_one_line(tmp_path: Path) -> None:
    config = make_config(tmp_path, spec("db"))
    path = manager.state_path(config)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ServiceError, match=r"state.json: unreadable services state .*then delete it$"):
        make_services(config, FakeBackend("docker"))
    path.write_text(json.dumps({"version": 99, "services": []}))
    with pytest.raises(ServiceError, match="version 99"):
        make_services(config, FakeBackend("docker"))


def test_sigterm_becomes_keyboard_interrupt_inside_the_block_only() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes of the main thread
            pass
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_env_file_keeps_a_files_other_lines_and_appends_to_github_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ci_toolkit.commands.services import write_env_file

    plain, github = tmp_path / "plain.env", tmp_path / "github_env"
    plain.write_text("OLD=1\n")
    github.write_text("EARLIER=1\n")
    monkeypatch.setenv("GITHUB_ENV", str(github))
    write_env_file(plain, "A=1\n")
    write_env_file(github, "A=1\n")
    assert plain.read_text() == "OLD=1\nA=1\n"  # the user's lines are kept (ci_toolkit.envfile)
    assert github.read_text() == "EARLIER=1\nA=1\n"
