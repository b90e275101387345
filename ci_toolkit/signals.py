"""SIGTERM handled like Ctrl-C, so one clean-up path serves both, from ci-toolkit's first instant."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    # Nothing is started yet, so there is nothing to clean up; and an exception raised in the middle of
    # an import could not be caught as an interrupt.
    os.write(2, b"ci-toolkit: interrupted\n")
    os._exit(130)


def install_sigterm_as_interrupt(*, started: bool) -> None:
    """For the whole life of the `ci-toolkit` process: before its main() runs (`started` False), SIGTERM
    ends it at once with 130; from then on it raises KeyboardInterrupt, for Ctrl-C's clean-up."""
    if threading.current_thread() is not threading.main_thread():
        return
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _interrupt if started else _exit_at_once)
    # Ctrl-C likewise: no KeyboardInterrupt traceback out of an import.
    signal.signal(signal.SIGINT, signal.default_int_handler if started else _exit_at_once)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside: SIGTERM (a CI runner cancelling the job) raises KeyboardInterrupt in the main thread,
    so the same clean-up as for Ctrl-C runs: child processes stopped, services down."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
