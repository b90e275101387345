"""The terminal and JSON summaries: pure renderers checked on their key lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.config import CoverageConfig, Floor
from ci_toolkit.gate.measured import CoverageReport, FileCoverage
from ci_toolkit.gate.verdict import Verdict, evaluate
from ci_toolkit.report import Counts, json_report, lane_counts, overall_passed, summary_line, total_counts
from ci_toolkit.report.terminal import MAX_FAILED_TESTS, render
from ci_toolkit.run.results import LaneResult, TestOutcome


def outcomes(prefix: str, outcome: str, n: int, message: str = "") -> tuple[TestOutcome, ...]:
    return tuple(TestOutcome(f"tests/{prefix}.py::test_{i}", outcome, message=message) for i in range(n))


def lane(name: str, *groups: tuple[TestOutcome, ...], exit_code: int = 0, wall: float = 3.21) -> LaneResult:
    return LaneResult(
        name=name, exit_code=exit_code, wall_time=wall, outcomes=tuple(o for g in groups for o in g)
    )


PASSING_FILES = (
    FileCoverage("app/__init__.py", 0),
    FileCoverage("app/auth.py", 20, branches=4),
    FileCoverage("app/api/views.py", 50, missing_lines=(7,), branches=6),
)
COV = CoverageConfig(
    fail_under=85,
    paths=(Floor("app/**", 90),),
    groups=(Floor("app/api/**", 80),),
    critical=(Floor("app/auth.py", 100),),
)


def passing_verdict() -> Verdict:
    return evaluate(CoverageReport(PASSING_FILES, has_branches=True), COV)


def failing_verdict() -> Verdict:
    files = (
        FileCoverage("app/auth.py", 20, branches=4, missing_branches=((12, -1),)),
        FileCoverage("app/api/views.py", 50, missing_lines=(12, 13, 14, 20), branches=6),
        FileCoverage("app/models.py", 10, missing_lines=(1, 2, 3, 4, 5)),
    )
    cov = CoverageConfig(
        fail_under=90,
        paths=(Floor("app/**", 95), Floor("app/models.py", 50)),
        groups=(Floor("app/api/**", 95),),
        critical=(Floor("app/auth.py", 100), Floor("app/billing/**", 100)),
    )
    return evaluate(CoverageReport(files, has_branches=True), cov)


def failing_lanes() -> list[LaneResult]:
    return [
        lane(
            "unit",
            outcomes("u", "passed", 3),
            (
                TestOutcome(
                    "tests/test_a.py::test_x", "failed", message="AssertionError: assert 1 == 2\nmore"
                ),
            ),
            (TestOutcome("tests/test_a.py::test_y", "error", message="fixture 'db' not found"),),
            exit_code=1,
        ),
        lane("integration", outcomes("i", "passed", 2), outcomes("xp", "xpassed", 1), exit_code=2, wall=75.4),
    ]


def test_passing_run_is_short_and_exact() -> None:
    lanes = [
        lane("unit", outcomes("u", "passed", 40), outcomes("s", "skipped", 1), outcomes("xf", "xfailed", 1)),
        LaneResult("slow", 0, 0.0, skipped_reason="no test is marked slow"),
    ]
    text = render(lanes, passing_verdict())
    assert text == (
        "LANES\n"
        "  unit  ok       40 passed    0 failed    2 skipped    0 errors     3.2s\n"
        "  slow  skipped: no test is marked slow\n"
        "COVERAGE\n"
        "  OK   total 98.75% (fail_under 85)\n"
        "  OK   files with a floor: 3 of 3 at or above it\n"
        "  OK   group app/api/**  98.21% (floor 80, 1 file)\n"
        "  OK   critical app/auth.py: 1 file, each at or above 100%\n"
        "PASSED\n"
        "ci-toolkit: 40 passed, 0 failed, 2 skipped\n"
    )


def test_failing_run_leads_with_what_failed() -> None:
    lines = render(failing_lanes(), failing_verdict()).splitlines()
    assert lines[:7] == [
        "FAILED TESTS (2)",
        "  FAILED tests/test_a.py::test_x [unit] - AssertionError: assert 1 == 2",
        "  ERROR  tests/test_a.py::test_y [unit] - fixture 'db' not found",
        "",
        "LANES THAT DID NOT FINISH CLEANLY",
        "  FAIL integration: pytest exit code 2: interrupted",
        "",
    ]
    start = lines.index("COVERAGE GATE FAILED (5 checks)")
    assert lines[start : lines.index("LANES")] == [
        "COVERAGE GATE FAILED (5 checks)",
        "  FAIL total 88.88% < 90 (fail_under)",
        "  FAIL files below their floor (1):",
        "    app/api/views.py  92.85% < 95  [app/**]  missing lines 12-14, 20",
        "  FAIL groups below their floor (1):",
        "    app/api/**  92.85% < 95  (1 file)",
        "  FAIL critical app/auth.py: 1 of 1 file below 100%",
        "    app/auth.py  95.83% < 100  missing branches 12->exit",
        "  FAIL critical pattern 'app/billing/**': pattern matches no measured file; "
        "check the path or coverage source",
        "",
    ]
    overview = lines[lines.index("LANES") :]
    assert overview == [
        "LANES",
        "  unit         FAIL      3 passed    1 failed    0 skipped    1 errors     3.2s",
        "  integration  FAIL      3 passed    0 failed    0 skipped    0 errors    1m15s  "
        "(pytest exit code 2: interrupted)",
        "COVERAGE",
        "  FAIL total 88.88% (fail_under 90)",
        "  FAIL files with a floor: 2 of 3 at or above it",
        "  FAIL group app/api/**  92.85% (floor 95, 1 file)",
        "  FAIL critical app/auth.py: 1 of 1 file below 100%",
        "  FAIL critical app/billing/**: matches no measured file",
        "FAILED: 2 tests failed; lane integration did not finish cleanly; coverage gate failed (5 checks)",
        "ci-toolkit: 6 passed, 2 failed, 0 skipped",
    ]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ((), "ci-toolkit: 0 passed, 0 failed, 0 skipped"),
        (
            (("passed", 2), ("failed", 1), ("error", 2), ("skipped", 3), ("xfailed", 1), ("xpassed", 4)),
            "ci-toolkit: 6 passed, 3 failed, 4 skipped",
        ),
    ],
)
def test_last_line_counts(groups: tuple[tuple[str, int], ...], expected: str) -> None:
    lanes = [lane("a", *(outcomes(kind, kind, n) for kind, n in groups))]
    for verdict in (None, passing_verdict(), failing_verdict()):
        for color in (False, True):
            assert render(lanes, verdict, color=color).splitlines()[-1] == expected
    assert summary_line(lanes) == expected


def test_counts_helpers() -> None:
    a = lane("a", outcomes("p", "passed", 2), outcomes("e", "error", 1), outcomes("xf", "xfailed", 1))
    assert lane_counts(a) == Counts(passed=2, failed=1, skipped=1, errors=1)
    assert total_counts([a, a]) == Counts(passed=4, failed=2, skipped=2, errors=2)
    assert not overall_passed([a], None)
    ok = lane("b", outcomes("p", "passed", 1))
    assert overall_passed([ok], None) and overall_passed([ok], passing_verdict())
    assert not overall_passed([ok], failing_verdict())


def test_failed_tests_are_capped() -> None:
    extra = 5
    lanes = [lane("only", outcomes("f", "failed", MAX_FAILED_TESTS + extra, message="boom"), exit_code=1)]
    lines = render(lanes, None).splitlines()
    assert lines[0] == f"FAILED TESTS ({MAX_FAILED_TESTS + extra})"
    shown = [line for line in lines if line.startswith("  FAILED ")]
    assert len(shown) == MAX_FAILED_TESTS
    assert shown[0] == "  FAILED tests/f.py::test_0 - boom"  # one lane: no lane tag
    assert f"  ... and {extra} more" in lines


def test_long_lines_fit_the_width_but_never_cut_a_node_id() -> None:
    long_id = "tests/test_" + "x" * 120 + ".py::test_it"
    lanes = [
        lane(
            "u",
            (TestOutcome("tests/t.py::test_a", "failed", message="E" * 200),),
            (TestOutcome(long_id, "failed", message="short"),),
            (TestOutcome("tests/t.py::test_b", "failed", message="   "),),
            exit_code=1,
        )
    ]
    lines = render(lanes, None, width=60).splitlines()
    assert lines[1].startswith("  FAILED tests/t.py::test_a - EEE") and lines[1].endswith("E...")
    assert len(lines[1]) == 60
    assert lines[2] == f"  FAILED {long_id}"
    assert lines[3] == "  FAILED tests/t.py::test_b"


def test_long_missing_line_lists_wrap() -> None:
    missing = tuple(range(1, 200, 2))
    f = FileCoverage("app/big.py", 400, missing_lines=missing)
    verdict = evaluate(CoverageReport((f,)), CoverageConfig(paths=(Floor("app/big.py", 100),)))
    lines = render([], verdict, width=60).splitlines()
    start = lines.index("  FAIL files below their floor (1):")
    block = []
    for line in lines[start + 1 :]:
        if not line:
            break
        block.append(line)
    assert block[0].startswith("    app/big.py  75.00% < 100  [app/big.py]  missing lines 1,")
    assert len(block) > 3
    assert all(len(line) <= 60 for line in block)
    assert all(line.startswith("        ") for line in block[1:])
    joined = " ".join(line.strip() for line in block)
    assert joined.endswith("195, 197, 199")


def test_colour_only_when_asked() -> None:
    plain = render(failing_lanes(), failing_verdict())
    assert "\033[" not in plain
    coloured = render(failing_lanes(), failing_verdict(), color=True)
    assert "\033[31mFAIL\033[0m" in coloured and "\033[1mLANES\033[0m" in coloured
    assert "\033[" not in coloured.splitlines()[-1]
    assert "\033[32mPASSED\033[0m" in render([lane("a", outcomes("p", "passed", 1))], None, color=True)


def test_no_coverage_section_without_a_verdict() -> None:
    text = render([lane("a", outcomes("p", "passed", 1))], None)
    assert "COVERAGE" not in text
    assert text.splitlines()[-2:] == ["PASSED", "ci-toolkit: 1 passed, 0 failed, 0 skipped"]


def test_note_goes_above_the_verdict() -> None:
    lines = render([lane("a", outcomes("p", "passed", 1))], None, note="coverage gate skipped").splitlines()
    assert lines[-3:] == [
        "note: coverage gate skipped",
        "PASSED",
        "ci-toolkit: 1 passed, 0 failed, 0 skipped",
    ]


def test_no_coverage_data() -> None:
    verdict = evaluate(CoverageReport(), COV)
    lines = render([lane("a", outcomes("p", "passed", 1))], verdict).splitlines()
    assert lines[:2] == [
        "COVERAGE GATE FAILED (1 check)",
        "  FAIL no coverage data: no file was measured; check the coverage source and that the tests ran",
    ]
    assert "  FAIL no coverage data" in lines
    assert lines[-2] == "FAILED: coverage gate failed (1 check)"


def test_percent_is_never_rounded_up_to_the_floor() -> None:
    f = FileCoverage("app/x.py", 100000, missing_lines=(1, 2, 3, 4))
    verdict = evaluate(CoverageReport((f,)), CoverageConfig(fail_under=100))
    text = render([], verdict)
    assert "  FAIL total 99.99% < 100 (fail_under)" in text
    assert "100.00" not in text


def test_lane_without_failed_tests_that_collected_nothing() -> None:
    lines = render([LaneResult("empty", 5, 0.5)], None).splitlines()
    assert "  FAIL empty: pytest exit code 5: no tests collected" in lines
    assert lines[-2] == "FAILED: lane empty did not finish cleanly"
    unknown = render([LaneResult("odd", 9, 0.5)], None)
    assert "pytest exit code 9: not one of pytest's exit codes" in unknown
    killed = render([LaneResult("killed", -9, 0.5)], None)
    assert "pytest exit code -9: killed by signal 9" in killed


def test_critical_patterns_each_listed() -> None:
    files = (FileCoverage("app/a.py", 2), FileCoverage("app/b.py", 2), FileCoverage("lib/c.py", 2, (1,)))
    cov = CoverageConfig(critical=(Floor("app/*.py", 100), Floor("lib/**", 40)))
    lines = render([], evaluate(CoverageReport(files), cov)).splitlines()
    assert "  OK   critical app/*.py: 2 files, each at or above 100%" in lines
    assert "  OK   critical lib/**: 1 file, each at or above 40%" in lines


# --- JSON ------------------------------------------------------------------------------------------


def test_to_dict_schema() -> None:
    data = json_report.to_dict(failing_lanes(), failing_verdict(), extra={"project": "demo"})
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert data["schema_version"] == 2
    assert data["passed"] is False
    assert data["project"] == "demo"
    assert data["tests"] == {"passed": 6, "failed": 2, "skipped": 0, "flaky": 0}
    unit, integration = data["lanes"]
    assert unit == {
        "name": "unit",
        "ok": False,
        "exit_code": 1,
        "wall_time": 3.21,
        "skipped_reason": None,
        "junit_path": None,
        "counts": {"passed": 3, "failed": 1, "skipped": 0, "error": 1, "xfailed": 0, "xpassed": 0},
        "failed": [
            {
                "nodeid": "tests/test_a.py::test_x",
                "outcome": "failed",
                "message": "AssertionError: assert 1 == 2\nmore",
            },
            {"nodeid": "tests/test_a.py::test_y", "outcome": "error", "message": "fixture 'db' not found"},
        ],
        "flaky": [],
        "not_run": [],
        "problems": [],
        "ran_tests": True,
    }
    assert integration["counts"]["xpassed"] == 1 and integration["exit_code"] == 2
    coverage = data["coverage"]
    assert coverage["passed"] is False
    assert coverage["total"] == {"covered": 80, "total": 90, "percent": 80 * 100 / 90}
    assert coverage["patch"] is None and data["delta"] is None and data["shards"] == []
    kinds = [c["kind"] for c in coverage["checks"]]
    assert kinds == ["total", "file", "file", "file", "group", "critical", "pattern"]
    views = next(c for c in coverage["checks"] if c["subject"] == "app/api/views.py")
    assert views == {
        "kind": "file",
        "subject": "app/api/views.py",
        "minimum": 95,
        "covered": 52,
        "total": 56,
        "percent": 52 * 100 / 56,
        "passed": False,
        "missing_lines": "12-14, 20",
        "missing_branches": "",
        "pattern": "app/**",
        "origin": "paths",
        "detail": "",
    }
    pattern = coverage["checks"][-1]
    assert (pattern["subject"], pattern["origin"], pattern["covered"], pattern["percent"]) == (
        "app/billing/**",
        "critical",
        None,
        None,
    )


def test_to_dict_without_coverage_and_passing() -> None:
    data = json_report.to_dict([lane("a", outcomes("p", "passed", 1))], None)
    assert data["coverage"] is None and data["passed"] is True
    assert json_report.to_dict([lane("a")], passing_verdict())["coverage"]["passed"] is True


def test_extra_may_not_replace_summary_fields() -> None:
    with pytest.raises(ValueError, match="'passed'"):
        json_report.to_dict([], None, extra={"passed": True})


def test_write_is_atomic_json(tmp_path: Path) -> None:
    path = tmp_path / "out" / "summary.json"
    data = json_report.to_dict(failing_lanes(), failing_verdict())
    json_report.write(path, data)
    assert json.loads(path.read_text()) == data
    assert path.read_text().endswith("}\n")
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]  # no temp file left behind
