"""A pytest ci-toolkit started ends without the interpreter's last garbage collection (parent.py): the
final walk over every object costs each xdist worker and the controller about 100 ms at exit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import cli_env

# An exit handler registered before the plugin's runs after it, and sees whether the objects were frozen.
_SCRIPT = """\
import atexit, gc, os, sys, types
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
from ci_toolkit.pytest_plugin import parent
owned = sys.argv[1] == "owned"
args = types.SimpleNamespace(ci_toolkit_parent=str(os.getppid()) if owned else None)
parent.guard_from(types.SimpleNamespace(known_args_namespace=args))
print("frozen before exit:", gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize("owned", [True, False])
def test_only_a_pytest_ci_toolkit_started_skips_the_last_collection(owned: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "owned" if owned else "alone"],
        env=cli_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.splitlines() == ["frozen before exit: False", f"frozen at exit: {owned}"]
