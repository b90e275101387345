"""ci-toolkit's pytest plugin, loaded into every pytest session through the `pytest11` entry point.

Because it lands in the sessions of everyone who installs ci-toolkit, it only adds its options unless
one is given: no hook of ours runs and nothing heavier than pytest itself is imported. Each feature is a
small object registered in pytest_configure when its option is present.

--ci-toolkit-results=PATH
    Record every test's outcome and phase durations and write {"version": 1, "tests": [...]} (see
    ci_toolkit.results) at session end. Only the xdist controller records: workers' reports reach it.
--ci-toolkit-collect=PATH --ci-toolkit-lanes=JSON_FILE
    For every collected item, evaluate each lane's marker expression the way `pytest -m` does, and
    write {"version": 1, "tests": {nodeid: [lane, ...]}}. Lanes come as {"name": expression or null}.

CI_TOOLKIT_WORKER_ENV (environment, not an option)
    {"VAR": {"gw0": value, "gw1": value, ...}}, set by `ci-toolkit local` for a lane whose services have
    a database per worker. In an xdist worker (PYTEST_XDIST_WORKER, which xdist sets before pytest
    starts there), os.environ[VAR] becomes that worker's value before any conftest.py is imported.
    Nothing happens when either variable is absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

RESULTS_PLUGIN = "ci_toolkit-results"
COLLECT_PLUGIN = "ci_toolkit-collect"
COLLECT_VERSION = 1
_MESSAGE_LIMIT = 300

# Which phase outcome wins when one test reports several (e.g. a failed call and a failing teardown).
_SEVERITY = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "error": 3, "failed": 4}


WORKER_ENV = "CI_TOOLKIT_WORKER_ENV"  # the name ci_toolkit.services.env writes


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # The earliest hook that runs before conftest.py files are imported, in workers as in the controller.
    apply_worker_env(os.environ)


def apply_worker_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Point this xdist worker's variables at its own resources; returns what was set."""
    worker = environ.get("PYTEST_XDIST_WORKER")
    raw = environ.get(WORKER_ENV)
    if not worker or not raw:
        return {}
    try:
        table = json.loads(raw)
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise ValueError("expected {VAR: {worker: value}}")
    except ValueError as exc:
        raise pytest.UsageError(f"{WORKER_ENV}: not the table ci-toolkit writes: {exc}") from None
    applied: dict[str, str] = {}
    for var, values in table.items():
        if worker not in values:
            # Falling back to the shared value would let workers see each other's data: refuse.
            raise pytest.UsageError(
                f"{WORKER_ENV}: no {var} for xdist worker {worker} (prepared for {', '.join(values)}); "
                "was -n changed after ci-toolkit planned the lane? Set the lane's workers instead"
            )
        applied[var] = environ[var] = str(values[worker])
    return applied


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci-toolkit")
    group.addoption(
        "--ci-toolkit-results",
        metavar="PATH",
        default=None,
        help="ci-toolkit: write every test's outcome and durations to PATH as JSON.",
    )
    group.addoption(
        "--ci-toolkit-collect",
        metavar="PATH",
        default=None,
        help="ci-toolkit: write which lanes select each collected test to PATH (needs --ci-toolkit-lanes).",
    )
    group.addoption(
        "--ci-toolkit-lanes",
        metavar="JSON_FILE",
        default=None,
        help='ci-toolkit: lanes for --ci-toolkit-collect, as {"lane": "marker expression" or null}.',
    )


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller sees every report and does the recording
    base = config.invocation_params.dir
    results = config.getoption("ci_toolkit_results")
    if results:
        config.pluginmanager.register(ResultsRecorder(base / results), RESULTS_PLUGIN)
    collect = config.getoption("ci_toolkit_collect")
    lanes = config.getoption("ci_toolkit_lanes")
    if bool(collect) != bool(lanes):
        raise pytest.UsageError("--ci-toolkit-collect and --ci-toolkit-lanes must be given together")
    if collect:
        config.pluginmanager.register(LaneCollector(base / collect, read_lanes(base / lanes)), COLLECT_PLUGIN)


