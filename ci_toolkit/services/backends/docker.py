"""The docker backend: each service is one labelled container run through the `docker` CLI.

Command construction is pure (`run_command` and friends) so it is tested without an engine; the
`DockerBackend` class only runs those commands and reads their answers. Containers are not started
with --rm, so a container that fails to become ready still has its logs for the error message; they
are removed with `docker rm -f -v` on teardown, and their labels let the next run find and remove
whatever a killed run left behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ci_toolkit.services import catalog, probes
from ci_toolkit.services.base import Endpoint, Note, ServiceError, ServiceSpec

LABEL = "ci-toolkit"
PROJECT_LABEL = "ci-toolkit.project"
RUN_LABEL = "ci-toolkit.run"
SERVICE_LABEL = "ci-toolkit.service"
HOST = "127.0.0.1"

INFO_TIMEOUT = 3.0  # an engine that does not answer `docker info` this fast counts as absent
COMMAND_TIMEOUT = 30.0
RUN_TIMEOUT = 900.0  # `docker run` may pull the image first; ready_timeout starts after that
EXEC_TIMEOUT = 120.0
POLL_INTERVAL = 0.2
LOG_LINES = 8

# Data directories on tmpfs: nothing to keep, and no fsync to a real disk.
_TMPFS = {"postgres": "/var/lib/postgresql/data", "mysql": "/var/lib/mysql", "mariadb": "/var/lib/mysql"}


def project_id(root: Path) -> str:
    """A short stable id for a project directory: the value of the ci-toolkit.project label."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def container_name(spec: ServiceSpec, run_id: str) -> str:
    return f"ci-toolkit-{spec.name}-{run_id}"


def container_port(spec: ServiceSpec) -> int:
    """The port the server listens on inside the container (custom: the spec's `port`)."""
    if spec.kind == "custom":
        if spec.port is None:
            raise ServiceError(
                f'service "{spec.name}": a custom service under docker needs port = <the port the image '
                "listens on>"
            )
        return spec.port
    return catalog.get(spec.kind).container_port


def run_command(spec: ServiceSpec, *, run_id: str, project: str, docker: str = "docker") -> list[str]:
    """The `docker run` argv for `spec`: detached, labelled, published on 127.0.0.1 only.

    Without a fixed `port` the host port is left to docker ("127.0.0.1::5432"), so there is no window
    between choosing a free port and binding it.
    """
    cport = container_port(spec)
    host_port = spec.port if spec.port is not None and spec.kind != "custom" else ""
    argv = [
        docker, "run", "--detach",
        "--name", container_name(spec, run_id),
        "--label", f"{LABEL}=1",
        "--label", f"{PROJECT_LABEL}={project}",
        "--label", f"{RUN_LABEL}={run_id}",
        "--label", f"{SERVICE_LABEL}={spec.name}",
        "--publish", f"{HOST}:{host_port}:{cport}",
    ]  # fmt: skip
    env = catalog.docker_env(spec)
    if spec.image is None and spec.kind == "postgres":
        # PGDATA directly on the tmpfs mount: the postgres:18 images moved the default elsewhere.
        env.setdefault("PGDATA", _TMPFS["postgres"])
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    health = catalog.docker_health_cmd(spec)
    if health:
        # Retries cover the whole ready_timeout so docker does not give up before we do.
        retries = max(3, math.ceil(spec.ready_timeout))
        argv += [
            "--health-cmd", shlex.join(health),
            "--health-interval", "1s",
            "--health-retries", str(retries),
            "--health-timeout", "5s",
        ]  # fmt: skip
    if spec.image is None and spec.kind in _TMPFS:
        # Only for the official images: a custom image may ship data in that directory.
        argv += ["--tmpfs", _TMPFS[spec.kind]]
    argv.append(catalog.docker_image(spec))
    args = catalog.server_args(spec)
    if spec.kind == "redis" and args:
        argv.append("redis-server")
    argv += args
    return argv


def port_command(container: str, cport: int, *, docker: str = "docker") -> list[str]:
    return [docker, "port", container, f"{cport}/tcp"]


