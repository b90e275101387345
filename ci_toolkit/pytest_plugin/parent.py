"""A pytest ci-toolkit started: it never outlives ci-toolkit, and it ends without the interpreter's last
garbage collection.

A SIGKILLed ci-toolkit must not leave its pytest running tests into the output dir of the next run, or
hanging with the terminal's pipe open. On Linux the kernel sends SIGKILL when the parent dies
(PR_SET_PDEATHSIG); elsewhere a daemon thread watches the parent's pid. xdist's workers die with their
controller the same way.

At exit, once pytest has finished (its reports, its own collections looking for unraisable exceptions,
every atexit handler registered before this one), the interpreter walks every object left for a last
collection: about 100 ms in a process that imported a test suite, paid by each xdist worker before its
controller can end, and by the controller. `gc.freeze()` skips that walk, as ci-toolkit does for
itself. What it gives up is what Python never promises: the finalizers of objects still caught in
reference cycles when the interpreter exits.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import time

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.run.exchange import owner, worker_env

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_WATCH_INTERVAL = 0.25  # seconds between looks at the parent, where the kernel cannot watch for us


def guard_from(early_config: pytest.Config) -> None:
    """Die with the process this pytest belongs to, when it belongs to one: --ci-toolkit-parent, or in an
    xdist worker the controller's pid it inherited."""
    inherited = os.environ.pop(owner.PARENT_ENV, None)  # for xdist workers only, and not for their tests
    if os.environ.get(worker_env.WORKER):
        # A worker is handed the controller's options too, but its parent is the controller.
        parent = inherited
    else:
        parent = getattr(early_config.known_args_namespace, "ci_toolkit_parent", None)
    if parent:
        try:
            guard_parent(owner.parse_pid(parent))
        except DataError as exc:
            raise pytest.UsageError(str(exc)) from None
        # Registered now, it runs after every exit handler registered later (atexit runs last in, first out).
        atexit.register(gc.freeze)


def guard_parent(parent: int) -> None:
    """Die with `parent`; a parent that is already gone ends this process now."""
    if os.name != "posix":  # pragma: no cover - Windows: a process group is stopped by ci-toolkit itself
        return
    if not _kernel_watches_parent():
        import threading

        threading.Thread(target=_watch_parent, args=(parent,), name="ci-toolkit-parent", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked to be told
        _orphaned()


def _kernel_watches_parent() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return False


def _watch_parent(parent: int) -> None:  # pragma: no cover - runs where prctl is missing
    while os.getppid() == parent:
        time.sleep(_WATCH_INTERVAL)
    _orphaned()


def _orphaned() -> None:
    import signal

    sys.stderr.write("ci-toolkit: the ci-toolkit run that started this pytest is gone; stopping\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class ParentForWorkers:
    """In xdist's controller: its workers must die with it, as it dies with ci-toolkit."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self) -> None:
        os.environ[owner.PARENT_ENV] = str(os.getpid())  # the workers inherit it and take it out at once
