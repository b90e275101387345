"""docs/reference/cli.md is what docs/gen_cli_reference.py makes of today's commands and options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import cli_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_reference_matches_the_commands() -> None:
    # A child process: importing ci_toolkit.cli installs ci-toolkit's own signal handlers.
    run = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_cli_reference.py"), "--check"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stdout + run.stderr
