"""A report with every section filled, shared by the renderers' tests."""

from __future__ import annotations

import dataclasses

from ci_toolkit.config import CoverageConfig, Floor
from ci_toolkit.gate.compare import Delta, FileDelta
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.patch import Patch, PatchFile
from ci_toolkit.gate.verdict import evaluate
from ci_toolkit.report import model
from ci_toolkit.run.results import LaneResult, TestOutcome


def full_report() -> model.Report:
    # One file per section: a critical path short of a branch, files below the floor, a group below its own.
    shapes = {
        "app/auth.py": {"statements": 20, "branches": 4, "missing_branches": ((12, -1),)},
        "app/api/views.py": {"statements": 50, "branches": 6, "missing_lines": (12, 13, 14, 20)},
        "app/models.py": {"statements": 10, "missing_lines": tuple(range(1, 6))},
    }
    files = tuple(FileCoverage(path, **shape) for path, shape in shapes.items())  # type: ignore[arg-type]
    floors = {"paths": "app/**", "groups": "app/api/**"}
    cov = CoverageConfig(
        fail_under=90,
        critical=(Floor("app/auth.py", 100),),
        **{k: (Floor(v, 95),) for k, v in floors.items()},
    )
    verdict = evaluate(CoverageReport(files, has_branches=True), cov)
    patch = Patch(
        "origin/main",
        Measure(3, 8),
        (
            PatchFile("app/pay.py", Measure(3, 8), "41-44, 57"),
            PatchFile("app/ok.py", Measure(2, 2), ""),
            PatchFile("app/br.py", Measure(1, 2), "", "3->5"),
        ),
    )
    verdict = dataclasses.replace(verdict, patch=patch)
    unit = LaneResult(
        "unit",
        1,
        12.5,
        (
            TestOutcome("tests/test_a.py::test_x", "failed", call=2.0, message="assert 1 == 2\nmore"),
            TestOutcome("tests/test_a.py::test_flaky", "passed", call=1.0, reruns=2),
            TestOutcome("tests/test_a.py::test_ok", "passed", call=0.5),
            TestOutcome("tests/test_a.py::test_err", "error", setup=0.1, message="fixture 'db' not found"),
        ),
    )
    integration = LaneResult(
        "integration", 0, 30.0, (TestOutcome("tests/it.py::test_db", "passed", call=9.0),)
    )
    return model.build(
        [unit, integration],
        verdict,
        exit_code=1,
        note="coverage html written",
        delta=Delta(
            91.0, 88.5, (FileDelta("app/models.py", 80.0, 50.0), FileDelta("app/new.py", None, 10.0))
        ),
        services=[{"name": "db", "backend": "docker", "seconds": 2.5, "reused": False, "detail": ""}],
        services_waited=1.25,
        shards=(model.ShardTime(1, 40.0, 42.5, 5), model.ShardTime(2, 38.0, None, 4)),
    )
