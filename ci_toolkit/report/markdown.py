"""The report as GitHub Markdown, for a pull-request comment or a job summary. Pure.

Same content and order as every renderer: the verdict, tests per lane, the first failures, coverage
with its delta, patch coverage, critical paths, files below their floor, the slowest tests, the shard
balance with a timeline, and the services. Every string from the run goes through ci_toolkit.report.escape;
`max_bytes` trims the least important rows first (ci_toolkit.report.budget).
"""

from __future__ import annotations

from ci_toolkit.gate.patch import PatchFile
from ci_toolkit.gate.verdict import Check, format_floor
from ci_toolkit.report import budget, gantt, lane_counts
from ci_toolkit.report.budget import Section
from ci_toolkit.report.escape import code, text
from ci_toolkit.report.model import Report, flaky, verdict_line
from ci_toolkit.run import layout

MARKER = "<!-- ci-toolkit:{key} -->"
DEFAULT_KEY = "report"
FILE = layout.REPORT_MD
MAX_FAILURES = 50

# Higher is left out first when the report is over its byte budget.
_SLOWEST, _TIMELINE, _SERVICES, _SHARDS, _DELTA, _FILES, _PATCH, _CRITICAL, _FAILURES = (
    9,
    8,
    7,
    6,
    5,
    4,
    3,
    2,
    1,
)


def marker(key: str = DEFAULT_KEY) -> str:
    """The hidden first line that finds this report's comment again; one key per workflow or report."""
    return MARKER.format(key=text(key).replace("--", "- -"))


def render(report: Report, *, key: str = DEFAULT_KEY, max_bytes: int | None = None) -> str:
    return budget.fit(sections(report, key=key), max_bytes)


def sections(report: Report, *, key: str = DEFAULT_KEY) -> list[Section]:
    mark = "✅" if report.passed else "❌"
    out = [Section([marker(key), f"### {mark} ci-toolkit: {text(verdict_line(report))}", ""])]
    if report.note:
        out[0].head += [f"> {text(line)}" for line in report.note.splitlines() if line.strip()] + [""]
    for build in (_lanes, _failures, _flaky, _coverage, _delta, _patch, _critical, _files, _slowest, _shards):
        section = build(report)
        if section is not None:
            out.append(section)
    timeline = gantt.tasks(report)
    if timeline:
        out.append(Section(gantt.head(report), timeline, list(gantt.TAIL), _TIMELINE))
    services = _services(report)
    if services is not None:
        out.append(services)
    return out


