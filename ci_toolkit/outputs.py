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
from pathlib import Path

from ci_toolkit import atomic
from ci_toolkit.errors import CiToolkitError


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
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc}), so it is left as it is"
    if not data.strip() or _summary(data):
        return None
    return (
        "exists and is not a ci-toolkit JSON summary; it is left as it is: "
        "remove it, or name another file for --json"
    )


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
