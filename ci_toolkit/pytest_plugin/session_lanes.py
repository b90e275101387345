"""--ci-toolkit-session-lanes=FILE [--ci-toolkit-serial-lane=NAME ...]: a session several lanes share.

In each xdist worker (and in a session without xdist), every test is matched to its lane the way
`pytest -m` matches (the lanes file holds their expressions). Two things follow from it:

- coverage: the measurement switches to a dynamic context named for the test's lane, so each lane's
  coverage stays apart in the one data file (`coverage report --contexts=LANE`). Not when the project
  asked for contexts of its own (pytest-cov's --cov-context, coverage's dynamic_context): those win.
- a serial lane (no xdist of its own): its tests form one group for the duration scheduler, which sends a
  group to one worker, so they run one after another as in a process of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.pytest_plugin.collector import compile_expression
from ci_toolkit.run.exchange import lanes as lanes_file

PLUGIN = "ci_toolkit-session-lanes"
GROUP_PREFIX = "ci-toolkit-lane:"  # an xdist_group name no project would pick


def add_options(group: Any) -> None:
    group.addoption(
        lanes_file.SESSION_OPTION,
        metavar="FILE",
        default=None,
        help="ci-toolkit: the lanes sharing this session (a lanes file), for their coverage contexts.",
    )
    group.addoption(
        lanes_file.SERIAL_OPTION,
        metavar="NAME",
        action="append",
        default=[],
        help="ci-toolkit: keep this lane's tests on one xdist worker, one after another.",
    )


def register(config: pytest.Config, base: Path) -> None:
    path = config.getoption("ci_toolkit_session_lanes")
    if not path:
        return
    try:
        lanes = lanes_file.read(base / path)
    except DataError as exc:
        raise pytest.UsageError(f"{lanes_file.SESSION_OPTION}: {exc}") from None
    serial = config.getoption("ci_toolkit_serial_lane") or []
    config.pluginmanager.register(SessionLanes(config, lanes, serial), PLUGIN)


def group_of(config: pytest.Config, item: pytest.Item) -> str | None:
    """The scheduler group the session puts `item` in (a serial lane's), or None."""
    plugin = config.pluginmanager.get_plugin(PLUGIN)
    return None if plugin is None else plugin.group(item)


class SessionLanes:
    def __init__(self, config: pytest.Config, lanes: dict[str, str | None], serial: list[str]) -> None:
        self.config = config
        self.lanes = [
            (name, None if expr is None else compile_expression(name, expr)) for name, expr in lanes.items()
        ]
        self.serial = set(serial)
        self.lane_of: dict[str, str] = {}
        self.context: str | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from ci_toolkit.config import markers

        for item in items:
            matcher = markers.matcher(item)
            for name, expr in self.lanes:
                if expr is None or expr.evaluate(matcher):
                    self.lane_of[item.nodeid] = name
                    break

    def group(self, item: pytest.Item) -> str | None:
        lane = self.lane_of.get(item.nodeid)
        return GROUP_PREFIX + lane if lane in self.serial else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        lane = self.lane_of.get(item.nodeid)
        if lane is None or lane == self.context:
            return
        cov = _coverage(self.config)
        if cov is not None:
            cov.switch_context(lane)
        self.context = lane


def _coverage(config: pytest.Config) -> Any:
    """The Coverage object pytest-cov measures this process with; None when there is none, or when the
    project switches contexts itself."""
    if getattr(config.option, "cov_context", None):
        return None
    controller = getattr(config.pluginmanager.get_plugin("_cov"), "cov_controller", None)
    cov = getattr(controller, "cov", None)
    if cov is None or getattr(getattr(cov, "config", None), "dynamic_context", None):
        return None
    return cov
