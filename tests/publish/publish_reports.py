"""Reports for the publish tests, built from real verdicts (ci_toolkit.gate.verdict.evaluate)."""

from __future__ import annotations

import dataclasses

from ci_toolkit.config import CoverageConfig, Floor
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.patch import Patch, PatchFile
from ci_toolkit.gate.verdict import Check, evaluate
from ci_toolkit.report import model
from ci_toolkit.run.results import LaneResult, TestOutcome


def failing_report(*, patch_floor: float | None = None, failures: int = 2) -> model.Report:
    """Two failed tests (one pinned to a line), a critical file below 100%, one below its own floor of
    90, and changed lines not covered; `patch_floor` adds a failing patch check."""
    files = (
        FileCoverage("src/app/auth.py", statements=20, missing_lines=(12, 13, 14, 20)),
        FileCoverage("src/app/pay.py", statements=10, branches=2, missing_branches=((7, 9),)),
        FileCoverage("src/app/ok.py", statements=5),
    )
    cov = CoverageConfig(critical=(Floor("src/app/auth.py", 100), Floor("src/app/pay.py", 99.5)))
    verdict = evaluate(CoverageReport(files, has_branches=True), cov)
    changed = (
        PatchFile("src/app/auth.py", Measure(1, 4), "12-14"),
        PatchFile("src/app/ok.py", Measure(2, 2), ""),
        PatchFile("../../outside/x.py", Measure(0, 2), "3, 5"),  # a path outside the repository
    )
    patch = Patch("origin/main", Measure.sum(f.measure for f in changed), changed)
    checks = verdict.checks
    if patch_floor is not None:
        checks += (Check("patch", "patch", patch_floor, patch.measure, passed=False),)
    verdict = dataclasses.replace(verdict, patch=patch, checks=checks, passed=False)
    outcomes = [
        TestOutcome(
            "tests/test_a.py::test_x",
            "failed",
            message="assert 1 == 2\nwhere ...",
            path="tests/test_a.py",
            line=7,
        ),
        TestOutcome(
            "tests/test_a.py::test_db", "error", message="fixture 'db' not found", path="tests/test_a.py"
        ),
        TestOutcome("tests/test_a.py::test_ok", "passed"),
    ]
    outcomes += [
        TestOutcome(
            f"tests/test_b.py::test_{i}", "failed", message=f"boom {i}", path="tests/test_b.py", line=i + 1
        )
        for i in range(max(0, failures - 2))
    ]
    lane = LaneResult("unit", 1, 3.0, tuple(outcomes))
    return model.build([lane], verdict, exit_code=1)


def passing_report(*, gate: bool = True) -> model.Report:
    files = (FileCoverage("src/app/ok.py", statements=3, missing_lines=(2,)),)
    verdict = evaluate(CoverageReport(files, has_branches=False), CoverageConfig()) if gate else None
    lane = LaneResult("unit", 0, 1.0, (TestOutcome("tests/test_a.py::test_ok", "passed"),))
    return model.build([lane], verdict)
