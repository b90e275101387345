"""Generated test suites, synthetic timing histories and run helpers shared by the splitting benchmarks.

Everything here is seeded or fixed, so every run of a benchmark measures the same suites:

- synthetic_history(): a heavy-tailed timing history (lognormal call times, module-scoped setup charged to the
  module's first test, as a history recorded by pytest shows it), for bench_split_quality.py.
- write_tail_suite() / write_uniform_suite(): sleeping tests for bench_xdist_tail.py.
- write_fixture_suite(): modules with module-scoped fixtures, for bench_shards_realised.py.

`python benchmarks/_suites.py {tail,uniform,fixtures} DIR` writes one suite alone, to look at or run by hand.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 4242
# The checkout these scripts belong to: it is what is measured, whatever ci-toolkit the environment has
# installed (an editable install can point at another copy), in this process and in every pytest run.
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# Where the README tells users to `pip install --no-deps --target` pytest-split, outside the environment, so
# its plugin does not load in every pytest run of the machine.
DEFAULT_SPLIT_DIR = "/tmp/ci-toolkit-bench-split"

# Variables that would make one run behave differently from a clean CI shell. PYTHONDONTWRITEBYTECODE
# would make every process recompile the suite (and ci_toolkit): start-up a CI run does not pay twice.
_SCRUBBED_ENV = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    "CI_TOOLKIT_SHARD",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
)
# The pytest plugins the benchmarks load by name when plugin autoloading is off (see plugin_args).
PLUGINS = {
    "xdist": "xdist.plugin",
    "ci_toolkit": "ci_toolkit.pytest_plugin",
    "pytest_split": "pytest_split.plugin",
}
# pytest's final line, e.g. "===== 208 passed in 6.42s =====".
_SESSION_LINE = re.compile(r"^=+ .* in (\d+(?:\.\d+)?)s\b.*=+\s*$", re.MULTILINE)
_SCHEDULER_LINE = re.compile(r"^scheduling tests via (\w+)", re.MULTILINE)
_ROOTDIR_LINE = re.compile(r"^rootdir: (.+)$", re.MULTILINE)
# Options without a value: everything else must be written --option=value (see check_run).
_FLAGS = frozenset({"--collect-only"})


# --------------------------------------------------------------------------------------------------------
# Timing data


@dataclass(frozen=True)
class TimedTest:
    """One test's measured phases, in seconds."""

    nodeid: str
    setup: float
    call: float
    teardown: float

    @property
    def duration(self) -> float:
        return self.setup + self.call + self.teardown


def synthetic_history(
    seed: int = SEED, tests: int = 2000, modules: int = 100, setup_share: float = 0.25
) -> list[TimedTest]:
    """A heavy-tailed history in collection order.

    Call times are lognormal (median 50 ms, sigma 1.5: a few tests take seconds, most take milliseconds).
    `setup_share` of the modules have a module-scoped fixture (lognormal, median 1 s, capped at 6 s) that a
    recorded history shows as the setup time of the module's first test only.
    """
    rng = random.Random(seed)
    # Module sizes: uneven (a few big files, many small), summing to `tests`.
    weights = [rng.lognormvariate(0.0, 0.8) for _ in range(modules)]
    scale = (tests - modules) / sum(weights)
    sizes = [1 + int(w * scale) for w in weights]
    for i in range(tests - sum(sizes)):
        sizes[i % modules] += 1
    out: list[TimedTest] = []
    for m, size in enumerate(sizes):
        package = ("api", "core", "db", "io", "ui")[m % 5]
        path = f"tests/{package}/test_mod{m:03d}.py"
        shared = min(6.0, rng.lognormvariate(0.0, 0.7)) if rng.random() < setup_share else 0.0
        for t in range(size):
            setup = rng.uniform(0.0002, 0.002) + (shared if t == 0 else 0.0)
            call = rng.lognormvariate(math.log(0.05), 1.5)
            teardown = rng.uniform(0.0001, 0.001)
            out.append(TimedTest(f"{path}::test_{t:03d}", setup, call, teardown))
    return out


