"""The table `init` renders: lanes that select every test exactly once, and TOML that ci-toolkit loads."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ci_toolkit import config
from ci_toolkit.config.markers import compile_expression
from ci_toolkit.scaffold import render
from ci_toolkit.scaffold.detect import Facts, Found
from ci_toolkit.scaffold.place import parse


def facts(
    markers: tuple[str, ...] = (),
    applied: frozenset[str] | None = None,
    *,
    source: Found | None = None,
    fail_under: Found | None = None,
    branch: Found | None = None,
) -> Facts:
    return Facts(
        source=source,
        branch=branch,
        fail_under=fail_under,
        markers=markers,
        applied=frozenset(markers) if applied is None else applied,
    )


def selects(expression: str | None, marks: set[str]) -> bool:
    if expression is None:
        return True
    return bool(compile_expression(expression).evaluate(lambda name, /, **kwargs: name in marks))


@pytest.mark.parametrize(
    "markers",
    [
        ("serial", "integration"),
        ("integration", "serial", "db", "slow", "smoke"),
        ("sequential", "serial", "e2e"),
        ("smoke", "flaky"),
        (),
    ],
)
def test_every_combination_of_markers_is_selected_by_exactly_one_lane(markers: tuple[str, ...]) -> None:
    lanes = render.plan_lanes(markers, frozenset(markers))
    for size in range(len(markers) + 1):
        for marks in itertools.combinations(markers, size):
            chosen = [lane.name for lane in lanes if selects(lane.markers, set(marks))]
            assert len(chosen) == 1, (marks, chosen)


def test_lane_order_and_kinds() -> None:
    lanes = render.plan_lanes(("serial", "integration", "smoke", "db"), frozenset({"serial", "db"}))
    assert [(lane.name, lane.markers, lane.kind, lane.allow_empty) for lane in lanes] == [
        ("default", "not serial and not integration and not db", "rest", False),
        ("integration", "integration and not serial", "marker", True),
        ("db", "db and not serial and not integration", "marker", False),
        ("serial", "serial", "serial", False),
    ]


def test_a_serial_test_that_is_also_integration_runs_serially() -> None:
    lanes = render.plan_lanes(("integration", "serial"), frozenset({"integration", "serial"}))
    assert [lane.name for lane in lanes if selects(lane.markers, {"integration", "serial"})] == ["serial"]


def test_no_lane_marker_means_one_lane_for_everything() -> None:
    assert render.plan_lanes(("smoke",), frozenset()) == (render.LanePlan("all", None, "all"),)


def load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, cwd=tmp_path)


def test_the_rendered_table_loads_with_every_detected_value(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("", encoding="utf-8")
    text = render.render(
        facts(
            ("serial", "db", "smoke"),
            frozenset({"serial"}),
            source=Found(("app",), "somewhere"),
            fail_under=Found(87.5, "pyproject.toml [tool.coverage.report] fail_under"),
            branch=Found(False, "setup.cfg [coverage:run] branch"),
        )
    )
    loaded = load(tmp_path, text)
    assert [(lane.name, lane.markers, lane.workers, lane.allow_empty) for lane in loaded.lanes] == [
        ("default", "not serial and not db", None, False),
        ("db", "db and not serial", None, True),
        ("serial", "serial", 0, False),
    ]
    assert loaded.workers == "auto"
    assert loaded.coverage.source == ("app",)
    assert loaded.coverage.fail_under == 87.5 and loaded.coverage.branch is False
    assert loaded.coverage.critical == ()
    assert "from pyproject.toml [tool.coverage.report] fail_under" in text
    assert "from setup.cfg [coverage:run] branch" in text


def test_defaults_when_nothing_is_detected(tmp_path: Path) -> None:
    text = render.render(facts())
    loaded = load(tmp_path, text)
    assert [(lane.name, lane.markers) for lane in loaded.lanes] == [("all", None)]
    assert loaded.coverage.fail_under == render.DEFAULT_FLOOR == 80
    assert loaded.coverage.branch is True and loaded.coverage.source == ()
    assert '# source = ["mypackage"]' in text


def test_the_text_starts_with_the_header_and_ends_with_a_key() -> None:
    """place relies on both to find these lines again on --force."""
    lines = render.render(facts(("serial",))).splitlines()
    assert lines[0] == "[tool.ci-toolkit]"
    assert not lines[-1].startswith("#") and "=" in lines[-1]


@pytest.mark.parametrize(
    ("value", "expected"), [("app", '"app"'), ('a"b\\c', r'"a\"b\\c"'), ("t\tx\x7f", r'"t\u0009x\u007f"')]
)
def test_toml_string(value: str, expected: str) -> None:
    assert render.toml_string(value) == expected
    assert parse(f"k = {expected}", "t")["k"] == value


def test_toml_number() -> None:
    assert render.toml_number(85.0) == "85"
    assert render.toml_number(12.5) == "12.5"
