"""ci_toolkit.markers: the one place pytest's private `-m` parser is called (config and plugin both)."""

from __future__ import annotations

import sys

import pytest
from support import imports_after

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


def test_outside_pytest_the_parser_is_loaded_without_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """ci-toolkit checks the lanes' expressions before it starts pytest: with pytest's parser module alone,
    not `_pytest.mark` and most of pytest with it. Its answers are pytest's own."""
    real = sys.modules["_pytest.mark.expression"]
    monkeypatch.delitem(sys.modules, "_pytest.mark.expression")
    monkeypatch.delitem(sys.modules, markers._STANDALONE, raising=False)
    try:
        alone = markers._expression_module()
        assert alone is not real and alone.__name__ == markers._STANDALONE
        assert markers._expression_module() is alone  # loaded once
        for text in ("unit and not slow", "a and (", "not", "x(k=1)"):
            with monkeypatch.context() as m:
                m.setitem(sys.modules, "_pytest.mark.expression", real)
                expected = _outcome(text)
            assert _outcome(text) == expected, text
    finally:
        sys.modules.pop(markers._STANDALONE, None)


def test_a_parser_not_loadable_alone_is_imported_the_usual_way(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sys.modules["_pytest.mark.expression"]
    monkeypatch.delitem(sys.modules, "_pytest.mark.expression")
    monkeypatch.delitem(sys.modules, markers._STANDALONE, raising=False)
    monkeypatch.setattr(markers.importlib.util, "find_spec", lambda name: None)
    assert markers._expression_module() is real
    assert markers._STANDALONE not in sys.modules


def test_ci_toolkit_checks_expressions_without_importing_pytest() -> None:
    code = "from ci_toolkit.config.markers import compile_expression\ncompile_expression('a or not b')"
    assert "_pytest" not in imports_after(code)


def _outcome(text: str) -> str:
    try:
        markers.compile_expression(text)
    except ValueError as exc:
        return f"error: {exc}"
    return "ok"
