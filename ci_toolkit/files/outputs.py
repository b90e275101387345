"""The files a command was asked to write, checked before it runs anything.

A verdict that cannot be written must not cost a whole test run first: `check` is called at the start
of `local` and `gate`, and a path that cannot take the summary is one line (exit 2) before any test
runs. What `--json PATH` may be:

- a new file, in a directory where a file can be made (missing directories are created when it is written);
- an existing regular file (symlinks followed) only when it is ours to replace: empty, or a previous
  ci-toolkit JSON summary (it parses and carries "schema_version" and "passed"). Anything else, e.g.
  `--json pyproject.toml`, is refused and left as it is; so is a file that cannot be read;
- anything that is not a regular file (a device, a FIFO, /dev/stdout) is written directly at the end
  (ci_toolkit.atomic), once checked to be writable.

json_report.write checks ownership once more at the end: the file may have appeared meanwhile.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.files import atomic


def check(*, json_path: Path | None = None) -> None:
    """Raise CiToolkitError (one line) when `json_path` cannot take the JSON summary."""
    if json_path is not None:
        check_json(Path(json_path))


def check_json(path: Path) -> None:
    shown = f"--json {path}"
    try:
        target, through_proc = atomic.resolve(path)
        info = _stat(target)
    except OSError as exc:
        raise CiToolkitError(f"{shown}: cannot write there: {exc.strerror or exc}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise CiToolkitError(f"{shown}: is a directory; name a file")
    if through_proc or (info is not None and not stat.S_ISREG(info.st_mode)):
        # A device, a FIFO, an open descriptor: written as it is, never created or replaced.
        if info is None or not os.access(target, os.W_OK):
            reason = "no such file or descriptor" if info is None else "not writable"
            raise CiToolkitError(f"{shown}: cannot write there: {reason}")
        return
    if info is not None:
        problem = replace_problem(target)
        if problem is not None:
            raise CiToolkitError(f"{shown}: {problem}")
    _probe_directory(target.parent, shown)


def replace_problem(path: Path) -> str | None:
    """Why the regular file `path` is not ours to replace with a summary (None: it is, or is gone)."""
    return _not_ours(path, _summary, "a ci-toolkit JSON summary", "--json")


def _not_ours(path: Path, ours: Callable[[bytes], bool], what: str, option: str) -> str | None:
    """Why the regular file `path` may not be replaced: it is not empty and `ours` does not recognise it
    as `what` (None: it may be, or is gone)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc}), so it is left as it is"
    if not data.strip() or ours(data):
        return None
    return f"exists and is not {what}; it is left as it is: remove it, or name another file for {option}"


def check_owned(path: Path, option: str, ours: Callable[[bytes], bool], what: str) -> None:
    """Raise CiToolkitError (one line) unless `path`, named with `option`, is new, empty, an earlier
    `what` that `ours` recognises, or a device or FIFO: called before the work, and again by write_owned."""
    try:
        target, through_proc = atomic.resolve(path)
        info = _stat(target)
    except OSError as exc:
        raise CiToolkitError(f"{option} {path}: cannot write there: {exc.strerror or exc}") from None
    if info is not None and stat.S_ISREG(info.st_mode) and not through_proc:
        problem = _not_ours(target, ours, what, option)
        if problem is not None:
            raise CiToolkitError(f"{option} {path}: {problem}")


def write_owned(path: Path, text: str, option: str, ours: Callable[[bytes], bool], what: str) -> None:
    """Write a file the user named with `option`, if check_owned allows it (see there)."""
    shown = f"{option} {path}"
    check_owned(path, option, ours, what)
    try:
        atomic.write_text(path, text)
    except OSError as exc:
        raise CiToolkitError(f"{shown}: cannot write: {exc.strerror or exc}") from None


def json_with(*keys: str) -> Callable[[bytes], bool]:
    """Recognises a JSON object holding every one of `keys`: how a command knows its earlier output."""

    def ours(data: bytes) -> bool:
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return False
        return isinstance(doc, dict) and all(key in doc for key in keys)

    return ours


def is_summary(path: Path) -> bool:
    """Whether `path` holds a JSON summary that ci-toolkit wrote (json_report.to_dict)."""
    try:
        return _summary(path.read_bytes())
    except OSError:
        return False


def _summary(data: bytes) -> bool:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and "schema_version" in doc and "passed" in doc


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _probe_directory(directory: Path, shown: str) -> None:
    """Make a file where the summary will go (or in the nearest directory that exists: nothing is created
    before the run), and remove it: the one test that no permission bit, read-only mount or pseudo
    filesystem (/proc) can fool."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".ci-toolkit-probe.", suffix=".tmp", dir=existing)
    except OSError as exc:
        raise CiToolkitError(f"{shown}: cannot write there: {exc.strerror or exc}") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