def _table(title: str, columns: list[str], rows: list[str], priority: int) -> Section:
    head = [title, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return Section(head, rows, [""], priority)


def _lanes(report: Report) -> Section | None:
    if not report.lanes:
        return None
    rows = []
    for lane in report.lanes:
        if lane.skipped_reason is not None:
            rows.append(f"| {text(lane.name)} | skipped: {text(lane.skipped_reason)} | | | | | |")
            continue
        c = lane_counts(lane)
        status = "✅" if lane.ok else "❌"
        rows.append(
            f"| {status} {text(lane.name)} | {c.passed} | {c.failed - c.errors} | {c.skipped} | {c.errors} "
            f"| {len(flaky(lane))} | {lane.wall_time:.1f}s |"
        )
    columns = ["lane", "passed", "failed", "skipped", "errors", "flaky", "time"]
    return _table("**Tests**", columns, rows, 0)


def _failures(report: Report) -> Section | None:
    failed = [(lane.name, o) for lane in report.lanes for o in (*lane.failed, *lane.not_run)]
    if not failed:
        return None
    rows = [
        f"| {code(o.nodeid)} | {text(lane)} | {o.outcome} | {_first_line(o.message)} |"
        for lane, o in failed[:MAX_FAILURES]
    ]
    section = _table(
        f"**First failures** ({len(failed)})", ["test", "lane", "outcome", "message"], rows, _FAILURES
    )
    section.left_out = max(0, len(failed) - MAX_FAILURES)
    return section


def _flaky(report: Report) -> Section | None:
    found = [(lane.name, o) for lane in report.lanes for o in flaky(lane)]
    if not found:
        return None
    rows = [f"| {code(o.nodeid)} | {text(lane)} | {o.reruns} |" for lane, o in found[:MAX_FAILURES]]
    title = f"**Flaky**: failed, then passed on a rerun ({len(found)})"
    section = _table(title, ["test", "lane", "reruns"], rows, _FAILURES)
    section.left_out = max(0, len(found) - MAX_FAILURES)
    return section


def _first_line(message: str) -> str:
    lines = message.strip().splitlines()
    return text(lines[0]) if lines else ""


def _mark(passed: bool) -> str:
    return "✅" if passed else "❌"


def _coverage(report: Report) -> Section | None:
    verdict = report.verdict
    if verdict is None:
        return None
    if verdict.of_kind("data"):
        return Section(["**Coverage**: ❌ no coverage data", ""])
    line = f"**Coverage**: {verdict.total.display}%"
    for c in verdict.of_kind("total"):
        line += f" (fail_under {format_floor(c.minimum)}) {_mark(c.passed)}"
    if report.delta is not None:
        change = report.delta.total_after - report.delta.total_before
        line += f", {change:+.2f} against the base ({report.delta.total_before:.2f}%)"
    groups = [
        f"- {_mark(c.passed)} group {code(c.subject)} {c.percent}% (floor {format_floor(c.minimum)})"
        for c in verdict.of_kind("group")
    ]
    return Section([line, ""], groups, [""] if groups else [], _FILES)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _delta(report: Report) -> Section | None:
    if report.delta is None or not report.delta.files:
        return None
    rows = [f"| {code(f.path)} | {_percent(f.before)} | {_percent(f.after)} |" for f in report.delta.files]
    return _table("**Coverage changed in**", ["file", "before", "after"], rows, _DELTA)


def _patch(report: Report) -> Section | None:
    patch = report.verdict.patch if report.verdict is not None else None
    if patch is None:
        return None
    title = f"**Patch coverage** against {code(patch.base)}: {patch.measure.display}%"
    for c in report.verdict.of_kind("patch"):  # type: ignore[union-attr]
        if c.minimum is not None:
            title += f" (patch_fail_under {format_floor(c.minimum)}) {_mark(c.passed)}"
    rows = [
        f"| {code(f.path)} | {f.measure.display}% | {_changed_missing(f)} |"
        for f in patch.files
        if f.uncovered or f.missing_branches
    ]
    if not rows:
        return Section([title, ""])
    return _table(title, ["file", "coverage", "not run"], rows, _PATCH)


def _lines_and_branches(lines: str, branches: str) -> str:
    parts = [f"lines {lines}"] if lines else []
    if branches:
        parts.append(f"branches {branches}")
    return text("; ".join(parts))


def _missing(check: Check) -> str:
    return _lines_and_branches(check.missing_lines, check.missing_branches)


def _changed_missing(f: PatchFile) -> str:
    return _lines_and_branches(f.uncovered, f.missing_branches)


def _critical(report: Report) -> Section | None:
    checks = report.verdict.of_kind("critical") if report.verdict is not None else ()
    if not checks:
        return None
    rows = [
        f"| {_mark(c.passed)} {code(c.subject)} | {c.percent}% | {format_floor(c.minimum)}% | {_missing(c)} |"
        for c in sorted(checks, key=lambda c: c.passed)
    ]
    return _table("**Critical paths**", ["file", "coverage", "floor", "missing"], rows, _CRITICAL)


def _files(report: Report) -> Section | None:
    verdict = report.verdict
    if verdict is None:
        return None
    bad = [c for c in verdict.of_kind("file") if not c.passed]
    patterns = [c for c in verdict.of_kind("pattern")]
    if not bad and not patterns:
        return None
    rows = [
        f"| ❌ {code(c.subject)} | {c.percent}% | {format_floor(c.minimum)}% | {_missing(c)} |" for c in bad
    ]
    rows += [f"| ❌ {code(c.subject)} | | | {text(c.origin)} pattern: {text(c.detail)} |" for c in patterns]
    return _table("**Below their floor**", ["file", "coverage", "floor", "missing"], rows, _FILES)


def _slowest(report: Report) -> Section | None:
    if not report.slowest:
        return None
    head = [
        f"<details><summary>Slowest tests ({len(report.slowest)})</summary>",
        "",
        "| test | lane | seconds |",
        "|---|---|---|",
    ]
    rows = [f"| {code(t.nodeid)} | {text(t.lane)} | {t.seconds:.2f} |" for t in report.slowest]
    return Section(head, rows, ["", "</details>", ""], _SLOWEST)


def _shards(report: Report) -> Section | None:
    if not report.shards:
        return None
    rows = []
    for s in report.shards:
        realised = "—" if s.realised is None else f"{s.realised:.1f}s"
        ratio = f"{s.realised / s.predicted:.2f}x" if s.realised is not None and s.predicted > 0 else "—"
        rows.append(f"| {s.index} | {s.tests} | {s.predicted:.1f}s | {realised} | {ratio} |")
    columns = ["shard", "tests", "predicted", "realised", "realised/predicted"]
    return _table("**Shard balance**", columns, rows, _SHARDS)


def _services(report: Report) -> Section | None:
    if not report.services:
        return None
    waited = (
        "" if report.services_waited is None else f" (the run waited {report.services_waited:.1f}s for them)"
    )
    rows = [
        f"| {text(s.name)} | {text(s.backend)} | {s.seconds:.1f}s | {'yes' if s.reused else 'no'} |"
        for s in report.services
    ]
    return _table(f"**Services**{waited}", ["service", "backend", "ready after", "reused"], rows, _SERVICES)
