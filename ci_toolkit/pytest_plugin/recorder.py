"""--ci-toolkit-results: every test's outcome and phase durations, and what the session did, written at
session end (ci_toolkit.run.exchange.results). Only the xdist controller records: workers' reports reach
it. A failed or errored test also gets where it failed, for annotations: the deepest traceback entry in its
own file (the failing assert), else the line its function is defined on.

For the shard cost model it also records the session's start-up (process start to the first test), which
test ran first in its process and in its module there, and, where the tests run in this process (not
under xdist, whose workers' fixtures the controller never sees), the session-scoped fixture set-up each test
paid."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.run.exchange import results as results_file

_MESSAGE_LIMIT = 300
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
# A frame in a traceback's text, as Python prints it (--tb=native; a SyntaxError in a collection error):
# `File "PATH", line N`; or as pytest's short style does (a collection error): `PATH:N: in NAME`.
_TEXT_FRAME = re.compile(
    r'File "(?P<native>[^"\n]+)", line (?P<native_line>\d+)'
    r'|^(?P<short>[^\s"][^\n]*?):(?P<short_line>\d+): in ',
    re.MULTILINE,
)
_FAILING = ("failed", "error")

# When this module was imported: with the plugin, before conftest files and collection. The start of the
# process where /proc cannot tell it.
_IMPORTED = time.monotonic()

# Which phase outcome wins when one test reports several (e.g. a failed call and a failing teardown).
_SEVERITY = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "error": 3, "failed": 4}


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
        self.reruns: dict[str, int] = {}  # pytest-rerunfailures' reruns per test
        self.defined: dict[str, int] = {}  # each reported test's definition line, for one cut short later
        self.startup: tuple[float, str] | None = None  # (seconds, how the start was known) at the 1st test
        self.seen: set[tuple[str, str]] = set()  # (xdist worker or "", module or "") that ran a test
        self.setting_up = ""  # the test whose setup phase runs now in this process
        self.session_setup: dict[str, float] = {}  # nodeid -> session fixture seconds in its setup
        self.fixture_depth = 0  # session fixtures being set up inside one another (counted once)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        # Under xdist, the controller hears of each test a worker starts: the first is the lane's first.
        if self.startup is None:
            self.startup = since_process_start()
        self.setting_up = nodeid  # only fixtures set up in this process count: none in xdist's controller

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any) -> Generator[None, Any, Any]:
        if not self.setting_up or fixturedef.scope != "session" or self.fixture_depth:
            return (yield)
        self.fixture_depth += 1
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            self.fixture_depth -= 1
            seconds = time.perf_counter() - start
            self.session_setup[self.setting_up] = self.session_setup.get(self.setting_up, 0.0) + seconds

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
            # ...but that it needed another one is kept: a test that then passes is flaky.
            self.reruns[report.nodeid] = self.reruns.get(report.nodeid, 0) + 1
            return
        entry = self.tests.setdefault(
            report.nodeid,
            {"outcome": "passed", "setup": 0.0, "call": 0.0, "teardown": 0.0, "message": ""},
        )
        if report.when in ("setup", "call", "teardown"):
            entry[report.when] = round(float(report.duration), 6)
        if report.when == "setup":
            self.setting_up = ""
            entry["first"] = self._first(report)
            if report.nodeid in self.session_setup:
                entry["session_setup"] = round(min(self.session_setup.pop(report.nodeid), entry["setup"]), 6)
        if report.nodeid not in self.defined:
            self.defined[report.nodeid] = _definition_line(report)
        if report.when in ("teardown", "???"):  # "???": xdist's report of the test its worker died in
            self.finished.add(report.nodeid)
        outcome = _phase_outcome(report)
        if outcome is not None and _SEVERITY[outcome] > _SEVERITY[entry["outcome"]]:
            entry["outcome"] = outcome
            entry["message"] = _message(report)
            if outcome in _FAILING:
                entry["path"], entry["line"] = self._where(report)

    def _first(self, report: pytest.TestReport) -> str:
        """ "session" for the first test its process (xdist worker) ran, "module" for the first of its module
        there, else ""."""
        worker = str(getattr(report, "worker_id", "") or "")
        module = (worker, _test_file(report.nodeid))
        first = "session" if (worker, "") not in self.seen else "module" if module not in self.seen else ""
        self.seen.update(((worker, ""), module))
        return first

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
            path, line = self._where(report)
            self.tests[report.nodeid] = {
                "outcome": "error",
                "setup": 0.0,
                "call": 0.0,
                "teardown": 0.0,
                "message": _collect_message(report),
                "path": path,
                "line": line,
            }
            self.finished.add(report.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        option = self.config.option
        ran_tests = not (
            getattr(option, "collectonly", False)
            or getattr(option, "setuponly", False)
            or getattr(option, "setupplan", False)
        )
        stopped = self.interrupted or _stop_reason(session, exitstatus)
        if ran_tests:
            self._settle(stopped)
        status = results_file.Session(
            run_id=self.run_id,
            exitstatus=int(exitstatus),
            internal_errors=tuple(self.internal_errors),
            stopped=stopped,
            ran_tests=ran_tests,
            selected=len(self.selected),
            startup=None if self.startup is None else round(self.startup[0], 6),
            startup_from="" if self.startup is None else self.startup[1],
        )
        outcomes = tuple(
            results_file.TestOutcome(nodeid=nodeid, reruns=self.reruns.get(nodeid, 0), **entry)
            for nodeid, entry in self.tests.items()
        )
        results_file.write(self.path, results_file.Results(outcomes, self.counts, status))

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
                self.tests[nodeid].update(path=_test_file(nodeid), line=self.defined.get(nodeid, 0))

    def _where(self, report: pytest.TestReport | pytest.CollectReport) -> tuple[str, int]:
        """The test's file (as in its node id) and the 1-based line in it where `report` failed: the
        deepest traceback entry in that file, else the test's definition line, else 0."""
        path = _test_file(report.nodeid)
        target = os.path.realpath(self.config.rootpath / path)
        # pytest prints a frame's path relative to the invocation dir, or absolute once a test changed the
        # working directory; joining an absolute path keeps it as it is.
        base = self.config.invocation_params.dir
        for frame, line in reversed(_frames(report.longrepr)):
            if os.path.realpath(base / frame) == target:
                return path, line
        return path, _definition_line(report)


