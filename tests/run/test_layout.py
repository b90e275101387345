"""The output dir's layout: every artefact a run writes is one the clean-up clears, and the timing history
is never one of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ci_toolkit import config
from ci_toolkit.errors import ConfigError
from ci_toolkit.run import layout
from ci_toolkit.run.layout import RunPaths


def artefacts(paths: RunPaths) -> set[str]:
    """The top-level names of every path RunPaths gives in the output dir."""
    found: set[Path] = set()
    for name, member in vars(RunPaths).items():
        if isinstance(member, property):
            found.add(getattr(paths, name))
        elif name.endswith("_file") and callable(member):  # junit_file("lane") and its kind
            found.add(getattr(paths, name)("lane"))
    return {path.relative_to(paths.output_dir).parts[0] for path in found}


def test_every_artefact_of_a_run_is_cleared_before_the_next(tmp_path: Path) -> None:
    """Drift: a new file in RunPaths that the clean-up did not know would pass for the next run's."""
    found = artefacts(RunPaths(tmp_path))
    assert found and found <= set(layout.CLEARED), found - set(layout.CLEARED)


@pytest.mark.parametrize("name", layout.CLEARED)
def test_timings_may_lie_in_nothing_a_run_clears(tmp_path: Path, name: str) -> None:
    """Drift: `timings = ".ci-toolkit/run.json"` would be deleted by the next run."""
    for value in (f".ci-toolkit/{name}", f".ci-toolkit/{name}/timings.json"):
        with pytest.raises(ConfigError, match=r"tool\.ci-toolkit\.timings: expected"):
            config.parse(
                {"tool": {"ci-toolkit": {"timings": value}}}, tmp_path / "pyproject.toml", cwd=tmp_path
            )


@pytest.mark.parametrize("timings", [None, ".ci-toolkit/history.json", "history/timings.json"])
def test_a_run_never_deletes_the_history(tmp_path: Path, timings: str | None) -> None:
    table = {} if timings is None else {"timings": timings}
    loaded = config.parse({"tool": {"ci-toolkit": table}}, tmp_path / "pyproject.toml", cwd=tmp_path)
    history = layout.timings_path(loaded)
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_text("{}")
    paths = RunPaths.for_config(loaded)
    paths.prepare(loaded)  # the first run makes the directory
    for name in layout.CLEARED_FILES:
        (paths.output_dir / name).write_text("stale")
    paths.prepare(loaded)
    assert history.read_text() == "{}"
    assert not any((paths.output_dir / name).exists() for name in layout.CLEARED_FILES)


def test_paths_follow_the_configured_output_dir(tmp_path: Path) -> None:
    loaded = dataclasses.replace(
        config.parse({}, tmp_path / "pyproject.toml", cwd=tmp_path), output_dir=Path("b/c")
    )
    paths = RunPaths.for_config(loaded)
    assert paths.output_dir == tmp_path / "b" / "c"
    assert paths.results_file("a.slow") == tmp_path / "b/c/results/a.slow.json"
    assert paths.lane_coverage_file("a.slow") == tmp_path / "b/c/coverage/a.slow/.coverage"


def test_prepare_removes_only_our_previous_artefacts(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / ".ci-toolkit")
    paths.prepare()  # made (and marked) by ci-toolkit: a directory it did not make is never cleared
    # services/state.json is how the next run finds a killed run's services: never ours to clear here.
    kept = ("summary.json", "services/state.json")
    stale_files = ("junit/a.xml", "results/a.json", "coverage/a/.coverage", "logs/a.log", ".coverage")
    for stale in (*stale_files, *kept):
        (paths.output_dir / stale).parent.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / stale).write_text("stale")
    paths.prepare()
    left = sorted(str(p.relative_to(paths.output_dir)) for p in paths.output_dir.rglob("*"))
    assert left == [
        ".ci-toolkit-output",
        ".gitignore",
        "coverage",
        "junit",
        "results",
        "services",
        "services/state.json",
        "summary.json",
    ]
