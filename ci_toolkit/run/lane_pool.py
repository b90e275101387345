"""The lanes of a run: which may start now (pure), the pool that starts and ends them (Pool), and whose
output the terminal shows (LaneOutput).

A lane with `concurrent = true` may run alongside other such lanes, so that a core a one-process lane
leaves idle (a `workers = 0` lane of pure unit tests, a lane of two slow tests) does work. Every other
lane runs alone, as lanes always did. Two lanes overlap only when

- both are `concurrent`,
- they share no service (per-worker databases are named gw0, gw1, ... in every lane: two xdist lanes on
  one server would share them, and two lanes without xdist would share the service's own database), and
- their workers fit the machine: a lane takes `max(1, workers)` of `os.cpu_count()` slots, because more
  processes than cores make every test slower and the timing history wrong.

Lanes start in configuration order; a concurrent lane that does not fit yet lets later ones that do
start first, but a lane that must run alone is a barrier: nothing after it starts before it has.

The terminal shows one lane at a time, live, as pytest writes it. A lane started while another has the
terminal writes to a log file; when the terminal is free, that log is shown whole, then followed live
until the lane ends. So the output reads lane by lane, in start order, and is never interleaved.

On an interactive terminal (console.interactive: not CI, not TERM=dumb) every lane writes to its log,
copied to the terminal as it grows, so that one status line under the output can show each running
lane's tests done/total (from pytest's own progress, "[ 45%]", against the lanes check's counts) and
time; it is cleared before anything else is written. A run that debugs (--pdb, -s, ...) keeps the
terminal for its lane instead, as in a CI log, where output is plain.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from ci_toolkit.config import Config, Lane
from ci_toolkit.console import LaneProgress, StatusLine, wants_color
from ci_toolkit.errors import DataError, PytestExit
from ci_toolkit.run import sessions
from ci_toolkit.run.argv import autoload_enabled, lane_command, resolve_workers
from ci_toolkit.run.collect import FirstLaneCheck
from ci_toolkit.run.exchange import lanes as lanes_file
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.run.exchange import services_env
from ci_toolkit.run.lanes import LaneCheck
from ci_toolkit.run.launch import lane_process_env, start_pytest, stop
from ci_toolkit.run.layout import RunPaths, timings_path
from ci_toolkit.run.results import LaneResult, lane_result
from ci_toolkit.run.sessions import Shared
from ci_toolkit.signals import sigterm_as_interrupt
from ci_toolkit.timing import REPORTED_ENV as TIMINGS_REPORTED_ENV


def weight(workers: int) -> int:
    """Slots a lane takes: its xdist workers, or one process without xdist."""
    return max(1, workers)


def may_join(lane: Lane, running: Sequence[Lane], *, slots: int, workers: Callable[[Lane], int]) -> bool:
    """Whether `lane` may start while `running` run."""
    if not running:
        return True
    if not lane.concurrent or not all(other.concurrent for other in running):
        return False
    busy = {name for other in running for name in other.services}
    if busy.intersection(lane.services):
        return False
    return sum(weight(workers(other)) for other in running) + weight(workers(lane)) <= slots


def startable(
    pending: Sequence[Lane], running: Sequence[Lane], *, slots: int, workers: Callable[[Lane], int]
) -> list[Lane]:
    """The pending lanes to start now, in order (see the module docstring)."""
    chosen: list[Lane] = []
    for lane in pending:
        if may_join(lane, [*running, *chosen], slots=slots, workers=workers):
            chosen.append(lane)
        elif not lane.concurrent:
            break  # it runs alone, at its place: nothing overtakes it
    return chosen


@dataclass
class _Entry:
    name: str
    text: str  # printed when the entry reaches the terminal (a lane's header line, or a note)
    log: Path | None  # None: writes to the terminal itself (or is only `text`)
    done: bool = False
    offset: int = 0  # bytes of `log` already shown


class LaneOutput:
    """Hands the terminal to one lane at a time (see the module docstring). Not `live`: every lane
    writes to its log, even one that has the terminal, and only this object writes to the terminal,
    clearing `status` first."""

    def __init__(
        self, logs: Path, out: TextIO | None = None, *, live: bool = True, status: StatusLine | None = None
    ) -> None:
        self.logs = logs
        self.out = out
        self.live = live
        self.status = status
        self._queue: list[_Entry] = []
        self.at_line_start = True  # a line of ours would not cut into a line pytest has not ended

    @property
    def _stream(self) -> TextIO:
        return self.out if self.out is not None else sys.stdout

    def start(self, name: str, header: str) -> Path | None:
        """A lane starts: None when it may write to the terminal, else the log file it must write to."""
        if not self._queue and self.live:
            self._print(header)
            self._queue.append(_Entry(name, "", None))
            return None
        if not self._queue:
            self._print(header)
            header = ""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        log.unlink(missing_ok=True)
        self._queue.append(_Entry(name, header, log))
        return log

    def say(self, line: str) -> None:
        """A line of ours, shown now or, when a lane has the terminal, after the lanes before it."""
        if not self._queue:
            self._print(line)
        else:
            self._queue.append(_Entry("", line, None, done=True))

    def finish(self, name: str) -> None:
        for entry in self._queue:
            if entry.name == name and not entry.done:
                entry.done = True
                break
        self.pump()

    def pump(self) -> None:
        """Show what the lane at the head has written since, and move on past lanes that ended."""
        while self._queue:
            head = self._queue[0]
            if head.log is not None:
                self._copy(head)
            if not head.done:
                return
            self._queue.pop(0)
            if self._queue:
                self._print(self._queue[0].text)

    def _copy(self, entry: _Entry) -> None:
        assert entry.log is not None
        try:
            with entry.log.open("rb") as log:
                log.seek(entry.offset)
                data = log.read()
        except FileNotFoundError:
            return
        if data:
            entry.offset += len(data)
            self.at_line_start = data.endswith(b"\n")
            self._clear_status()
            stream = self._stream
            stream.flush()
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode(errors="replace"))
                stream.flush()

    def _print(self, line: str) -> None:
        if line:
            self._clear_status()
            print(line, file=self._stream, flush=True)
            self.at_line_start = True

    def _clear_status(self) -> None:
        if self.status is not None:
            self.status.clear()


# -- the pool ------------------------------------------------------------------------------------------

_POLL = 0.02  # seconds between looks at the running lanes
_REDRAW = 0.2  # seconds between redraws of the status line
_TAIL = 4096  # bytes at the end of a lane's log searched for pytest's progress
# pytest's progress at a line's end: "[ 45%]", or "[ 12/340]" with console_output_style = count.
_PROGRESS = re.compile(rb"\[\s*(\d{1,3})%\]|\[\s*(\d+)/(\d+)\]")
# What pytest says it is to run, most telling first: xdist's "2 workers [7 items]", "/ 7 selected", then
# "collected 9 items".
_ANNOUNCED = (
    re.compile(rb"workers? \[(\d+) items?\]"),
    re.compile(rb"/ (\d+) selected"),
    re.compile(rb"collected (\d+) items?\b"),
)
# Options under which pytest talks with the user at the terminal (a debugger, uncaptured output).
_DEBUGGING = ("--pdb", "--trace", "-s", "--capture=no", "--capture", "--pdbcls")


class LaneServices(Protocol):
    """What the lanes need from the services lifecycle (ci_toolkit.services.manager.Services)."""

    def ensure(self, names: Sequence[str]) -> Mapping[str, str]:
        """Start these services if not running yet; their exported variables."""

    def start_background(self, names: Sequence[str]) -> None:
        """Begin starting these services without waiting; ensure() waits."""

    def starting(self) -> bool:
        """Whether a background start is still under way."""

    def prepare_lane(self, lane: Lane, workers: int, *, overlapped: bool = False) -> Mapping[str, str]:
        """The lane's services up, per-worker databases created; the variables for its pytest.
        `overlapped`: called while the lane's pytest starts up (the run is not standing still)."""


