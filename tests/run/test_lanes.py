"""Lane collection (a real `pytest --collect-only`) and the pure check of the lanes against it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import Config, Lane
from ci_toolkit.errors import CiToolkitError, ExitCode, NoTestsError
from ci_toolkit.run import lanes
from ci_toolkit.run.collect import collect, needs_collection

LANES = (
    Lane("serial", "serial"),
    Lane("integration", "integration"),
    Lane("unit", "not serial and not integration"),
)


def config(*lane_list: Lane, **overrides: Any) -> Config:
    return Config(**{"root": Path("/nowhere"), "path": None, "lanes": lane_list, **overrides})


# -- check / problems (pure) ---------------------------------------------------------------------


def test_a_partition_has_no_problems() -> None:
    assignment = {"t::a": ("serial",), "t::b": ("unit",), "t::c": ("unit",), "t::d": ("integration",)}
    result = lanes.check(assignment, config(*LANES))
    assert result == lanes.LaneCheck(
        unselected=(), overlapping={}, empty=(), counts={"serial": 1, "integration": 1, "unit": 2}
    )
    assert lanes.problems(result, config(*LANES)) == []


def test_unselected_tests_are_a_problem_unless_allowed() -> None:
    cfg = config(Lane("serial", "serial"))
    result = lanes.check({"t::a": ("serial",), "t::b": (), "t::c": ()}, cfg)
    assert result.unselected == ("t::b", "t::c")
    [problem] = lanes.problems(result, cfg)
    assert problem == (
        "tool.ci-toolkit.lanes: 2 tests selected by no lane: t::b, t::c; "
        "select them in a lane's markers, or set allow_unselected = true"
    )
    assert lanes.problems(result, config(Lane("serial", "serial"), allow_unselected=True)) == []


def test_overlapping_tests_are_a_problem_unless_allowed() -> None:
    cfg = config(Lane("a", "x"), Lane("b", "not y"))
    result = lanes.check({"t::1": ("a", "b"), "t::2": ("b",)}, cfg)
    assert result.overlapping == {"t::1": ("a", "b")}
    assert result.counts == {"a": 1, "b": 2}
    [problem] = lanes.problems(result, cfg)
    assert "1 test selected by more than one lane: t::1 (a, b); " in problem
    assert "allow_overlap = true" in problem
    assert lanes.problems(result, config(Lane("a", "x"), Lane("b", "not y"), allow_overlap=True)) == []


def test_an_empty_lane_is_a_problem_unless_it_allows_it() -> None:
    cfg = config(Lane("unit"), Lane("gpu", "gpu"), Lane("nightly", "nightly", allow_empty=True))
    result = lanes.check({"t::1": ("unit",)}, cfg)
    assert result.empty == ("gpu",)
    assert result.counts == {"unit": 1, "gpu": 0, "nightly": 0}
    assert lanes.problems(result, cfg) == [
        "tool.ci-toolkit.lanes: lane \"gpu\" (markers 'gpu') selects no test; "
        "fix its markers, or set allow_empty = true on it"
    ]


def test_long_lists_are_capped_and_counted() -> None:
    cfg = config(Lane("none", "nothing"), allow_overlap=True, path=Path("/p/pyproject.toml"))
    assignment = {f"t::{i:02}": () for i in range(25)}
    [unselected, empty] = lanes.problems(lanes.check(assignment, cfg), cfg)
    assert unselected.startswith(
        "/p/pyproject.toml: tool.ci-toolkit.lanes: 25 tests selected by no lane: t::00, "
    )
    assert "t::09 and 15 more;" in unselected and "t::10" not in unselected
    assert '"none"' in empty


def test_collection_is_skipped_only_for_a_single_lane_selecting_everything() -> None:
    assert not needs_collection(config(Lane("all")))
    assert needs_collection(config(Lane("all", "not slow")))
    assert needs_collection(config(Lane("a"), Lane("b")))


# -- collect (real pytest) -----------------------------------------------------------------------


@pytest.mark.e2e
def test_collect_assigns_every_test_to_the_lanes_selecting_it(sample_project: Any) -> None:
    cfg = sample_project.config(lanes=(*LANES, Lane("all")))
    # A `-m` passed through deselects tests from the run, not from the assignment; here it deselects
    # every test, so pytest exits 5 although there are tests.
    assignment = collect(cfg, ("-m", "serial and integration"))
    assert set(assignment) == {*sample_project.UNIT, *sample_project.SERIAL, *sample_project.INTEGRATION}
    assert assignment[sample_project.SERIAL[0]] == ("serial", "all")
    assert all(assignment[t] == ("integration", "all") for t in sample_project.INTEGRATION)
    assert all(assignment[t] == ("unit", "all") for t in sample_project.UNIT)
    assert not list(sample_project.root.glob(".ci-toolkit*"))  # collection writes into a temp dir


@pytest.mark.e2e
def test_collection_errors_show_pytests_own_message(sample_project_factory: Callable[..., Any]) -> None:
    project = sample_project_factory(files={"tests/test_broken.py": "import no_such_module_here\n"})
    with pytest.raises(CiToolkitError) as info:
        collect(project.config(lanes=LANES))
    assert info.value.exit_code == ExitCode.TESTS_FAILED
    message = str(info.value)
    assert message.startswith("test collection failed (pytest exit 2):\n")
    assert "No module named 'no_such_module_here'" in message
    assert len(message.splitlines()) <= 16


@pytest.mark.e2e
def test_collecting_nothing_is_no_tests(sample_project_factory: Callable[..., Any]) -> None:
    empty = {"tests/test_unit.py": "", "tests/test_serial.py": "", "tests/test_integration.py": ""}
    project = sample_project_factory(files=empty)
    with pytest.raises(NoTestsError) as info:
        collect(project.config(lanes=LANES))
    assert info.value.exit_code == ExitCode.NO_TESTS
    assert "\n" not in str(info.value)
