"""Reading the files timings come from (histories, JUnit XML, durations files), and what is said when they
cannot be read: one place that turns a read failure into its message, for every reader.

A hostile file must not make a message line a megabyte long (`short`, `clip`), nor a FIFO or a device
make a read that never ends (`read_bytes`).
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError

# Set by `ci-toolkit local` for its lanes' pytest: the history it names is reported on by the run itself
# (store.tell). Here, in a light module: the run sets it before its first pytest starts.
REPORTED_ENV = "CI_TOOLKIT_TIMINGS_REPORTED"


class Unusable(Exception):
    """A file that cannot be used as what it was read as; str: why, without the path."""


def read_bytes(path: Path, what: str) -> bytes:
    """The content of *path*, read as *what* (e.g. "timing history"; "" for any file).

    FileNotFoundError when there is no such file (also "a/h.json" where a is a file); Unusable when it
    cannot be read, or is neither a regular file nor a directory (whose read then says why).
    """
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO or a device: reading may never end
            raise _unreadable(what, "not a regular file")
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(path) from None
    except OSError as exc:
        raise _unreadable(what, reason(exc)) from None


def decode(data: bytes, what: str, encoding: str = "utf-8") -> str:
    """*data* read as *what*, as text; Unusable when it is not in *encoding*."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _unreadable(what, reason(exc)) from None


def _unreadable(what: str, why: str) -> Unusable:
    return Unusable(f"unreadable {what}: {why}" if what else f"unreadable: {why}")


def data_error(path: Path, what: str, exc: FileNotFoundError | Unusable) -> DataError:
    """The one line for a file a command needs but could not read as *what* (see `read_bytes`)."""
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{path}: no such {what or 'file'}")
    return DataError(f"{path}: {exc}")


def parse_json(text: str, what: str | None = None) -> Any:
    """json.loads; Unusable saying why not, for any text (json raises more than JSONDecodeError): just
    why, or with *what*, as a file that is unreadable as that."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        why = f"{exc.msg} at line {exc.lineno}"
    except ValueError:  # an integer of more digits than int() takes
        why = "a number too long"
    except RecursionError:
        why = "nested too deeply"
    raise Unusable(why) if what is None else _unreadable(what, why)


def reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def short(value: Any) -> str:
    """repr() for a message line (see clip)."""
    return clip(repr(value))


def clip(text: str) -> str:
    """At most 80 characters: a hostile file must not make a message line a megabyte long."""
    return text if len(text) <= 80 else text[:77] + "..."


def warn(message: str) -> None:
    print(f"ci-toolkit: warning: {message}", file=sys.stderr, flush=True)
