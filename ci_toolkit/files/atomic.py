"""Write files so that a reader never sees half of one, and without replacing what is not a plain file.

`write_bytes(path, data)`:

- a regular file (or a new one) is written to a temporary file next to it and renamed over it, so a crash
  leaves the old file intact. The new file gets the old one's mode (and, as root, its owner); a file that
  did not exist gets the umask's default, as `open()` would give it, not mkstemp's 0600.
- a symlink is followed, hop by hop, and its final target is what gets written: the link stays a link (a
  symlinked `timings.json` or `.env` keeps updating its real target).
- anything that is not a regular file (a device such as /dev/null or /dev/full, a FIFO, /dev/stdout and
  every other path through /proc/*/fd) is opened and written directly, never renamed over: it names an
  open descriptor or a device, not a place for a file. A regular file reached through /proc/*/fd (say
  `--json /dev/stdout` with stdout redirected to a file) is appended to, after whatever that stream holds.
- a directory raises IsADirectoryError. Every failure is an OSError for the caller to put in one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

_MAX_HOPS = 40  # the kernel's own limit on symlinks in one lookup
_PROC = "/proc/"


def write_text(path: Path, text: str) -> None:
    """Replace *path* with *text* (UTF-8), as `write_bytes` does."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    target, through_proc = resolve(Path(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    if through_proc or (info is not None and not stat.S_ISREG(info.st_mode)):
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        _write_in_place(Path(path), data, append=info is not None and stat.S_ISREG(info.st_mode))
        return
    _replace(target, data, info)


def resolve(path: Path) -> tuple[Path, bool]:
    """The file a write to *path* lands in (its symlinks followed, even a dangling one's), and whether
    the way there goes through /proc: such a "magic" link names an open descriptor, not a path."""
    current = Path(os.path.abspath(path))
    for _ in range(_MAX_HOPS):
        current = Path(os.path.realpath(current.parent)) / current.name
        if str(current).startswith(_PROC):
            return current, True
        if not current.is_symlink():
            return current, False
        current = current.parent / os.readlink(current)  # an absolute link replaces the parent
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))


def new_file_mode() -> int:
    """The mode `open(path, "w")` would give a new file under this process's umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # No /proc (macOS): reading the umask means setting it, for as short a moment as Python allows.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _write_in_place(path: Path, data: bytes, *, append: bool) -> None:
    flags = os.O_WRONLY | (os.O_APPEND if append else 0)
    fd = os.open(path, flags)  # never O_CREAT: it exists, and is not ours to make
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _replace(target: Path, data: bytes, info: os.stat_result | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # not on Windows, where modes do not apply
                os.fchmod(fh.fileno(), new_file_mode() if info is None else stat.S_IMODE(info.st_mode))
            if info is not None:
                _keep_owner(fh.fileno(), info)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _keep_owner(fd: int, info: os.stat_result) -> None:
    """As root, the replacement would belong to root: give it back to the old file's owner."""
    if not hasattr(os, "fchown") or (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid()):
        return
    # Not root: the file can only become ours, as any editor's save makes it.
    with contextlib.suppress(PermissionError):
        os.fchown(fd, info.st_uid, info.st_gid)