def load_results(path: Path) -> list[TimedTest]:
    """Tests that ran (not skipped, not errored) in our plugin's --ci-toolkit-results file, in its order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [
        TimedTest(t["nodeid"], float(t["setup"]), float(t["call"]), float(t["teardown"]))
        for t in doc["tests"]
        if t["outcome"] in ("passed", "failed", "xfailed", "xpassed")
    ]


def history_from_results(path: Path, project: str, lane: str = "") -> Any:
    """ci_toolkit.timings.History built from one results file, through the public API a run would use."""
    from ci_toolkit import timing as timings
    from ci_toolkit.run.exchange import results as results_file

    recorded = results_file.read(path)
    observed = timings.observations_from_results(recorded.tests, lane)
    # What the session paid besides its tests (start-up, session fixtures), as `ci-toolkit local` records it.
    cost = timings.session_cost(recorded.session, recorded.tests)
    sessions = [] if cost is None else [(timings.UNKNOWN, cost)]
    return timings.update(timings.empty(project), observed, sessions=sessions)


def history_from_tests(tests: Iterable[TimedTest], project: str) -> Any:
    from ci_toolkit import timing as timings

    observed = {t.nodeid: timings.Observation(t.setup, t.call, t.teardown) for t in tests}
    return timings.update(timings.empty(project), observed)


def write_durations(path: Path, tests: Iterable[TimedTest]) -> None:
    """pytest-split's --durations-path format: flat {nodeid: setup+call+teardown seconds}."""
    path.write_text(json.dumps({t.nodeid: t.duration for t in tests}, indent=1, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------------------
# Generated suites (real files, real pytest)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _ini(root: Path) -> None:
    # Its own rootdir: nothing from the repository (pyproject, conftest) reaches the generated suite.
    _write(root, "pytest.ini", "[pytest]\n")


def write_tail_suite(
    root: Path, long_tests: int = 8, long_seconds: float = 1.0, short_tests: int = 200, files: int = 10
) -> None:
    """A few long tests together at the start of the collection, then many 10 ms ones (FIELD-NOTES case)."""
    _ini(root)
    _write(
        root,
        "tests/test_00_slow.py",
        f"""
        import time
        import pytest

        @pytest.mark.parametrize("i", range({long_tests}))
        def test_slow(i):
            time.sleep({long_seconds})
        """,
    )
    per_file = short_tests // files
    for f in range(files):
        count = per_file + (1 if f < short_tests % files else 0)
        _write(
            root,
            f"tests/test_{f + 1:02d}_fast.py",
            f"""
            import time
            import pytest

            @pytest.mark.parametrize("i", range({count}))
            def test_fast(i):
                time.sleep(0.01)
            """,
        )


def write_uniform_suite(root: Path, tests: int = 300, seconds: float = 0.02, files: int = 10) -> None:
    """Every test takes the same time: there is no tail for a scheduler to avoid."""
    _ini(root)
    for f in range(files):
        _write(
            root,
            f"tests/test_{f:02d}_uniform.py",
            f"""
            import time
            import pytest

            @pytest.mark.parametrize("i", range({tests // files}))
            def test_uniform(i):
                time.sleep({seconds})
            """,
        )


def write_fixture_suite(root: Path, seed: int = SEED, modules: int = 16) -> dict[str, float]:
    """Modules whose tests share a module-scoped fixture; half of them pay 0.5-1 s to set it up.

    Returns {module path: fixture seconds} for the expensive ones.
    """
    rng = random.Random(seed)
    _ini(root)
    expensive: dict[str, float] = {}
    for m in range(modules):
        rel = f"tests/{('api', 'core', 'db', 'io')[m % 4]}/test_mod{m:02d}.py"
        setup = round(rng.uniform(0.5, 1.0), 3) if m % 2 == 0 else 0.0
        if setup:
            expensive[rel] = setup
        count = rng.randint(8, 20)
        # Mostly short, a few 0.2-0.4 s tests: realistic, and big enough for per-test balancing to matter.
        sleeps = [
            round(
                rng.uniform(0.2, 0.4) if rng.random() < 0.08 else rng.lognormvariate(math.log(0.03), 0.8), 4
            )
            for _ in range(count)
        ]
        _write(
            root,
            rel,
            f"""
            import time
            import pytest

            SLEEPS = {sleeps!r}

            @pytest.fixture(scope="module")
            def resource():
                time.sleep({setup})
                yield "ready"

            @pytest.mark.parametrize("i", range(len(SLEEPS)))
            def test_work(resource, i):
                time.sleep(SLEEPS[i])
            """,
        )
        (root / rel).parent.joinpath("__init__.py").touch()
    (root / "tests" / "__init__.py").touch()
    return expensive


# --------------------------------------------------------------------------------------------------------
# Running pytest


@dataclass(frozen=True)
class Run:
    """One timed pytest process."""

    label: str
    seconds: float  # wall time from outside, interpreter start-up included
    returncode: int
    log: Path
    problem: str | None = None  # why the run does not measure what it should (see check_run)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.problem is None

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def session_seconds(self) -> float | None:
        """The duration pytest reports on its last line."""
        found = _SESSION_LINE.findall(self.text())
        return float(found[-1]) if found else None

    @property
    def scheduler(self) -> str | None:
        """xdist's scheduler class (printed with -v)."""
        found = _SCHEDULER_LINE.search(self.text())
        return found.group(1) if found else None

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


def clean_env(pythonpath: Sequence[str] = (), *, autoload: bool = True) -> dict[str, str]:
    """The environment of a clean CI shell, with this checkout (and `pythonpath`) importable.

    autoload=False sets PYTEST_DISABLE_PLUGIN_AUTOLOAD: only the plugins named with -p load (plugin_args).
    """
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *pythonpath])
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def plugin_args(load: Sequence[str], autoload: bool) -> list[str]:
    """-p options so that a run has exactly the plugins in `load` (keys of PLUGINS) that matter here.

    Without autoload, each is named. With it, every installed plugin loads itself, and ours is kept out of
    the runs that should not have it, as a team without ci-toolkit would not load it.
    """
    if not autoload:
        return [arg for name in load for arg in ("-p", PLUGINS[name])]
    return [] if "ci_toolkit" in load else ["-p", "no:ci_toolkit"]


