"""Flaky tests as pytest-rerunfailures shows them: failed, rerun, then passed, counted in the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from support import run_ci_toolkit

pytest.importorskip("pytest_rerunfailures", reason="pytest-rerunfailures is in the test extra")
pytestmark = pytest.mark.e2e

FLAKY = """
    import pathlib

    def test_passes_on_the_second_try():
        marker = pathlib.Path(__file__).with_name("tried-once")
        if not marker.exists():
            marker.write_text("1")
            raise AssertionError("first try fails")
"""


def test_a_test_that_passes_on_a_rerun_is_flaky_in_every_renderer(
    sample_project_factory: Callable[..., Any],
) -> None:
    project = sample_project_factory(files={"tests/test_flaky.py": FLAKY})
    out = project.root / "summary.json"
    run = run_ci_toolkit(
        "local", "--no-color", "--json", out, "--", "-p", "pytest_rerunfailures", "--reruns", "1",
        cwd=project.root,
    )  # fmt: skip
    assert run.code == 0, run.describe()
    summary = json.loads(out.read_text())
    assert summary["tests"]["flaky"] == 1
    flaky = [entry for lane in summary["lanes"] for entry in lane["flaky"]]
    assert flaky == [{"nodeid": "tests/test_flaky.py::test_passes_on_the_second_try", "reruns": 1}]
    markdown = run_ci_toolkit("report", "--format", "markdown", cwd=project.root)
    assert markdown.code == 0, markdown.describe()
    assert "**Flaky**: failed, then passed on a rerun (1)" in markdown.output
    assert "test&#95;passes&#95;on&#95;the&#95;second&#95;try</code> | all | 1 |" in markdown.output
    assert "flaky" in run.output.lower()
