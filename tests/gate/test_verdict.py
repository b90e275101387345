"""The gate as a pure function: hand-built reports in, verdicts out."""

from __future__ import annotations

import pytest

from ci_toolkit.config import CoverageConfig, Floor
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.patch import Patch, PatchFile
from ci_toolkit.gate.verdict import (
    NO_DATA,
    NO_MATCH,
    NO_PATCH_LINES,
    Check,
    evaluate,
    floor_for,
    format_arcs,
    format_floor,
    format_ranges,
)


def fc(
    path: str, statements: int = 10, missing: int = 0, branches: int = 0, missing_br: int = 0
) -> FileCoverage:
    """A file with the first *missing* lines and the first *missing_br* branches uncovered."""
    return FileCoverage(
        path=path,
        statements=statements,
        missing_lines=tuple(range(1, missing + 1)),
        branches=branches,
        missing_branches=tuple((i, i + 1) for i in range(1, missing_br + 1)),
    )


def report(*files: FileCoverage) -> CoverageReport:
    return CoverageReport(files=files, has_branches=any(f.branches for f in files))


def only(verdict_checks: tuple[Check, ...]) -> Check:
    assert len(verdict_checks) == 1, verdict_checks
    return verdict_checks[0]


# --- empty data and totals -------------------------------------------------------------------------


def test_empty_report_fails_closed() -> None:
    v = evaluate(CoverageReport(), CoverageConfig(fail_under=0, critical=(Floor("app/x.py", 100),)))
    assert not v.passed
    check = only(v.checks)
    assert (check.kind, check.passed, check.detail) == ("data", False, NO_DATA)
    assert v.total == Measure(0, 0)
    assert v.failures == v.checks


def test_total_always_checked_and_passes_at_zero_floor() -> None:
    v = evaluate(report(fc("a.py", missing=10)), CoverageConfig(fail_under=0))
    assert v.passed
    total = only(v.of_kind("total"))
    assert total.measure == Measure(0, 10) and total.minimum == 0 and total.passed
    assert v.failures == ()


@pytest.mark.parametrize(
    ("covered", "total", "minimum", "passed", "shown"),
    [
        (84999, 100000, 85, False, "84.99"),  # 84.999% is below 85, shown truncated not rounded
        (85000, 100000, 85, True, "85.00"),
        (99996, 100000, 100, False, "99.99"),  # never displayed as 100.00
        (17, 20, 85, True, "85.00"),
        (851, 1000, 85.1, True, "85.10"),  # 85.1 compared as the decimal the user wrote
        (850, 1000, 85.1, False, "85.00"),
        (2, 3, 66.67, False, "66.66"),
        (2, 3, 66.66, True, "66.66"),
        (0, 0, 100, True, "100.00"),
    ],
)
def test_exact_boundaries(covered: int, total: int, minimum: float, passed: bool, shown: str) -> None:
    f = FileCoverage(path="m.py", statements=total, missing_lines=tuple(range(covered + 1, total + 1)))
    assert f.measure == Measure(covered, total)
    v = evaluate(report(f), CoverageConfig(fail_under=minimum))
    check = only(v.of_kind("total"))
    assert (check.passed, check.percent) == (passed, shown)
    assert v.passed is passed


def test_total_aggregates_lines_and_branches_of_all_files() -> None:
    v = evaluate(
        report(fc("a.py", 10, missing=2, branches=4, missing_br=1), fc("b.py", 6, branches=0)),
        CoverageConfig(fail_under=80),
    )
    assert v.total == Measure(8 + 3 + 6, 14 + 6)
    assert v.passed


# --- per-file floors and specificity ---------------------------------------------------------------


def test_zero_statement_file_counts_as_fully_covered() -> None:
    empty = FileCoverage(path="app/__init__.py", statements=0)
    v = evaluate(report(empty), CoverageConfig(fail_under=100, paths=(Floor("app/**", 100),)))
    assert v.passed
    assert only(v.of_kind("file")).percent == "100.00"


def test_branch_only_miss_fails_a_full_floor() -> None:
    f = FileCoverage(path="app/x.py", statements=5, branches=4, missing_branches=((3, 5), (7, -1)))
    v = evaluate(report(f), CoverageConfig(paths=(Floor("app/x.py", 100),)))
    check = only(v.of_kind("file"))
    assert not check.passed
    assert check.missing_lines == ""
    assert check.missing_branches == "3->5, 7->exit"
    assert check.measure == Measure(7, 9)


