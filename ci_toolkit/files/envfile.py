"""`services up --env-file PATH`: the services' variables into an env file, without losing the user's.

An env file is often the user's own `.env`, holding SECRET_KEY, SENTRY_DSN and the like. So:

- `$GITHUB_ENV` (the path the variable names) is appended to, as GitHub Actions expects: what earlier
  commands of the same step wrote there is kept.
- A new file gets the `NAME=value` lines.
- An existing file: ci-toolkit owns the lines of the variables it exports, by key. Each line that sets
  one of them (`NAME=...`, also `export NAME=...`) is replaced in place by `NAME=value`; variables not
  there yet are appended at the end. Every other byte stays as it was (comments, other variables, line
  endings: appended lines use the file's own, CRLF or LF), and so does the file's mode (a `.env` is
  often 0600); a symlink is followed to its target.
- A file that cannot be read (not UTF-8, no permission, a directory) is never replaced: one line says
  why. Anything that is not a regular file (/dev/stdout, a FIFO) is not read: the lines are written to it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.files import atomic

# `NAME=`, `export NAME=`, with the blanks dotenv tools allow around them.
_ASSIGNMENT = re.compile(rb"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=")


def write(path: Path, text: str) -> None:
    """Put the `NAME=value` lines of `text` into the env file `path` (see the module docstring)."""
    github_env = os.environ.get("GITHUB_ENV")
    if github_env and Path(github_env).absolute() == path.absolute():
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text)
        return
    target, through_proc = atomic.resolve(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None
    if info is None or through_proc or not stat.S_ISREG(info.st_mode):
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise _unreadable(path, "it is a directory")
        atomic.write_text(path, text)
        return
    try:
        old = target.read_bytes()
        old.decode("utf-8")
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None
    except UnicodeDecodeError as exc:
        raise _unreadable(path, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    atomic.write_bytes(path, merge(old, text.encode("utf-8")))


def merge(old: bytes, new: bytes) -> bytes:
    """`old` with the variables of `new` (NAME=value lines) set: in place where old sets them, else
    appended in the file's own line ending. Every other byte of `old` is kept."""
    wanted: dict[bytes, bytes] = {}
    for line in new.splitlines():
        name, sep, _ = line.partition(b"=")
        if sep:
            wanted[name] = line
    newline = b"\r\n" if b"\r\n" in old else b"\n"
    out: list[bytes] = []
    seen: set[bytes] = set()
    for line in old.splitlines(keepends=True):
        match = _ASSIGNMENT.match(line)
        name = match["name"] if match else None
        if name is not None and name in wanted:
            ending = line[len(line.rstrip(b"\r\n")) :]
            out.append(wanted[name] + ending)
            seen.add(name)
        else:
            out.append(line)
    missing = [line for name, line in wanted.items() if name not in seen]
    if missing:
        if out and not out[-1].endswith(b"\n"):
            out[-1] += newline
        out.extend(line + newline for line in missing)
    return b"".join(out)


def _unreadable(path: Path, why: str) -> CiToolkitError:
    return CiToolkitError(f"--env-file {path}: cannot read it ({why}), so it is left as it is")
