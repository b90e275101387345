"""Benchmark merging 64 shards' coverage data and gating it, against `coverage combine` + `coverage json`.

A generated source tree of 2,000 modules (about 40 lines each) is measured with branch coverage twice
(imported only; imported and exercised); each of 64 shard data files then holds every module's import
arcs and the exercised arcs of its own modules (plus a few others'), as a sharded suite's would.

- theirs: `coverage combine --keep` of the 64 files, then `coverage json` (what a gate reads).
- ours: `ci_toolkit.run.combine.combine` of the 64 files, then `ci_toolkit.commands.judge.judge`
  (coverage.py's analysis, spread over the cores, and the verdict): the merge and gate of
  `ci-toolkit merge`, without its shard bookkeeping.
- with --command, also the whole `ci-toolkit merge` over the shards as artifact folders: it also checks
  the shards, merges results and JUnit and writes the report files (printed, not judged).

Each side runs in a child process of its own, interleaved, the order flipped every repetition; the
child's peak memory (ru_maxrss, the largest of its processes) is printed beside its time.
Target: median(ours) / median(theirs) <= 0.6.

Usage: python benchmarks/bench_merge.py --reps 3
Exit status: 0 when every run succeeded (and, with --strict, the target was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TARGET_RATIO = 0.6
MODULES = 2000
SHARDS = 64
SEED = 11

_MODULE = '''\
"""Generated module {index}."""

LIMIT = {limit}


def classify(x):
    if x < 0:
        return "negative"
    elif x == 0:
        return "zero"
    elif x > LIMIT:
        return "big"
    return "small"


def total(values, cap=LIMIT):
    result = 0
    for value in values:
        if value > cap:
            break
        result += value
    else:
        result += 1
    return result


class Box:
    def __init__(self, items):
        self.items = list(items)

    def pick(self, key):
        for item in self.items:
            if item == key:
                return item
        return None


def parse(token):
    try:
        return int(token)
    except ValueError:
        return token.strip() if token else None


def run():
    return classify({x}), total({values}), Box({values}).pick({key}), parse({token!r})
'''

# Runs in the tree: measures importing every module, and with "run" also exercising each.
_DRIVER = """\
import importlib, sys
exercise = sys.argv[1] == "run"
for index in range(int(sys.argv[2])):
    module = importlib.import_module(f"pkg.m{index:04d}")
    if exercise:
        module.run()
"""

_OURS = """\
import sys
from pathlib import Path
root, out = Path(sys.argv[1]), Path(sys.argv[2])
inputs = [Path(p) for p in sys.argv[3:]]
from ci_toolkit.config import load
from ci_toolkit.commands.judge import judge
from ci_toolkit.run.combine import combine
config = load(root / "pyproject.toml")
verdict = judge(combine(inputs, out), config)
print(verdict.passed)
"""

_PYPROJECT = """\
[project]
name = "bench-merge"
version = "0"

[tool.coverage.run]
branch = true
source = ["pkg"]

