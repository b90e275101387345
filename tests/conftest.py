"""Shared fixtures: real sample projects for tests that run real pytest subprocesses.

The sample-project factory (reuse it; do not copy it)
------------------------------------------------------
``make_sample_project(root, *, files=None, markers=(), pyproject_extra="") -> SampleProject`` writes a
small, complete project into ``root`` (created if needed):

    pyproject.toml        [tool.pytest.ini_options]: testpaths = ["tests"], pythonpath = ["."], markers
                          serial + integration (+ ``markers``); [tool.coverage.report] fail_under = 100
                          (so a lane that forgot --cov-fail-under=0 would fail); plus ``pyproject_extra``
    samplepkg/full.py     100 % line and branch covered, but only when every lane's data is merged:
                          add() by the unmarked tests, sign() < 0 by the serial one, sign() >= 0 by the
                          integration ones
    samplepkg/partial.py  under-covered: parse() is only called with digits (3 of 6 statements + branches)
    samplepkg/unused.py   never imported by any test
    samplepkg/workers.py  touch(worker) has one line per xdist worker (gw0, gw1) and one for "no xdist":
                          an autouse fixture calls it, so covered lines show which workers' data arrived
    tests/test_unit.py         4 unmarked tests
    tests/test_serial.py       1 test marked serial
    tests/test_integration.py  2 tests marked integration

``files`` ({relative path: text}) adds or replaces files, e.g. a failing test; text is dedented.
SampleProject.config(**overrides) builds a ci_toolkit Config for it (root=the project; pass lanes=...,
output_dir=... etc.). SampleProject.UNIT / SERIAL / INTEGRATION list the node ids per marker.

Fixtures: ``sample_project`` (session scope, shared: never modify it; give each run its own
``output_dir`` if you run lanes on it), ``sample_project_factory`` (function scope: ``factory(name,
**kwargs)`` makes a fresh project under tmp_path, for tests that change files) and
``sample_project_maker`` (session scope: make_sample_project itself, for broader-scoped fixtures).

``world`` (function scope): a support.World, a private TMPDIR for servers plus a record directory, for
tests that run `ci-toolkit` with services and check that nothing is left running afterwards.
tests/support.py holds what such tests share: cli_env(), run_ci_toolkit(), Run and World.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import World

from ci_toolkit.config import Config

_PYPROJECT = """\
[project]
name = "samplepkg"
version = "0.0.0"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
markers = [
{markers}
]

[tool.coverage.report]
fail_under = 100
{extra}
"""

_FILES = {
    "samplepkg/__init__.py": "",
    "samplepkg/full.py": """\
        def add(a, b):
            return a + b


        def sign(x):
            if x < 0:
                return -1
            return 1
        """,
    "samplepkg/partial.py": """\
        def parse(text):
            if not text:
                raise ValueError("empty")
            if text.isdigit():
                return int(text)
            return text.strip()
        """,
    "samplepkg/unused.py": """\
        def never():
            return 42
        """,
    "samplepkg/workers.py": """\
        def touch(worker):
            if worker == "gw0":
                return 0
            if worker == "gw1":
                return 1
            return -1
        """,
    "tests/conftest.py": """\
        import pytest

        from samplepkg import workers


        @pytest.fixture(autouse=True)
        def _record_worker(request):
            workerinput = getattr(request.config, "workerinput", {})
            workers.touch(workerinput.get("workerid", "main"))
        """,
    "tests/test_unit.py": """\
        from samplepkg.full import add
        from samplepkg.partial import parse


        def test_add():
            assert add(1, 2) == 3


        def test_parse_digits():
            assert parse("12") == 12


        def test_add_negative():
            assert add(-1, -2) == -3


        def test_add_zero():
            assert add(0, 0) == 0
        """,
    "tests/test_serial.py": """\
        import pytest

        from samplepkg.full import sign


        @pytest.mark.serial
        def test_sign_negative():
            assert sign(-5) == -1
        """,
    "tests/test_integration.py": """\
        import pytest

        from samplepkg.full import sign


        @pytest.mark.integration
        def test_sign_positive():
            assert sign(5) == 1


        @pytest.mark.integration
        def test_sign_zero():
            assert sign(0) == 1
        """,
}


@dataclass(frozen=True)
class SampleProject:
    root: Path

    UNIT = (
        "tests/test_unit.py::test_add",
        "tests/test_unit.py::test_parse_digits",
        "tests/test_unit.py::test_add_negative",
        "tests/test_unit.py::test_add_zero",
    )
    SERIAL = ("tests/test_serial.py::test_sign_negative",)
    INTEGRATION = (
        "tests/test_integration.py::test_sign_positive",
        "tests/test_integration.py::test_sign_zero",
    )

    def config(self, **overrides: Any) -> Config:
        return Config(root=self.root, path=self.root / "pyproject.toml", **overrides)

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path


def make_sample_project(
    root: Path,
    *,
    files: Mapping[str, str] | None = None,
    markers: Iterable[str] = (),
    pyproject_extra: str = "",
) -> SampleProject:
    project = SampleProject(root)
    names = ["serial", "integration", *markers]
    project.write(
        "pyproject.toml",
        _PYPROJECT.format(
            markers="\n".join(f'    "{name}: sample marker",' for name in names), extra=pyproject_extra
        ),
    )
    for relpath, text in {**_FILES, **(files or {})}.items():
        project.write(relpath, text)
    return project


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> SampleProject:
    return make_sample_project(tmp_path_factory.mktemp("sample") / "project")


@pytest.fixture(scope="session")
def sample_project_maker() -> Callable[..., SampleProject]:
    """make_sample_project itself, for module- or session-scoped fixtures of other test files."""
    return make_sample_project


@pytest.fixture
def sample_project_factory(tmp_path: Path) -> Callable[..., SampleProject]:
    def factory(name: str = "project", **kwargs: Any) -> SampleProject:
        return make_sample_project(tmp_path / name, **kwargs)

    return factory


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # Not under tmp_path: as root the servers run as an unprivileged user, who cannot enter
    # pytest's 0700 temp root; and a short path keeps unix socket paths under their length limit.
    tmpdir = Path(tempfile.mkdtemp(prefix="ci-e2e-", dir="/tmp"))
    tmpdir.chmod(0o755)
    records = tmp_path / "records"
    records.mkdir()
    try:
        yield World(tmpdir, records)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
