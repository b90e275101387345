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
