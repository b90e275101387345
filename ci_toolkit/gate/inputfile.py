"""What a coverage input must be before it is opened: a regular, non-empty file, else one line saying
what it is instead (never a blocking open of a FIFO or a device)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ci_toolkit.errors import DataError

NOT_COVERAGE = "not a coverage data file or coverage json report"


def check_regular(path: Path) -> None:
    """A regular, non-empty file, or a DataError saying what *path* is instead."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            target = os.readlink(path)
            raise DataError(
                f"{path}: a broken symbolic link (to {target}); pass the coverage data itself"
            ) from None
        raise DataError(
            f"{path}: no such file; run the tests with coverage first (or pass the right path)"
        ) from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, {NOT_COVERAGE}")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(
            f"{path}: {NOT_COVERAGE} (it is {_file_kind(st.st_mode)}, not a regular file); "
            "pass a .coverage data file or the output of `coverage json`"
        )
    if st.st_size == 0:
        raise DataError(f"{path}: {NOT_COVERAGE} (it is empty); run the tests with coverage first")


def unreadable(path: Path, exc: OSError) -> DataError:
    return DataError(f"{path}: cannot be read ({exc.strerror})")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "a special file")


def one_line(text: str) -> str:
    return " ".join(text.split())
