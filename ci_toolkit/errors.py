"""Exit codes and the errors that map onto them.

Every failure a user can cause ends as one line on stderr and one of these codes;
anything else is a bug and exits INTERNAL_ERROR with a short report.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    TESTS_FAILED = 1  # a test failed or errored, or pytest stopped early
    USAGE_ERROR = 2  # bad configuration, bad flag, bad input file, not inside a project
    GATE_FAILED = 3  # tests passed but the coverage gate did not
    NO_TESTS = 4  # nothing was collected, so nothing can be judged
    INTERNAL_ERROR = 70  # a bug in ci-toolkit (EX_SOFTWARE)


class PytestExit(enum.IntEnum):
    """pytest's own exit codes (pytest.ExitCode), named here so the parent process need not import
    pytest to read a child's; tests/test_errors.py checks they agree."""

    OK = 0
    TESTS_FAILED = 1
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4
    NO_TESTS_COLLECTED = 5


class CiToolkitError(Exception):
    """An error the user can fix; its message is shown as one line."""

    exit_code: ExitCode = ExitCode.USAGE_ERROR

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(CiToolkitError):
    """Invalid [tool.ci-toolkit] configuration; the message names file and key."""


class DataError(CiToolkitError):
    """An input file (coverage data, JUnit XML, timing history) that cannot be used."""


class NoTestsError(CiToolkitError):
    exit_code = ExitCode.NO_TESTS
