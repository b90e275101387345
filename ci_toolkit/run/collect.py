"""Which lanes select which tests: one `pytest --collect-only` run with our plugin evaluating every lane.

Also home of run_pytest(), the one way ci-toolkit starts a pytest child: in its own process group, so
that an interrupt of ci-toolkit (Ctrl-C, SIGTERM from a CI runner) takes the child and its xdist
workers down with it instead of leaving them running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.config import Config, Lane
from ci_toolkit.errors import CiToolkitError, ExitCode, NoTestsError
from ci_toolkit.signals import sigterm_as_interrupt

TAIL_LINES = 15  # of pytest's output shown when collection fails: its error summary is at the end
_GRACE = 5.0  # seconds a terminated pytest gets before it is killed


def needs_collection(config: Config) -> bool:
    """A single lane selecting everything has nothing to check, so its pytest start-up is saved."""
    return not (len(config.lanes) == 1 and config.lanes[0].markers is None)


@dataclass(frozen=True)
class Collected:
    tests: dict[str, tuple[str, ...]]  # nodeid -> names of the lanes selecting it, in collection order
    groups: dict[str, str]  # nodeid -> xdist_group name, for the tests that have one


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
    run_id = new_run_id()
    with _workdir(workdir) as tmp:
        Path(tmp, "lanes.json").write_text(json.dumps(lanes_spec(config.lanes)), encoding="utf-8")
        cmd = collect_command(
            config, Path(tmp), extra_args, autoload=autoload_enabled(environ), run_id=run_id
        )
        code, output = run_pytest(cmd, cwd=config.root, env=environ, capture=True)
        found = read_assignment(Path(tmp, "collected.json"), run_id)
    tests, groups = found if found is not None else (None, {})
    # Exit 5 with tests recorded: a passed-through -k/-m deselected them all; the lanes will say so.
    if code == 5 and not tests:
        raise NoTestsError(f"no tests collected in {config.root} (pytest exit 5)")
    if code not in (0, 5):
        exit_code = ExitCode.USAGE_ERROR if code == 4 else ExitCode.TESTS_FAILED
        raise CiToolkitError(f"test collection failed (pytest exit {code}):\n{tail(output)}", exit_code)
    if tests is None:
        raise CiToolkitError(
            "test collection wrote no lane assignment: is the ci_toolkit pytest plugin disabled "
            "(-p no:ci_toolkit in pytest_args or addopts)?"
        )
    return Collected({nodeid: tuple(lanes) for nodeid, lanes in tests.items()}, groups)


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


def read_assignment(path: Path, run_id: str = "") -> tuple[dict[str, list[str]], dict[str, str]] | None:
    """The lane assignment a pytest of run `run_id` wrote; None while there is none (or another run's)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        tests = doc["tests"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(tests, dict) or doc.get("run", "") != run_id:
        return None
    groups = doc.get("groups")
    return tests, groups if isinstance(groups, dict) else {}


def lanes_spec(lanes: Sequence[Lane]) -> dict[str, str | None]:
    return {lane.name: lane.markers for lane in lanes}


def collect_command(
    config: Config,
    workdir: Path,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
    autoload: bool = True,
    run_id: str = "",
) -> list[str]:
    """The collection run; it reads workdir/lanes.json and writes workdir/collected.json."""
    return [
        python,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        # Not `-p no:cacheprovider`: that would make a passed-through --lf/--ff an unknown option.
        # The cache goes to our temporary directory instead, so collection leaves nothing behind.
        "-o",
        f"cache_dir={workdir / 'cache'}",
        *plugin_args(autoload),
        *(owner_args(run_id) if run_id else []),
        # Collection measures nothing; --no-cov also beats a --cov in the project's addopts.
        "--no-cov",
        f"--ci-toolkit-collect={workdir / 'collected.json'}",
        f"--ci-toolkit-lanes={workdir / 'lanes.json'}",
        *config.pytest_args,
        *extra_args,
    ]


def owner_args(run_id: str) -> list[str]:
    """Ties a pytest to this ci-toolkit process and run: it dies with us (even when we are SIGKILLed), and
    it takes no other run's verdict and writes nothing another run would take for its own."""
    return [f"--ci-toolkit-parent={os.getpid()}", f"--ci-toolkit-run={run_id}"]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def plugin_args(autoload: bool) -> list[str]:
    """With PYTEST_DISABLE_PLUGIN_AUTOLOAD set, pytest loads no entry point: name the plugins we need."""
    if autoload:
        return []
    return ["-p", "ci_toolkit.pytest_plugin", "-p", "pytest_cov.plugin", "-p", "xdist.plugin"]


def autoload_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return not environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")


def tail(output: str, lines: int = TAIL_LINES) -> str:
    kept = [line for line in output.rstrip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_pytest(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
) -> tuple[int, str]:
    """Run `cmd` to completion: (exit code, output if captured). Interrupted: the child's process
    group is terminated, then KeyboardInterrupt propagates."""
    with sigterm_as_interrupt():
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=child_env(os.environ if env is None else env),
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            stdin=subprocess.DEVNULL if capture else None,
            text=capture,
            errors="replace" if capture else None,
            **_new_group(),
        )
        try:
            output, _ = proc.communicate()
        except BaseException:
            stop(proc)
            raise
    return proc.returncode, output or ""


def start_pytest(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own process group without waiting: its output goes to the terminal, or to
    `log` (created; stdout and stderr together). The caller waits, and stop()s it on an interrupt."""
    if log is None:
        return subprocess.Popen(list(cmd), cwd=cwd, env=child_env(env), **_new_group())
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            list(cmd), cwd=cwd, env=child_env(env), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, **_new_group(),
        )  # fmt: skip


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the variables a surrounding pytest(-xdist) process sets for its own tests: run
    from inside a test (as ci-toolkit's own suite does), the child must not believe it is a worker."""
    return {
        key: value
        for key, value in env.items()
        if not key.startswith("PYTEST_XDIST_") and key != "PYTEST_CURRENT_TEST"
    }


def _new_group() -> dict[str, object]:
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # pragma: no cover - Windows


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate the child's whole process group (pytest and its xdist workers), killing if needed."""
    for sig, grace in ((signal.SIGTERM, _GRACE), (getattr(signal, "SIGKILL", signal.SIGTERM), None)):
        _signal_group(proc, sig)
        try:
            proc.wait(timeout=grace)
            break
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            continue  # a second Ctrl-C while waiting means: stop now
    # Workers that outlive their controller for a moment still belong to the group.
    _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - Windows has no process groups to signal
            proc.terminate()
    except (ProcessLookupError, PermissionError):
        pass