def inspect_health_command(container: str, *, docker: str = "docker") -> list[str]:
    """The container's State as JSON: Status, Running, ExitCode and, with a healthcheck, Health.Status."""
    return [docker, "inspect", "--format", "{{json .State}}", container]


def logs_command(container: str, *, tail: int = 20, docker: str = "docker") -> list[str]:
    return [docker, "logs", "--tail", str(tail), container]


def rm_command(containers: Sequence[str], *, docker: str = "docker") -> list[str]:
    return [docker, "rm", "--force", "--volumes", *containers]


def leftovers_command(project: str, *, docker: str = "docker") -> list[str]:
    return [docker, "ps", "--all", "--quiet", "--filter", f"label={PROJECT_LABEL}={project}"]


def info_command(*, docker: str = "docker") -> list[str]:
    return [docker, "info", "--format", "{{.ServerVersion}}"]


def _quote_pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def pg_recreate_args(names: Sequence[str]) -> list[str]:
    """psql arguments dropping (if there) and creating each database.

    One -c per statement: CREATE DATABASE cannot run inside the transaction a multi-statement -c makes.
    """
    args: list[str] = []
    for name in names:
        quoted = _quote_pg(name)
        args += ["-c", f"DROP DATABASE IF EXISTS {quoted}", "-c", f"CREATE DATABASE {quoted}"]
    return args


def mysql_recreate_sql(names: Sequence[str]) -> str:
    """One mysql -e script dropping (if there) and creating each database."""
    return "; ".join(
        f"DROP DATABASE IF EXISTS {_quote_mysql(n)}; CREATE DATABASE {_quote_mysql(n)}" for n in names
    )


def create_databases_command(
    kind: str, container: str, user: str, password: str, database: str, names: Sequence[str], *,
    docker: str = "docker",
) -> list[str]:  # fmt: skip
    """`docker exec` running the image's own client: drop (if there) and create each database."""
    if kind == "postgres":
        argv = [docker, "exec", "--env", f"PGPASSWORD={password}", container]
        argv += ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database]
        return argv + pg_recreate_args(names)
    if kind in ("mysql", "mariadb"):
        # Root: the images give a non-root MYSQL_USER rights on its own database only. Root's password
        # is the spec's (catalog.docker_env); MYSQL_PWD keeps it off the command line.
        client = "mysql" if kind == "mysql" else "mariadb"
        argv = [docker, "exec", "--env", f"MYSQL_PWD={password}", container]
        return [*argv, client, "-uroot", "-e", mysql_recreate_sql(names)]
    raise ServiceError(f"a {kind} service has no databases to create")


def parse_port(output: str) -> int:
    """The host port from `docker port` output such as "127.0.0.1:49153" (one line per binding)."""
    for line in output.splitlines():
        host, _, port = line.strip().rpartition(":")
        if host and port.isdigit():
            return int(port)
    raise ValueError(f"no host port in {output.strip()!r}")


def _tail(text: str, lines: int = LOG_LINES) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


