"""How the command line is put together: nothing imports ci_toolkit.cli back, and `--help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support import TIMEOUT, cli_env

import ci_toolkit

PACKAGE = Path(ci_toolkit.__file__).parent
# What `ci-toolkit --help` may import of ours: the command line and the light modules it starts from.
HELP_IMPORTS = {
    "ci_toolkit",
    "ci_toolkit.cli",
    "ci_toolkit.signals",
    "ci_toolkit.errors",
    "ci_toolkit.commands",
}


def imported_modules(source: str, package: str) -> set[str]:
    """Every module the import statements in `source` name, `from a import b` counting as a and a.b;
    relative imports resolved from `package`, the one the source is in."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).parent.parts)


def test_no_module_imports_the_command_line() -> None:
    """ci_toolkit.cli sits on top: a module importing it back would import every command with it.
    __main__ (`python -m ci_toolkit`) is the one way in, like the console script."""
    importing = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "__main__.py"
        and "ci_toolkit.cli" in imported_modules(path.read_text(encoding="utf-8"), package_of(path))
    ]
    assert importing == []


def test_the_import_check_sees_every_spelling() -> None:
    for source in ("import ci_toolkit.cli", "from ci_toolkit import cli", "from ci_toolkit.cli import main"):
        assert "ci_toolkit.cli" in imported_modules(source, "ci_toolkit.commands"), source
    assert "ci_toolkit.cli" in imported_modules("from .. import cli", "ci_toolkit.commands")
    assert "ci_toolkit.cli" in imported_modules("from .cli import main", "ci_toolkit")
    assert package_of(PACKAGE / "commands" / "base.py") == "ci_toolkit.commands"
    assert package_of(PACKAGE / "commands" / "__init__.py") == "ci_toolkit.commands"


def imported_by(argv: list[str], cwd: Path) -> tuple[int, set[str]]:
    """(exit code, the modules imported) of `ci-toolkit ARGV` run in a fresh interpreter in `cwd`."""
    code = (
        "import sys\n"
        f"sys.argv = ['ci-toolkit', *{argv!r}]\n"
        "from ci_toolkit.cli import main\n"
        "code = 0\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return proc.returncode, set(proc.stderr.splitlines())


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    """`ci-toolkit --help` runs at Python's own speed: no pytest, no coverage, none of the stages."""
    code, modules = imported_by(["--help"], tmp_path)
    assert code == 0
    assert not modules & {"pytest", "_pytest", "coverage", "xdist"}
    ours = {name for name in modules if name.split(".")[0] == "ci_toolkit"}
    assert {name for name in ours if not name.startswith("ci_toolkit.commands.")} <= HELP_IMPORTS


def test_a_command_imports_its_own_module_only(tmp_path: Path) -> None:
    """`ci-toolkit local` starts its first pytest sooner for not importing the ten other commands."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    code, modules = imported_by(["local", "--lane", "nonesuch"], tmp_path)
    assert code == 2  # no such lane: stopped before anything ran
    commands = {name for name in modules if name.startswith("ci_toolkit.commands.")}
    assert "ci_toolkit.commands.local" in commands
    assert not commands & {f"ci_toolkit.commands.{name}" for name in ("gate", "plan", "split_report", "init")}


def test_what_the_run_needs_after_its_lanes_loads_once_started_or_when_joined() -> None:
    """`local` starts the preload once its first pytest is on its way; a run in which no lane started
    (every lane skipped) still has it done when it joins."""
    from ci_toolkit.commands.local import Preload

    done: list[str] = []
    unstarted = Preload(("json",), then=lambda: done.append("unstarted"))
    unstarted.join()
    assert done == ["unstarted"]
    started = Preload(("json",), then=lambda: done.append("started"))
    started.start()
    started.start()  # a second call is no second thread
    started.join()
    assert done == ["unstarted", "started"]
