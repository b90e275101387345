"""ci-toolkit's pytest plugin, loaded into every pytest session through the `pytest11` entry point.

Because it lands in the sessions of everyone who installs ci-toolkit, it only adds its options unless
one is given: no hook of ours runs and nothing heavier than pytest itself is imported. Each feature is a
small object registered in pytest_configure when its option is present.

--ci-toolkit-results=PATH
    Record every test's outcome and phase durations and write {"version": 1, "tests": [...]} (see
    ci_toolkit.results) at session end. Only the xdist controller records: workers' reports reach it.
--ci-toolkit-collect=PATH --ci-toolkit-lanes=JSON_FILE
    For every collected item, evaluate each lane's marker expression the way `pytest -m` does, and
    write {"version": 1, "tests": {nodeid: [lane, ...]}, "groups": {nodeid: xdist_group name}}.
    Lanes come as {"name": expression or null}. Under xdist, worker gw0 writes it (workers collect).
--ci-toolkit-verdict=PATH (with the two above, or alone)
    Then wait, before any test runs, until PATH exists: ci-toolkit writes "go" there once it has
    checked the lanes against that file, or stops this pytest when they are wrong. This is how the first
    lane of `ci-toolkit local` doubles as the collection run. Every xdist worker waits. Alone, it only
    waits: a concurrent lane started meanwhile collects, then waits for the same verdict.
--ci-shard=K/N|auto [--ci-plan=FILE] [--ci-timings=FILE]
    Run shard K of N (1-based) of the tests left after -m/-k and other deselection; the rest are
    deselected the pytest way. With --ci-plan, shard K is read from a plan manifest (`ci-toolkit plan`,
    `ci-toolkit local --shard`); the tests collected here must be the ones the plan was made from
    (checked by fingerprint, before any deselection). Without it, the shards are planned here from the
    timing history in --ci-timings (or estimates alone): deterministically, so that every shard, and
    every xdist worker of a shard (workers collect, the controller does not), plans the same split.
    `auto` takes K/N from the environment: CI_TOOLKIT_SHARD="K/N", else GitLab (CI_NODE_INDEX,
    CI_NODE_TOTAL, 1-based), CircleCI (CIRCLE_NODE_INDEX, CIRCLE_NODE_TOTAL, 0-based) or Buildkite
    (BUILDKITE_PARALLEL_JOB, BUILDKITE_PARALLEL_JOB_COUNT, 0-based); none set: every test runs. Only
    `auto` reads the environment, so a plain pytest run in a parallel CI job is never split unasked.
--ci-scheduler=duration [--ci-timings=FILE]
    With xdist (-n), hand tests to workers longest first from the timing history (ci_toolkit.scheduler).

CI_TOOLKIT_WORKER_ENV (environment, not an option)
    {"VAR": {"gw0": value, "gw1": value, ...}}, set by `ci-toolkit local` for a lane whose services have
    a database per worker. In an xdist worker (PYTEST_XDIST_WORKER, which xdist sets before pytest
    starts there), os.environ[VAR] becomes that worker's value before any conftest.py is imported.
    Nothing happens when either variable is absent.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Generator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest

RESULTS_PLUGIN = "ci_toolkit-results"
COLLECT_PLUGIN = "ci_toolkit-collect"
SHARD_PLUGIN = "ci_toolkit-shard"
SCHEDULER_PLUGIN = "ci_toolkit-scheduler"
GROUPS_PLUGIN = "ci_toolkit-groups"
PARENT_PLUGIN = "ci_toolkit-parent"
COLLECT_VERSION = 1
_MESSAGE_LIMIT = 300
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")

# Which phase outcome wins when one test reports several (e.g. a failed call and a failing teardown).
_SEVERITY = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "error": 3, "failed": 4}


WORKER_ENV = "CI_TOOLKIT_WORKER_ENV"  # the name ci_toolkit.services.env writes


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # The earliest hook that runs before conftest.py files are imported, in workers as in the controller.
    apply_worker_env(os.environ)
    # A conftest can take seconds to import: from here on, this pytest must not outlive ci-toolkit.
    inherited = os.environ.pop(PARENT_ENV, None)  # for xdist workers only, and not for their tests
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A worker is handed the controller's options too, but its parent is the controller.
        parent = inherited
    else:
        parent = getattr(early_config.known_args_namespace, "ci_toolkit_parent", None)
    if parent:
        guard_parent(_pid(parent))


# -- never outlive ci-toolkit ----------------------------------------------------------------------------

PARENT_ENV = "CI_TOOLKIT_PARENT_PID"  # the xdist controller's pid, for its workers
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_WATCH_INTERVAL = 0.25  # seconds between looks at the parent, where the kernel cannot watch for us


def _pid(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        pid = 0
    if pid < 1:
        raise pytest.UsageError(f"--ci-toolkit-parent={text}: expected a process id")
    return pid


def guard_parent(parent: int) -> None:
    """Die with `parent`: a SIGKILLed ci-toolkit must not leave this pytest running tests into the output
    dir of the next run, or hanging with the terminal's pipe open. On Linux the kernel sends SIGKILL when
    the parent dies (PR_SET_PDEATHSIG); elsewhere a daemon thread watches the parent's pid. Either way a
    parent that is already gone ends this process now."""
    if os.name != "posix":  # pragma: no cover - Windows: a process group is stopped by ci-toolkit itself
        return
    if not _kernel_watches_parent():
        import threading

        threading.Thread(target=_watch_parent, args=(parent,), name="ci-toolkit-parent", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked to be told
        _orphaned()


def _kernel_watches_parent() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return False


def _watch_parent(parent: int) -> None:  # pragma: no cover - runs where prctl is missing
    while os.getppid() == parent:
        time.sleep(_WATCH_INTERVAL)
    _orphaned()


def _orphaned() -> None:
    import signal

    sys.stderr.write("ci-toolkit: the ci-toolkit run that started this pytest is gone; stopping\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class ParentForWorkers:
    """In xdist's controller: its workers must die with it, as it dies with ci-toolkit."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self) -> None:
        os.environ[PARENT_ENV] = str(os.getpid())  # the workers inherit it and take it out at once


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
    group.addoption(
        "--ci-toolkit-verdict",
        metavar="PATH",
        default=None,
        help="ci-toolkit: before running any test, wait for PATH (written by ci-toolkit once it has "
        "checked the lanes; after --ci-toolkit-collect when given).",
    )
    group.addoption(
        "--ci-toolkit-parent",
        metavar="PID",
        default=None,
        help="ci-toolkit: stop this pytest (and its xdist workers) when process PID ends.",
    )
    group.addoption(
        "--ci-toolkit-run",
        metavar="ID",
        default="",
        help="ci-toolkit: the run this pytest belongs to; files of another run are never taken for ours.",
    )
    group.addoption(
        "--ci-toolkit-scratch",
        metavar="DIR",
        default=None,
        help="ci-toolkit: where this pytest keeps its working files (default: a temporary directory).",
    )
    group.addoption(
        "--ci-shard",
        metavar="K/N|auto",
        default=None,
        help="ci-toolkit: run only shard K of N (1-based); auto: K/N from the CI's environment.",
    )
    group.addoption(
        "--ci-plan",
        metavar="FILE",
        default=None,
        help="ci-toolkit: the plan manifest --ci-shard reads its tests from (default: plan here).",
    )
    group.addoption(
        "--ci-timings",
        metavar="FILE",
        default=None,
        help="ci-toolkit: timing history that --ci-shard and --ci-scheduler estimate durations from.",
    )
    group.addoption(
        "--ci-scheduler",
        choices=("duration", "xdist"),
        default=None,
        help="ci-toolkit: duration: hand tests to xdist workers longest first; xdist: xdist's --dist.",
    )


