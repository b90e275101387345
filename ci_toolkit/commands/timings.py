"""`ci-toolkit timings merge|import|show`: look after the timing history that shards are planned from.

Only click and the standard library at module level: `ci-toolkit --help` imports this module.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.timing.history import Estimator, History

_FILE = click.Path(path_type=Path, dir_okay=False)
_PROJECT_OPTION = click.option(
    "--project",
    default=None,
    metavar="NAME",
    help="Project the histories must belong to (default: [project].name of the nearest pyproject.toml).",
)
DEFAULT_LIMIT = 20


@click.group("timings", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Merge, import and inspect the timing history that shards and xdist workers are balanced with."""


@group.command("merge")
@_PROJECT_OPTION
@click.argument("out", type=_FILE)
@click.argument("inputs", nargs=-1, required=True, type=_FILE)
def merge_command(project: str | None, out: Path, inputs: tuple[Path, ...]) -> None:
    """Combine the histories INPUTS (e.g. one per shard) into OUT.

    For each test the most recently seen entry wins. Unreadable inputs and other projects' histories
    are reported and skipped. OUT is overwritten, but only when it is this project's timing history;
    name it among INPUTS too to fold it in.
    """
    from ci_toolkit.cli import run_command

    run_command(merge, out=out, inputs=inputs, project=project)


@group.command("import")
@_PROJECT_OPTION
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory node ids are relative to (default: the nearest pyproject.toml's).",
)
@click.option("--lane", default="", metavar="NAME", help="Record the tests as run in this lane.")
@click.argument("out", type=_FILE)
@click.argument("files", nargs=-1, required=True, type=_FILE)
def import_command(
    project: str | None, root: Path | None, lane: str, out: Path, files: tuple[Path, ...]
) -> None:
    """Add the test times in FILES (JUnit XML, xunit1 or xunit2, or pytest-split durations) to OUT.

    FILES count as one run: OUT, if it exists, is updated as after a `ci-toolkit local` run (and must
    be this project's timing history). Skipped and errored tests are left out, as are times that are
    not a number of seconds.
    """
    from ci_toolkit.cli import run_command

    run_command(import_, out=out, files=files, root=root, lane=lane, project=project)


@group.command("show")
@click.option(
    "--config",
    "config_path",
    type=_FILE,
    default=None,
    help="pyproject.toml to read [tool.ci-toolkit] from (default: the nearest one upwards).",
)
@click.option(
    "--history",
    "history_path",
    type=_FILE,
    default=None,
    help="Timing history to show (default: the `timings` key of the configuration).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="How many of the slowest tests to list.",
)
@click.option(
    "--collect",
    is_flag=True,
    help="Collect the tests (pytest --collect-only) and show where each estimate comes from.",
)
def show_command(config_path: Path | None, history_path: Path | None, limit: int, collect: bool) -> None:
    """List the slowest tests and how the history covers the suite."""
    from ci_toolkit.cli import run_command

    run_command(show, config_path=config_path, history_path=history_path, limit=limit, collect=collect)


# -- the commands ---------------------------------------------------------------------------------------


def merge(*, out: Path, inputs: Sequence[Path], project: str | None) -> int:
    from ci_toolkit.errors import DataError
    from ci_toolkit.timing import history as timings

    readable: list[tuple[Path, History]] = []
    for path in inputs:
        try:
            readable.append((path, timings.read(path)))
        except FileNotFoundError:
            timings.warn(f"{path}: no such timing history; skipped")
        except DataError as exc:
            timings.warn(f"{exc}; skipped")
    expected = project or _nearest_project() or _most_common(h.project for _, h in readable)
    usable: list[History] = []
    for path, history in readable:
        if history.project == expected:
            usable.append(history)
        else:
            timings.warn(
                f"{path}: timing history is for project {history.project!r}, not {expected!r}; skipped"
            )
    if not usable:
        raise DataError(f"none of the {len(inputs)} input(s) is a usable timing history; {out} not written")
    timings.read_own(out, expected)  # only to refuse a file that is not this project's history
    merged = timings.merge(usable)
    _save(out, merged)
    click.echo(
        f"merged {len(usable)} timing histor{'y' if len(usable) == 1 else 'ies'} of {merged.project} into "
        f"{out}: {len(merged.tests)} tests, run {merged.run}"
    )
    return 0