@pytest.mark.parametrize(
    ("path", "floors", "expected"),
    [
        # an exact path beats any glob, even a lower floor
        ("app/models.py", [("app/**", 90), ("app/models.py", 50)], "app/models.py"),
        ("app/models.py", [("app/models.py", 50), ("app/*.py", 95)], "app/models.py"),
        # more literal segments wins
        ("app/api/v1.py", [("app/**", 90), ("app/api/*.py", 70)], "app/api/*.py"),
        ("app/api/v1.py", [("**/v1.py", 10), ("app/api/*", 70)], "app/api/*"),
        # then more literal characters
        ("app/api/v1.py", [("app/api/*", 70), ("app/api/*.py", 60)], "app/api/*.py"),
        ("app/test_x.py", [("app/*.py", 70), ("app/test_*.py", 60)], "app/test_*.py"),
        # nothing matches
        ("lib/x.py", [("app/**", 90)], None),
    ],
)
def test_most_specific_pattern_wins(path: str, floors: list[tuple[str, float]], expected: str | None) -> None:
    chosen = floor_for(path, [Floor(p, m) for p, m in floors])
    assert (chosen.pattern if chosen else None) == expected


def test_specificity_tie_goes_to_the_stricter_floor() -> None:
    floors = [Floor("app/*.py", 70), Floor("app/?x.py", 50), Floor("*/ax.py", 95)]
    # "app/?x.py" has one literal character more than "app/*.py"; "*/ax.py" has fewer literal segments.
    assert floor_for("app/ax.py", floors) == Floor("app/?x.py", 50)
    tied = [Floor("app/a*.py", 70), Floor("app/*a.py", 90), Floor("app/[ab]a.py", 80)]  # all (0, 1, 7)
    assert floor_for("app/aa.py", tied) == Floor("app/*a.py", 90)
    assert floor_for("app/aa.py", [Floor("app/**", 80), Floor("app/**", 60)]) == Floor("app/**", 80)


def test_file_floors_apply_per_file_and_report_missing_ranges() -> None:
    files = (
        FileCoverage(
            "app/models.py", 20, missing_lines=(12, 13, 14, 20), branches=2, missing_branches=((20, 22),)
        ),
        fc("app/views.py", 10, missing=1),
        fc("lib/util.py", 10, missing=9),  # no floor: only in the total
    )
    cov = CoverageConfig(paths=(Floor("app/**", 85), Floor("app/views.py", 95)))
    v = evaluate(report(*files), cov)
    by_path = {c.subject: c for c in v.of_kind("file")}
    assert set(by_path) == {"app/models.py", "app/views.py"}
    models, views = by_path["app/models.py"], by_path["app/views.py"]
    assert (models.passed, models.minimum, models.pattern, models.origin) == (False, 85, "app/**", "paths")
    assert (models.missing_lines, models.missing_branches) == ("12-14, 20", "20->22")
    assert models.percent == "77.27"
    assert (views.passed, views.minimum, views.pattern) == (False, 95, "app/views.py")
    assert not v.passed
    assert {c.subject for c in v.failures} == {"app/models.py", "app/views.py"}


# --- groups ----------------------------------------------------------------------------------------


def test_group_aggregates_over_matched_files() -> None:
    files = (fc("app/api/a.py", 10, missing=5), fc("app/api/b.py", 30), fc("app/core.py", 10, missing=10))
    cov = CoverageConfig(groups=(Floor("app/api/**", 85), Floor("app/**", 80)))
    v = evaluate(report(*files), cov)
    api, whole = v.of_kind("group")
    assert (api.subject, api.measure, api.passed, api.detail) == (
        "app/api/**",
        Measure(35, 40),
        True,
        "2 files",
    )
    assert (whole.measure, whole.passed, whole.detail) == (Measure(35, 50), False, "3 files")
    assert whole.origin == "groups" and whole.minimum == 80
    one = evaluate(report(fc("app/core.py")), CoverageConfig(groups=(Floor("app/core.py", 80),)))
    assert only(one.of_kind("group")).detail == "1 file"


# --- critical --------------------------------------------------------------------------------------


def test_critical_checks_each_file_at_full_coverage() -> None:
    files = (
        fc("app/auth/login.py", 10),
        fc("app/auth/tokens.py", 10, branches=2, missing_br=1),
        FileCoverage("app/auth/never.py", 4, missing_lines=(1, 2, 3, 4)),  # never imported: 0%
        fc("app/other.py", 10, missing=10),
    )
    v = evaluate(report(*files), CoverageConfig(critical=(Floor("app/auth/**", 100),)))
    checks = {c.subject: c for c in v.of_kind("critical")}
    assert set(checks) == {"app/auth/login.py", "app/auth/tokens.py", "app/auth/never.py"}
    assert checks["app/auth/login.py"].passed
    assert not checks["app/auth/tokens.py"].passed
    assert checks["app/auth/tokens.py"].missing_branches == "1->2"
    assert checks["app/auth/never.py"].measure == Measure(0, 4)
    assert checks["app/auth/never.py"].missing_lines == "1-4"
    assert all(c.pattern == "app/auth/**" and c.origin == "critical" for c in checks.values())
    assert not v.passed


def test_critical_with_a_lower_floor() -> None:
    files = (fc("app/pay.py", 10, missing=1), fc("app/refund.py", 10, missing=2))
    v = evaluate(report(*files), CoverageConfig(critical=(Floor("app/*.py", 90),)))
    checks = {c.subject: c.passed for c in v.of_kind("critical")}
    assert checks == {"app/pay.py": True, "app/refund.py": False}


