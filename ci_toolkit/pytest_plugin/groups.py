"""xdist groups, and the duration scheduler's plumbing (the scheduler itself: scheduler.py).

xdist's controller receives node ids only, and xdist_group marks are not part of them: under
`--ci-scheduler duration` each worker writes its collection's groups to a sidecar directory the
controller named (ci_toolkit.run.exchange.sidecar), for the scheduler to keep every group on one worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.run.exchange import sidecar

SCHEDULER_PLUGIN = "ci_toolkit-scheduler"
GROUPS_PLUGIN = "ci_toolkit-groups"


def xdist_group(item: pytest.Item) -> str:
    """The item's xdist_group name ("" for none), several joined the way xdist's loadgroup does."""
    names = set()
    for mark in item.iter_markers("xdist_group"):
        name = mark.args[0] if mark.args else mark.kwargs.get("name")
        if name is not None:
            names.add(str(name))
    return "_".join(sorted(names))


def register(config: pytest.Config, base: Path) -> None:
    """In xdist's controller, with --ci-scheduler duration (inert without -n: only the controller calls
    the plugin's hooks). Under ci-toolkit its scratch files go to the output dir, which every run clears:
    a killed run's are gone with the next, where a system temp dir would keep them."""
    timings = config.getoption("ci_timings")
    scratch = config.getoption("ci_toolkit_scratch")
    plugin = SchedulerPlugin(
        base / timings if timings else None, config.rootpath, base / scratch if scratch else None
    )
    config.pluginmanager.register(plugin, SCHEDULER_PLUGIN)


def register_worker(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    """In an xdist worker whose controller asked for its groups."""
    if workerinput.get(sidecar.KEY):
        config.pluginmanager.register(GroupReporter(Path(workerinput[sidecar.KEY])), GROUPS_PLUGIN)


class SchedulerPlugin:
    """In the xdist controller: makes the scheduler and tells each worker where to write its groups."""

    def __init__(self, timings: Path | None, root: Path, scratch: Path | None = None) -> None:
        self.timings, self.root, self.scratch = timings, root, scratch
        self.sidecar: Path | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.sidecar is None:
            if self.scratch is not None:
                self.scratch.mkdir(parents=True, exist_ok=True)
                self.sidecar = self.scratch
            else:
                import tempfile

                self.sidecar = Path(tempfile.mkdtemp(prefix="ci-toolkit-xdist-"))
        node.workerinput[sidecar.KEY] = str(self.sidecar)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from ci_toolkit.pytest_plugin.history import estimator
        from ci_toolkit.pytest_plugin.scheduler import DurationScheduling

        estimate = estimator(self.timings, self.root, config.inipath)
        return DurationScheduling(config, log, estimate=estimate, sidecar=self.sidecar)

    def pytest_unconfigure(self) -> None:
        if self.sidecar is not None:
            import shutil

            shutil.rmtree(self.sidecar, ignore_errors=True)


class GroupReporter:
    """In an xdist worker: writes {nodeid: xdist_group} of the collected tests for the scheduler."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @pytest.hookimpl(tryfirst=True)  # before xdist's own hook tells the controller collection is done
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from ci_toolkit.pytest_plugin.session_lanes import group_of

        # A serial lane's group in a shared session comes first: its tests must all go to one worker.
        groups = {
            item.nodeid: name
            for item in session.items
            if (name := group_of(session.config, item) or xdist_group(item))
        }
        worker = session.config.workerinput["workerid"]  # type: ignore[attr-defined]
        sidecar.write(self.directory, worker, groups)
