"""Annotations: the run's problems pinned to files and lines of the pull request, as workflow commands
(`::error file=F,line=L,endLine=E,title=T::message`). Pure.

`collect` lists them most important first: failed tests, then critical files below their floor, then
changed lines no test ran. `render` turns them into the lines to print. GitHub shows only 10 errors and 10
warnings per step, so `render` keeps the first of each and says how many more the job summary holds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Literal

from ci_toolkit.gate.verdict import format_floor
from ci_toolkit.report import printable
from ci_toolkit.report.model import Report

Level = Literal["error", "warning", "notice"]
LIMIT = 10  # annotations of one level GitHub shows per step
MESSAGE_LIMIT = 1000  # characters; a summary's row holds the rest
TITLE_LIMIT = 200


@dataclass(frozen=True)
class Annotation:
    level: Level
    message: str
    title: str = ""
    file: str = ""  # relative to the repository root (the workspace), posix; "": not pinned to a file
    line: int = 0  # 1-based; 0: the whole file
    end_line: int = 0  # 0: just `line`


def collect(report: Report, *, root: Path, workspace: Path | None) -> list[Annotation]:
    """The report's annotations, most important first. Test and coverage paths are relative to `root`
    (the project: pytest's rootdir and coverage's paths); GitHub wants them relative to `workspace` (the
    repository's checkout; None: `root` is it). A file outside the workspace is not named."""
    where = _Locator(root, workspace if workspace is not None else root)
    return [*_failed_tests(report, where), *_critical(report, where), *_patch(report, where)]


def render(annotations: Sequence[Annotation], limit: int = LIMIT) -> list[str]:
    """The workflow-command lines for `annotations`: at most `limit` of each level, the first ones, then
    one notice counting the rest."""
    shown: dict[str, int] = {}
    lines: list[str] = []
    left_out: dict[str, int] = {}
    for a in annotations:
        # Notices leave room for ours, which counts among them.
        if shown.get(a.level, 0) < limit - (a.level == "notice"):
            shown[a.level] = shown.get(a.level, 0) + 1
            lines.append(command(a))
        else:
            left_out[a.level] = left_out.get(a.level, 0) + 1
    if left_out:
        total = sum(left_out.values())
        counted = ", ".join(f"{n} {level}{'s' if n > 1 else ''}" for level, n in left_out.items())
        note = (
            f"{total} more {'annotation is' if total == 1 else 'annotations are'} not shown ({counted}): "
            f"GitHub shows {limit} of each kind per step; the job summary lists them"
        )
        lines.append(command(Annotation("notice", note, title="ci-toolkit")))
    return lines


def command(a: Annotation) -> str:
    """One annotation as the runner reads it, every value escaped so that nothing in it (a test id, a
    message) can end the command early or start another."""
    props: list[tuple[str, str]] = []
    if a.file:
        props.append(("file", a.file))
        if a.line > 0:
            props.append(("line", str(a.line)))
            if a.end_line > a.line:
                props.append(("endLine", str(a.end_line)))
    if a.title:
        props.append(("title", _bounded(a.title, TITLE_LIMIT)))
    head = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{a.level}{' ' + head if head else ''}::{escape_data(_bounded(a.message, MESSAGE_LIMIT))}"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _bounded(text: str, limit: int) -> str:
    # Control characters (a terminal escape or a newline in a test id, say) shown, never acted on.
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Locator:
    """Paths relative to the project root as paths relative to the workspace."""

    def __init__(self, root: Path, workspace: Path) -> None:
        self.root = posixpath.normpath(PurePath(root).as_posix())
        self.workspace = posixpath.normpath(PurePath(workspace).as_posix())

    def __call__(self, path: str) -> str:
        if not path:
            return ""
        full = posixpath.normpath(posixpath.join(self.root, PurePath(path).as_posix()))
        relative = posixpath.relpath(full, self.workspace)
        return "" if relative == ".." or relative.startswith("../") else relative


def _failed_tests(report: Report, where: _Locator) -> Iterable[Annotation]:
    for lane in report.lanes:
        for o in lane.failed:
            file = where(o.path)
            yield Annotation(
                "error",
                _first_line(o.message) or f"{o.outcome} (no message)",
                title=f"{o.outcome}: {o.nodeid}",
                file=file,
                line=o.line if file else 0,
            )


def _critical(report: Report, where: _Locator) -> Iterable[Annotation]:
    checks = report.verdict.of_kind("critical") if report.verdict is not None else ()
    for c in sorted((c for c in checks if not c.passed), key=lambda c: c.subject):
        floor = "100" if c.minimum is None else format_floor(c.minimum)
        yield _on_first_range(
            Annotation(
                "error",
                f"{c.subject}: {c.percent}% covered, floor {floor}%",
                title=f"critical file below {floor}%",
                file=where(c.subject),
            ),
            c.missing_lines,
            c.missing_branches,
        )


def _patch(report: Report, where: _Locator) -> Iterable[Annotation]:
    verdict = report.verdict
    if verdict is None or verdict.patch is None:
        return
    failed = any(not c.passed for c in verdict.of_kind("patch"))
    for f in verdict.patch.uncovered:
        missed = f.measure.total - f.measure.covered
        yield _on_first_range(
            Annotation(
                "error" if failed else "warning",
                f"{f.path}: {missed} of {f.measure.total} changed lines and branches not covered",
                title="changed lines not covered",
                file=where(f.path),
            ),
            f.uncovered,
            f.missing_branches,
        )


def _on_first_range(a: Annotation, lines: str, branches: str) -> Annotation:
    """`a` pinned to the first of the missing `lines` (else branches) and listing them all."""
    named = "; ".join(
        f"{what} {ranges}" for what, ranges in (("lines", lines), ("branches", branches)) if ranges
    )
    start, end = _first_range(lines, branches) if a.file else (0, 0)
    message = f"{a.message}; not run: {named}" if named else a.message
    return replace(a, message=message, line=start, end_line=end)


def _first_range(lines: str, branches: str) -> tuple[int, int]:
    """The first range of "12-14, 20" as (12, 14); else the source line of the first branch of
    "20->22, 31->exit"; (0, 0) when neither names one."""
    first = lines.split(",", 1)[0].strip()
    start, _, end = first.partition("-")
    if start.isdigit():
        return int(start), int(end) if end.isdigit() else int(start)
    source = branches.split(",", 1)[0].split("->", 1)[0].strip()
    return (int(source), int(source)) if source.isdigit() else (0, 0)


def _first_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), "")
