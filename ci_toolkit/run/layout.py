"""The output dir: what a run writes where (RunPaths), and that ci-toolkit deletes and rewrites only what
it made there.

Everything ci-toolkit writes while running lives in the output dir (`output_dir`):

    junit/<lane>.xml        pytest's JUnit XML
    results/<lane>.json     outcomes and durations, written by our pytest plugin
    coverage/<lane>/        the lane's coverage data (COVERAGE_FILE=coverage/<lane>/.coverage); lanes that
                            share a session share coverage/<lane>+<lane>/, one dynamic context each
    logs/<lane>.log         the output of a lane started while another had the terminal
    scratch/                working files of the run's pytest processes; a shared session's own JUnit
                            XML and results in scratch/sessions/<lane>+<lane>/, split into the lanes'
    .coverage               every lane and worker combined
    lanes.json, collected.json, lanes-verdict
                            the lanes check, exchanged with the first lane's pytest
    plan.json               with a shard (`local --shard K/N`): the plan every lane selects its share from
    run.json                the shard run (or null) and each lane's wall time, for `ci-toolkit split-report`
    shard-timings.json      with a shard: the timing history updated with this shard's durations (the
                            project's history is left as it was: it is what every shard plans from)
    report.json, report.md  the run's report, as `ci-toolkit report` renders it again, and as Markdown
    htmlcov/                `coverage html` of the run's coverage data
    services/               the services' state and scratch space (never cleared)

The files exchanged with pytest are ci_toolkit.run.exchange's. The output dir is cleared of the previous
run's artefacts (CLEARED) before every run (RunPaths.prepare -> `prepare`). So that the clean-up can never
reach a user's files:

- **The marker.** A directory ci-toolkit made holds `.ci-toolkit-output` (MARKER). A directory that does
  not exist is created and marked; an empty one is marked. One that exists without the marker and is not
  empty is refused with one line, and nothing in it is touched: ci-toolkit neither uses nor cleans it.
- **Adoption** (migration from versions before the marker). A directory made only of what ci-toolkit
  writes is marked and used: the cleared artefacts (CLEARED), `services/`, `timings.json`, the lock, a
  previous JSON summary (`--json .ci-toolkit/summary.json`), the leftovers of a killed write, and the
  `.gitignore` every earlier version wrote. Artefacts that the clean-up deletes are adopted only next to
  that `.gitignore`, ci-toolkit's signature; anything else makes the directory someone else's.
- **Where it may be** (`check`). Not the project root or one of its parents (a symlink can make
  `output_dir` one), and not holding files git tracks (`git ls-files`, only in a git checkout; without
  git the check is skipped). A committed timing history, `.gitignore` or marker is fine: the clean-up
  never touches them.
- **The clean-up** (`prepare`) deletes only CLEARED, never `services/` (its state file is how a killed
  run's services are found and stopped), `timings.json` or anything else.

One run at a time (`lock`): `ci-toolkit local` holds an exclusive flock(2) on `<output_dir>/.lock` from
before the clean-up until its last write. A second run does not wait: it stops at once with one line
naming the holder's pid (exit 2). Waiting would hold a CI job or a terminal for as long as the other run
takes, with no way to tell from outside; the holder is usually a forgotten run in another terminal, which
the user can end or let finish. The lock dies with its process (even SIGKILL), so it is never stale, and
the file is never deleted (deleting it would race with a run that has just opened it). Without fcntl
(Windows) there is no lock: concurrent runs there are not prevented.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import CiToolkitError, ConfigError
from ci_toolkit.files.atomic import write_text

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ci_toolkit.config import Config

MARKER = ".ci-toolkit-output"
MARKER_TEXT = (
    "# ci-toolkit output directory: ci-toolkit deletes and rewrites the run artefacts it made here.\n"
    "# Keep no files of your own in it. Delete the whole directory to start afresh.\n"
)
LOCK = ".lock"
GITIGNORE = ".gitignore"
GITIGNORE_TEXT = "# Created by ci-toolkit: run artefacts, not source.\n*\n"
TIMINGS = "timings.json"  # the default timing history's name (the configuration's default is built on it)

# A run's artefacts, by name (RunPaths has their paths; the module docstring of runner.py their story).
JUNIT = "junit"  # <lane>.xml: pytest's JUnit XML
RESULTS = "results"  # <lane>.json: ci_toolkit.run.exchange.results
COVERAGE = "coverage"  # <lane>/.coverage: the lane's coverage data (COVERAGE_FILE)
LOGS = "logs"  # <lane>.log: the output of a lane started while another had the terminal
SCRATCH = "scratch"  # working files of the run's pytest processes
COVERAGE_DATA = ".coverage"  # every lane and worker combined
PLAN = "plan.json"  # ci_toolkit.run.exchange.plan, with a shard
RUN = "run.json"  # the shard run and each lane's wall time, for `ci-toolkit split-report`
LANES = "lanes.json"  # ci_toolkit.run.exchange.lanes
COLLECTED = "collected.json"  # ci_toolkit.run.exchange.collected
VERDICT = "lanes-verdict"  # ci_toolkit.run.exchange.verdict
SHARD_TIMINGS = "shard-timings.json"  # with a shard: the history updated with the shard's durations
SERVICES = "services"  # the services' state and scratch space
REPORT = (
    "report.json"  # the last run's report (ci_toolkit.report.json_report), which `ci-toolkit report` renders
)
REPORT_MD = "report.md"  # the same report as Markdown
HTMLCOV = "htmlcov"  # `coverage html` of the run's coverage data

CLEARED_DIRS = (JUNIT, RESULTS, COVERAGE, LOGS, SCRATCH, HTMLCOV)
SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
CLEARED_FILES = (
    COVERAGE_DATA,
    *(f"{COVERAGE_DATA}{suffix}" for suffix in SQLITE_SIDE_FILES),
    PLAN,
    RUN,
    LANES,
    COLLECTED,
    VERDICT,
    SHARD_TIMINGS,
    REPORT,
    REPORT_MD,
)
CLEARED = CLEARED_DIRS + CLEARED_FILES  # what the clean-up before every run deletes
KEPT_DIRS = (SERVICES,)  # never cleared: its state file is how a killed run's services are found
# Every name ci-toolkit itself writes at the top of the output dir, the timing history aside.
RESERVED = (*CLEARED, *KEPT_DIRS, GITIGNORE, MARKER, LOCK)

# What a killed atomic write (".<name>.<random>.tmp") or coverage merge left; coverage's parallel files.
_LEFTOVER = re.compile(r"\.(?P<name>[^/]+)\.[A-Za-z0-9_]+\.tmp(-journal|-wal|-shm)?")
_COVERAGE_FILE = re.compile(r"\.coverage(\..+)?")
_SUMMARY_LIMIT = 50_000_000  # bytes: a JSON summary larger than this is not one of ours
_PID_WAIT = 1.0  # seconds to wait for a holder that has just taken the lock to write its pid


def output_path(config: Config) -> Path:
    return config.root / config.output_dir


def timings_path(config: Config) -> Path:
    """The timing history; unlike the output dir it may lie anywhere (an absolute path replaces root)."""
    return config.root / config.timings


@dataclass(frozen=True)
class RunPaths:
    """Where a run's artefacts go in the output dir `output_dir`."""

    output_dir: Path

    @classmethod
    def for_config(cls, config: Config) -> RunPaths:
        return cls(output_path(config))

    @property
    def junit(self) -> Path:
        return self.output_dir / JUNIT

    @property
    def results(self) -> Path:
        return self.output_dir / RESULTS

    @property
    def coverage(self) -> Path:
        return self.output_dir / COVERAGE

    @property
    def coverage_file(self) -> Path:
        return self.output_dir / COVERAGE_DATA

    def junit_file(self, lane: str) -> Path:
        return self.junit / f"{lane}.xml"

    def results_file(self, lane: str) -> Path:
        return self.results / f"{lane}.json"

    def lane_coverage_file(self, lane: str) -> Path:
        # A directory per lane: pytest-cov combines every `<COVERAGE_FILE>.*` next to COVERAGE_FILE, and
        # lane names may contain dots, so lane "a" would swallow the data of lane "a.slow".
        return self.coverage / lane / COVERAGE_DATA

    @property
    def scratch(self) -> Path:
        """Working files of the run's pytest processes (the collection run's, xdist's sidecar): here
        rather than in a system temp dir, so that what a killed run left goes with the next run."""
        return self.output_dir / SCRATCH

    def session_dir(self, session: str) -> Path:
        """A shared session's own files (its lanes file, JUnit XML and results), split into the lanes'
        afterwards: kept out of junit/ and results/, which hold one file per lane."""
        return self.scratch / "sessions" / session

    def session_lanes_file(self, session: str) -> Path:
        return self.session_dir(session) / LANES

    def session_junit_file(self, session: str) -> Path:
        return self.session_dir(session) / "junit.xml"

    def session_results_file(self, session: str) -> Path:
        return self.session_dir(session) / "results.json"

    def services_env_file(self, lane: str) -> Path:
        """The variables of a lane's services, for its pytest started before they were ready."""
        return self.scratch / "services-env" / f"{lane}.json"

    @property
    def plan_file(self) -> Path:
        return self.output_dir / PLAN

    @property
    def run_file(self) -> Path:
        return self.output_dir / RUN

    @property
    def shard_timings_file(self) -> Path:
        return self.output_dir / SHARD_TIMINGS

    @property
    def logs(self) -> Path:
        return self.output_dir / LOGS

    @property
    def lanes_file(self) -> Path:
        return self.output_dir / LANES

    @property
    def collected_file(self) -> Path:
        return self.output_dir / COLLECTED

    @property
    def verdict_file(self) -> Path:
        return self.output_dir / VERDICT

    def coverage_data_files(self) -> list[Path]:
        """Every coverage data file the lanes left: pytest-cov's combined one, plus any a crash left."""
        if not self.coverage.is_dir():
            return []
        return sorted(
            path
            for path in self.coverage.glob(f"*/{COVERAGE_DATA}*")
            if path.is_file() and not path.name.endswith(SQLITE_SIDE_FILES)
        )

    def prepare(self, config: Config | None = None) -> None:
        """Claim the output dir, then remove our artefacts of a previous run and nothing else (`prepare`)."""
        prepare(self.output_dir, config=config)


