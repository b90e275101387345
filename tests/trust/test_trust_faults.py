"""Issue 9, fault injection: `ci-toolkit local` SIGKILLed at points across a run (as it starts, while each
service starts, while pytest collects, while tests run, after the last test), then run again.

After the second run nothing of the first may survive (no process, no server, no data dir, no state
file), the second run must pass, and no file of the project outside the output dir may have changed.
Real PostgreSQL and Redis through the native backend; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import World

from ci_toolkit.services.backends.native import NativeBackend
from ci_toolkit.services.base import ServiceSpec

pytestmark = pytest.mark.e2e
pytest.importorskip("psycopg")
pytest.importorskip("redis")
_MISSING = [
    reason
    for kind in ("postgres", "redis")
    if (reason := NativeBackend().unavailable_reason(ServiceSpec(name=kind, kind=kind))) is not None
]
if _MISSING:  # pragma: no cover - a machine without the servers
    pytest.skip(f"no PostgreSQL/Redis binaries: {_MISSING}", allow_module_level=True)

PYPROJECT = """\
[project]
name = "faultpkg"
version = "0"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
markers = ["integration"]

[tool.ci-toolkit]

[[tool.ci-toolkit.lanes]]
name = "unit"
markers = "not integration"
workers = 0

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 2
services = ["postgres", "redis"]

[tool.ci-toolkit.services.postgres]
database_per_worker = true
ready_timeout = 60

[tool.ci-toolkit.services.postgres.export]
DATABASE_URL = "postgresql://{user}:{password}@{host}:{port}/{database}"

[tool.ci-toolkit.services.redis]
"""

FILES = {
    "faultpkg/__init__.py": "def double(x):\n    return 2 * x\n",
    "tests/conftest.py": """\
        import os
        import pathlib

        pathlib.Path(os.environ["RECORD_DIR"], f"conftest-{os.getpid()}").touch()
        """,
    "tests/test_unit.py": """\
        from faultpkg import double


        def test_double():
            assert double(2) == 4
        """,
    "tests/test_integration.py": """\
        import os
        import pathlib
        import time

        import psycopg
        import pytest
        import redis


        @pytest.mark.integration
        @pytest.mark.parametrize("n", range(4))
        def test_round_trip(n):
            pathlib.Path(os.environ["RECORD_DIR"], f"test-{n}").touch()
            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            assert redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
            time.sleep(0.3)
        """,
}


def make_project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def tree_hash(root: Path) -> dict[str, str]:
    """Every file of the project outside the output dir, with its content's hash and mode; not what
    Python and pytest themselves write on any run (__pycache__, .pytest_cache)."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        theirs = {"__pycache__", ".pytest_cache"}.intersection(relative.parts)
        if relative.parts[0] == ".ci-toolkit" or theirs or not path.is_file():
            continue
        found[str(relative)] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode:o}"
    return found


Waiter = Callable[[World, Path], None]


def _until(found: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.005)


def kill_at_once(world: World, root: Path) -> None:
    time.sleep(random.Random(1).uniform(0.05, 0.4))


def _service_starting(name: str) -> Waiter:
    def wait(world: World, root: Path) -> None:
        # The service's work directory exists: its start-up is under way (recorded, not yet ready).
        _until(lambda: any((root / ".ci-toolkit" / "services" / "work").glob(f"{name}-*")))

    wait.__name__ = f"kill_{name}_starting"
    return wait


kill_postgres_starting = _service_starting("postgres")
kill_redis_starting = _service_starting("redis")


def kill_collecting(world: World, root: Path) -> None:
    _until(lambda: any(world.records.glob("conftest-*")))


def kill_testing(world: World, root: Path) -> None:
    _until(lambda: any(world.records.glob("test-*")))


def kill_after_the_last_test(world: World, root: Path) -> None:
    _until(lambda: len(list(world.records.glob("test-*"))) == 4)
    time.sleep(0.35)  # the last test's sleep ends: the lanes finish, the merge and the summary begin


@pytest.mark.parametrize(
    "wait",
    [
        kill_at_once,
        kill_postgres_starting,
        kill_redis_starting,
        kill_collecting,
        kill_testing,
        kill_after_the_last_test,
    ],
    ids=lambda w: w.__name__.removeprefix("kill_"),
)
def test_a_killed_run_leaves_nothing_after_the_next(tmp_path: Path, world: World, wait: Waiter) -> None:
    root = make_project(tmp_path / "project")
    before = tree_hash(root)
    first = subprocess.Popen(
        [sys.executable, "-m", "ci_toolkit", "local"], cwd=root, env=world.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait(world, root)
    finally:
        first.kill()  # SIGKILL: no clean-up of ours can run
        first.wait()
    for marker in world.records.iterdir():
        marker.unlink()

    second = world.run(root, "local")

    assert second.code == 0, second.describe()
    world.assert_nothing_left(root)
    assert tree_hash(root) == before