[tool.ci-toolkit.coverage]
source = ["pkg"]
branch = true
fail_under = 10
"""


@dataclass(frozen=True)
class Run:
    side: str
    seconds: float
    cpu: float  # user + system seconds of all its processes: what it costs a machine others share
    peak_mib: float
    returncode: int
    output: str


def write_tree(root: Path, rng: random.Random, modules: int) -> None:
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(_PYPROJECT)
    for index in range(modules):
        values = [rng.randint(-5, 30) for _ in range(rng.randint(0, 4))]
        text = _MODULE.format(
            index=index,
            limit=rng.randint(5, 20),
            x=rng.randint(-3, 25),
            values=values,
            key=rng.choice([*values, 99]),
            token=rng.choice(["12", "x ", "", "-4"]),
        )
        (pkg / f"m{index:04d}.py").write_text(text)


def measure(root: Path, mode: str, modules: int) -> dict[str, set[tuple[int, int]]]:
    """The arcs per file of one measured run of the driver (`mode`: "import" or "run")."""
    from coverage import CoverageData

    data_file = root / f".coverage-{mode}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            f"--data-file={data_file}",
            "-m",
            "driver",
            mode,
            str(modules),
        ],
        cwd=root,
        check=True,
    )
    data = CoverageData(basename=str(data_file))
    data.read()
    arcs = {name: set(data.arcs(name) or ()) for name in data.measured_files()}
    data_file.unlink()
    return arcs


def write_shards(root: Path, shards_dir: Path, rng: random.Random, modules: int, shards: int) -> list[Path]:
    from coverage import CoverageData

    (root / "driver.py").write_text(_DRIVER)
    imported = measure(root, "import", modules)
    exercised = measure(root, "run", modules)
    (root / "driver.py").unlink()
    names = sorted(exercised)
    shards_dir.mkdir()
    paths = []
    for shard in range(shards):
        own = {name for i, name in enumerate(names) if i % shards == shard}
        own |= set(rng.sample(names, min(len(names), 5)))
        arcs = {name: sorted(exercised[name] if name in own else imported.get(name, set())) for name in names}
        path = shards_dir / f".coverage.shard{shard:02d}"
        data = CoverageData(basename=str(path))
        data.add_arcs(arcs)
        data.write()
        paths.append(path)
    return paths


def write_artifacts(shards: Sequence[Path], out: Path) -> Path:
    """The shard data files as `local --shard K/N` output dirs (data, run.json, one test's results), as
    `actions/download-artifact` leaves them: what `ci-toolkit merge` reads."""
    from ci_toolkit.run.exchange import results, run_record

    for k, data in enumerate(shards, 1):
        folder = out / f"shard-{k:02d}"
        (folder / "results").mkdir(parents=True)
        shutil.copyfile(data, folder / ".coverage")
        run_record.write(folder / "run.json", [], (k, len(shards)))
        test = results.TestOutcome(f"tests/test_{k}.py::test", "passed")
        session = results.Session(exitstatus=0, selected=1)
        results.write(folder / "results" / "all.json", results.Results((test,), {"passed": 1}, session))
    return out


def side_commands(side: str, root: Path, shards: list[Path], work: Path) -> list[list[str]]:
    out = work / ".coverage"
    if side == "command":
        return [[sys.executable, "-m", "ci_toolkit", "merge", str(shards[0].parent.parent / "artifacts")]]
    if side == "theirs":
        return [
            [sys.executable, "-m", "coverage", "combine", "--keep", f"--data-file={out}", *map(str, shards)],
            [
                sys.executable,
                "-m",
                "coverage",
                "json",
                f"--data-file={out}",
                "-o",
                str(work / "coverage.json"),
            ],
        ]
    return [[sys.executable, "-c", _OURS, str(root), str(out), *map(str, shards)]]


def timed(side: str, commands: Sequence[Sequence[str]], cwd: Path) -> Run:
    """Run `commands` like `a && b`; time and the largest peak memory of any of their processes."""
    output, code = "", 0
    start = time.perf_counter()
    for command in commands:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        output += proc.stdout + proc.stderr
        code = proc.returncode
        if code:
            break
    seconds = time.perf_counter() - start
    # The largest peak of any process waited for so far: this interpreter runs one side only (see
    # run_side), so it is that side's. Linux reports KiB.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Run(side, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code, output)


def one_side(args: argparse.Namespace) -> int:
    """--side: run one side once in this fresh process and print "seconds peak_mib returncode"."""
    work = Path(tempfile.mkdtemp(prefix="bench-merge-work-"))
    try:
        shards = sorted(Path(args.shards).glob(".coverage.shard*"))
        run = timed(args.side, side_commands(args.side, Path(args.root), shards, work), Path(args.root))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if run.returncode:
        print(run.output, file=sys.stderr)
    print(f"{run.seconds:.3f} {run.cpu:.3f} {run.peak_mib:.1f} {run.returncode}")
    return 0


def run_side(side: str, root: Path, shards: Path) -> Run:
    cmd = [sys.executable, __file__, "--side", side, "--root", str(root), "--shards", str(shards)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        seconds, cpu, peak, code = proc.stdout.split()[-4:]
        return Run(side, float(seconds), float(cpu), float(peak), int(code), proc.stderr)
    except ValueError:
        return Run(side, 0.0, 0.0, 0.0, proc.returncode or 1, proc.stdout + proc.stderr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per side (default 3)")
    parser.add_argument("--modules", type=int, default=MODULES, help=f"source files (default {MODULES})")
    parser.add_argument("--shards", type=int, default=SHARDS, help=f"shard data files (default {SHARDS})")
    parser.add_argument("--seed", type=int, default=SEED, help="generator seed")
    parser.add_argument("--strict", action="store_true", help="also exit 1 when the target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree and print where")
    parser.add_argument(
        "--command",
        action="store_true",
        help="also time the whole `ci-toolkit merge` command",
    )
    parser.add_argument("--side", choices=("ours", "theirs", "command"), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and "--side" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--side")
        parser.add_argument("--root")
        parser.add_argument("--shards")
        return one_side(parser.parse_args())
    args = parse_args(argv)
    if args.reps < 1:
        raise SystemExit("--reps must be at least 1")
    base = Path(tempfile.mkdtemp(prefix="bench-merge-"))
    try:
        rng = random.Random(args.seed)
        root = base / "tree"
        start = time.perf_counter()
        write_tree(root, rng, args.modules)
        shards = write_shards(root, base / "shards", rng, args.modules, args.shards)
        print(
            f"generated {args.modules} files, {len(shards)} shard data files in "
            f"{time.perf_counter() - start:.1f} s; cores: {len(os.sched_getaffinity(0))}"
        )
        sides = ("ours", "theirs", "command") if args.command else ("ours", "theirs")
        if args.command:
            write_artifacts(shards, base / "artifacts")
        runs: dict[str, list[Run]] = {side: [] for side in sides}
        for rep in range(args.reps):
            order = sides if rep % 2 == 0 else sides[::-1]
            for side in order:
                run = run_side(side, root, shards[0].parent)
                runs[side].append(run)
                print(
                    f"  rep {rep + 1} {side:6} {run.seconds:7.2f} s  cpu {run.cpu:7.2f} s"
                    f"  peak {run.peak_mib:7.1f} MiB"
                )
                if run.returncode:
                    print(f"{side} failed:\n{run.output}")
                    return 1
        ratio = statistics.median(r.seconds for r in runs["ours"]) / statistics.median(
            r.seconds for r in runs["theirs"]
        )
        met = ratio <= TARGET_RATIO
        described = {
            "theirs": "coverage combine + coverage json",
            "ours": "combine + judge",
            "command": "ci-toolkit merge, with its report",
        }
        for side, what in described.items():
            if side not in runs:
                continue
            median = statistics.median(r.seconds for r in runs[side])
            cpu = statistics.median(r.cpu for r in runs[side])
            peak = max(r.peak_mib for r in runs[side])
            print(f"{side} ({what}): median {median:.2f} s wall, {cpu:.2f} s CPU, peak {peak:.0f} MiB")
        print(f"merge ratio ours/theirs: {ratio:.2f} (target <= {TARGET_RATIO}) {'MET' if met else 'MISSED'}")
        if args.command:
            whole = statistics.median(r.seconds for r in runs["command"])
            theirs = statistics.median(r.seconds for r in runs["theirs"])
            print(f"command ratio ci-toolkit merge/theirs: {whole / theirs:.2f}")
        if args.keep:
            print(f"kept: {base}")
        return 1 if args.strict and not met else 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
