"""`coverage html` of a run's data, written next to the report (`<output_dir>/htmlcov/`) for people who
would rather look than read; CI uploads the folder as an artifact.

coverage.py runs in a child process with the project root as working directory, so it reads the
project's own coverage configuration and never disturbs a coverage measurement of this process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ci_toolkit.run import layout

DIRECTORY = layout.HTMLCOV


def write(data_file: Path, root: Path, directory: Path) -> str | None:
    """Write the HTML report of *data_file* into *directory*; why not, in one line, when it failed."""
    # --fail-under=0: the project's own `fail_under` is the gate's business; here it would only turn a
    # written report into a failure.
    argv = [
        sys.executable, "-m", "coverage", "html", f"--data-file={data_file}", "-d", str(directory), "-q",
        "--fail-under=0",
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"coverage html: {exc}"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"coverage html: {lines[-1] if lines else f'exit code {done.returncode}'}"
    return None