def pytest_configure(config: pytest.Config) -> None:
    base = config.invocation_params.dir
    configure_shard(config, base)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get(SIDECAR_KEY):
            config.pluginmanager.register(GroupReporter(Path(workerinput[SIDECAR_KEY])), GROUPS_PLUGIN)
        # xdist's controller collects nothing: the workers do, each all of it, so gw0 alone records the
        # lanes; every worker waits for the verdict, so that no test runs before the lanes are checked.
        register_collector(config, base, write=workerinput.get("workerid") == "gw0")
        return  # an xdist worker: the controller sees every report and does the recording
    results = config.getoption("ci_toolkit_results")
    if config.getoption("ci_scheduler") == "duration":
        # Inert without -n: only xdist's controller calls the hooks of this plugin. Under ci-toolkit its
        # scratch files go to the output dir, which every run clears: a killed run's are gone with the
        # next, where a system temp dir would keep them.
        timings = config.getoption("ci_timings")
        scratch = config.getoption("ci_toolkit_scratch")
        scratch = base / scratch if scratch else None
        config.pluginmanager.register(
            SchedulerPlugin(base / timings if timings else None, config.rootpath, scratch), SCHEDULER_PLUGIN
        )
    if config.getoption("ci_toolkit_parent") is not None:
        config.pluginmanager.register(ParentForWorkers(), PARENT_PLUGIN)
    if results:
        run = config.getoption("ci_toolkit_run")
        config.pluginmanager.register(ResultsRecorder(base / results, config, run_id=run), RESULTS_PLUGIN)
    register_collector(config, base, write=True)


