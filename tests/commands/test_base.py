"""ci_toolkit.commands.base: every command, in every group, maps what it raises onto one line and a code.

A bug inside any command (here: a function it calls, made to raise) exits 70 with one line, as main()
runs them; a user error exits with its own code; an interrupt 130; a closed stdout 2.
"""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from support import TIMEOUT, cli_env

from ci_toolkit.commands import base
from ci_toolkit.errors import CiToolkitError, ExitCode

INTERNAL_ERROR = (
    "ci-toolkit: internal error: RuntimeError: boom (a bug in ci-toolkit; rerun with CI_TOOLKIT_DEBUG=1 "
)
BROKEN_PIPE = "stdout was closed by its reader (broken pipe); the summary is lost"

# argv, and a function the command calls before it writes anything ("module:name" under ci_toolkit).
COMMANDS = [
    (["local"], "commands.local:load_config"),
    (["merge", "."], "commands.merge:load_config"),
    (["gate", "cov.json"], "commands.gate:load_config"),
    (["report"], "commands.common:load_config"),
    (["services", "up"], "commands.services:load_config"),
    (["services", "down"], "commands.services:load_config"),
    (["services", "status"], "commands.services:load_config"),
    (["plan", "--shards", "2"], "commands.plan:run"),
    (["timings", "merge", "out.json", "in.json"], "timing:read"),
    (["timings", "import", "out.json", "j.xml"], "commands.timings:_nearest_config"),
    (["timings", "show"], "commands.timings:_nearest_config"),
    (["split-report", "."], "commands.split_report:read_shard_dir"),
    (["init", "--dry-run"], "commands.init:plan"),
    (["paths"], "commands.common:load_config"),
    (["publish", "--github"], "publish.context:from_env"),
]


def break_(target: str, monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make the function `target` names raise `exc`."""
    module, name = target.split(":")

    def raise_it(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(importlib.import_module(f"ci_toolkit.{module}"), name, raise_it)


def command_id(argv: list[str]) -> str:
    return " ".join(arg for arg in argv if arg[0].isalpha() and "." not in arg)


@pytest.fixture(scope="module")
def cli() -> Iterator[click.Group]:
    """The real `ci-toolkit` group. Importing ci_toolkit.cli takes over SIGINT and SIGTERM for the process
    (its first line): this test process gets its own handlers back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        from ci_toolkit.cli import cli

        yield cli
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def invoke(cli: click.Group, argv: list[str]) -> Result:
    # standalone_mode=False, as main() runs the group: click handles no exception of ours.
    return CliRunner().invoke(cli, argv, prog_name="ci-toolkit", standalone_mode=False)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI_TOOLKIT_DEBUG", raising=False)
    return tmp_path


@pytest.mark.parametrize(("argv", "target"), COMMANDS, ids=[command_id(argv) for argv, _ in COMMANDS])
def test_a_bug_in_any_command_is_one_line_and_exit_70(
    cli: click.Group, cwd: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], target: str
) -> None:
    break_(target, monkeypatch, RuntimeError("boom"))

    result = invoke(cli, argv)

    assert result.exit_code == ExitCode.INTERNAL_ERROR, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(INTERNAL_ERROR), result.stderr
    assert "Traceback" not in result.output


def test_every_command_is_covered(cli: click.Group) -> None:
    """A command added later needs a row in COMMANDS, hence the proof that its bugs exit 70."""

    def every(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        if not isinstance(command, click.Group):
            yield path
            return
        for name, sub in command.commands.items():
            yield from every(sub, (*path, name))

    def named(argv: list[str]) -> tuple[str, ...]:
        command: click.Command = cli
        path: list[str] = []
        for arg in argv:
            if not isinstance(command, click.Group):
                break
            command = command.commands[arg]
            path.append(arg)
        return tuple(path)

    assert sorted(every(cli, ())) == sorted(named(argv) for argv, _ in COMMANDS)


def test_the_traceback_of_a_bug_on_request(
    cli: click.Group, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_("commands.split_report:read_shard_dir", monkeypatch, RuntimeError("boom"))
    monkeypatch.setenv("CI_TOOLKIT_DEBUG", "1")

    result = invoke(cli, ["split-report", "."])

    assert result.exit_code == ExitCode.INTERNAL_ERROR
    assert result.stderr.startswith("Traceback (most recent call last):"), result.stderr
    assert result.stderr.splitlines()[-1].startswith(INTERNAL_ERROR)


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (
            CiToolkitError("nothing here", ExitCode.NO_TESTS),
            ExitCode.NO_TESTS,
            "ci-toolkit: error: nothing here",
        ),
        (KeyboardInterrupt(), 130, "ci-toolkit: interrupted"),
        (BrokenPipeError(), ExitCode.USAGE_ERROR, f"ci-toolkit: error: {BROKEN_PIPE}"),
    ],
    ids=["user-error", "interrupt", "broken-pipe"],
)
def test_what_a_command_raises_is_mapped(
    cli: click.Group, cwd: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException, code: int, line: str
) -> None:
    break_("commands.timings:_nearest_config", monkeypatch, exc)

    result = invoke(cli, ["timings", "show"])

    assert (result.exit_code, result.stderr) == (code, line + "\n")


def test_click_usage_errors_are_left_to_click(cli: click.Group, cwd: Path) -> None:
    result = invoke(cli, ["plan", "--shards", "auto"])

    assert isinstance(result.exception, click.UsageError)  # main() turns it into one line and exit 2


def test_the_returned_code_is_the_exit_code() -> None:
    @click.command(cls=base.Command)
    def command() -> int:
        return ExitCode.GATE_FAILED

    assert CliRunner().invoke(command, []).exit_code == ExitCode.GATE_FAILED


def test_commands_made_by_a_group_are_mapped_too() -> None:
    @click.group(cls=base.Group)
    def group() -> None:
        """A group."""

    @group.group()
    def inner() -> None:
        """A subgroup."""

    @inner.command()
    def command() -> None:
        raise RuntimeError("boom")

    assert isinstance(inner, base.Group) and isinstance(command, base.Command)
    result = CliRunner().invoke(group, ["inner", "command"])
    assert result.exit_code == ExitCode.INTERNAL_ERROR and result.stderr.startswith(INTERNAL_ERROR)


def test_a_bug_in_split_report_under_main_is_one_line_and_exit_70(tmp_path: Path) -> None:
    """The bug of issue 10: split-report printed a traceback and exited 1, the code for failed tests."""
    code = (
        "import sys\n"
        "from ci_toolkit.commands import split_report\n"
        "def boom(directory):\n"
        "    raise RuntimeError('boom')\n"
        "split_report.read_shard_dir = boom\n"
        "sys.argv = ['ci-toolkit', 'split-report', '.']\n"
        "from ci_toolkit.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert proc.returncode == ExitCode.INTERNAL_ERROR, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(INTERNAL_ERROR), proc.stderr