class DockerBackend:
    """Services as containers. `project` labels them for leftover clean-up (see `project_id`);
    `run_id` tells this run's containers from those of other runs of the same project."""

    name = "docker"

    def __init__(self, *, project: str | None = None, run_id: str | None = None, docker: str = "docker"):
        self.project = project or project_id(Path.cwd())
        self.run_id = run_id or new_run_id()
        self.docker = docker
        self._engine_checked = False
        self._engine_reason: str | None = None

    # -- availability -------------------------------------------------------------------------------

    def engine_reason(self) -> str | None:
        """None when a Docker engine answers; else why not. Asked once per backend object."""
        if not self._engine_checked:
            self._engine_reason = engine_unavailable_reason(self.docker)
            self._engine_checked = True
        return self._engine_reason

    def unavailable_reason(self, spec: ServiceSpec) -> str | None:
        if spec.kind == "custom" and not spec.image:
            return f'service "{spec.name}": a custom service under docker needs image = "..."'
        if spec.kind == "custom" and spec.port is None:
            return (
                f'service "{spec.name}": a custom service under docker needs port = <the port the image '
                "listens on>"
            )
        return self.engine_reason()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, spec: ServiceSpec, workdir: Path, note: Note | None = None) -> Endpoint:
        reason = self.unavailable_reason(spec)
        if reason:
            raise ServiceError(f'service "{spec.name}": docker backend unavailable: {reason}')
        image = catalog.docker_image(spec)
        name = container_name(spec, self.run_id)
        labels = {"name": name, "image": image, "project": self.project, "run": self.run_id}
        if note is not None:
            note(labels)  # before `docker run`: a run killed meanwhile still names its container
        try:
            argv = run_command(spec, run_id=self.run_id, project=self.project, docker=self.docker)
            result = self._run(argv, RUN_TIMEOUT, spec)
            if result.returncode != 0:
                why = _tail(result.stderr or result.stdout)
                raise ServiceError(f'service "{spec.name}": docker run {image} failed: {why}')
            container = result.stdout.strip().splitlines()[-1]
            if note is not None:
                note({"container": container})
            port = self._host_port(spec, container)
            self._wait_ready(spec, image, container, port)
        except BaseException:
            # By name: a failed or interrupted `docker run` may still have created the container.
            self._remove_quietly(name)
            raise
        user, password, database = catalog.credentials(spec)
        return Endpoint(
            name=spec.name, kind=spec.kind, backend=self.name, host=HOST, port=port,
            user=user, password=password, database=database,
            handle={"container": container, **labels},
        )  # fmt: skip

    def stop(self, endpoint: Endpoint) -> None:
        # By name when the id was never learnt: the run was killed while `docker run` ran.
        container = endpoint.handle.get("container") or endpoint.handle.get("name")
        if not container:
            return
        result = self._run(rm_command([container], docker=self.docker), COMMAND_TIMEOUT, endpoint)
        if result.returncode != 0 and "no such container" not in result.stderr.lower():
            raise ServiceError(
                f'service "{endpoint.name}": docker rm -f {container[:12]} failed: {_tail(result.stderr)}'
            )

    def is_running(self, endpoint: Endpoint) -> bool:
        container = endpoint.handle.get("container") or endpoint.handle.get("name")
        if not container:
            return False
        state = self._state(container)
        return bool(state and state.get("Running"))

    def create_databases(self, endpoint: Endpoint, names: Sequence[str]) -> None:
        if not names:
            return
        if not catalog.get(endpoint.kind).has_databases:
            raise ServiceError(f'service "{endpoint.name}": a {endpoint.kind} service has no databases')
        argv = create_databases_command(
            endpoint.kind, endpoint.handle["container"], endpoint.user, endpoint.password,
            endpoint.database, names, docker=self.docker,
        )  # fmt: skip
        result = self._run(argv, EXEC_TIMEOUT, endpoint)
        if result.returncode != 0:
            raise ServiceError(
                f'service "{endpoint.name}": creating databases {", ".join(names)} failed: '
                f"{_tail(result.stderr or result.stdout)}"
            )

    def remove_leftovers(self, keep: Iterable[str] = ()) -> list[str]:
        return remove_leftovers(self.project, keep=keep, docker=self.docker)

    # -- helpers ------------------------------------------------------------------------------------

    def _run(
        self, argv: list[str], timeout: float, owner: ServiceSpec | Endpoint
    ) -> subprocess.CompletedProcess[str]:
        """Run a docker command whose failure must be reported (as a ServiceError naming `owner`)."""
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
            )
        except FileNotFoundError:
            raise ServiceError(
                f'service "{owner.name}": the docker CLI ({self.docker}) is not installed'
            ) from None
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f'service "{owner.name}": `{" ".join(argv[:2])}` did not finish within {timeout:g}s'
            ) from None

    def _host_port(self, spec: ServiceSpec, container: str) -> int:
        argv = port_command(container, container_port(spec), docker=self.docker)
        result = self._run(argv, COMMAND_TIMEOUT, spec)
        try:
            return parse_port(result.stdout)
        except ValueError:
            raise ServiceError(
                f'service "{spec.name}": docker port {container[:12]} gave no host port: '
                f"{_tail(result.stderr or result.stdout)}"
            ) from None

    def _state(self, container: str) -> dict[str, Any] | None:
        result = _quiet(inspect_health_command(container, docker=self.docker))
        if result is None or result.returncode != 0:
            return None
        try:
            state = json.loads(result.stdout)
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    def _wait_ready(self, spec: ServiceSpec, image: str, container: str, port: int) -> None:
        """Poll the container's health until "healthy" (or it has no healthcheck), then require the
        host-side probe too: the health command runs inside, the tests connect from outside."""
        user, password, database = catalog.credentials(spec)
        probe = probes.probe_for(spec.kind, HOST, port, user=user, password=password, database=database)
        deadline = time.monotonic() + spec.ready_timeout
        health = "unknown"
        last = probes.ProbeResult(False, "not tried: container not healthy yet")
        while True:
            state = self._state(container)
            if state is None:
                self._fail(spec, image, container, "the container disappeared")
            if not state.get("Running"):
                self._fail(
                    spec, image, container,
                    f"the container stopped ({state.get('Status')}, exit code {state.get('ExitCode')})",
                )  # fmt: skip
            health = (state.get("Health") or {}).get("Status") or "none"
            if health in ("healthy", "none"):
                last = probe()
                if last:
                    return
            if time.monotonic() >= deadline:
                self._fail(
                    spec, image, container,
                    f"not ready within {spec.ready_timeout:g}s (health: {health}; "
                    f"{probes.describe(spec.kind)} to {HOST}:{port}: {last.detail})",
                )  # fmt: skip
            time.sleep(POLL_INTERVAL)

    def _fail(self, spec: ServiceSpec, image: str, container: str, what: str) -> NoReturn:
        # stderr into stdout: the CLI replays the container's two streams, and one pipe keeps their order.
        result = _quiet(logs_command(container, docker=self.docker), merge=True)
        logs = _tail(result.stdout if result is not None else "")
        raise ServiceError(
            f'service "{spec.name}": container {container[:12]} ({image}) {what}; last log lines: {logs}'
        )

    def _remove_quietly(self, container: str) -> None:
        _quiet(rm_command([container], docker=self.docker))