def register_collector(config: pytest.Config, base: Path, *, write: bool) -> None:
    collect = config.getoption("ci_toolkit_collect")
    lanes = config.getoption("ci_toolkit_lanes")
    verdict = config.getoption("ci_toolkit_verdict")
    if bool(collect) != bool(lanes):
        raise pytest.UsageError("--ci-toolkit-collect and --ci-toolkit-lanes must be given together")
    if collect or verdict:
        writes = bool(collect) and write
        collector = LaneCollector(
            base / collect if writes else None,
            read_lanes(base / lanes) if writes else {},
            verdict=base / verdict if verdict else None,
            run_id=config.getoption("ci_toolkit_run"),
        )
        config.pluginmanager.register(collector, COLLECT_PLUGIN)


class ResultsRecorder:
    """Keeps one entry per test, built from its setup/call/teardown reports, pytest's own counts, and
    what the session did; at the end, every selected test that did not finish gets an outcome too.

    A test is passed only when its reports say so: a passing call (or a skip) and then its teardown. One
    whose teardown report never arrived was cut short (its xdist worker crashed, or could not send a
    report, which pytest-xdist logs as an INTERNALERROR and then ignores): it is an error. One that never
    reported at all is an error too, or "notrun" when the session had stopped early (-x, --maxfail,
    pytest.exit()) -- either way the lane is not green."""

    def __init__(self, path: Path, config: pytest.Config, *, run_id: str = "") -> None:
        self.path = path
        self.config = config
        self.run_id = run_id
        self.tests: dict[str, dict[str, Any]] = {}
        self.finished: set[str] = set()  # tests whose teardown (or xdist's crash report) arrived
        self.selected: dict[str, None] = {}  # ordered set of the tests the session was to run
        self.counts: dict[str, int] = {}
        self.collect_counted: set[str] = set()  # collection reports: xdist sends one per worker
        self.internal_errors: list[str] = []
        self.interrupted = ""

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.selected.update(dict.fromkeys(item.nodeid for item in session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        # In xdist's controller, which collects nothing itself: every worker sends the same ids.
        self.selected.update(dict.fromkeys(ids))

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        text = str(excrepr)
        # A long repr marks the exception's lines with "E "; a native traceback ends with it. xdist
        # re-raises a worker's INTERNALERROR as `assert False, <the worker's traceback>`: the line worth
        # showing is the last one that names an exception, not the assert.
        lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
        lines = lines or [line.strip() for line in text.splitlines() if line.strip()]
        named = [line for line in lines if _EXCEPTION_LINE.match(line)]
        found = named[-1] if named else lines[-1] if lines else text
        self.internal_errors.append(_first_line(found) or "INTERNALERROR")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C, or pytest.exit() from a test or conftest: possibly with returncode=0, a "green" exit
        # with tests never run.
        exc = excinfo.value
        if isinstance(exc, pytest.exit.Exception):
            self.interrupted = f"pytest.exit(): {exc}"
        elif isinstance(exc, pytest.Session.Interrupted) and self.counts.get("error"):
            self.interrupted = (
                f"{exc}: pytest runs no test after a collection error, unless --continue-on-collection-errors"
            )
        else:
            self.interrupted = str(exc) or "interrupted"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._count(report)
        if report.outcome == "rerun":  # pytest-rerunfailures: only the final attempt counts
            self.tests.pop(report.nodeid, None)
            self.finished.discard(report.nodeid)
            return
        entry = self.tests.setdefault(
            report.nodeid,
            {"outcome": "passed", "setup": 0.0, "call": 0.0, "teardown": 0.0, "message": ""},
        )
        if report.when in ("setup", "call", "teardown"):
            entry[report.when] = round(float(report.duration), 6)
        if report.when in ("teardown", "???"):  # "???": xdist's report of the test its worker died in
            self.finished.add(report.nodeid)
        outcome = _phase_outcome(report)
        if outcome is not None and _SEVERITY[outcome] > _SEVERITY[entry["outcome"]]:
            entry["outcome"] = outcome
            entry["message"] = _message(report)

    def _count(self, report: pytest.TestReport) -> None:
        if not getattr(report, "count_towards_summary", True):
            return
        # The very call pytest's terminal makes, so that our counts are the ones it prints.
        status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category = status[0] if isinstance(status, (tuple, list)) and status else ""
        if category:
            self.counts[str(category)] = self.counts.get(str(category), 0) + 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not (report.failed or report.skipped):
            return
        if report.nodeid not in self.collect_counted:
            self.collect_counted.add(report.nodeid)
            category = "error" if report.failed else "skipped"  # as pytest's terminal counts them
            self.counts[category] = self.counts.get(category, 0) + 1
        if report.failed:
            # A module that fails to import has no tests to report; without this it would vanish silently.
            self.tests[report.nodeid] = {
                "outcome": "error",
                "setup": 0.0,
                "call": 0.0,
                "teardown": 0.0,
                "message": _collect_message(report),
            }
            self.finished.add(report.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from ci_toolkit.files.atomic import write_text
        from ci_toolkit.run.results import Results, Session, TestOutcome, dump_results

        option = self.config.option
        ran_tests = not (
            getattr(option, "collectonly", False)
            or getattr(option, "setuponly", False)
            or getattr(option, "setupplan", False)
        )
        stopped = self.interrupted or _stop_reason(session, exitstatus)
        if ran_tests:
            self._settle(stopped)
        status = Session(
            run_id=self.run_id,
            exitstatus=int(exitstatus),
            internal_errors=tuple(self.internal_errors),
            stopped=stopped,
            ran_tests=ran_tests,
            selected=len(self.selected),
        )
        outcomes = [TestOutcome(nodeid=nodeid, **entry) for nodeid, entry in self.tests.items()]
        write_text(self.path, dump_results(Results(tuple(outcomes), self.counts, status)))

    def _settle(self, stopped: str) -> None:
        """Give every selected test that did not finish the outcome it really had."""
        for nodeid in self.selected:
            entry = self.tests.get(nodeid)
            if entry is None:
                outcome = "notrun" if stopped else "error"
                message = (
                    f"not run: the session stopped early ({stopped})"
                    if stopped
                    else "never reported: pytest selected this test but no result for it arrived"
                )
                self.tests[nodeid] = {
                    "outcome": outcome, "setup": 0.0, "call": 0.0, "teardown": 0.0, "message": message,
                }  # fmt: skip
            elif nodeid not in self.finished and entry["outcome"] not in ("failed", "error"):
                entry["outcome"] = "error"
                entry["message"] = (
                    f"cut short: the session stopped while it ran ({stopped})"
                    if stopped
                    else "no result arrived for this test: it started but never finished "
                    "(its xdist worker crashed, or its report could not be sent)"
                )
            else:
                continue
            if self.tests[nodeid]["outcome"] == "error":
                self.counts["error"] = self.counts.get("error", 0) + 1


def _stop_reason(session: pytest.Session, exitstatus: int) -> str:
    """Why the session ended before running every test, or "" when nothing says it did."""
    for reason in (session.shouldfail, session.shouldstop):
        if reason:
            return str(reason)
    return "interrupted" if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED) else ""


def _phase_outcome(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "xfailed"
        if report.passed:
            return "xpassed"
    if report.failed:
        return "error" if report.when in ("setup", "teardown") else "failed"
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


class LaneCollector:
    """Records, for every collected item, the lanes whose marker expression selects it.

    With a `verdict` path (the first lane of a `ci-toolkit local` run, which spares a collection run of
    its own), it then waits for ci-toolkit to check that assignment: ci-toolkit writes "go" to the
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
            from ci_toolkit.files.atomic import write_text

            doc = {"version": COLLECT_VERSION, "run": self.run_id, "tests": tests, "groups": groups}
            write_text(self.path, json.dumps(doc, indent=1) + "\n")
        if self.verdict is not None:
            wait_for_verdict(self.verdict, self.run_id)
        return result

    def select(self, item: pytest.Item) -> list[str]:
        from ci_toolkit.config import markers

        matcher = markers.matcher(item)
        return [name for name, expr in self.lanes if expr is None or expr.evaluate(matcher)]


VERDICT_TIMEOUT = 300.0  # seconds; ci-toolkit answers within a poll interval of the file appearing


def wait_for_verdict(path: Path, run_id: str = "", timeout: float = VERDICT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise pytest.UsageError(
                f"--ci-toolkit-verdict={path}: no verdict from ci-toolkit in {timeout:.0f} s"
            )
        time.sleep(0.01)
    from ci_toolkit.run.exchange import verdict_text

    text = path.read_text(encoding="utf-8")
    if text == verdict_text(run_id):
        return
    if text.startswith("go"):  # the "go" of another run in the same output dir: never ours to take
        pytest.exit("ci-toolkit: another ci-toolkit run took over this output dir; stopping", returncode=2)
    pytest.exit("ci-toolkit: the lanes are not valid; see ci-toolkit's message", returncode=2)


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
    """pytest's own `-m` parser (ci_toolkit.markers), so a lane selects exactly what `pytest -m TEXT`
    would."""
    from ci_toolkit.config import markers

    try:
        return markers.compile_expression(text)
    except ValueError as exc:
        raise pytest.UsageError(f"lane {lane}: invalid marker expression {text!r}: {exc}") from None


# -- sharding ------------------------------------------------------------------------------------------

SHARD_ENV = "CI_TOOLKIT_SHARD"  # "K/N", set by our GitHub action
# (index variable, total variable, the index of the first shard) per CI, in the order they are tried.
CI_SHARD_VARIABLES = (
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1),  # GitLab `parallel:`
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),  # CircleCI `parallelism:`
    ("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0),  # Buildkite `parallelism:`
)
_DIFF_EXAMPLES = 3
PLAN_ERROR = "--ci-plan "  # how a plan mismatch's message starts


def parse_shard(text: str, label: str = "--ci-shard") -> tuple[int, int]:
    """ "K/N" -> (K, N), 1 <= K <= N; a ValueError whose message is one line starting with `label`."""
    index, sep, total = text.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        k, n = int(index), int(total)
    except ValueError:
        raise ValueError(f"{label} {text}: expected K/N, shard K of N counted from 1 (e.g. 2/4)") from None
    from ci_toolkit.planning.plan import MAX_SHARDS

    if not 1 <= n <= MAX_SHARDS:
        raise ValueError(f"{label} {text}: the number of shards must be 1-{MAX_SHARDS}")
    if not 1 <= k <= n:
        raise ValueError(f"{label} {text}: shard index must be 1-{n}")
    return k, n


def shard_from_env(environ: Mapping[str, str]) -> tuple[int, int, str] | None:
    """(K, N, where it came from) from the first CI convention whose variables are set, else None."""
    if environ.get(SHARD_ENV, "").strip():
        return (*parse_shard(environ[SHARD_ENV], SHARD_ENV), SHARD_ENV)
    for index_var, total_var, first in CI_SHARD_VARIABLES:
        index, total = environ.get(index_var, "").strip(), environ.get(total_var, "").strip()
        if not index or not total:
            continue
        label = f"{index_var}={index} {total_var}={total}"
        try:
            k, n = int(index) + 1 - first, int(total)
        except ValueError:
            raise ValueError(f"{label}: expected whole numbers") from None
        from ci_toolkit.planning.plan import MAX_SHARDS

        if not 1 <= n <= MAX_SHARDS:
            raise ValueError(f"{label}: {total_var} must be 1-{MAX_SHARDS}")
        if not 1 <= k <= n:
            raise ValueError(f"{label}: {index_var} must be {first}-{n - 1 + first}")
        return k, n, f"{index_var}/{total_var}"
    return None


def configure_shard(config: pytest.Config, base: Path) -> None:
    spec = config.getoption("ci_shard")
    plan_file = config.getoption("ci_plan")
    if spec is None:
        if plan_file:
            raise pytest.UsageError(f"--ci-plan {plan_file}: needs --ci-shard K/N (or auto)")
        return
    try:
        if spec.strip() == "auto":
            found = shard_from_env(os.environ)
            if found is None:
                config.pluginmanager.register(ShardNote(), SHARD_PLUGIN)
                return
            k, n, source = found
        else:
            (k, n), source = parse_shard(spec), "--ci-shard"
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    plan = read_plan(base / plan_file, n) if plan_file else None
    timings = config.getoption("ci_timings")
    selector = ShardSelector(k, n, source, plan, plan_file, base / timings if timings else None)
    config.pluginmanager.register(selector, SHARD_PLUGIN)


def read_plan(path: Path, shards: int) -> Any:
    """The manifest as a ci_toolkit.planning Plan; any problem is one UsageError line."""
    from ci_toolkit import planning
    from ci_toolkit.errors import CiToolkitError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise pytest.UsageError(f"--ci-plan {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise pytest.UsageError(f"--ci-plan {path}: cannot read: {reason}") from None
    try:
        plan = planning.from_json(json.loads(text), f"--ci-plan {path}")
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
        raise pytest.UsageError(f"--ci-plan {path}: not a plan manifest: not JSON ({exc})") from None
    except CiToolkitError as exc:
        raise pytest.UsageError(str(exc)) from None
    if len(plan.shards) != shards:
        raise pytest.UsageError(
            f"--ci-plan {path}: the plan has {len(plan.shards)} shards, not {shards}; "
            f"pass --ci-shard K/{len(plan.shards)} or make a plan with {shards} shards"
        )
    return plan


class ShardNote:
    """--ci-shard auto outside a parallel CI job: say that everything runs, rather than stay silent."""

    def pytest_report_header(self) -> str:
        return "ci-toolkit: --ci-shard auto: no shard in the environment, running every test"


class ShardSelector:
    """Keeps shard K's tests at collection. In an xdist session it acts in each worker, where the
    tests are collected; every worker makes the same choice, so xdist sees identical collections."""

    def __init__(
        self, k: int, n: int, source: str, plan: Any, plan_file: str | None, timings: Path | None
    ) -> None:
        self.k, self.n, self.source = k, n, source
        self.plan, self.plan_file, self.timings = plan, plan_file, timings
        self.usage_error = False

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # xdist's controller stopping on a worker's shouldfail set below: a usage error, as without xdist.
        if str(excinfo.value).startswith(PLAN_ERROR):
            self.usage_error = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.usage_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_report_header(self) -> str:
        origin = f"plan {self.plan_file}" if self.plan is not None else "planned here"
        where = "" if self.source == "--ci-shard" else f" (from {self.source})"
        return f"ci-toolkit: shard {self.k}/{self.n}{where}, {origin}"

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        # As a wrapper: the ids before anything deselects (what a plan's fingerprint covers) and before
        # xdist's loadgroup appends "@group" to them; after the yield, what -m/-k and the rest left.
        before = {id(item): item.nodeid for item in items}
        result = yield
        ids = [before.get(id(item), item.nodeid) for item in items]
        try:
            mine = self.choose(list(before.values()), ids, items, config)
        except pytest.UsageError as exc:
            if not hasattr(config, "workerinput"):
                raise
            # Raised in an xdist worker, the error would reach the controller as a crash of the
            # worker after xdist had sent it tests: instead run nothing and stop the session with
            # this message, which xdist passes on to the controller.
            session.shouldfail = str(exc)
            items[:] = []
            return result
        keep = [item for item, nodeid in zip(items, ids, strict=True) if nodeid in mine]
        if len(keep) != len(items):
            kept = {id(item) for item in keep}
            config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
            items[:] = keep
        return result

    def choose(
        self, collected: list[str], ids: list[str], items: list[pytest.Item], config: pytest.Config
    ) -> set[str]:
        from ci_toolkit import planning

        if self.plan is not None:
            check_fingerprint(self.plan, collected, self.plan_file or "")
            return set(self.plan.shards[self.k - 1].tests)
        from ci_toolkit.planning import cost
        from ci_toolkit.timing import history as timings

        project = timings.project_name(config.rootpath)
        history = timings.load(self.timings, project) if self.timings else timings.empty(project)
        keep_together, overhead = project_settings(config.rootpath)
        groups = {
            nodeid: name for nodeid, item in zip(ids, items, strict=True) if (name := xdist_group(item))
        }
        plan = planning.make_plan(
            ids,
            cost.session_estimate(timings.Estimator(history), ids, _session_workers(config)),
            self.n,
            groups=groups,
            keep_together=keep_together,
            overhead=overhead,
        )
        return set(plan.shards[self.k - 1].tests) if self.k <= len(plan.shards) else set()


def check_fingerprint(plan: Any, collected: Sequence[str], plan_file: str) -> None:
    from ci_toolkit import planning

    if planning.fingerprint(collected) == plan.fingerprint:
        return
    planned = {nodeid for shard in plan.shards for nodeid in shard.tests}
    here = set(collected)
    new, gone = sorted(here - planned), sorted(planned - here)
    examples = [f"+{nodeid}" for nodeid in new[:_DIFF_EXAMPLES]] + [
        f"-{nodeid}" for nodeid in gone[:_DIFF_EXAMPLES]
    ]
    raise pytest.UsageError(
        f"{PLAN_ERROR}{plan_file}: the tests collected here differ from the plan's "
        f"({len(new) + len(gone)} ids: {len(new)} not in the plan, {len(gone)} planned but not "
        f"collected, e.g. {', '.join(examples)}); "
        "every shard must collect the same tests: make the plan again from this checkout"
    )


def project_settings(root: Path) -> tuple[tuple[str, ...], float]:
    """keep_together and shard_overhead from the project's [tool.ci-toolkit]: the configuration's own
    defaults without one, so that a shard planned here prices as `ci-toolkit plan` does."""
    from ci_toolkit import config as config_mod
    from ci_toolkit.errors import ConfigError

    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file():
            loaded = config_mod.load(pyproject, cwd=root)
        else:
            loaded = config_mod.parse({}, pyproject, cwd=root)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return loaded.keep_together, loaded.shard_overhead


def _session_workers(config: pytest.Config) -> int:
    """This session's xdist workers (0 without xdist); xdist hands workers the resolved number."""
    value = getattr(config.option, "numprocesses", None)
    if isinstance(value, int):
        return value
    if value in (None, "0"):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):  # "auto" or "logical", not resolved here
        return os.cpu_count() or 1


def xdist_group(item: pytest.Item) -> str:
    """The item's xdist_group name ("" for none), several joined the way xdist's loadgroup does."""
    names = set()
    for mark in item.iter_markers("xdist_group"):
        name = mark.args[0] if mark.args else mark.kwargs.get("name")
        if name is not None:
            names.add(str(name))
    return "_".join(sorted(names))


# -- the duration scheduler's plumbing (the scheduler itself: ci_toolkit.scheduler) --------------------

SIDECAR_KEY = "ci_toolkit_sidecar"  # workerinput: where workers leave what only collection knows


class SchedulerPlugin:
    """In the xdist controller: makes the scheduler and tells each worker where to write its groups
    (the controller only receives node ids, and xdist_group marks are not part of them)."""

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
        node.workerinput[SIDECAR_KEY] = str(self.sidecar)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from ci_toolkit.pytest_plugin.scheduler import DurationScheduling
        from ci_toolkit.timing import history as timings

        project = timings.project_name(self.root)
        history = timings.load(self.timings, project) if self.timings else timings.empty(project)
        return DurationScheduling(config, log, estimate=timings.Estimator(history), sidecar=self.sidecar)

    def pytest_unconfigure(self) -> None:
        if self.sidecar is not None:
            import shutil

            shutil.rmtree(self.sidecar, ignore_errors=True)


class GroupReporter:
    """In an xdist worker: writes {nodeid: xdist_group} of the collected tests for the scheduler."""

    def __init__(self, sidecar: Path) -> None:
        self.sidecar = sidecar

    @pytest.hookimpl(tryfirst=True)  # before xdist's own hook tells the controller collection is done
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from ci_toolkit.files.atomic import write_text

        groups = {item.nodeid: name for item in session.items if (name := xdist_group(item))}
        worker = session.config.workerinput["workerid"]  # type: ignore[attr-defined]
        write_text(self.sidecar / f"{worker}.json", json.dumps({"version": 1, "groups": groups}) + "\n")
