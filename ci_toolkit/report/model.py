"""The one report every renderer draws from: the lanes, the verdict (with its patch coverage), the delta,
the services, the shard balance and the slowest tests, built once per run.

`to_dict` is the documented JSON schema ([JSON output](../../docs/reference/json-output.md)) and
`from_dict` reads it back, so a saved run (`<output_dir>/report.json`) renders exactly as it did live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import DataError
from ci_toolkit.gate.compare import Delta, FileDelta
from ci_toolkit.gate.measured import Measure
from ci_toolkit.gate.patch import Patch, PatchFile
from ci_toolkit.gate.verdict import Check, Verdict
from ci_toolkit.report import overall_passed, total_counts
from ci_toolkit.run.results import LaneResult, TestOutcome

if TYPE_CHECKING:
    from ci_toolkit.planning import Plan

SCHEMA_VERSION = 2
SLOWEST = 10  # the slowest tests kept in a report
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")


@dataclass(frozen=True)
class SlowTest:
    nodeid: str
    lane: str
    seconds: float


@dataclass(frozen=True)
class ShardTime:
    """One shard of a sharded run: what the plan predicted and, when known here, what it took."""

    index: int
    predicted: float
    realised: float | None  # None: that shard's run is not part of this report
    tests: int = 0


@dataclass(frozen=True)
class Service:
    name: str
    backend: str
    seconds: float  # from start to ready, partly overlapping other work
    reused: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Report:
    lanes: tuple[LaneResult, ...]
    verdict: Verdict | None
    exit_code: int = 0
    note: str | None = None
    delta: Delta | None = None
    services: tuple[Service, ...] = ()
    services_waited: float | None = None  # seconds the run stood still waiting for services
    shards: tuple[ShardTime, ...] = ()  # empty unless the run was sharded
    slowest: tuple[SlowTest, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # kept for callers of json_report.to_dict

    @property
    def passed(self) -> bool:
        return overall_passed(self.lanes, self.verdict)


def flaky(lane: LaneResult) -> tuple[TestOutcome, ...]:
    """Tests that failed, were rerun (pytest-rerunfailures) and then passed."""
    return tuple(o for o in lane.outcomes if o.reruns and o.outcome in ("passed", "xpassed"))


def slowest_tests(lanes: Sequence[LaneResult], n: int = SLOWEST) -> tuple[SlowTest, ...]:
    found = [SlowTest(o.nodeid, lane.name, o.duration) for lane in lanes for o in lane.outcomes]
    found.sort(key=lambda t: (-t.seconds, t.nodeid))
    return tuple(t for t in found[:n] if t.seconds > 0)


def shard_times(plan: Plan, shard: tuple[int, int], lanes: Sequence[LaneResult]) -> tuple[ShardTime, ...]:
    """Every shard's predicted time from the plan; the realised time of the one that ran here."""
    return balance(plan, {shard[0]: sum(lane.wall_time for lane in lanes)})


def balance(plan: Plan, realised: Mapping[int, float]) -> tuple[ShardTime, ...]:
    """Every shard's predicted time from the plan, beside what each shard whose run is known took."""
    return tuple(
        ShardTime(index=i, predicted=s.predicted, realised=realised.get(i), tests=len(s.tests))
        for i, s in enumerate(plan.shards, start=1)
    )


def build(
    lanes: Sequence[LaneResult],
    verdict: Verdict | None,
    *,
    exit_code: int = 0,
    note: str | None = None,
    delta: Delta | None = None,
    services: Sequence[Mapping[str, object]] = (),
    services_waited: float | None = None,
    shards: Sequence[ShardTime] = (),
) -> Report:
    return Report(
        lanes=tuple(lanes),
        verdict=verdict,
        exit_code=int(exit_code),
        note=note,
        delta=delta,
        services=tuple(_service(s) for s in services),
        services_waited=services_waited,
        shards=tuple(shards),
        slowest=slowest_tests(lanes),
    )


def _service(entry: Mapping[str, Any]) -> Service:
    return Service(
        name=str(entry.get("name", "")),
        backend=str(entry.get("backend", "")),
        seconds=float(entry.get("seconds", 0.0)),  # type: ignore[arg-type]
        reused=bool(entry.get("reused", False)),
        detail=str(entry.get("detail", "")),
    )


