"""The report appended to the job summary ($GITHUB_STEP_SUMMARY), within GitHub's 1 MiB per step.

The runner owns the file and other tools of the same step may have written to it already: it is only ever
appended to, and the report gets the bytes those left (ci_toolkit.report.budget trims it to fit). When not
even the verdict fits, a one-line note goes there instead, or nothing when that does not fit either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.report import markdown
from ci_toolkit.report.budget import SUMMARY_LIMIT
from ci_toolkit.report.model import Report

WHAT = "$GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class Appended:
    written: int  # bytes appended
    left_out: str = ""  # why the report is not there (whole): "" when it is


def append(path: Path, render: Callable[[int], str], *, limit: int = SUMMARY_LIMIT) -> Appended:
    """Append `render(max_bytes)` to the summary file `path`, so that the file stays within `limit`
    bytes (see the module docstring)."""
    before, tail = _size_and_tail(path)
    # Our Markdown starts a block of its own, whatever the last writer left unfinished.
    separator = b"" if before == 0 or tail.endswith(b"\n\n") else b"\n" if tail.endswith(b"\n") else b"\n\n"
    room = limit - before - len(separator)
    data = render(room).encode("utf-8") if room > 0 else b""
    why = ""
    if not data or len(data) > room:
        why = f"the job summary had {max(room, 0)} of its {limit} bytes left, too few for the report"
        data = f"_ci-toolkit: the report is not here: {why}._\n".encode()
        if len(data) > room:
            return Appended(0, why)
    _append(path, separator + data)
    return Appended(len(separator) + len(data), why)


def append_report(
    path: Path, report: Report, *, notes: Sequence[str] = (), limit: int = SUMMARY_LIMIT
) -> Appended:
    """The report's Markdown (ci_toolkit.report.markdown) appended to the summary file `path`, followed by
    `notes` (what publishing itself has to say, e.g. why the comment is missing), each a quoted line that
    the report's trimming leaves room for."""
    extra = "".join(f"\n> {note}\n" for note in notes)

    def render(max_bytes: int) -> str:
        return markdown.render(report, max_bytes=max(1, max_bytes - len(extra.encode()))) + extra

    return append(path, render, limit=limit)


def _size_and_tail(path: Path) -> tuple[int, bytes]:
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 2))
            return size, fh.read(2)
    except FileNotFoundError:
        return 0, b""
    except OSError as exc:
        raise CiToolkitError(f"{WHAT} {path}: cannot read it: {exc.strerror or exc}") from None


def _append(path: Path, data: bytes) -> None:
    try:
        with path.open("ab") as fh:
            fh.write(data)
    except OSError as exc:
        raise CiToolkitError(f"{WHAT} {path}: cannot append to it: {exc.strerror or exc}") from None