class Preparing:
    """A lane's services made ready in a thread while its pytest starts up: their variables reach it through
    a file (ci_toolkit.run.exchange.services_env) that its plugin waits for before importing any
    conftest.py. So the interpreter, pytest and the plugins load while the servers start."""

    def __init__(self, services: LaneServices, lane: Lane, workers: int, path: Path, run_id: str) -> None:
        self.error: BaseException | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

        def prepare() -> None:
            try:
                env = services.prepare_lane(lane, workers, overlapped=True)
                services_env.write(path, run_id, env)
            except BaseException as exc:  # handed to the pool's loop by done()
                self.error = exc

        # A daemon: an interrupted run stops the services under it, and must not wait for it.
        self.thread = threading.Thread(target=prepare, name="ci-toolkit-lane-services", daemon=True)
        self.thread.start()

    def done(self) -> bool:
        """Whether the services are ready; their failure is raised here."""
        if self.thread.is_alive():
            return False
        if self.error is not None:
            raise self.error
        return True


def _wait_any(running: Sequence[Running]) -> None:
    """Up to _POLL seconds, less when a running lane ends meanwhile: on Linux the moment it ends (a pidfd
    becomes readable), elsewhere within the few milliseconds Popen.wait polls at, for the first lane (the
    last lane's end, the common case)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        fds: list[int] = []
        try:
            for lane_run in running:
                fds.append(pidfd_open(lane_run.proc.pid))
        except OSError:  # already reaped, or a kernel before 5.3: look again at once, or poll
            pass
        else:
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLIN)
            poller.poll(_POLL * 1000)
            return
        finally:
            for fd in fds:
                os.close(fd)
    with contextlib.suppress(subprocess.TimeoutExpired):
        running[0].proc.wait(timeout=_POLL)


@dataclass
class Running:
    lane: Lane
    proc: subprocess.Popen[bytes]
    started: float


class Pool:
    """The lanes of one run, each started when startable() says it may, until all have ended.

    Without `concurrent` lanes this is one lane after another, each with the terminal. With a
    FirstLaneCheck, the first lane's pytest collects for it; lanes started before its verdict start up
    and collect meanwhile, then wait for that verdict too. `check` is the check a sharded run already
    made (its counts are then the shard's)."""

    def __init__(
        self,
        config: Config,
        paths: RunPaths,
        extra_args: Sequence[str],
        services: LaneServices | None,
        shard: tuple[int, int] | None,
        first_check: FirstLaneCheck | None,
        check: LaneCheck | None = None,
        counts: Mapping[str, int] | None = None,
        *,
        run_id: str = "",
        assignment: Mapping[str, Sequence[str]] | None = None,
        started: Callable[[], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.started = started  # called once, when the first lane's pytest has started
        self.config = config
        self.paths = paths
        self.extra_args = tuple(extra_args)
        self.services = services
        self.shard = shard
        self.first_check = first_check
        self.check = check
        self.counts = None if counts is None else dict(counts)
        self.status = StatusLine.for_stream(sys.stderr)
        lane_args = [arg for lane in config.lanes for arg in lane.pytest_args]
        if self.status.enabled and debugging([*self.extra_args, *lane_args]):
            self.status.enabled = False
        self.output = LaneOutput(paths.logs, live=not self.status.enabled, status=self.status)
        self.drawn = 0.0  # when the status line was last drawn
        self.began = time.monotonic()
        self.slots = os.cpu_count() or 1
        self.results: dict[str, LaneResult] = {}
        self.preparing: Preparing | None = None  # a lane's services made ready while its pytest starts
        self.assignment = assignment  # {nodeid: lanes}, to split a shared session's results
        planned = sessions.plan(config, self.workers, self.counts)
        # A shared session runs as one more lane, named for its lanes (sessions.JOIN).
        self.shared = {unit.lane.name: unit for unit in planned if isinstance(unit, Shared)}
        self.units = [unit.lane if isinstance(unit, Shared) else unit for unit in planned]

    def run(self) -> list[LaneResult]:
        pending = list(self.units)
        running: list[Running] = []
        checking = self.first_check  # until the first lane's collection has been checked
        first_lane: Running | None = None  # the lane whose pytest collects for the check
        try:
            with sigterm_as_interrupt():
                while pending or running:
                    if self.preparing is not None and self.preparing.done():
                        self.preparing = None
                    if checking is not None and running:
                        answer = checking.poll()
                        if answer is True:
                            raise checking.failure()  # the handler below stops the lane
                        if answer is None:
                            self.checked(checking.check, checking.assignment)
                            checking = None
                    lanes = startable(
                        pending, [r.lane for r in running], slots=self.slots, workers=self.workers
                    )
                    for lane in lanes:
                        if running and self.services_starting(lane):
                            break  # waiting for them here would hold up the verdict and the output
                        pending.remove(lane)
                        # The first lane collects for the check; a lane started before the verdict
                        # starts up and collects meanwhile, then waits for it too.
                        first = checking is not None and first_lane is None
                        started = self.start(lane, checking, collect=first)
                        if started is not None:
                            running.append(started)
                            first_lane = started if first else first_lane
                            if self.started is not None:
                                self.started()
                                self.started = None
                    for lane_run in [r for r in running if r.proc.poll() is not None]:
                        running.remove(lane_run)
                        result = self.end(lane_run, lane_run.proc.returncode)
                        if checking is not None and lane_run is first_lane:  # ended before its check
                            self.checked(checking.finish(result), checking.assignment)
                            checking = None
                    self.output.pump()
                    self.draw(running)
                    if running:
                        _wait_any(running)
        except BaseException:
            self.status.clear()
            for lane_run in running:
                stop(lane_run.proc)
            raise
        self.output.pump()
        self.status.clear()
        return [self.results[lane.name] for lane in self.config.lanes]

    def draw(self, running: Sequence[Running]) -> None:
        """Redraw the status line (when enabled), at most every _REDRAW seconds."""
        now = time.monotonic()
        if not self.status.enabled or not running or now - self.drawn < _REDRAW:
            return
        if not self.output.at_line_start:
            return  # pytest is writing a line of progress: drawing would erase it
        self.drawn = now
        lanes = []
        for lane_run in running:
            name = lane_run.lane.name
            log = self.paths.logs / f"{name}.log"
            total = self.count(lane_run.lane)
            if total is None:
                total = total_count(log_head(log))
            lanes.append(LaneProgress(name, done_count(log_tail(log), total), total, now - lane_run.started))
        self.status.show(lanes, now - self.began)

    def services_starting(self, lane: Lane) -> bool:
        if not lane.services or self.services is None:
            return False
        return self.services.starting() or self.preparing is not None

    def checked(self, check: LaneCheck | None, assignment: Mapping[str, Sequence[str]] | None = None) -> None:
        self.check = check
        self.counts = None if check is None else dict(check.counts)
        if assignment is not None:
            self.assignment = assignment

    def members(self, lane: Lane) -> tuple[Lane, ...]:
        """The configured lanes `lane` runs: itself, or those of a shared session."""
        shared = self.shared.get(lane.name)
        return (lane,) if shared is None else shared.lanes

    def count(self, lane: Lane) -> int | None:
        if self.counts is None:
            return None
        return sum(self.counts.get(member.name, 0) for member in self.members(lane))

    def workers(self, lane: Lane) -> int:
        return resolve_workers(self.config, lane)

    def start(self, lane: Lane, checking: FirstLaneCheck | None, *, collect: bool = False) -> Running | None:
        """Start the lane, or record it as skipped (None)."""
        count = self.count(lane)
        shard = self.shard
        skipped = None
        if count == 0 and shard is not None and self.check is not None and self.check.counts[lane.name]:
            skipped = f"no tests in shard {shard[0]}/{shard[1]}"
        elif count == 0:  # only allow_empty lanes get here: a pytest start-up to run nothing is saved
            skipped = "no tests selected"
        if skipped is not None:
            for member in self.members(lane):
                self.output.say(f"== lane {member.name}: {skipped}, skipped ==")
                self.results[member.name] = LaneResult(
                    member.name,
                    exit_code=PytestExit.NO_TESTS_COLLECTED,
                    wall_time=0.0,
                    skipped_reason=skipped,
                )
            return None
        self.status.clear()  # the services may have something to say
        extra_env: Mapping[str, str] = {}
        env_args: list[str] = []
        if self.services is not None and lane.services:
            if self.services.starting() and self.preparing is None:
                path = self.paths.services_env_file(lane.name)
                self.preparing = Preparing(self.services, lane, self.workers(lane), path, self.run_id)
                env_args = [f"{services_env.OPTION}={path}"]
            else:
                extra_env = self.services.prepare_lane(lane, self.workers(lane))
        shared = self.shared.get(lane.name)
        for member in self.members(lane):
            self.paths.results_file(member.name).unlink(missing_ok=True)  # a stale one must never stand in
        if shared is not None:
            self.paths.session_results_file(lane.name).unlink(missing_ok=True)
            self.paths.session_dir(lane.name).mkdir(parents=True, exist_ok=True)
            lanes_file.write(self.paths.session_lanes_file(lane.name), lanes_file.spec(shared.lanes))
        title = lane.name if shared is None else ", ".join(member.name for member in shared.lanes)
        log = self.output.start(
            lane.name, header(title, count, self.workers(lane), shared=shared is not None)
        )
        check_args = [] if checking is None else (checking.args() if collect else checking.wait_args())
        args = [*check_args, *env_args, *self.extra_args]
        if log is not None and wants_color(sys.stdout, None):
            args = ["--color=yes", *args]  # what the terminal would have shown, when the log is shown
        cmd = lane_command(
            self.config,
            lane,
            self.paths,
            args,
            sys.executable,
            autoload=autoload_enabled(),
            shard=shard,
            run_id=self.run_id,
            session=shared,
        )
        env = lane_process_env(lane, self.paths, extra_env)
        env[TIMINGS_REPORTED_ENV] = str(timings_path(self.config))  # the run warns about it, once
        if self.status.enabled:
            # Its output reaches the terminal through the log: pytest formats for the terminal's width.
            env.setdefault("COLUMNS", str(self.status.width()))
        proc = start_pytest(cmd, cwd=self.config.root, env=env, log=log)
        return Running(lane, proc, time.monotonic())

    def end(self, lane_run: Running, code: int) -> LaneResult:
        wall_time = time.monotonic() - lane_run.started
        self.output.finish(lane_run.lane.name)
        shared = self.shared.get(lane_run.lane.name)
        if shared is None:
            result = lane_result(lane_run.lane, self.paths, code, wall_time, self.run_id)
            self.results[lane_run.lane.name] = result
            return result
        codes = split_session(self.paths, shared, code, self.assignment or {})
        for member in shared.lanes:
            own = codes.get(member.name, code)
            self.results[member.name] = lane_result(member, self.paths, own, wall_time, self.run_id)
        return LaneResult(lane_run.lane.name, exit_code=code, wall_time=wall_time)


def header(lane: str, tests: int | None, workers: int, *, shared: bool = False) -> str:
    parts = ["one session"] if shared else []
    parts += [] if tests is None else [f"{tests} test{'s' if tests != 1 else ''}"]
    parts.append(f"{workers} worker{'s' if workers != 1 else ''}" if workers else "no xdist")
    return f"== lane{'s' if shared else ''} {lane}: {', '.join(parts)} =="


def split_session(
    paths: RunPaths, shared: Shared, code: int, assignment: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Write each lane's results and JUnit XML from its shared session's; {lane: the exit code its own
    session would have had}, empty when the session left no results (every lane then says so)."""
    names = [lane.name for lane in shared.lanes]
    try:
        recorded = results_file.read(paths.session_results_file(shared.lane.name))
    except DataError:
        return {}
    junit = paths.session_junit_file(shared.lane.name)
    if junit.is_file():
        from ci_toolkit.run import junit_split  # an XML parser: not before the lanes start

        junit_split.write(junit, assignment, names, {name: paths.junit_file(name) for name in names})
    codes: dict[str, int] = {}
    for name, mine in sessions.split(recorded, assignment, names).items():
        results_file.write(paths.results_file(name), mine)
        # The lane's own exit status, unless the process ended otherwise than its session said (killed).
        status = mine.session.exitstatus
        codes[name] = status if status is not None and code == recorded.session.exitstatus else code
    return codes


def debugging(args: Sequence[str]) -> bool:
    """Whether pytest's arguments ask for the terminal itself (a debugger, uncaptured output)."""
    return any(arg in _DEBUGGING or arg.startswith(("--pdbcls=", "--capture=no")) for arg in args)


def log_tail(log: Path) -> bytes:
    """The last _TAIL bytes of a lane's log (empty when it has none yet)."""
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - _TAIL))
            return fh.read()
    except OSError:
        return b""


def log_head(log: Path) -> bytes:
    """The first _TAIL bytes of a lane's log, where pytest says how many tests it collected."""
    try:
        with log.open("rb") as fh:
            return fh.read(_TAIL)
    except OSError:
        return b""


def total_count(head: bytes) -> int | None:
    """The tests pytest is to run, as it announced them: "collected 9 items / 2 deselected / 7
    selected", or xdist's "2 workers [7 items]"; None before it has."""
    for pattern in _ANNOUNCED:
        found = pattern.search(head)
        if found is not None:
            return int(found.group(1))
    return None


def done_count(tail: bytes, total: int | None) -> int | None:
    """Tests done, from the last progress pytest wrote ("[ 45%]" of `total`, or "[ 12/340]"); None when
    it has written none yet, or only a percentage without a known total."""
    found = max(_PROGRESS.finditer(tail), key=lambda match: match.start(), default=None)
    if found is None:
        return None
    if found.group(1) is not None:
        return None if total is None else round(int(found.group(1)) * total / 100)
    return int(found.group(2))
