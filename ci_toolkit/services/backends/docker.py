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

from ci_toolkit.services import kinds, probes
from ci_toolkit.services.base import BackendContext, Endpoint, Note, ServiceError, ServiceSpec, no_note

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


def project_id(root: Path) -> str:
    """A short stable id for a project directory: the value of the ci-toolkit.project label."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def container_name(spec: ServiceSpec, run_id: str) -> str:
    return f"ci-toolkit-{spec.name}-{run_id}"


def run_command(spec: ServiceSpec, *, run_id: str, project: str, docker: str = "docker") -> list[str]:
    """The `docker run` argv for `spec`: detached, labelled, published on 127.0.0.1 only.

    Without a fixed `port` the host port is left to docker ("127.0.0.1::5432"), so there is no window
    between choosing a free port and binding it.
    """
    kind = kinds.get(spec.kind)
    cport = kind.container_port(spec)
    argv = [
        docker, "run", "--detach",
        "--name", container_name(spec, run_id),
        "--label", f"{LABEL}=1",
        "--label", f"{PROJECT_LABEL}={project}",
        "--label", f"{RUN_LABEL}={run_id}",
        "--label", f"{SERVICE_LABEL}={spec.name}",
        "--publish", f"{HOST}:{kind.docker_host_port(spec)}:{cport}",
    ]  # fmt: skip
    env = kind.docker_env(spec)
    official = spec.image is None  # a custom image may ship data in the kind's data directory
    if official:
        for key, value in kind.docker_data_env.items():
            env.setdefault(key, value)
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    health = kind.docker_health_cmd(spec)
    if health:
        # Retries cover the whole ready_timeout so docker does not give up before we do.
        retries = max(3, math.ceil(spec.ready_timeout))
        argv += [
            "--health-cmd", shlex.join(health),
            "--health-interval", "1s",
            "--health-retries", str(retries),
            "--health-timeout", "5s",
        ]  # fmt: skip
    if official and kind.docker_data_dir:
        # On tmpfs: nothing to keep, and no fsync to a real disk.
        argv += ["--tmpfs", kind.docker_data_dir]
    argv.append(kind.docker_image(spec))
    return argv + kind.docker_command(spec)


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


def create_databases_command(
    endpoint: Endpoint, names: Sequence[str], *, docker: str = "docker"
) -> list[str]:
    """`docker exec` running the image's own client: drop (if there) and create each database."""
    argv, env = kinds.get(endpoint.kind).container_client(endpoint, names)
    flags = [part for key, value in env.items() for part in ("--env", f"{key}={value}")]
    return [docker, "exec", *flags, endpoint.handle["container"], *argv]


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
        return kinds.get(spec.kind).docker_unavailable_reason(spec) or self.engine_reason()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, spec: ServiceSpec, workdir: Path, note: Note = no_note) -> Endpoint:
        reason = self.unavailable_reason(spec)
        if reason:
            raise ServiceError(f'service "{spec.name}": docker backend unavailable: {reason}')
        kind = kinds.get(spec.kind)
        image = kind.docker_image(spec)
        name = container_name(spec, self.run_id)
        labels = {"name": name, "image": image, "project": self.project, "run": self.run_id}
        note(labels)  # before `docker run`: a run killed meanwhile still names its container
        try:
            argv = run_command(spec, run_id=self.run_id, project=self.project, docker=self.docker)
            result = self._run(argv, RUN_TIMEOUT, spec)
            if result.returncode != 0:
                why = _tail(result.stderr or result.stdout)
                raise ServiceError(f'service "{spec.name}": docker run {image} failed: {why}')
            container = result.stdout.strip().splitlines()[-1]
            note({"container": container})
            port = self._host_port(spec, container)
            self._wait_ready(spec, image, container, port)
        except BaseException:
            # By name: a failed or interrupted `docker run` may still have created the container.
            self._remove_quietly(name)
            raise
        user, password, database = kind.credentials(spec)
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
        argv = create_databases_command(endpoint, names, docker=self.docker)
        result = self._run(argv, EXEC_TIMEOUT, endpoint)
        if result.returncode != 0:
            raise ServiceError(
                f'service "{endpoint.name}": creating databases {", ".join(names)} failed: '
                f"{_tail(result.stderr or result.stdout)}"
            )

    def remove_leftovers(self, keep: Sequence[Endpoint]) -> list[str]:
        """This project's containers no record names (see the module function); none without an engine."""
        if self.engine_reason() is not None:
            return []  # no engine: no container can be left to remove
        containers = [str(endpoint.handle.get("container", "")) for endpoint in keep]
        removed = remove_leftovers(self.project, keep=containers, docker=self.docker)
        return [f"container {container[:12]}" for container in removed]

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
        argv = port_command(container, kinds.get(spec.kind).container_port(spec), docker=self.docker)
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
        kind = kinds.get(spec.kind)
        user, password, database = kind.credentials(spec)
        probe = kind.probe(HOST, port, user=user, password=password, database=database)
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
                    f"{kind.probe_description} to {HOST}:{port}: {last.detail})",
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


def create(context: BackendContext) -> DockerBackend:
    """The backend as the manager makes it: its containers labelled with the project."""
    return DockerBackend(project=project_id(context.root))
