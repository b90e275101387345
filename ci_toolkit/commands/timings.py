"""`ci-toolkit timings merge|import|show`: look after the timing history that shards are planned from.

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_toolkit.commands import options
from ci_toolkit.commands.base import Group
from ci_toolkit.commands.common import load_config
from ci_toolkit.errors import ExitCode

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.timing import Estimator, History

DEFAULT_LIMIT = 20


@click.group("timings", cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Merge, import and inspect the timing history that shards and xdist workers are balanced with."""


@group.command("merge")
@options.project
@click.argument("out", type=options.FILE)
@click.argument("inputs", nargs=-1, required=True, type=options.FILE)
def merge(project: str | None, out: Path, inputs: tuple[Path, ...]) -> int:
    """Combine the histories INPUTS (e.g. one per shard) into OUT.

    For each test the most recently seen entry wins. Unreadable inputs and other projects' histories
    are reported and skipped. OUT is overwritten, but only when it is this project's timing history;
    name it among INPUTS too to fold it in.
    """
    from ci_toolkit import timing as timings
    from ci_toolkit.errors import DataError

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
    return ExitCode.OK


@group.command("import")
@options.project
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory node ids are relative to (default: the nearest pyproject.toml's).",
)
@click.option("--lane", default="", metavar="NAME", help="Record the tests as run in this lane.")
@click.argument("out", type=options.FILE)
@click.argument("files", nargs=-1, required=True, type=options.FILE)
def import_(project: str | None, root: Path | None, lane: str, out: Path, files: tuple[Path, ...]) -> int:
    """Add the test times in FILES (JUnit XML, xunit1 or xunit2, pytest-split durations, or the results
    file of `pytest --ci-toolkit-results`) to OUT.

    FILES count as one run: OUT, if it exists, is updated as after a `ci-toolkit local` run (and must
    be this project's timing history). Skipped and errored tests are left out, as are times that are
    not a number of seconds. A results file also gives its session's start-up, which shard planning
    learns the overhead of a shard from.
    """
    from ci_toolkit import timing as timings
    from ci_toolkit.errors import DataError

    config = _nearest_config()
    if root is None:
        root = config.root if config is not None else Path.cwd()
    name = project or timings.project_name(root)
    base = timings.read_own(out, name)  # before reading FILES: a refusal needs no import first
    observed: dict[str, timings.Observation] = {}
    sessions: list[tuple[str, timings.SessionCost]] = []
    for path in files:
        if _is_results(path):
            from ci_toolkit.run.exchange import results as results_file

            results = results_file.read(path)
            observed.update(timings.observations_from_results(results.tests, lane))
            cost = timings.session_cost(results.session, results.tests)
            sessions.extend([(timings.UNKNOWN, cost)] if cost is not None else [])
        else:
            observed.update(timings.observations_from_file(path, root, lane))
    if not observed:
        raise DataError(
            f"no test times found in {', '.join(map(str, files))} (only skipped or errored tests?); "
            f"{out} not written"
        )
    from ci_toolkit import config as config_mod

    # Outside a project, the defaults a project's configuration starts from.
    settings = config if config is not None else config_mod.Config
    history = timings.update(
        base,
        observed,
        alpha=settings.timings_alpha,
        prune_after=settings.timings_prune_after,
        sessions=sessions,
    )
    _save(out, history)
    click.echo(
        f"imported {len(observed)} test times from {len(files)} file(s) into {out}: "
        f"{len(history.tests)} tests, run {history.run}"
    )
    return ExitCode.OK


@group.command("show")
@options.config_file
@click.option(
    "--history",
    "history_path",
    type=options.FILE,
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
def show(config_path: Path | None, history_path: Path | None, limit: int, collect: bool) -> int:
    """List the slowest tests and how the history covers the suite."""
    from ci_toolkit import timing as timings

    config = load_config(config_path) if config_path is not None or collect else _nearest_config()
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
    return ExitCode.OK


def render(
    path: Path, history: History, estimate: Estimator, tests: Sequence[str], *, limit: int, collected: bool
) -> str:
    """The `show` report: a header, the modes the durations were measured in, how each estimate was made
    (when collected), the slowest tests."""
    from ci_toolkit.timing import LABELS, SOURCES, describe, entries

    if not history.tests:
        lines = [f"timing history {path}: none yet (`ci-toolkit local` records one)"]
    else:
        total = sum(t.duration for t in history.tests.values())
        lines = [
            f"timing history {path}: project {history.project}, {history.run} run(s), "
            f"{len(history.tests)} tests, {total:.1f} s in all"
        ]
        held = collections.Counter(mode for _, mode in entries(history))
        modes = ", ".join(f"{held[mode]} {describe(mode)}" for mode in sorted(held))
        lines.append(f"tests measured per mode: {modes}")
    if history.sessions:
        paid = ", ".join(
            f"{describe(mode)}: start-up {t.startup:.1f} s + session fixtures {t.setup:.1f} s"
            for mode, t in sorted(history.sessions.items())
        )
        lines.append(f"a session pays besides its tests ({paid})")
    if collected:
        sources = collections.Counter(estimate.source(nodeid) for nodeid in tests)
        predicted = sum(estimate(nodeid).duration for nodeid in tests)
        counts = ", ".join(f"{sources[name]} {LABELS.get(name, name)}" for name in SOURCES if sources[name])
        lines.append(f"{len(tests)} collected tests, estimated {predicted:.1f} s: {counts or 'none'}")
    slowest = sorted(tests, key=lambda nodeid: (-estimate(nodeid).duration, nodeid))[:limit]
    if slowest:
        lines.append(f"slowest {len(slowest)}:")
        lines.append(
            f"{'seconds':>9} {'setup':>8} {'call':>8} {'teardown':>8} {'runs':>5} {'source':<11}  test"
        )
        for nodeid in slowest:
            t = estimate(nodeid)
            lines.append(
                f"{t.duration:9.3f} {t.setup:8.3f} {t.call:8.3f} {t.teardown:8.3f} {t.runs:5d} "
                f"{estimate.source(nodeid):<11}  {nodeid}"
            )
    return "\n".join(lines)


# -- helpers --------------------------------------------------------------------------------------------


def _save(out: Path, history: History) -> None:
    from ci_toolkit import timing as timings
    from ci_toolkit.errors import DataError

    try:
        timings.save(out, history)
    except OSError as exc:
        raise DataError(f"{out}: cannot write: {exc.strerror or exc}") from None


def _is_results(path: Path) -> bool:
    """Whether `path` is a results file of our pytest plugin (read as such, it says what is wrong with it)."""
    from ci_toolkit.files import outputs
    from ci_toolkit.timing.reading import Unusable, read_bytes

    try:
        data = read_bytes(path, "")
    except (FileNotFoundError, Unusable):
        return False  # the reader of the other formats says why
    return data.startswith(b"{") and outputs.json_with("version", "tests", "counts", "session")(data)


def _nearest_config() -> Config | None:
    """The configuration when run inside a project; outside one the commands still work on plain files."""
    from ci_toolkit import config as config_mod

    found = config_mod.find_pyproject(Path.cwd())
    return config_mod.load(found) if found is not None else None


def _nearest_project() -> str | None:
    from ci_toolkit import config as config_mod
    from ci_toolkit import timing as timings

    found = config_mod.find_pyproject(Path.cwd())
    return timings.project_name(found.parent) if found is not None else None


def _most_common(projects: Iterable[str]) -> str:
    counts = collections.Counter(projects)
    # Ties go to the first seen: Counter keeps insertion order and max() the first maximum.
    return max(counts, key=lambda name: counts[name], default="")
