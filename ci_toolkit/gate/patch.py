"""Patch coverage: the lines a change touched (git diff against a base), and how many of them ran.

Three parts: `parse_diff` turns `git diff -U0` text into the changed lines per file (pure); `changed_lines`
asks git for that diff against the merge base of a ref (the I/O edge); `measure` intersects the changed
lines with what coverage.py measured (pure). Changed lines coverage.py does not measure (comments, blank
lines, excluded code) are not counted; branches leaving a changed line count when branch coverage is on.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.verdict import format_arcs, format_ranges


@dataclass(frozen=True)
class PatchFile:
    path: str
    measure: Measure  # the changed measured lines (and branches) of this file
    uncovered: str  # the changed lines that did not run, as ranges: "41-44, 57"
    missing_branches: str = ""  # branches from changed lines that never ran: "41->43, 57->exit"

    @property
    def summary(self) -> str:
        """What a report lists: "app/pay.py 41-44, 57"."""
        return f"{self.path} {self.uncovered}" if self.uncovered else self.path


@dataclass(frozen=True)
class Patch:
    base: str  # the ref the change is measured against, as given (--base)
    measure: Measure  # every file's changed measured lines together
    files: tuple[PatchFile, ...]  # the files with changed measured lines, sorted by path

    @property
    def uncovered(self) -> tuple[PatchFile, ...]:
        return tuple(f for f in self.files if f.measure.covered < f.measure.total)


# ---- the diff text (pure) ----

_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote(name: str) -> str:
    """A path as git prints it: C-quoted ("\\"a\\\\tb\\"", octal bytes for non-ASCII) when it has to be."""
    if not (len(name) >= 2 and name.startswith('"') and name.endswith('"')):
        return name
    out = bytearray()
    body, i = name[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 == len(body):
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
        elif body[i + 1] in _ESCAPES:
            out.append(_ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
    return out.decode("utf-8", "surrogateescape")


def _new_path(header: str) -> str | None:
    """The file a `+++ ` line names (without the b/ prefix), or None for a deleted file."""
    name = header[4:]
    if name.endswith("\t"):  # git ends a name that has a space in it with a tab
        name = name[:-1]
    name = unquote(name)
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith("b/") else name


def parse_diff(lines: Iterable[str]) -> dict[str, set[int]]:
    """The new-side line numbers each file's hunks add, from unified diff text (any context size).

    Deleted files (`+++ /dev/null`), binary files and pure renames have no added lines and do not appear;
    a renamed file with edits appears under its new name. Counting each hunk's lines, rather than looking
    for headers, keeps an added line that reads "++ x" from passing for a file header.
    """
    changed: dict[str, set[int]] = {}
    current: set[int] | None = None
    old_left = new_left = number = 0
    for raw in lines:
        line = raw.rstrip("\n")
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag == "+":
                if current is not None:
                    current.add(number)
                number += 1
                new_left -= 1
            elif tag == "-":
                old_left -= 1
            elif tag == " ":
                number += 1
                new_left -= 1
                old_left -= 1
            # "\ No newline at end of file" counts on neither side
            continue
        if line.startswith("+++ "):
            path = _new_path(line)
            current = None if path is None else changed.setdefault(path, set())
        elif line.startswith("diff "):
            current = None
        elif line.startswith("@@ "):
            match = _HUNK.match(line)
            if match is not None:
                old, start, new = match.groups()
                old_left = 1 if old is None else int(old)
                new_left = 1 if new is None else int(new)
                number = int(start)
    return {path: lines_ for path, lines_ in changed.items() if lines_}


# ---- git (the I/O edge) ----

_SHALLOW = (
    "the clone is shallow and does not reach the merge base of {ref} and HEAD; fetch the history "
    "(actions/checkout: `fetch-depth: 0`, or `git fetch --deepen=100 origin {ref}`)"
)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-c", "core.quotePath=false", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise DataError(f"--base: could not run git ({exc})") from None


@dataclass(frozen=True)
class Base:
    ref: str  # as the user gave it (--base)
    commit: str  # the merge base of ref and HEAD: where the change started


def merge_base(root: Path, ref: str) -> Base:
    """The commit the change started from: the merge base of *ref* and HEAD, or one line saying why not.
    Asked before anything runs, so a typo costs no test run."""
    if not ref or ref.startswith("-"):
        raise DataError(f"--base {ref!r}: not a git ref")
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise DataError(f"--base {ref}: {root} is not in a git working tree")
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise DataError(
            f"--base {ref}: no such commit or branch here; check the name, or fetch it "
            f"(git fetch origin {ref})"
        )
    found = _git(root, "merge-base", ref, "HEAD")
    if found.returncode == 0 and found.stdout.strip():
        return Base(ref, found.stdout.strip())
    shallow = _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if shallow:
        raise DataError(f"--base {ref}: " + _SHALLOW.format(ref=ref))
    tail = found.stderr.strip().splitlines()
    why = f" ({tail[-1]})" if tail else ""
    raise DataError(f"--base {ref}: {ref} and HEAD share no history{why}")


def changed_lines(root: Path, base: Base) -> dict[str, set[int]]:
    """The lines changed between *base* (`merge_base`) and the working tree, per file, with paths
    relative to *root* (files outside it are left out). Untracked files are not part of git's diff, so
    not of the patch (`git add -N FILE` makes one count)."""
    ref = base.ref
    args = [
        "git", "-c", "core.quotePath=false", "diff", "-U0", "-M", "--relative", "--no-color",
        "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", base.commit, "--",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE, stderr=err_file)
        except OSError as exc:
            raise DataError(f"--base {ref}: could not run git ({exc})") from None
        with proc:
            assert proc.stdout is not None
            # Bytes split on "\n" only: a file with a lone "\r" in it must not gain a line.
            changed = parse_diff(line.decode("utf-8", "surrogateescape") for line in proc.stdout)
        err_file.seek(0)
        err = err_file.read().decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        last = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
        raise DataError(f"--base {ref}: git diff failed: {last}")
    return changed


# ---- the measure (pure) ----


def _file(f: FileCoverage, changed: set[int]) -> PatchFile | None:
    executed = set(f.executed_lines)
    lines = changed & (executed | set(f.missing_lines))
    ran = lines & executed
    taken = [arc for arc in f.executed_branches if arc[0] in lines]
    missed = [arc for arc in f.missing_branches if arc[0] in lines]
    total = len(lines) + len(taken) + len(missed)
    if total == 0:
        return None
    return PatchFile(
        path=f.path,
        measure=Measure(len(ran) + len(taken), total),
        uncovered=format_ranges(lines - ran),
        missing_branches=format_arcs(missed),
    )


def measure(base: str, changed: Mapping[str, set[int]], report: CoverageReport) -> Patch:
    """Patch coverage of *changed* (`changed_lines`) against what *report* measured."""
    files = [pf for f in report.files if f.path in changed and (pf := _file(f, changed[f.path])) is not None]
    return Patch(base=base, measure=Measure.sum(pf.measure for pf in files), files=tuple(files))
