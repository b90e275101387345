"""The human summary printed at the end of a run. Pure: strings in, string out.

Layout: what failed comes first (failed tests, lanes that broke, every failed coverage check with its
missing lines and branches), then the overview (one row per lane, the coverage total, groups and critical
paths), then the verdict. The last line is always exactly

    ci-toolkit: N passed, N failed, N skipped

(errors count as failed, xfailed as skipped, xpassed as passed); CI parses it, so it is never coloured.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from ci_toolkit.gate.verdict import Check, Verdict, format_floor
from ci_toolkit.report import lane_counts, model, overall_passed, printable, summary_line
from ci_toolkit.report.model import Report
from ci_toolkit.run.results import LaneResult, exit_meaning

MAX_FAILED_TESTS = 30

_RESET = "\033[0m"
_STYLES = {"red": "\033[31m", "green": "\033[32m", "yellow": "\033[33m", "bold": "\033[1m"}


class _Out:
    """Collects lines; colours and width are applied here, so sections stay plain."""

    def __init__(self, color: bool, width: int) -> None:
        self.color = color
        self.width = max(width, 40)
        self.lines: list[str] = []

    def style(self, text: str, name: str) -> str:
        return f"{_STYLES[name]}{text}{_RESET}" if self.color else text

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def wrapped(self, text: str, indent: str, follow: str) -> None:
        """Long lists (missing lines) wrap under themselves instead of being cut."""
        self.lines.extend(
            textwrap.wrap(
                text,
                width=self.width,
                initial_indent=indent,
                subsequent_indent=follow,
                break_on_hyphens=False,
                break_long_words=False,
            )
            or [indent.rstrip()]
        )

    def fitted(self, head: str, tail: str) -> str:
        """*head* whole, then as much of *tail* as fits the width."""
        line = head + tail
        if len(line) <= self.width or len(head) + 4 >= self.width:
            return line if len(line) <= self.width else head
        return line[: self.width - 3] + "..."


def render(
    lanes: Sequence[LaneResult],
    verdict: Verdict | None,
    *,
    color: bool = False,
    width: int = 100,
    note: str | None = None,
) -> str:
    """The summary, ending in a newline; *note* (e.g. why the gate was skipped) goes above the verdict."""
    return render_report(model.build(lanes, verdict, note=note), color=color, width=width)


def render_report(report: Report, *, color: bool = False, width: int = 100) -> str:
    """The summary of a whole report: what failed first, then the overview, then the verdict."""
    out = _Out(color, width)
    lanes, verdict = report.lanes, report.verdict
    _failed_tests(out, lanes)
    _not_run(out, lanes)
    _broken_lanes(out, lanes)
    if verdict is not None and not verdict.passed:
        _gate_failures(out, verdict)
    _lanes(out, lanes)
    _flaky(out, lanes)
    if verdict is not None:
        _coverage_overview(out, verdict)
    _delta(out, report)
    _patch(out, report)
    _slowest(out, report)
    _shards(out, report)
    _services(out, report)
    if report.note:
        out.add(out.style(f"note: {report.note}", "yellow"))
    _final(out, lanes, verdict)
    return "\n".join(out.lines) + "\n"


def _flaky(out: _Out, lanes: Sequence[LaneResult]) -> None:
    found = [(lane.name, o) for lane in lanes for o in model.flaky(lane)]
    if not found:
        return
    out.add(out.style(f"FLAKY: failed, then passed on a rerun ({len(found)})", "yellow"))
    for lane_name, o in found[:MAX_FAILED_TESTS]:
        where = f" [{lane_name}]" if len(lanes) > 1 else ""
        out.add(out.fitted(f"  {printable(o.nodeid)}{where}", f" - {_plural(o.reruns, 'rerun')}"))
    if len(found) > MAX_FAILED_TESTS:
        out.add(f"  ... and {len(found) - MAX_FAILED_TESTS} more")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _delta(out: _Out, report: Report) -> None:
    delta = report.delta
    if delta is None:
        return
    change = delta.total_after - delta.total_before
    out.add(
        f"  total {change:+.2f} against the base "
        f"({_percent(delta.total_before)} -> {_percent(delta.total_after)})"
    )
    for f in delta.files[:MAX_FAILED_TESTS]:
        out.add(out.fitted(f"    {printable(f.path)}", f"  {_percent(f.before)} -> {_percent(f.after)}"))
    if len(delta.files) > MAX_FAILED_TESTS:
        out.add(f"    ... and {len(delta.files) - MAX_FAILED_TESTS} more files changed")


def _patch(out: _Out, report: Report) -> None:
    patch = report.verdict.patch if report.verdict is not None else None
    if patch is None:
        return
    prefix = suffix = ""
    for c in report.verdict.of_kind("patch"):  # type: ignore[union-attr]
        # The patch check's floor, or that it only reports: never a percentage without its meaning.
        prefix = (out.style("OK  ", "green") if c.passed else out.style("FAIL", "red")) + " "
        suffix = f" (patch_fail_under {format_floor(c.minimum)})" if c.minimum is not None else " (not gated)"
    out.add(f"  {prefix}patch coverage against {printable(patch.base)}: {patch.measure.display}%{suffix}")
    for f in patch.files:
        parts = [f"lines {f.uncovered}"] if f.uncovered else []
        if f.missing_branches:
            parts.append(f"branches {f.missing_branches}")
        if parts:
            line = f"{printable(f.path)}  {f.measure.display}%  not run: {'; '.join(parts)}"
            out.wrapped(line, "    ", "        ")


def _slowest(out: _Out, report: Report) -> None:
    if not report.slowest:
        return
    out.add(out.style("SLOWEST TESTS", "bold"))
    for t in report.slowest:
        where = f" [{t.lane}]" if len(report.lanes) > 1 else ""
        out.add(out.fitted(f"  {_format_time(t.seconds):>7}  {printable(t.nodeid)}{where}", ""))


def _shards(out: _Out, report: Report) -> None:
    if not report.shards:
        return
    out.add(out.style("SHARD BALANCE (predicted -> realised)", "bold"))
    for s in report.shards:
        realised = "not here" if s.realised is None else _format_time(s.realised)
        out.add(f"  shard {s.index}: {s.tests:>5} tests  {_format_time(s.predicted):>7} -> {realised}")


def _services(out: _Out, report: Report) -> None:
    if not report.services:
        return
    waited = (
        "" if report.services_waited is None else f" (the run waited {_format_time(report.services_waited)})"
    )
    out.add(out.style("SERVICES", "bold") + waited)
    for s in report.services:
        reused = ", reused" if s.reused else ""
        out.add(
            f"  {printable(s.name)} ({printable(s.backend)}{reused}) ready after {_format_time(s.seconds)}"
        )


def _failed_tests(out: _Out, lanes: Sequence[LaneResult]) -> None:
    failed = [(lane.name, o) for lane in lanes for o in lane.failed]
    if not failed:
        return
    several_lanes = len(lanes) > 1
    out.add(out.style(f"FAILED TESTS ({len(failed)})", "bold"))
    for lane_name, o in failed[:MAX_FAILED_TESTS]:
        label = "ERROR " if o.outcome == "error" else "FAILED"
        where = f" [{lane_name}]" if several_lanes else ""
        message = printable(o.message.strip().splitlines()[0]) if o.message.strip() else ""
        line = out.fitted(f"  {label} {printable(o.nodeid)}{where}", f" - {message}" if message else "")
        out.add(line.replace(label, out.style(label, "red"), 1))
    if len(failed) > MAX_FAILED_TESTS:
        out.add(f"  ... and {len(failed) - MAX_FAILED_TESTS} more")
    out.add()


def _not_run(out: _Out, lanes: Sequence[LaneResult]) -> None:
    """Selected tests the session never got to, after it stopped early: named, never silently dropped."""
    missing = [(lane.name, o) for lane in lanes for o in lane.not_run]
    if not missing:
        return
    out.add(out.style(f"SELECTED TESTS THAT DID NOT RUN ({len(missing)})", "bold"))
    reasons = dict.fromkeys(printable(o.message) for _, o in missing)
    for reason in reasons:
        out.add(f"  {reason}")
    for lane_name, o in missing[:MAX_FAILED_TESTS]:
        where = f" [{lane_name}]" if len(lanes) > 1 else ""
        out.add(out.fitted(f"  {out.style('NOT RUN', 'red')} {printable(o.nodeid)}{where}", ""))
    if len(missing) > MAX_FAILED_TESTS:
        out.add(f"  ... and {len(missing) - MAX_FAILED_TESTS} more")
    out.add()


def _lane_problem(lane: LaneResult) -> str:
    """Why a lane is not ok beyond its failed tests: its exit code, an INTERNALERROR, tests not run."""
    if lane.skipped_reason is not None:
        return ""
    problems = list(lane.problems)
    if lane.not_run:
        problems.append(f"{_plural(len(lane.not_run), 'selected test')} not run")
    if not problems and not lane.ok and not lane.failed:
        problems.append(f"pytest exit code {lane.exit_code}: {exit_meaning(lane.exit_code)}")
    return printable("; ".join(problems))


def _broken_lanes(out: _Out, lanes: Sequence[LaneResult]) -> None:
    broken = [(lane, _lane_problem(lane)) for lane in lanes]
    broken = [(lane, problem) for lane, problem in broken if problem]
    if not broken:
        return
    out.add(out.style("LANES THAT DID NOT FINISH CLEANLY", "bold"))
    for lane, problem in broken:
        out.add(f"  {out.style('FAIL', 'red')} {lane.name}: {problem}")
    out.add()


def _missing(check: Check) -> str:
    parts = []
    if check.missing_lines:
        parts.append(f"lines {check.missing_lines}")
    if check.missing_branches:
        parts.append(f"branches {check.missing_branches}")
    return "missing " + "; ".join(parts) if parts else ""


def _file_line(out: _Out, check: Check, indent: str) -> None:
    head = f"{printable(check.subject)}  {check.percent}% < {format_floor(check.minimum)}"
    if check.kind == "file":
        head += f"  [{check.pattern}]"
    missing = _missing(check)
    out.wrapped(f"{head}  {missing}" if missing else head, indent, indent + "    ")


def _gate_failures(out: _Out, verdict: Verdict) -> None:
    failures = verdict.failures
    out.add(out.style(f"COVERAGE GATE FAILED ({_plural(len(failures), 'check')})", "bold"))
    for c in verdict.of_kind("data"):
        if not c.passed:
            out.add(f"  {out.style('FAIL', 'red')} {printable(c.detail)}")
    for c in verdict.of_kind("total"):
        if not c.passed:
            out.add(
                f"  {out.style('FAIL', 'red')} total {c.percent}% < {format_floor(c.minimum)} (fail_under)"
            )
    files = [c for c in verdict.of_kind("file") if not c.passed]
    if files:
        out.add(f"  {out.style('FAIL', 'red')} files below their floor ({len(files)}):")
        for c in files:
            _file_line(out, c, "    ")
    groups = [c for c in verdict.of_kind("group") if not c.passed]
    if groups:
        out.add(f"  {out.style('FAIL', 'red')} groups below their floor ({len(groups)}):")
        for c in groups:
            out.add(f"    {printable(c.subject)}  {c.percent}% < {format_floor(c.minimum)}  ({c.detail})")
    for pattern, checks in _critical_by_pattern(verdict).items():
        bad = [c for c in checks if not c.passed]
        if bad:
            out.add(
                f"  {out.style('FAIL', 'red')} critical {pattern}: "
                f"{len(bad)} of {_plural(len(checks), 'file')} below {format_floor(bad[0].minimum)}%"
            )
            for c in bad:
                _file_line(out, c, "    ")
    for c in verdict.of_kind("pattern"):
        out.add(f"  {out.style('FAIL', 'red')} {c.origin} pattern '{printable(c.subject)}': {c.detail}")
    for c in verdict.of_kind("patch"):
        if not c.passed:
            out.add(
                f"  {out.style('FAIL', 'red')} patch coverage {c.percent}% < {format_floor(c.minimum)} "
                "(patch_fail_under)"
            )
    out.add()


def _format_time(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _lanes(out: _Out, lanes: Sequence[LaneResult]) -> None:
    if not lanes:
        return
    out.add(out.style("LANES", "bold"))
    name_width = max(len(lane.name) for lane in lanes)
    for lane in lanes:
        name = lane.name.ljust(name_width)
        if lane.skipped_reason is not None:
            out.add(f"  {name}  {out.style('skipped', 'yellow')}: {lane.skipped_reason}")
            continue
        c = lane_counts(lane)
        status = out.style("ok  ", "green") if lane.ok else out.style("FAIL", "red")
        row = (
            f"  {name}  {status}  {c.passed:>5} passed {c.failed - c.errors:>4} failed "
            f"{c.skipped:>4} skipped {c.errors:>4} errors  {_format_time(lane.wall_time):>7}"
        )
        problem = _lane_problem(lane)
        out.add(f"{row}  ({problem})" if problem else row)


def _coverage_overview(out: _Out, verdict: Verdict) -> None:
    out.add(out.style("COVERAGE", "bold"))
    data = verdict.of_kind("data")
    if data:
        out.add(f"  {out.style('FAIL', 'red')} no coverage data")
        return
    (total,) = verdict.of_kind("total")
    mark = out.style("OK  ", "green") if total.passed else out.style("FAIL", "red")
    out.add(f"  {mark} total {total.percent}% (fail_under {format_floor(total.minimum)})")
    files = verdict.of_kind("file")
    if files:
        bad = sum(1 for c in files if not c.passed)
        mark = out.style("OK  ", "green") if not bad else out.style("FAIL", "red")
        out.add(f"  {mark} files with a floor: {len(files) - bad} of {len(files)} at or above it")
    for c in verdict.of_kind("group"):
        mark = out.style("OK  ", "green") if c.passed else out.style("FAIL", "red")
        out.add(f"  {mark} group {c.subject}  {c.percent}% (floor {format_floor(c.minimum)}, {c.detail})")
    _critical_overview(out, verdict)


def _critical_by_pattern(verdict: Verdict) -> dict[str, list[Check]]:
    by_pattern: dict[str, list[Check]] = {}
    for c in verdict.of_kind("critical"):
        by_pattern.setdefault(c.pattern, []).append(c)
    return by_pattern


def _critical_overview(out: _Out, verdict: Verdict) -> None:
    for pattern, checks in _critical_by_pattern(verdict).items():
        bad = sum(1 for c in checks if not c.passed)
        floor = format_floor(checks[0].minimum)
        if bad:
            out.add(
                f"  {out.style('FAIL', 'red')} critical {pattern}: "
                f"{bad} of {_plural(len(checks), 'file')} below {floor}%"
            )
        else:
            out.add(
                f"  {out.style('OK  ', 'green')} critical {pattern}: "
                f"{_plural(len(checks), 'file')}, each at or above {floor}%"
            )
    for c in verdict.of_kind("pattern"):
        if c.origin == "critical":
            out.add(f"  {out.style('FAIL', 'red')} critical {c.subject}: matches no measured file")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _final(out: _Out, lanes: Sequence[LaneResult], verdict: Verdict | None) -> None:
    if overall_passed(lanes, verdict):
        out.add(out.style("PASSED", "green"))
    else:
        reasons: list[str] = []
        failed = sum(len(lane.failed) for lane in lanes)
        if failed:
            reasons.append(f"{_plural(failed, 'test')} failed")
        broken = [lane.name for lane in lanes if _lane_problem(lane)]
        if broken:
            reasons.append("lane " + ", ".join(broken) + " did not finish cleanly")
        if verdict is not None and not verdict.passed:
            n = len(verdict.failures)
            reasons.append(f"coverage gate failed ({_plural(n, 'check')})")
        out.add(out.style("FAILED: " + "; ".join(reasons), "red"))
    out.add(summary_line(lanes))