def since_process_start() -> tuple[float, str]:
    """Seconds since this process started and how that was known: "process" from Linux's /proc (the
    interpreter's own start-up included), else "plugin", since this module was imported."""
    try:
        with open("/proc/self/stat", "rb") as stat, open("/proc/uptime", "rb") as up:
            # Field 22, starttime in clock ticks after boot; the command name (field 2) may hold anything.
            started = int(stat.read().rpartition(b")")[2].split()[19]) / os.sysconf("SC_CLK_TCK")
            uptime = float(up.read().split()[0])
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED, "plugin"
    return max(uptime - started, 0.0), "process"


def _test_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _definition_line(report: pytest.TestReport | pytest.CollectReport) -> int:
    location = getattr(report, "location", None)
    lineno = location[1] if location else None
    return lineno + 1 if isinstance(lineno, int) and not isinstance(lineno, bool) else 0  # pytest's: 0-based


def _frames(longrepr: Any) -> list[tuple[str, int]]:
    """(path, 1-based line) of every frame a failure's repr shows, outermost first; however pytest (or
    xdist, which sends it over the wire) shaped it: entries with a file location, traceback text (--tb=native,
    a collection error), or only the crash point (--tb=line, --tb=no)."""
    frames: list[tuple[str, int]] = []
    traceback = getattr(longrepr, "reprtraceback", None)
    for entry in getattr(traceback, "reprentries", ()):
        where = getattr(entry, "reprfileloc", None)
        if where is not None:
            frames.append((str(where.path), int(where.lineno)))
        else:
            frames += _text_frames("".join(getattr(entry, "lines", ())))
    crash = getattr(longrepr, "reprcrash", None)
    if not frames and crash is not None:
        frames.append((str(crash.path), int(crash.lineno)))
    if not frames and longrepr is not None and traceback is None:
        frames = _text_frames(str(longrepr))
    return frames


def _text_frames(text: str) -> list[tuple[str, int]]:
    return [
        (m["native"], int(m["native_line"])) if m["native"] else (m["short"], int(m["short_line"]))
        for m in _TEXT_FRAME.finditer(text)
    ]


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
