"""Step outputs ($GITHUB_OUTPUT): the verdict and its numbers for later steps (`steps.<id>.outputs.*`).

Every value is written in the runner's multi-line form (`name<<DELIM`, the value, `DELIM`) with a random
delimiter checked to be absent from the value, so no value (a path, say) can end its entry early and set
another output. The runner owns the file: it is only appended to.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.report import total_counts
from ci_toolkit.report.model import Report

WHAT = "$GITHUB_OUTPUT"
# GitHub's rule for output names: a letter or "_" first, then letters, digits, "-" and "_".
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def from_report(report: Report, report_path: Path) -> dict[str, str]:
    """The outputs of a run: `verdict`, `coverage` and `patch-coverage` (percent with two decimals, ""
    when not measured), `passed` and `failed` (as the summary counts them), `report-path`."""
    verdict = report.verdict
    patch = verdict.patch if verdict is not None else None
    counts = total_counts(report.lanes)
    return {
        "verdict": "passed" if report.passed else "failed",
        # A verdict on no data holds a total of 0 of 0, which is no percentage at all.
        "coverage": "" if verdict is None or verdict.of_kind("data") else verdict.total.display,
        "patch-coverage": "" if patch is None else patch.measure.display,
        "passed": str(counts.passed),
        "failed": str(counts.failed),
        "report-path": str(report_path),
    }


def render(values: Mapping[str, str], *, token: Callable[[], str] = lambda: secrets.token_hex(16)) -> str:
    """The entries for `values`, in the runner's multi-line form, each delimited by a fresh `token()`
    that its value does not contain; a bad name is a ValueError."""
    parts: list[str] = []
    for name, value in values.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a GitHub output name (letters, digits, '-', '_')")
        delimiter = _delimiter(value, token)
        parts.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(parts)


def write(path: Path, values: Mapping[str, str]) -> None:
    """Append `values` to the step's output file `path` ($GITHUB_OUTPUT)."""
    text = render(values)
    try:
        with path.open("ab") as fh:
            # surrogateescape: a path that is not UTF-8 goes out as the bytes it is, not as an error.
            fh.write(text.encode("utf-8", "surrogateescape"))
    except OSError as exc:
        raise CiToolkitError(f"{WHAT} {path}: cannot append to it: {exc.strerror or exc}") from None


def _delimiter(value: str, token: Callable[[], str]) -> str:
    while True:
        delimiter = f"ci-toolkit-{token()}"
        if delimiter not in value:
            return delimiter
