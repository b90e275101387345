"""--ci-toolkit-collect / --ci-toolkit-lanes / --ci-toolkit-verdict: the lanes check's side in pytest.

For every collected item, each lane's marker expression is evaluated the way `pytest -m` does, and the
assignment written (ci_toolkit.run.exchange.collected); then, with a verdict path, no test runs before
ci-toolkit has checked it (ci_toolkit.run.exchange.verdict). That is how the first lane of
`ci-toolkit local` doubles as the collection run. Under xdist the workers collect, each all of it: gw0
alone writes, every worker waits.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.pytest_plugin.groups import xdist_group
from ci_toolkit.run.exchange import collected as collected_file
from ci_toolkit.run.exchange import lanes as lanes_file
from ci_toolkit.run.exchange import verdict as verdict_file

COLLECT_PLUGIN = "ci_toolkit-collect"


def register(config: pytest.Config, base: Path, *, write: bool) -> None:
    """The collector, when its options are given; `write`: this process writes the assignment."""
    collect = config.getoption("ci_toolkit_collect")
    lanes = config.getoption("ci_toolkit_lanes")
    verdict = config.getoption("ci_toolkit_verdict")
    if bool(collect) != bool(lanes):
        raise pytest.UsageError(f"{collected_file.OPTION} and {lanes_file.OPTION} must be given together")
    if collect or verdict:
        writes = bool(collect) and write
        collector = LaneCollector(
            base / collect if writes else None,
            read_lanes(base / lanes) if writes else {},
            verdict=base / verdict if verdict else None,
            run_id=config.getoption("ci_toolkit_run"),
        )
        config.pluginmanager.register(collector, COLLECT_PLUGIN)


class LaneCollector:
    """Records, for every collected item, the lanes whose marker expression selects it.

    With a `verdict` path (the first lane of a `ci-toolkit local` run, which spares a collection run of
    its own), it then waits for ci-toolkit to check that assignment: ci-toolkit writes its go-ahead to the
    verdict path, or stops this pytest when the lanes are wrong, so no test runs before the check.
    Without a `path` it only waits: an xdist worker other than gw0, or a lane started while the first
    one's collection is being checked."""

    def __init__(
        self,
        path: Path | None,
        lanes: dict[str, str | None],
        *,
        verdict: Path | None = None,
        run_id: str = "",
    ) -> None:
        self.path = path
        self.verdict = verdict
        self.run_id = run_id
        self.lanes = [
            (name, None if expr is None else compile_expression(name, expr)) for name, expr in lanes.items()
        ]

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None, None, None]:
        # As a wrapper we see the items before anything (`-m`, `-k`, other plugins) deselects them,
        # and evaluate after every plugin and conftest had the chance to add markers.
        collected = list(items)
        result = yield
        known = {id(item) for item in collected}
        collected.extend(item for item in items if id(item) not in known)
        if self.path is not None:
            tests = {item.nodeid: self.select(item) for item in collected}
            groups = {item.nodeid: name for item in collected if (name := xdist_group(item))}
            collected_file.write(self.path, self.run_id, tests, groups)
        if self.verdict is not None:
            wait_for_verdict(self.verdict, self.run_id)
        return result

    def select(self, item: pytest.Item) -> list[str]:
        from ci_toolkit.config import markers

        matcher = markers.matcher(item)
        return [name for name, expr in self.lanes if expr is None or expr.evaluate(matcher)]


def wait_for_verdict(path: Path, run_id: str = "", timeout: float = verdict_file.TIMEOUT) -> None:
    """Return once run `run_id` may go on; otherwise stop this pytest."""
    try:
        ours = verdict_file.wait(path, run_id, timeout)
    except TimeoutError as exc:
        raise pytest.UsageError(str(exc)) from None
    except DataError as exc:
        pytest.exit(f"ci-toolkit: {exc}", returncode=pytest.ExitCode.INTERRUPTED)
    if not ours:  # the go of another run in the same output dir: never ours to take
        pytest.exit(
            "ci-toolkit: another ci-toolkit run took over this output dir; stopping",
            returncode=pytest.ExitCode.INTERRUPTED,
        )


def read_lanes(path: Path) -> dict[str, str | None]:
    try:
        return lanes_file.read(path)
    except DataError as exc:
        raise pytest.UsageError(f"{lanes_file.OPTION}: {exc}") from None


def compile_expression(lane: str, text: str) -> Any:
    """pytest's own `-m` parser (ci_toolkit.config.markers), so a lane selects exactly what `pytest -m TEXT`
    would."""
    from ci_toolkit.config import markers

    try:
        return markers.compile_expression(text)
    except ValueError as exc:
        raise pytest.UsageError(f"lane {lane}: invalid marker expression {text!r}: {exc}") from None
