"""`ci-toolkit init`: write a commented [tool.ci-toolkit] into pyproject.toml, made from what the project
already declares, and copy the GitHub workflow into .github/workflows/.

Both targets are checked before either is written, so a refusal leaves everything as it was. The logic is
in ci_toolkit.scaffold; this module reads, decides what to write, and writes.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Command


@dataclass(frozen=True)
class Write:
    path: Path
    shown: str  # the path as the user sees it
    what: str
    data: bytes
    how: str  # "created", "appended", "replaced lines ...", "replaced", "unchanged"
    preview: str  # what --dry-run prints: the part of `data` that is ours


@click.command("init", cls=Command)
@click.option(
    "--force", is_flag=True, default=False, help="Replace an existing [tool.ci-toolkit] and workflow."
)
@click.option("--dry-run", is_flag=True, default=False, help="Print what would be written; write nothing.")
@click.option("--no-workflow", is_flag=True, default=False, help="Do not write .github/workflows/ci.yml.")
@options.config_file
def command(force: bool, dry_run: bool, no_workflow: bool, config_path: Path | None) -> int:
    """Write a starting [tool.ci-toolkit] and a GitHub workflow for this project.

    \b
    The table is made from what the project declares: its packages, its pytest
    markers (a lane each for serial and integration-like ones, a default lane
    for the rest) and its coverage floor. It goes into --config's file, else the
    nearest pyproject.toml upwards, else a new one here; every other byte of the
    file stays as it was.
    """
    writes = plan(config_path, force=force, workflow=not no_workflow)
    for write in writes:
        if dry_run:
            click.echo(f"# {write.shown}: {write.what} would be {write.how}")
            click.echo(write.preview, nl=False)
            continue
        if write.how != "unchanged":
            _write(write)
        click.echo(f"ci-toolkit: {write.shown}: {write.what} {write.how}")
    if not dry_run:
        click.echo(
            "ci-toolkit: next, run `ci-toolkit local`: it checks that every test runs in exactly one lane"
        )
    return 0


def plan(config_path: Path | None, *, force: bool, workflow: bool, cwd: Path | None = None) -> list[Write]:
    """What init writes, every target checked first; CiToolkitError (one line) on the first refusal."""
    from ci_toolkit.config import display_path, find_pyproject, parse
    from ci_toolkit.scaffold import detect, place, render, template

    cwd = (cwd or Path.cwd()).absolute()
    if config_path is not None:
        target = config_path if config_path.is_absolute() else cwd / config_path
    else:
        target = find_pyproject(cwd) or cwd / "pyproject.toml"
    label = display_path(target, cwd)
    original = _read(target, label)
    document = {} if original is None else place.parse(place.decode(original, label), label)
    table = render.render(detect.detect(target.parent, document))
    placed = place.place(original, table, force=force, label=label)
    # What we write must load: a detected value ci-toolkit refuses is said now, with nothing written.
    parse(place.parse(place.decode(placed.data, label), label), target, cwd=cwd)
    writes = [Write(target, label, "[tool.ci-toolkit]", placed.data, placed.how, table)]
    if workflow:
        data = template.workflow()
        path = target.parent.joinpath(*template.TARGET)
        shown = display_path(path, cwd)
        existing = _read(path, shown)
        if existing is not None and existing != data and not force:
            raise _refused(shown, "exists and is not ci-toolkit's workflow; pass --force to replace it")
        how = "created" if existing is None else "unchanged" if existing == data else "replaced"
        writes.append(Write(path, shown, "workflow", data, how, data.decode("utf-8")))
    return writes


def _read(path: Path, shown: str) -> bytes | None:
    """The bytes of the regular file `path` (through symlinks); None when there is none."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise _refused(shown, "is a symlink to nothing; fix or remove it") from None
        return None
    except OSError as exc:
        raise _refused(shown, f"cannot read it: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise _refused(shown, "is not a regular file; it is left as it is")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _refused(shown, f"cannot read it: {exc.strerror or exc}") from None


def _write(write: Write) -> None:
    from ci_toolkit.files import atomic

    try:
        atomic.write_bytes(write.path, write.data)
    except OSError as exc:
        raise _refused(write.shown, f"cannot write it: {exc.strerror or exc}") from None


def _refused(shown: str, why: str) -> Exception:
    from ci_toolkit.errors import ConfigError

    return ConfigError(f"{shown}: {why}")
