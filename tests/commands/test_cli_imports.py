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


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    """`ci-toolkit --help` runs at Python's own speed: no pytest, no coverage, none of the stages."""
    code = (
        "import sys\n"
        "sys.argv = ['ci-toolkit', '--help']\n"
        "from ci_toolkit.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
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
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stderr.splitlines())
    assert not modules & {"pytest", "_pytest", "coverage", "xdist"}
    ours = {name for name in modules if name.split(".")[0] == "ci_toolkit"}
    assert {name for name in ours if not name.startswith("ci_toolkit.commands.")} <= HELP_IMPORTS