def verdict_line(report: Report) -> str:
    """One line: passed, or which checks failed."""
    if report.passed:
        return "passed"
    reasons: list[str] = []
    failed = sum(len(lane.failed) for lane in report.lanes)
    if failed:
        reasons.append(f"{plural(failed, 'test')} failed")
    broken = [lane.name for lane in report.lanes if not lane.ok and not lane.failed]
    if broken:
        reasons.append("lane " + ", ".join(broken) + " did not finish cleanly")
    verdict = report.verdict
    if verdict is not None and not verdict.passed:
        kinds = dict.fromkeys(_check_name(c) for c in verdict.failures)
        reasons.append("coverage gate failed: " + ", ".join(kinds))
    return "failed: " + "; ".join(reasons)


def _check_name(check: Check) -> str:
    if check.kind == "total":
        return f"total {check.percent}% < {check.minimum:g}" if check.minimum is not None else "total"
    if check.kind == "patch":
        return "patch coverage"
    return {
        "data": "no data",
        "file": "file floors",
        "group": "group floors",
        "critical": "critical paths",
    }.get(check.kind, "patterns")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- the JSON schema ------------------------------------------------------------------------------------


def to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data; the `extra` keys go to the top level but never replace ours."""
    counts = total_counts(report.lanes)
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "passed": report.passed,
        "verdict": verdict_line(report),
        "exit_code": report.exit_code,
        "note": report.note,
        "tests": {
            "passed": counts.passed,
            "failed": counts.failed,
            "skipped": counts.skipped,
            "flaky": sum(len(flaky(lane)) for lane in report.lanes),
        },
        "lanes": [_lane(lane) for lane in report.lanes],
        "coverage": None if report.verdict is None else _coverage(report.verdict),
        "delta": None if report.delta is None else _delta(report.delta),
        "slowest": [{"nodeid": t.nodeid, "lane": t.lane, "seconds": t.seconds} for t in report.slowest],
        "shards": [
            {"shard": s.index, "predicted": s.predicted, "realised": s.realised, "tests": s.tests}
            for s in report.shards
        ],
        "services": [
            {
                "name": s.name,
                "backend": s.backend,
                "seconds": s.seconds,
                "reused": s.reused,
                "detail": s.detail,
            }
            for s in report.services
        ],
        "services_waited": None if report.services_waited is None else round(report.services_waited, 3),
    }
    for key, value in report.extra.items():
        if key in data:
            raise ValueError(f"extra key {key!r} would replace a summary field")
        data[key] = value
    return data


def _outcome(o: TestOutcome) -> dict[str, Any]:
    # Where it failed: optional keys within schema version 2, absent when unknown.
    where = {**({"path": o.path} if o.path else {}), **({"line": o.line} if o.line else {})}
    return {"nodeid": o.nodeid, "outcome": o.outcome, "message": o.message, **where}


def _lane(lane: LaneResult) -> dict[str, Any]:
    return {
        "name": lane.name,
        "ok": lane.ok,
        "exit_code": lane.exit_code,
        "wall_time": lane.wall_time,
        "skipped_reason": lane.skipped_reason,
        "junit_path": lane.junit_path,
        "counts": {outcome: lane.count(outcome) for outcome in OUTCOMES},
        "failed": [_outcome(o) for o in lane.failed],
        "flaky": [{"nodeid": o.nodeid, "reruns": o.reruns} for o in flaky(lane)],
        "not_run": [o.nodeid for o in lane.not_run],
        "problems": list(lane.problems),
        "ran_tests": lane.ran_tests,
    }


def _measure(m: Measure) -> dict[str, Any]:
    return {"covered": m.covered, "total": m.total, "percent": m.percent}


def _check(c: Check) -> dict[str, Any]:
    m = c.measure
    return {
        "kind": c.kind,
        "subject": c.subject,
        "minimum": c.minimum,
        "covered": m.covered if m is not None else None,
        "total": m.total if m is not None else None,
        "percent": m.percent if m is not None else None,
        "passed": c.passed,
        "missing_lines": c.missing_lines,
        "missing_branches": c.missing_branches,
        "pattern": c.pattern,
        "origin": c.origin,
        "detail": c.detail,
    }


def _patch(p: Patch) -> dict[str, Any]:
    return {
        "base": p.base,
        **_measure(p.measure),
        "files": [
            {
                "path": f.path,
                **_measure(f.measure),
                "uncovered": f.uncovered,
                "missing_branches": f.missing_branches,
            }
            for f in p.files
        ],
    }


def _coverage(verdict: Verdict) -> dict[str, Any]:
    return {
        "passed": verdict.passed,
        "total": _measure(verdict.total),
        "checks": [_check(c) for c in verdict.checks],
        "patch": None if verdict.patch is None else _patch(verdict.patch),
        # Every judged file, so that a saved report can be compared against (--compare).
        "files": [{"path": path, **_measure(m)} for path, m in verdict.files],
    }


def _delta(d: Delta) -> dict[str, Any]:
    return {
        "total_before": d.total_before,
        "total_after": d.total_after,
        "files": [{"path": f.path, "before": f.before, "after": f.after} for f in d.files],
    }


# --- reading a saved report back ------------------------------------------------------------------------


def from_dict(doc: Mapping[str, Any], where: str = "report") -> Report:
    """A report saved by `to_dict`; anything malformed is one DataError line naming `where`."""
    if not isinstance(doc, Mapping) or doc.get("schema_version") != SCHEMA_VERSION:
        version = doc.get("schema_version") if isinstance(doc, Mapping) else None
        raise DataError(
            f"{where}: not a ci-toolkit report of schema version {SCHEMA_VERSION} (found {version!r})"
        )
    try:
        coverage = doc["coverage"]
        delta = doc.get("delta")
        return Report(
            lanes=tuple(_read_lane(entry) for entry in doc["lanes"]),
            verdict=None if coverage is None else _read_verdict(coverage),
            exit_code=int(doc["exit_code"]),
            note=doc.get("note"),
            delta=None if delta is None else _read_delta(delta),
            services=tuple(_service(s) for s in doc.get("services", ())),
            services_waited=doc.get("services_waited"),
            shards=tuple(
                ShardTime(int(s["shard"]), float(s["predicted"]), s["realised"], int(s.get("tests", 0)))
                for s in doc.get("shards", ())
            ),
            slowest=tuple(
                SlowTest(str(t["nodeid"]), str(t["lane"]), float(t["seconds"]))
                for t in doc.get("slowest", ())
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{where}: malformed report: {exc!r}") from None


def _read_lane(entry: Mapping[str, Any]) -> LaneResult:
    outcomes = [
        TestOutcome(
            str(o["nodeid"]),
            str(o["outcome"]),
            message=str(o.get("message", "")),
            path=str(o.get("path", "")),
            line=int(o.get("line", 0)),
        )
        for o in entry["failed"]
    ]
    outcomes += [
        TestOutcome(str(o["nodeid"]), "passed", reruns=int(o["reruns"])) for o in entry.get("flaky", ())
    ]
    outcomes += [TestOutcome(str(nodeid), "notrun") for nodeid in entry.get("not_run", ())]
    return LaneResult(
        name=str(entry["name"]),
        exit_code=int(entry["exit_code"]),
        wall_time=float(entry["wall_time"]),
        outcomes=tuple(outcomes),
        junit_path=entry.get("junit_path"),
        skipped_reason=entry.get("skipped_reason"),
        counts={str(k): int(v) for k, v in entry["counts"].items()},
        problems=tuple(str(p) for p in entry.get("problems", ())),
        ran_tests=bool(entry.get("ran_tests", True)),
    )


def _read_measure(entry: Mapping[str, Any]) -> Measure | None:
    if entry.get("covered") is None or entry.get("total") is None:
        return None
    return Measure(int(entry["covered"]), int(entry["total"]))


def _read_verdict(entry: Mapping[str, Any]) -> Verdict:
    checks = tuple(
        Check(
            kind=c["kind"],
            subject=str(c["subject"]),
            minimum=c["minimum"],
            measure=_read_measure(c),
            passed=bool(c["passed"]),
            missing_lines=str(c.get("missing_lines", "")),
            missing_branches=str(c.get("missing_branches", "")),
            pattern=str(c.get("pattern", "")),
            origin=str(c.get("origin", "")),
            detail=str(c.get("detail", "")),
        )
        for c in entry["checks"]
    )
    patch = entry.get("patch")
    total = _read_measure(entry["total"])
    return Verdict(
        passed=bool(entry["passed"]),
        total=total if total is not None else Measure(0, 0),
        checks=checks,
        patch=None if patch is None else _read_patch(patch),
        files=tuple((str(f["path"]), _read_measure(f) or Measure(0, 0)) for f in entry.get("files", ())),
    )


def _read_patch(entry: Mapping[str, Any]) -> Patch:
    files = tuple(
        PatchFile(
            str(f["path"]),
            _read_measure(f) or Measure(0, 0),
            str(f.get("uncovered", "")),
            str(f.get("missing_branches", "")),
        )
        for f in entry["files"]
    )
    return Patch(str(entry["base"]), _read_measure(entry) or Measure(0, 0), files)


def _read_delta(entry: Mapping[str, Any]) -> Delta:
    files = tuple(FileDelta(str(f["path"]), f["before"], f["after"]) for f in entry["files"])
    return Delta(float(entry["total_before"]), float(entry["total_after"]), files)


def with_extra(report: Report, extra: Mapping[str, Any]) -> Report:
    return replace(report, extra=dict(extra))