def _key(config: Config | None) -> str:
    where = "" if config is None else f"{config.path or config.root}: "
    return f"{where}tool.ci-toolkit.output_dir"


# -- where it may be ----------------------------------------------------------------------------------


def check(config: Config) -> Path:
    """The output dir, once it is known not to be the root, a parent of it, or to hold tracked files."""
    directory = output_path(config)
    resolved, root = directory.resolve(), config.root.resolve()
    if resolved == root or resolved in root.parents:
        raise ConfigError(
            f"{_key(config)}: {directory} must not be the project root or one of its parents "
            "(ci-toolkit clears its output_dir before every run)"
        )
    # Nothing there, nothing to clear: git need not be asked (a run from a fresh checkout, every CI run).
    tracked = tracked_files(config, directory) if os.path.lexists(directory) else []
    if tracked:
        more = f" and {len(tracked) - 1} more" if len(tracked) > 1 else ""
        raise ConfigError(
            f"{_key(config)}: {directory} holds files tracked by git ({tracked[0]}{more}); ci-toolkit "
            "clears its output_dir before every run, so set output_dir to a directory git does not track"
        )
    return directory


def tracked_files(config: Config, directory: Path) -> list[str]:
    """Files git tracks in `directory` (as git names them), the ones the clean-up never touches aside.
    Empty outside a git checkout, or without git."""
    try:
        relative = os.path.relpath(directory, config.root)
    except ValueError:  # pragma: no cover - another drive (Windows)
        return []
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--", f":(literal){relative}"],
            cwd=config.root,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git: nothing to ask
        return []
    if proc.returncode != 0:  # not a git checkout (or the output dir lies outside it)
        return []
    allowed = {os.path.normpath(os.path.join(relative, name)) for name in (GITIGNORE, MARKER)}
    allowed.add(os.path.normpath(os.path.relpath(timings_path(config), config.root)))
    names = [name for name in proc.stdout.decode("utf-8", "replace").split("\0") if name]
    return [name for name in names if os.path.normpath(name) not in allowed]