def test_critical_is_independent_of_path_floors() -> None:
    f = fc("app/pay.py", 10, missing=1)
    cov = CoverageConfig(paths=(Floor("app/pay.py", 50),), critical=(Floor("app/pay.py", 100),))
    v = evaluate(report(f), cov)
    assert only(v.of_kind("file")).passed
    assert not only(v.of_kind("critical")).passed


# --- patterns matching nothing ---------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["paths", "groups", "critical"])
def test_pattern_matching_nothing_fails(origin: str) -> None:
    cov = CoverageConfig(**{origin: (Floor("app/gone.py", 80),)})
    v = evaluate(report(fc("app/here.py")), cov)
    check = only(v.of_kind("pattern"))
    assert (check.subject, check.origin, check.passed, check.minimum) == ("app/gone.py", origin, False, 80)
    assert check.detail == NO_MATCH
    assert check.measure is None and check.percent == ""
    assert not v.passed


def test_bare_directory_pattern_gets_a_hint() -> None:
    v = evaluate(report(fc("app/x.py")), CoverageConfig(critical=(Floor("app", 100),)))
    assert "write 'app/**'" in only(v.of_kind("pattern")).detail


def test_everything_passing() -> None:
    files = (fc("app/a.py"), fc("app/b.py", branches=4))
    cov = CoverageConfig(
        fail_under=100,
        paths=(Floor("app/**", 100),),
        groups=(Floor("app/**", 100),),
        critical=(Floor("app/a.py", 100),),
    )
    v = evaluate(report(*files), cov)
    assert v.passed and not v.failures
    assert [c.kind for c in v.checks] == ["total", "file", "file", "group", "critical"]


# --- formatting helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], ""),
        ([5], "5"),
        ([12, 13, 14, 20], "12-14, 20"),
        ([20, 12, 14, 13, 13], "12-14, 20"),
        ([1, 3, 5, 6], "1, 3, 5-6"),
    ],
)
def test_format_ranges(lines: list[int], expected: str) -> None:
    assert format_ranges(lines) == expected


def test_format_arcs_and_floor() -> None:
    assert format_arcs([(20, 22), (3, -1), (20, 22)]) == "3->exit, 20->22"
    assert format_arcs([]) == ""
    assert [format_floor(m) for m in (85.0, 84.999, 100, 0.5, None)] == ["85", "84.999", "100", "0.5", ""]


# ---- patch coverage ("patch" check) ----


def _patch(covered: int, total: int, *files: tuple[str, str, str]) -> Patch:
    return Patch(
        base="main",
        measure=Measure(covered, total),
        files=tuple(PatchFile(path, Measure(0, 1), lines, branches) for path, lines, branches in files),
    )


def test_without_a_base_there_is_no_patch_check() -> None:
    verdict = evaluate(report(fc("a.py")), CoverageConfig(patch_fail_under=90))
    assert verdict.of_kind("patch") == ()
    assert verdict.patch is None


def test_patch_below_its_floor_fails_the_gate_with_the_uncovered_ranges() -> None:
    patch = _patch(3, 4, ("app/pay.py", "41-44, 57", "41->43"), ("app/x.py", "", "7->exit"))
    verdict = evaluate(report(fc("app/pay.py")), CoverageConfig(patch_fail_under=80), patch)
    check = only(verdict.of_kind("patch"))
    assert not verdict.passed and not check.passed
    assert (check.minimum, check.measure, check.percent) == (80, Measure(3, 4), "75.00")
    assert check.missing_lines == "app/pay.py 41-44, 57"
    assert check.missing_branches == "app/pay.py 41->43; app/x.py 7->exit"
    assert check.detail == "2 files changed since main"
    assert verdict.patch is patch


def test_patch_is_judged_exactly_and_reported_without_a_floor() -> None:
    at_floor = evaluate(report(fc("a.py")), CoverageConfig(patch_fail_under=75), _patch(3, 4))
    assert at_floor.passed and only(at_floor.of_kind("patch")).passed
    unfloored = evaluate(report(fc("a.py")), CoverageConfig(), _patch(0, 4, ("a.py", "1-4", "")))
    check = only(unfloored.of_kind("patch"))
    assert unfloored.passed and check.passed and check.minimum is None
    assert check.detail == "1 file changed since main"


def test_a_change_without_measured_lines_passes_and_says_so() -> None:
    verdict = evaluate(report(fc("a.py")), CoverageConfig(patch_fail_under=100), _patch(0, 0))
    check = only(verdict.of_kind("patch"))
    assert check.passed and check.detail == NO_PATCH_LINES and check.percent == "100.00"


def test_verdict_keeps_every_judged_files_measure() -> None:
    verdict = evaluate(report(fc("b.py", missing=5), fc("a.py")), CoverageConfig())
    assert verdict.files == (("a.py", Measure(10, 10)), ("b.py", Measure(5, 10)))