def import_(*, out: Path, files: Sequence[Path], root: Path | None, lane: str, project: str | None) -> int:
    from ci_toolkit.errors import DataError
    from ci_toolkit.timing import history as timings

    config = _nearest_config()
    if root is None:
        root = config.root if config is not None else Path.cwd()
    name = project or timings.project_name(root)
    base = timings.read_own(out, name)  # before reading FILES: a refusal needs no import first
    observed: dict[str, timings.Observation] = {}
    for path in files:
        observed.update(timings.observations_from_file(path, root, lane))
    if not observed:
        raise DataError(
            f"no test times found in {', '.join(map(str, files))} (only skipped or errored tests?); "
            f"{out} not written"
        )
    alpha, prune_after = (config.timings_alpha, config.timings_prune_after) if config else (0.3, 10)
    history = timings.update(base, observed, alpha=alpha, prune_after=prune_after)
    _save(out, history)
    click.echo(
        f"imported {len(observed)} test times from {len(files)} file(s) into {out}: "
        f"{len(history.tests)} tests, run {history.run}"
    )
    return 0


def _save(out: Path, history: History) -> None:
    from ci_toolkit.errors import DataError
    from ci_toolkit.timing import history as timings

    try:
        timings.save(out, history)
    except OSError as exc:
        raise DataError(f"{out}: cannot write: {exc.strerror or exc}") from None


def show(*, config_path: Path | None, history_path: Path | None, limit: int, collect: bool) -> int:
    from ci_toolkit import config as config_mod
    from ci_toolkit.timing import history as timings

    config = config_mod.load(config_path) if config_path is not None or collect else _nearest_config()
    root = config.root if config is not None else Path.cwd()
    if history_path is None:
        history_path = root / (config.timings if config is not None else Path(".ci-toolkit/timings.json"))
    located = timings.locate(history_path, timings.project_name(root))
    history = located.history
    lanes: dict[str, str] = {}
    tests: list[str] = sorted(history.tests)
    if collect:
        from ci_toolkit.run import collect as collect_mod

        assert config is not None  # loaded above whenever collect is set
        assignment = collect_mod.collect(config)
        tests = list(assignment)
        lanes = {nodeid: names[0] for nodeid, names in assignment.items() if names}
    estimator = timings.Estimator(history, lanes)
    shown = located.target or history_path  # the file beside it, while history_path is not ours
    click.echo(render(shown, history, estimator, tests, limit=limit, collected=collect))
    return 0


def render(
    path: Path, history: History, estimate: Estimator, tests: Sequence[str], *, limit: int, collected: bool
) -> str:
    """The `show` report: a header, how each estimate was made (when collected), the slowest tests."""
    from ci_toolkit.timing.history import SOURCES

    if not history.tests:
        lines = [f"timing history {path}: none yet (`ci-toolkit local` records one)"]
    else:
        total = sum(t.duration for t in history.tests.values())
        lines = [
            f"timing history {path}: project {history.project}, {history.run} run(s), "
            f"{len(history.tests)} tests, {total:.1f} s in all"
        ]
    if collected:
        sources = collections.Counter(estimate.source(nodeid) for nodeid in tests)
        predicted = sum(estimate(nodeid).duration for nodeid in tests)
        counts = ", ".join(f"{sources[name]} {name}" for name in SOURCES if sources[name])
        lines.append(f"{len(tests)} collected tests, estimated {predicted:.1f} s: {counts or 'none'}")
    slowest = sorted(tests, key=lambda nodeid: (-estimate(nodeid).duration, nodeid))[:limit]
    if slowest:
        lines.append(f"slowest {len(slowest)}:")
        lines.append(
            f"{'seconds':>9} {'setup':>8} {'call':>8} {'teardown':>8} {'runs':>5} {'source':<9}  test"
        )
        for nodeid in slowest:
            t = estimate(nodeid)
            lines.append(
                f"{t.duration:9.3f} {t.setup:8.3f} {t.call:8.3f} {t.teardown:8.3f} {t.runs:5d} "
                f"{estimate.source(nodeid):<9}  {nodeid}"
            )
    return "\n".join(lines)


# -- helpers --------------------------------------------------------------------------------------------


def _nearest_config() -> Config | None:
    """The configuration when run inside a project; outside one the commands still work on plain files."""
    from ci_toolkit import config as config_mod

    found = config_mod.find_pyproject(Path.cwd())
    return config_mod.load(found) if found is not None else None


def _nearest_project() -> str | None:
    from ci_toolkit import config as config_mod
    from ci_toolkit.timing import history as timings

    found = config_mod.find_pyproject(Path.cwd())
    return timings.project_name(found.parent) if found is not None else None


def _most_common(projects: Iterable[str]) -> str:
    counts = collections.Counter(projects)
    # Ties go to the first seen: Counter keeps insertion order and max() the first maximum.
    return max(counts, key=lambda name: counts[name], default="")