class ResultsRecorder:
    """Keeps one entry per test, built from its setup/call/teardown reports."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.outcome == "rerun":  # pytest-rerunfailures: only the final attempt counts
            self.tests.pop(report.nodeid, None)
            return
        entry = self.tests.setdefault(
            report.nodeid,
            {"outcome": "passed", "setup": 0.0, "call": 0.0, "teardown": 0.0, "message": ""},
        )
        entry[report.when] = round(float(report.duration), 6)
        outcome = _phase_outcome(report)
        if outcome is not None and _SEVERITY[outcome] > _SEVERITY[entry["outcome"]]:
            entry["outcome"] = outcome
            entry["message"] = _message(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A module that fails to import has no tests to report; without this it would vanish silently.
        if report.failed:
            self.tests[report.nodeid] = {
                "outcome": "error",
                "setup": 0.0,
                "call": 0.0,
                "teardown": 0.0,
                "message": _collect_message(report),
            }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from ci_toolkit.atomic import write_text
        from ci_toolkit.results import TestOutcome, dump_outcomes

        outcomes = [TestOutcome(nodeid=nodeid, **entry) for nodeid, entry in self.tests.items()]
        write_text(self.path, dump_outcomes(outcomes))


def _phase_outcome(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "xfailed"
        if report.passed:
            return "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    return None


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if hasattr(report, "wasxfail") and not report.failed:
        text = str(report.wasxfail)
        if text.startswith("reason: "):
            text = text[len("reason: ") :]
    elif isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:  # a skip: (path, lineno, reason)
        text = str(longrepr[2])
        if text.startswith("Skipped: "):
            text = text[len("Skipped: ") :]
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr or "")
    return _first_line(text)


def _collect_message(report: pytest.CollectReport) -> str:
    text = str(report.longrepr or "")
    # pytest's collection error text starts with a generic sentence; the exception is on an "E" line.
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return _first_line(errors[-1] if errors else text)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:_MESSAGE_LIMIT]
    return ""


Matcher = Callable[..., bool]


class LaneCollector:
    """Records, for every collected item, the lanes whose marker expression selects it."""

    def __init__(self, path: Path, lanes: dict[str, str | None]) -> None:
        self.path = path
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
        tests = {item.nodeid: self.select(item) for item in collected}
        from ci_toolkit.atomic import write_text

        write_text(self.path, json.dumps({"version": COLLECT_VERSION, "tests": tests}, indent=1) + "\n")
        return result

    def select(self, item: pytest.Item) -> list[str]:
        matcher = mark_matcher(item)
        return [name for name, expr in self.lanes if expr is None or expr.evaluate(matcher)]


def read_lanes(path: Path) -> dict[str, str | None]:
    try:
        lanes = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--ci-toolkit-lanes={path}: cannot read lanes: {exc}") from None
    if not isinstance(lanes, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in lanes.items()
    ):
        raise pytest.UsageError(f'--ci-toolkit-lanes={path}: expected {{"lane": "expression" or null}}')
    return lanes


def compile_expression(lane: str, text: str) -> Any:
    """pytest's own `-m` parser, so a lane selects exactly what `pytest -m TEXT` would."""
    from _pytest.mark.expression import Expression

    try:  # pytest 8 raises its own ParseError, pytest 9 a SyntaxError
        from _pytest.mark.expression import ParseError  # type: ignore[attr-defined]
    except ImportError:
        ParseError = SyntaxError
    try:
        return Expression.compile(text)
    except (ParseError, SyntaxError) as exc:
        raise pytest.UsageError(f"lane {lane}: invalid marker expression {text!r}: {exc}") from None


def mark_matcher(item: pytest.Item) -> Matcher:
    """The matcher `pytest -m` evaluates an item's expression against (pytest >= 8.3: with kwargs)."""
    try:
        from _pytest.mark import MarkMatcher
    except ImportError:  # pragma: no cover - a future pytest that moved it
        MarkMatcher = None
    if MarkMatcher is not None:
        if hasattr(MarkMatcher, "from_markers"):
            return MarkMatcher.from_markers(item.iter_markers())
        if hasattr(MarkMatcher, "from_item"):  # pragma: no cover - pytest 8.0-8.2
            return MarkMatcher.from_item(item)
    names = {mark.name for mark in item.iter_markers()}  # pragma: no cover - last resort: names only
    return lambda name, /, **kwargs: name in names and not kwargs  # pragma: no cover
