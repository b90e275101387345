"""ci_toolkit.markers: the one place pytest's private `-m` parser is called (config and plugin both)."""

from __future__ import annotations

import pytest

from ci_toolkit.config import markers


def test_a_valid_expression_compiles_and_evaluates() -> None:
    expr = markers.compile_expression("integration and not slow")
    assert expr.evaluate(lambda name, **kwargs: name == "integration")
    assert not expr.evaluate(lambda name, **kwargs: name in ("integration", "slow"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(a", "at column 3: expected right parenthesis; got end of input"),
        ("a b", "at column 3: expected end"),
    ],
)
def test_a_bad_expression_is_one_value_error_on_every_pytest(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^at column \d+: ") as info:
        markers.compile_expression(text)
    assert str(info.value).startswith(message.split(";")[0])
    assert "\n" not in str(info.value)


class _Mark:
    def __init__(self, name: str, **kwargs: object) -> None:
        self.name, self.kwargs = name, kwargs


class _Item:
    def __init__(self, *marks: _Mark) -> None:
        self.marks = marks

    def iter_markers(self) -> tuple[_Mark, ...]:
        return self.marks


def test_the_matcher_evaluates_an_items_markers_as_pytest_m_does() -> None:
    item = _Item(_Mark("integration"), _Mark("db"))
    assert markers.compile_expression("integration and db").evaluate(markers.matcher(item))
    assert not markers.compile_expression("integration and not db").evaluate(markers.matcher(item))
