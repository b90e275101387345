"""Starting and stopping the pytest processes ci-toolkit runs, and the environment they get.

Every pytest child starts in its own process group, so that an interrupt of ci-toolkit (Ctrl-C, SIGTERM
from a CI runner) takes the child and its xdist workers down with it instead of leaving them running.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.config import Lane
from ci_toolkit.run.exchange import worker_env
from ci_toolkit.run.layout import RunPaths
from ci_toolkit.signals import sigterm_as_interrupt

_GRACE = 5.0  # seconds a terminated pytest gets before it is killed


def lane_env(lane: Lane, paths: RunPaths) -> dict[str, str]:
    """Environment variables added to ours for the lane's pytest."""
    return {"COVERAGE_FILE": str(paths.lane_coverage_file(lane.name))}


def lane_process_env(lane: Lane, paths: RunPaths, extra_env: Mapping[str, str] | None) -> dict[str, str]:
    """The lane's pytest's whole environment: ours, the services' variables (`extra_env`), the lane's."""
    env = {**os.environ, **(extra_env or {}), **lane_env(lane, paths)}
    if worker_env.NAME not in (extra_env or {}):
        # One inherited from a surrounding run would point this lane's workers at someone else's databases.
        env.pop(worker_env.NAME, None)
    return env


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