def run_pytest(
    label: str, args: Sequence[str], cwd: Path, log: Path, env: Mapping[str, str] | None = None
) -> Run:
    """`python -m pytest ARGS` in `cwd`, all output to `log`, wall-timed."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    if any(a.startswith("--") and "=" not in a and a not in _FLAGS for a in args):
        raise ValueError(f"pass options as --option=value (see check_run): {args}")
    with log.open("wb") as out:
        out.write((" ".join(command) + "\n").encode())
        out.flush()
        start = time.perf_counter()
        code = subprocess.run(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=dict(env or clean_env()), check=False
        ).returncode
        seconds = time.perf_counter() - start
    return Run(label, seconds, code, log, check_run(log.read_text(encoding="utf-8", errors="replace"), cwd))


def check_run(output: str, root: Path) -> str | None:
    """Why a run does not measure what it should, if it does not.

    pytest decides its rootdir before it loads plugins, so `--plugin-option FILE` (a space, not `=`) makes
    FILE look like a test path: the rootdir moves up to a common ancestor and every node id changes, so
    neither our history nor pytest-split's durations match anything. And our plugin warns, rather than
    fails, when it ignores a history.
    """
    found = _ROOTDIR_LINE.search(output)
    if found and Path(found.group(1).strip()) != root:
        return f"rootdir {found.group(1).strip()}, not {root}: node ids would not match the history"
    return next((ln for ln in output.splitlines() if ln.startswith("ci-toolkit: warning")), None)


def find_pytest_split(target: str | None) -> str | None:
    """The directory to put on sys.path / PYTHONPATH for pytest-split, or None if it is importable already."""
    candidates = [target] if target else [DEFAULT_SPLIT_DIR]
    for directory in candidates:
        if directory and (Path(directory) / "pytest_split" / "algorithms.py").is_file():
            return str(Path(directory).resolve())
    try:
        import pytest_split  # noqa: F401
    except ImportError:
        raise SystemExit(
            "pytest-split not found: python -m pip install --no-deps --target "
            f"{DEFAULT_SPLIT_DIR} pytest-split  (or pass --split-dir DIR)"
        ) from None
    return None


def main(argv: Sequence[str]) -> int:
    writers = {"tail": write_tail_suite, "uniform": write_uniform_suite, "fixtures": write_fixture_suite}
    if len(argv) != 2 or argv[0] not in writers:
        print(f"usage: python {Path(__file__).name} {{{','.join(writers)}}} DIR", file=sys.stderr)
        return 2
    root = Path(argv[1])
    root.mkdir(parents=True, exist_ok=True)
    writers[argv[0]](root)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
