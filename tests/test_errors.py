"""ci_toolkit.errors: our exit codes, and pytest's as we name them."""

from __future__ import annotations

import pytest

from ci_toolkit.errors import PytestExit


def test_pytest_exit_codes_are_pytests_own() -> None:
    assert {code.name: int(code) for code in PytestExit} == {code.name: int(code) for code in pytest.ExitCode}
