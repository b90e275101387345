"""Real open-source test suites taken from their PyPI sdists, for bench_shards_real.py.

Each suite is pinned (project, version, test dependencies), downloaded once with `pip download --no-binary
:all:`, unpacked, and installed with its test dependencies into a directory of its own (`pip install
--target`), all under a cache directory: nothing lands in the running environment, and a second run reuses
the cache. Tests are run from the unpacked sdist with that directory on PYTHONPATH. The projects' code is
only run here, never copied into this repository.

`python benchmarks/_sdists.py [--cache-dir DIR] [NAME ...]` prepares suites alone and prints where they are.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CACHE = "/tmp/ci-toolkit-bench-real"
# Written last into a prepared suite's directory: its presence means the download, unpacking and install
# all finished, so an interrupted preparation is redone rather than measured half-installed.
_READY = ".ci-toolkit-bench-ready"
# A test this long alone is more than serial / 4: no split could reach the ideal with it in.
_TOO_LONG = "one test longer than serial / N: bounds every split, whatever the splitter"


@dataclass(frozen=True)
class Suite:
    """One pinned project and how its test suite is run here."""

    name: str
    version: str
    licence: str
    deps: tuple[str, ...]  # test dependencies, pinned, installed next to the project
    paths: tuple[str, ...]  # test paths, relative to the unpacked sdist
    deselect: Mapping[str, str] = field(default_factory=dict)  # node id -> why
    about: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    def pytest_args(self) -> list[str]:
        """Paths and deselections, in the `--option=value` form run_pytest requires."""
        return [*self.paths, *(f"--deselect={nodeid}" for nodeid in self.deselect)]


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            name="sqlglot",
            version="30.31.0",
            licence="MIT",
            # pip's choices for sqlglot's test imports (duckdb, pandas) on Python 3.11, pinned.
            deps=(
                "duckdb==2.0.1",
                "pandas==3.1.1",
                "numpy==2.4.6",
                "python-dateutil==4.0.0",
                "pytz==2026.6",
                "six==1.17.0",
                "tzdata==2026.6",
            ),
            paths=("tests",),
            deselect={
                "tests/test_parser.py::TestParser::test_max_nodes": f"~200 s; {_TOO_LONG}",
                "tests/test_executor.py::TestExecutor::test_execute_tpcds": f"~135 s; {_TOO_LONG}",
                "tests/test_optimizer.py::TestOptimizer::test_tpcds": f"~45 s; {_TOO_LONG}",
            },
            about=(
                "heavy tail (TPC-H execution and optimizer tests of 3-9 s among ~1,500 of milliseconds) and "
                "costly class set-up: TestExecutor.setUpClass loads TPC-H into duckdb and Python tables "
                "(~3 s), TestOptimizer.setUpClass spawns a process pool and a duckdb database"
            ),
        ),
        Suite(
            name="mpmath",
            version="1.3.0",
            licence="BSD-3-Clause",
            deps=(),
            paths=("mpmath/tests",),
            deselect={
                "mpmath/tests/test_functions2.py::test_bessel_zeros_extra": f"~53 s; {_TOO_LONG}",
                "mpmath/tests/test_convert.py::test_compatibility": (
                    "fails here: asserts numpy 1's float16 rounding (numpy 2 is installed)"
                ),
                "mpmath/tests/test_functions2.py::test_hypercomb_zero_pow": (
                    "order-dependent: passes alone and in the serial order, failed in a shard after other "
                    "tests had changed mpmath's global state"
                ),
            },
            about="numeric tests, a tail of 3-15 s integration and root-finding tests, no shared set-up",
        ),
    )
}


@dataclass(frozen=True)
class Prepared:
    """A suite ready to run: pytest runs in `root` with `site` on PYTHONPATH."""

    suite: Suite
    root: Path
    site: Path


def pip(args: Sequence[str], log: Path) -> None:
    """`python -m pip ARGS`, output to `log`; a failure is a SystemExit naming the log."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    with log.open("ab") as out:
        out.write((" ".join(command) + "\n").encode())
        out.flush()
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code:
        raise SystemExit(f"pip failed ({code}): {' '.join(args)}; see {log}")


def unpack(archive: Path, into: Path) -> Path:
    """Unpack an sdist (a .tar.gz with one top directory) and return that directory."""
    with tarfile.open(archive) as tar:
        tops = {Path(m.name).parts[0] for m in tar.getmembers() if m.name}
        if len(tops) != 1:
            raise SystemExit(f"{archive}: expected one top directory, found {sorted(tops)}")
        # The "data" filter refuses links and paths that leave `into` (Python >= 3.10.12 / 3.11.4).
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - older patch releases only
            tar.extractall(into)
    return into / tops.pop()


def prepare(suite: Suite, cache: Path) -> Prepared:
    """Download, unpack and install `suite` under `cache` (once; later calls reuse it)."""
    home = cache / suite.key
    prepared = Prepared(suite, home / "src", home / "site")
    if (home / _READY).is_file():
        return prepared
    # Only ever our own cache directory: a half-prepared one is started again from nothing.
    shutil.rmtree(home, ignore_errors=True)
    downloads = home / "download"
    downloads.mkdir(parents=True)
    log = home / "prepare.log"
    pip(
        [
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "-d",
            str(downloads),
            f"{suite.name}=={suite.version}",
        ],
        log,
    )
    archives = sorted(downloads.glob("*.tar.gz"))
    if len(archives) != 1:
        raise SystemExit(f"{suite.key}: expected one sdist in {downloads}, found {archives}; see {log}")
    unpacked = unpack(archives[0], home)
    unpacked.rename(prepared.root)
    # --no-deps with the list pinned: pip resolving would also bring a second pytest into the directory.
    pip(["install", "--no-deps", "--target", str(prepared.site), str(archives[0]), *suite.deps], log)
    (home / _READY).write_text(f"{suite.key}\n", encoding="utf-8")
    return prepared


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache-dir", default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    parser.add_argument("names", nargs="*", help=f"suites, of {', '.join(SUITES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}")
    for name in args.names or SUITES:
        ready = prepare(SUITES[name], Path(args.cache_dir))
        print(f"{name}: run pytest in {ready.root} with PYTHONPATH={ready.site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
