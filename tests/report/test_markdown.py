"""The Markdown report: the same content as the terminal's, in the same order, within a byte budget."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_samples import full_report

from ci_toolkit.report import budget, gantt, markdown, model, terminal
from ci_toolkit.report.budget import Section
from ci_toolkit.run.results import LaneResult, TestOutcome


@pytest.fixture
def report() -> model.Report:
    """A report with every section filled (tests/report/report_samples.py)."""
    return full_report()


def test_every_section_in_order(report: model.Report) -> None:
    text = markdown.render(report, key="ci/py3.12")
    lines = text.splitlines()
    assert lines[0] == "<!-- ci-toolkit:ci/py3.12 -->"
    assert lines[1].startswith("### ❌ ci-toolkit: failed: 2 tests failed; coverage gate failed")
    titles = [
        "**Tests**",
        "**First failures** (2)",
        "**Coverage**: ",
        "**Coverage changed in**",
        "**Patch coverage** against <code>origin/main</code>: 37.50%",
        "**Critical paths**",
        "**Below their floor**",
        "<details><summary>Slowest tests (5)</summary>",
        "**Shard balance**",
        "```mermaid",
        "**Services** (the run waited 1.2s for them)",
    ]
    where = [next(i for i, line in enumerate(lines) if line.startswith(t)) for t in titles]
    assert where == sorted(where)
    assert "| ❌ unit | 2 | 1 | 0 | 1 | 1 | 12.5s |" in lines
    assert "| <code>app/pay.py</code> | 37.50% | lines 41-44, 57 |" in lines  # covered files are not listed
    assert "<code>app/ok.py</code>" not in text
    assert "| <code>app/br.py</code> | 50.00% | branches 3-&gt;5 |" in lines
    assert "-2.50 against the base (91.00%)" in text
    assert "| <code>app/new.py</code> | — | 10.00% |" in lines
    assert "| 1 | 5 | 40.0s | 42.5s | 1.06x |" in lines and "| 2 | 4 | 38.0s | — | — |" in lines


def test_terminal_shows_the_same_content(report: model.Report) -> None:
    text = terminal.render_report(report)
    for needle in (
        "FLAKY: failed, then passed on a rerun (1)",
        "tests/test_a.py::test_flaky [unit] - 2 reruns",
        "total -2.50 against the base (91.00% -> 88.50%)",
        "patch coverage against origin/main: 37.50%",
        "app/pay.py  37.50%  not run: lines 41-44, 57",
        "app/br.py  50.00%  not run: branches 3->5",
        "SLOWEST TESTS",
        "shard 1:     5 tests    40.0s -> 42.5s",
        "shard 2:     4 tests    38.0s -> not here",
        "SERVICES (the run waited 1.2s)",
        "db (docker) ready after 2.5s",
    ):
        assert needle in text
    assert text.splitlines()[-1] == "ci-toolkit: 3 passed, 2 failed, 0 skipped"


def test_a_passing_run_is_short() -> None:
    report = model.build([LaneResult("unit", 0, 1.0, (TestOutcome("t.py::a", "passed"),))], None)
    text = markdown.render(report)
    assert text.splitlines()[:2] == ["<!-- ci-toolkit:report -->", "### ✅ ci-toolkit: passed"]
    assert "First failures" not in text and "Coverage" not in text


def test_the_marker_key_cannot_close_the_comment() -> None:
    assert markdown.marker("a --> <b>") == "<!-- ci-toolkit:a - -&gt; &lt;b&gt; -->"


def test_timeline_of_lanes_without_shards(report: model.Report) -> None:
    lanes_only = dataclasses.replace(report, shards=())
    assert gantt.tasks(lanes_only) == [
        "    section lanes",
        "    unit :l1, 0, 13s",
        "    integration :l2, 0, 30s",
    ]
    shards = gantt.tasks(report)
    assert "    predicted :p1, 0, 40s" in shards and "    realised :r1, 0, 43s" in shards
    assert not any(line.startswith("    realised :r2") for line in shards)
    skipped = model.build([LaneResult("x", 5, 0.0, skipped_reason="no tests selected")], None)
    assert gantt.tasks(skipped) == []


def big_report(n: int) -> model.Report:
    failed = tuple(
        TestOutcome(f"tests/t.py::test_{i}[@x|#{i}]", "failed", call=i, message="`boom`") for i in range(n)
    )
    return model.build([LaneResult("unit", 1, 1.0, failed)], None, exit_code=1)


BLOCK = re.compile(r"<details>.*?</details>", re.S)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=200, max_value=20_000))
def test_a_budget_is_kept_without_cutting_rows(max_bytes: int) -> None:
    report = big_report(120)
    whole = markdown.render(report)
    text = markdown.render(report, max_bytes=max_bytes)
    assert len(text.encode()) <= max(max_bytes, len(markdown.render(big_report(0)).encode()) + 200)
    rows = set(whole.splitlines())
    for line in text.splitlines():
        assert line in rows or "left out" in line  # every line is whole, as rendered without a budget
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0
    if text != whole:
        left = int(re.search(r"_(\d+) rows? left out to fit", text).group(1))  # type: ignore[union-attr]
        kept = sum(1 for line in text.splitlines() if line.startswith("| <code>"))
        assert kept + left >= 120


def test_least_important_rows_go_first(report: model.Report) -> None:
    whole = markdown.render(report)
    text = markdown.render(report, max_bytes=len(whole.encode()) - 200)
    assert len(text.encode()) <= len(whole.encode()) - 200
    # The slowest tests go first; the failures, the least likely to go, are all there.
    slow_rows = [line for line in whole.splitlines() if line.endswith(("| 0.50 |", "| 0.10 |"))]
    assert slow_rows and not any(row in text for row in slow_rows)
    assert all(line in text for line in whole.splitlines() if "| failed |" in line or "| error |" in line)
    assert "_… and " in text and "more left out_" in text
    assert re.search(r"_\d+ rows? left out to fit \d+ bytes\._\n$", text)


def test_budget_limits_and_the_verdict_stays() -> None:
    assert (budget.COMMENT_LIMIT, budget.SUMMARY_LIMIT) == (65_536, 1_048_576)
    sections = [Section(["verdict", ""]), Section(["t", ""], ["row"] * 100, [""], 1)]
    text = budget.fit(sections, 10)
    assert text.startswith("verdict\n") and "100 rows left out" in text


@pytest.mark.parametrize("fmt", ["markdown", "terminal"])
def test_no_budget_no_note(report: model.Report, fmt: str) -> None:
    text = markdown.render(report, max_bytes=10**9) if fmt == "markdown" else terminal.render_report(report)
    assert "left out" not in text


def test_the_quiet_cases() -> None:
    from ci_toolkit.config import CoverageConfig
    from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
    from ci_toolkit.gate.patch import Patch, PatchFile
    from ci_toolkit.gate.verdict import evaluate, unjudged

    skipped = LaneResult("e2e", 5, 0.0, skipped_reason="no tests selected")
    report = model.build([skipped], unjudged("no coverage data"))
    text = markdown.render(report)
    assert "| e2e | skipped: no tests selected | | | | | |" in text
    assert "**Coverage**: ❌ no coverage data" in text
    verdict = evaluate(CoverageReport((FileCoverage("a.py", 4),), has_branches=False), CoverageConfig())
    covered = Patch("main", Measure(2, 2), (PatchFile("a.py", Measure(2, 2), ""),))
    text = markdown.render(model.build([], dataclasses.replace(verdict, patch=covered)))
    assert "**Patch coverage** against <code>main</code>: 100.00%\n" in text
    assert "Below their floor" not in text and "Critical paths" not in text and "**Tests**" not in text
