"""Issue 9, the parts that need no subprocess: files exchanged with pytest carry the run's id, and no
string from a test reaches the terminal as a control sequence."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_toolkit.config import Lane
from ci_toolkit.pytest_plugin.collector import wait_for_verdict
from ci_toolkit.report import printable
from ci_toolkit.run.exchange import collected, verdict
from ci_toolkit.run.exchange import results as results_file
from ci_toolkit.run.exchange.results import Results, Session, TestOutcome
from ci_toolkit.run.layout import RunPaths
from ci_toolkit.run.results import lane_result


def test_a_pytest_never_takes_another_runs_go(tmp_path: Path) -> None:
    """Before: an orphaned pytest of a killed run, still waiting, took the next run's "go" and ran its
    tests into that run's files."""
    path = tmp_path / "lanes-verdict"
    verdict.write(path, "new-run")
    with pytest.raises(pytest.exit.Exception, match="another ci-toolkit run took over"):
        wait_for_verdict(path, "old-run", timeout=1)
    wait_for_verdict(path, "new-run", timeout=1)  # its own: goes on


def test_a_lane_assignment_of_another_run_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "collected.json"
    path.write_text(json.dumps({"version": 1, "run": "old-run", "tests": {"t::a": ["all"]}, "groups": {}}))
    assert collected.read(path, "new-run") is None
    assert collected.read(path, "old-run") == collected.Collected({"t::a": ("all",)}, {})


def test_results_of_another_run_are_never_a_pass(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    paths.results.mkdir(parents=True)
    results = Results(
        (TestOutcome("t::a", "passed"),), {"passed": 1}, Session(run_id="old-run", exitstatus=0)
    )
    results_file.write(paths.results_file("all"), results)

    lane = lane_result(Lane("all"), paths, 0, 1.0, "new-run")

    assert lane.ok is False
    assert lane.exit_code == 3
    assert any("written by another ci-toolkit run" in problem for problem in lane.problems)


@given(st.text())
def test_printable_leaves_no_control_character(text: str) -> None:
    shown = printable(text)
    for char in shown:
        assert unicodedata.category(char) not in ("Cc", "Cs"), repr(char)
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    shown.encode("utf-8")  # a lone surrogate would fail here, as it would on the terminal


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"))))
def test_printable_changes_nothing_printable(text: str) -> None:
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    if not bidi.intersection(text):
        assert printable(text) == text


def test_a_plan_nested_thousands_deep_is_one_usage_error(tmp_path: Path) -> None:
    """Before: RecursionError out of json.loads became a pytest INTERNALERROR."""
    from ci_toolkit.pytest_plugin.shard import read_plan

    plan = tmp_path / "plan.json"
    plan.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(pytest.UsageError, match=r"^--ci-plan .*plan.json: not a plan manifest: not JSON"):
        read_plan(plan, 2)