# -- the marker and adoption --------------------------------------------------------------------------


def is_marked(directory: Path) -> bool:
    marker = directory / MARKER
    try:
        if marker.is_symlink() or not marker.is_file():
            return False
        with marker.open("rb") as fh:
            head = fh.read(len(MARKER_TEXT) + 1)
    except OSError:
        return False
    return head.startswith(MARKER_TEXT.splitlines(keepends=True)[0].encode())


def claim(directory: Path, *, config: Config | None = None, keep: Sequence[str] = ()) -> None:
    """Make `directory` ours: create and mark it, mark it when empty or adoptable, or refuse (one line).
    `keep`: more names that may be there (the configured timing history's)."""
    if not directory.exists() and not directory.is_symlink():
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{_key(config)}: cannot create {directory}: {exc.strerror or exc}; "
                "ci-toolkit needs a writable output_dir inside the project"
            ) from None
    elif not directory.is_dir():
        raise ConfigError(f"{_key(config)}: {directory} exists and is not a directory")
    if is_marked(directory):
        return
    foreign = foreign_entries(directory, keep)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ConfigError(
            f"{_key(config)}: {directory} exists, is not empty and was not made by ci-toolkit "
            f"(no {MARKER} in it; it holds {shown}); ci-toolkit deletes and rewrites files in its "
            "output_dir, so it leaves this one alone: set output_dir to a new directory"
        )
    try:
        write_text(directory / MARKER, MARKER_TEXT)
    except OSError as exc:
        raise ConfigError(f"{_key(config)}: cannot write in {directory}: {exc.strerror or exc}") from None


