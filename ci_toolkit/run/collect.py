"""Which lanes select which tests, and the check that they partition the suite before any test runs.

Two ways to collect: a `pytest --collect-only` run of its own (collect_all: `ci-toolkit local --shard`,
`ci-toolkit plan`, `ci-toolkit timings`), or the first lane's own pytest, which collects, writes the
assignment and waits for the verdict (FirstLaneCheck: a plain `ci-toolkit local`, one interpreter
start-up and full collection fewer). Either way the plugin evaluates every lane's marker expression the
way `pytest -m` does, and the files go through ci_toolkit.run.exchange.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ci_toolkit.config import Config
from ci_toolkit.errors import CiToolkitError, ConfigError, DataError, ExitCode, NoTestsError, PytestExit
from ci_toolkit.run import lanes as lanes_mod
from ci_toolkit.run import layout
from ci_toolkit.run.argv import autoload_enabled, collect_command
from ci_toolkit.run.exchange import collected, owner, verdict
from ci_toolkit.run.exchange import lanes as lanes_file
from ci_toolkit.run.exchange.collected import Collected
from ci_toolkit.run.lanes import LaneCheck
from ci_toolkit.run.launch import run_pytest
from ci_toolkit.run.results import LaneResult

__all__ = ["Collected", "FirstLaneCheck", "collect", "collect_all", "needs_collection"]

TAIL_LINES = 15  # of pytest's output shown when collection fails: its error summary is at the end
_NO_PLUGIN = "is the ci_toolkit pytest plugin disabled (-p no:ci_toolkit in pytest_args or addopts)?"


def needs_collection(config: Config) -> bool:
    """A single lane selecting everything has nothing to check, so its pytest start-up is saved."""
    return not (len(config.lanes) == 1 and config.lanes[0].markers is None)


def collect(
    config: Config, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> dict[str, tuple[str, ...]]:
    """{nodeid: names of the lanes selecting it}, in collection order, for every collected test.
    `env`: the collection pytest's whole environment (None: ours), e.g. ours plus the services' variables
    that a conftest.py reads at import."""
    return collect_all(config, extra_args, env).tests


def collect_all(
    config: Config,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    workdir: Path | None = None,
) -> Collected:
    """collect(), with the tests' xdist groups too. Its files go to `workdir` (emptied first; a run's
    scratch dir), else to a temporary directory."""
    environ = os.environ if env is None else env
    run_id = owner.new_run_id()
    with _workdir(workdir) as tmp:
        lanes_file.write(tmp / layout.LANES, lanes_file.spec(config.lanes))
        cmd = collect_command(config, tmp, extra_args, autoload=autoload_enabled(environ), run_id=run_id)
        code, output = run_pytest(cmd, cwd=config.root, env=environ, capture=True)
        found = collected.read(tmp / layout.COLLECTED, run_id)
    # Exit 5 with tests recorded: a passed-through -k/-m deselected them all; the lanes will say so.
    if code == PytestExit.NO_TESTS_COLLECTED and not (found and found.tests):
        raise NoTestsError(f"no tests collected in {config.root} (pytest exit {code})")
    if code not in (PytestExit.OK, PytestExit.NO_TESTS_COLLECTED):
        exit_code = ExitCode.USAGE_ERROR if code == PytestExit.USAGE_ERROR else ExitCode.TESTS_FAILED
        raise CiToolkitError(f"test collection failed (pytest exit {code}):\n{tail(output)}", exit_code)
    if found is None:
        raise CiToolkitError(f"test collection wrote no lane assignment: {_NO_PLUGIN}")
    return found


@contextlib.contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is None:
        with tempfile.TemporaryDirectory(prefix="ci-toolkit-collect-") as tmp:
            yield Path(tmp)
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def tail(output: str, lines: int = TAIL_LINES) -> str:
    kept = [line for line in output.rstrip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


class FirstLaneCheck:
    """The lanes checked against the collection of the first lane's own pytest.

    That pytest gets --ci-toolkit-collect/--ci-toolkit-lanes/--ci-toolkit-verdict: it writes which
    lanes select each collected test, then waits. poll(), asked while it runs, checks the file as soon
    as it appears: lanes that are wrong stop that pytest before any test has run (finish() raises the
    one-line ConfigError); otherwise the verdict lets it run its share."""

    def __init__(self, config: Config, paths: layout.RunPaths, run_id: str = "") -> None:
        self.config = config
        self.paths = paths
        self.run_id = run_id
        self.check: LaneCheck | None = None
        self.assignment: Mapping[str, Sequence[str]] | None = None  # {nodeid: lanes}, once checked
        self.error: CiToolkitError | None = None
        lanes_file.write(paths.lanes_file, lanes_file.spec(config.lanes))

    def args(self) -> list[str]:
        return [
            f"{collected.OPTION}={self.paths.collected_file}",
            f"{lanes_file.OPTION}={self.paths.lanes_file}",
            *self.wait_args(),
        ]

    def wait_args(self) -> list[str]:
        """For a lane started before the verdict: collect, then wait for it."""
        return [f"{verdict.OPTION}={self.paths.verdict_file}"]

    def poll(self) -> bool | None:
        """True: stop the lanes (they are wrong); False: not collected yet; None: checked, go on."""
        if self.error is not None:
            return True
        if self.check is not None:
            return None
        try:
            found = collected.read(self.paths.collected_file, self.run_id)
        except DataError as exc:
            self.error = exc
            return True
        if found is None:
            return False
        if not found.tests:
            code = PytestExit.NO_TESTS_COLLECTED
            self.error = NoTestsError(f"no tests collected in {self.config.root} (pytest exit {code})")
            return True
        check = lanes_mod.check(found.tests, self.config)
        problems = lanes_mod.problems(check, self.config)
        if problems:
            self.error = ConfigError(" -- also: ".join(problems))
            return True
        self.check = check
        self.assignment = found.tests
        verdict.write(self.paths.verdict_file, self.run_id)
        return None

    def failure(self) -> CiToolkitError:
        assert self.error is not None, "failure() after poll() said True"
        return self.error

    def finish(self, result: LaneResult) -> LaneCheck | None:
        """After the first lane: the check, or the ConfigError that stopped it. None when the lane
        failed before its collection was done (its own output says why; the run has failed already)."""
        if self.check is None and self.error is None:
            self.poll()
        if self.error is not None:
            raise self.error
        if self.check is None and result.exit_code in (PytestExit.OK, PytestExit.NO_TESTS_COLLECTED):
            raise CiToolkitError(f"lane {result.name} wrote no lane assignment: {_NO_PLUGIN}")
        if self.check is None:
            # Its collection failed, and it says why. Lanes already waiting for the verdict go on
            # unchecked rather than hang: the run has failed anyway.
            verdict.write(self.paths.verdict_file, self.run_id)
        return self.check