def _quiet(
    argv: list[str], *, timeout: float = COMMAND_TIMEOUT, merge: bool = False
) -> subprocess.CompletedProcess[str] | None:
    """Run a docker command whose failure we tolerate; None when it could not run or timed out."""
    try:
        return subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def engine_unavailable_reason(docker: str = "docker") -> str | None:
    """None when the docker CLI is installed and an engine answers `docker info` within ~3 s."""
    if shutil.which(docker) is None:
        return f"the docker CLI ({docker}) is not on PATH; install Docker or choose another backend"
    result = _quiet(info_command(docker=docker), timeout=INFO_TIMEOUT)
    if result is None:
        return f"no Docker engine answered `docker info` within {INFO_TIMEOUT:g}s"
    if result.returncode != 0 or not result.stdout.strip():
        first = (result.stderr.strip().splitlines() or ["no output"])[0]
        return f"no Docker engine answers (`docker info`: {first})"
    return None


def remove_leftovers(project: str, *, keep: Iterable[str] = (), docker: str = "docker") -> list[str]:
    """Remove this project's containers left by crashed runs (found by label), except `keep` (ids,
    full or short, of containers a previous `services up` left running on purpose). Returns the ids
    removed; with no docker CLI or no engine there is nothing we could remove, so [] ."""
    if shutil.which(docker) is None:
        return []
    result = _quiet(leftovers_command(project, docker=docker))
    if result is None or result.returncode != 0:
        return []
    kept = [k for k in keep if k]
    found = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    doomed = [c for c in found if not any(k.startswith(c) or c.startswith(k) for k in kept)]
    if doomed and _quiet(rm_command(doomed, docker=docker)) is None:
        return []
    return doomed