def foreign_entries(directory: Path, keep: Sequence[str] = ()) -> list[str]:
    """The names in `directory` that ci-toolkit did not write (empty: it may adopt the directory)."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        return [f"unreadable ({exc.strerror or exc})"]
    foreign = [entry.name for entry in entries if not _known(entry, keep)]
    names = {entry.name for entry in entries}
    if not foreign and names & set(CLEARED) and not _our_gitignore(directory):
        # What the clean-up would delete is adopted only beside the .gitignore every version wrote.
        foreign = sorted(names & set(CLEARED))
    return foreign


def _known(entry: os.DirEntry[str], keep: Sequence[str]) -> bool:
    name = entry.name
    is_dir = entry.is_dir(follow_symlinks=False)
    is_file = entry.is_file(follow_symlinks=False)
    if name in CLEARED_DIRS or name in KEPT_DIRS:
        return is_dir
    if name == GITIGNORE:
        return is_file and _our_gitignore(Path(entry.path).parent)
    if name == MARKER:
        return False  # not ours, or the directory would be marked already
    if name in (*CLEARED_FILES, TIMINGS, LOCK, *keep) or _COVERAGE_FILE.fullmatch(name):
        return is_file
    leftover = _LEFTOVER.fullmatch(name)
    if leftover and is_file and (leftover["name"] in (*CLEARED_FILES, TIMINGS, GITIGNORE, MARKER, *keep)):
        return True
    return is_file and name.endswith(".json") and _is_summary(Path(entry.path))


def _our_gitignore(directory: Path) -> bool:
    try:
        return (directory / GITIGNORE).read_text(encoding="utf-8") == GITIGNORE_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def _is_summary(path: Path) -> bool:
    from ci_toolkit.files.outputs import is_summary

    try:
        if path.stat().st_size > _SUMMARY_LIMIT:
            return False
    except OSError:
        return False
    return is_summary(path)


# -- the clean-up ---------------------------------------------------------------------------------------


def prepare(directory: Path, *, config: Config | None = None) -> None:
    """Claim `directory`, then remove our artefacts of a previous run (and nothing else), so none can
    pass for this run's. Never services/: its state file is how a killed run's services are found."""
    import shutil

    claim(directory, config=config, keep=() if config is None else _timings_names(config, directory))
    try:
        for name in CLEARED_DIRS:
            path = directory / name
            if path.is_symlink() or path.is_file():
                path.unlink()  # a link is removed, never followed
            elif path.exists():
                shutil.rmtree(path)  # strict: a stale artefact left behind could pass for this run's
        for name in CLEARED_FILES:
            (directory / name).unlink(missing_ok=True)
        for name in (JUNIT, RESULTS, COVERAGE):
            (directory / name).mkdir(parents=True, exist_ok=True)
        if not (directory / GITIGNORE).exists():
            write_text(directory / GITIGNORE, GITIGNORE_TEXT)
    except OSError as exc:
        where = exc.filename or directory
        raise ConfigError(f"{_key(config)}: cannot clear {where}: {exc.strerror or exc}") from None


# -- one run at a time --------------------------------------------------------------------------------


@contextlib.contextmanager
def lock(config: Config) -> Iterator[Path]:
    """The output dir, checked, claimed and locked for this run until the block ends (see the module
    docstring); another run holding it stops this one with one line naming its pid."""
    directory = check(config)
    claim(directory, config=config, keep=_timings_names(config, directory))
    path = directory / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise ConfigError(f"{_key(config)}: cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CiToolkitError(
                    f"{directory} is in use by another ci-toolkit run (pid {_holder(fd)}); wait for it to "
                    "end, or stop it (ci-toolkit runs one at a time in an output_dir)"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield directory
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    deadline = time.monotonic() + _PID_WAIT
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.05)


def _timings_names(config: Config, directory: Path) -> tuple[str, ...]:
    """The name of the configured timing history when it sits at the top of the output dir."""
    path = Path(os.path.normpath(timings_path(config)))
    return (path.name,) if path.parent == Path(os.path.normpath(directory)) else ()
