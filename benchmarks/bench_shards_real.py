"""Shards of real open-source suites, run for real: ours (`--ci-shard`) vs pytest-split least_duration.

Issue 13's measurement. Each suite of benchmarks/_sdists.py (pinned projects taken from their PyPI sdists,
installed with their test dependencies into a cache directory of their own) is run once serially with our
plugin's --ci-toolkit-results: that recording gives ours its timing history and pytest-split its durations
file, and its wall time (from outside) is the serial wall. Then `--reps` rounds, the side order rotating,
each running both sides' N (4) shards one after another, each a fresh pytest wall-timed from outside:

- ours: `pytest -p ci_toolkit.pytest_plugin --ci-shard=K/N --ci-timings=HISTORY`
- split-least: `pytest -p pytest_split.plugin --splits=N --group=K --splitting-algorithm=least_duration`

and `pytest --collect-only -q` (no splitter) for the start-up every shard pays, median over rounds.

  ideal       = start-up + (serial wall - start-up) / N        (the issue's denominator)
  lower bound = start-up + max(work / N, largest test with its module's set-up)

work being the recording's summed setup+call+teardown. The lower bound is the physical floor: no split can
finish its slowest shard sooner, so bound / ideal is the best ratio any splitter could show in that run.
Target: median over rounds of ours' slowest shard / ideal <= 1.08 on every suite.

Every shard also writes a JUnit XML (both sides alike) so that each shard's wall splits into start-up
(wall - the tests' own time) and the tests' time, next to each side's prediction: where a miss comes from.

Usage: python benchmarks/bench_shards_real.py [--reps 3] [--suites sqlglot mpmath] [--cache-dir DIR]
Exit status: 1 when a run fails (or with --strict when a target is missed); else 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdists import DEFAULT_CACHE, SUITES, Prepared, prepare
from _suites import (
    Run,
    TimedTest,
    clean_env,
    find_pytest_split,
    history_from_results,
    load_results,
    plugin_args,
    run_pytest,
    write_durations,
)
from bench_shards_realised import fail, passed, predicted_shards, shard_args, split_estimate
from bench_split_quality import CostModel

TARGET = 1.08
SIDES = ("ours", "split-least")


@dataclass(frozen=True)
class Bounds:
    """The two denominators of one suite's ratios, in seconds."""

    startup: float
    ideal: float  # start-up + (serial wall - start-up) / N
    floor: float  # start-up + max(work / N, largest indivisible test)


def bounds(startup: float, serial_wall: float, tests: Sequence[TimedTest], shards: int) -> Bounds:
    floor = startup + CostModel.build(tests, overhead=0.0).aware_bound(shards)
    return Bounds(startup, startup + (serial_wall - startup) / shards, floor)


def rotated(sides: Sequence[str], round_index: int) -> list[str]:
    """The side order of one round: each side goes first in turn, so drift hits both alike."""
    turn = round_index % len(sides)
    return [*sides[turn:], *sides[:turn]]


def per_shard_medians(walls: Sequence[Sequence[float]]) -> list[float]:
    """Median over rounds of each shard's wall; walls[round][shard]."""
    return [statistics.median(r[k] for r in walls) for k in range(len(walls[0]))]


def slowest(walls: Sequence[Sequence[float]]) -> float:
    """Median over rounds of the round's slowest shard (what a CI run waits for)."""
    return statistics.median(max(r) for r in walls)


def passed_in_results(path: Path) -> int:
    """Tests our plugin's results file records as passed: what the shards together must pass."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return sum(t["outcome"] == "passed" for t in doc["tests"])


def junit_key(nodeid: str) -> tuple[str, str]:
    """A node id as pytest's JUnit XML names its testcase: (dotted path + classes, name)."""
    path, *rest = nodeid.split("::")
    dotted = ".".join([path.removesuffix(".py").replace("/", "."), *rest[:-1]])
    return dotted, rest[-1] if rest else path


def junit_times(path: Path) -> dict[tuple[str, str], float]:
    """Each testcase's time (setup + call + teardown) in one shard's JUnit XML."""
    if not path.is_file():
        return {}
    cases = ET.parse(path).getroot().iter("testcase")
    return {(c.get("classname", ""), c.get("name", "")): float(c.get("time", 0.0)) for c in cases}


def excess_by_module(
    shards: Sequence[dict[tuple[str, str], float]], tests: Sequence[TimedTest]
) -> dict[str, float]:
    """Per module: its tests' time in the shards minus their time in the serial recording.

    What sharding made the tests themselves cost more: module or class set-up paid again in another
    shard, and the warm-up (imports, caches) a serial run pays once and every shard pays for itself.
    """
    excess: dict[str, float] = {}
    for t in tests:
        key = junit_key(t.nodeid)
        for times in shards:
            if key in times:
                module = t.nodeid.split("::")[0]
                excess[module] = excess.get(module, 0.0) + times[key] - t.duration
    return excess


@dataclass
class Measured:
    """One side's rounds on one suite: walls[round][shard] and the tests' own time in each."""

    walls: list[list[float]]
    junit: list[list[dict[tuple[str, str], float]]]
    estimates: list[float | None]

    @property
    def tests_time(self) -> list[list[float]]:
        return [[sum(times.values()) for times in shards] for shards in self.junit]


def run_side(
    side: str,
    prepared: Prepared,
    rep: int,
    n: int,
    files: dict[str, Path],
    envs: dict[str, dict[str, str]],
    autoload: bool,
) -> tuple[list[Run], list[dict[tuple[str, str], float]]] | Run:
    """The side's N shards one after another; the failed Run if one fails."""
    runs: list[Run] = []
    times: list[dict[tuple[str, str], float]] = []
    logs = files["logs"]
    for k in range(1, n + 1):
        junit = logs / f"{side}-{k}-{rep + 1}.xml"
        args = shard_args(side, k, n, files["history"], files["durations"], autoload)
        run = run_pytest(
            f"{prepared.suite.name} {side} shard {k}/{n} #{rep + 1}",
            [*args, f"--junitxml={junit}", *prepared.suite.pytest_args()],
            prepared.root,
            logs / f"{side}-{k}-{rep + 1}.log",
            envs["split" if side.startswith("split") else "ours"],
        )
        # pytest exits 5 when a shard selected nothing: a (bad) split, not a failed run.
        if run.returncode not in (0, 5) or run.problem:
            return run
        runs.append(run)
        times.append(junit_times(junit))
    return runs, times


def bench_suite(
    prepared: Prepared, args: argparse.Namespace, split_dir: str | None, logs: Path
) -> float | None:
    """Measure one suite and print its table; ours' ratio to the ideal, or None when a run failed."""
    from ci_toolkit import timing as timings

    suite, n, autoload = prepared.suite, args.shards, args.all_plugins
    env = clean_env([str(prepared.site)], autoload=autoload)
    envs = {
        "ours": env,
        "split": clean_env([str(prepared.site), *([split_dir] if split_dir else [])], autoload=autoload),
    }
    results = logs / "record.json"
    record = run_pytest(
        f"{suite.name} recording run",
        [*plugin_args(["ci_toolkit"], autoload), f"--ci-toolkit-results={results}", *suite.pytest_args()],
        prepared.root,
        logs / "record.log",
        env,
    )
    if not record.ok:
        fail(record)
        return None
    tests = load_results(results)
    expected = passed_in_results(results)
    files = {"logs": logs, "history": logs / "history.json", "durations": logs / "durations.json"}
    history = history_from_results(results, timings.project_name(prepared.root))
    timings.save(files["history"], history)
    write_durations(files["durations"], tests)

    measured = {s: Measured([], [], [None] * n) for s in SIDES}
    startups: list[float] = []
    for rep in range(args.reps):
        probe = run_pytest(
            f"{suite.name} collect-only #{rep + 1}",
            [*plugin_args([], autoload), "--collect-only", "-q", *suite.pytest_args()],
            prepared.root,
            logs / "collect.log",
            env,
        )
        if not probe.ok:
            fail(probe)
            return None
        startups.append(probe.seconds)
        for side in rotated(SIDES, rep):
            done = run_side(side, prepared, rep, n, files, envs, autoload)
            if isinstance(done, Run):
                fail(done)
                return None
            runs, times = done
            count = sum(passed(r) for r in runs)
            if count != expected:
                print(
                    f"\nFAILED: {suite.name} {side} round {rep + 1} passed {count}, not {expected}",
                    file=sys.stderr,
                )
                return None
            measured[side].walls.append([r.seconds for r in runs])
            measured[side].junit.append(times)
            measured[side].estimates = [split_estimate(r) for r in runs]
        print(
            f"  round {rep + 1}: start-up {probe.seconds:.2f}; "
            + "; ".join(f"{s} " + " ".join(f"{w:.2f}" for w in measured[s].walls[-1]) for s in SIDES),
            flush=True,
        )

    limits = bounds(statistics.median(startups), record.seconds, tests, n)
    work = sum(t.duration for t in tests)
    print(
        f"\n{suite.key}: {len(tests)} tests ran ({expected} passed) in the recording; serial wall "
        f"{record.seconds:.2f} s, work {work:.2f} s, start-up {limits.startup:.2f} s (median of {args.reps})"
    )
    print(
        f"  ideal = start-up + (serial - start-up)/{n} = {limits.ideal:.2f} s; lower bound = start-up + "
        f"max(work/{n}, largest) = {limits.floor:.2f} s (floor / ideal {limits.floor / limits.ideal:.3f})"
    )
    predicted = {
        "ours": predicted_shards(tests, history, n),
        "split-least": measured["split-least"].estimates,
    }
    header = f"  {'side':<12} {'median wall per shard (s)':<30} {'slowest':>8} {'/ ideal':>8} {'/ bound':>8}"
    print(header)
    ratios: dict[str, float] = {}
    for side in SIDES:
        m = measured[side]
        worst = slowest(m.walls)
        ratios[side] = worst / limits.ideal
        shards = " ".join(f"{w:6.2f}" for w in per_shard_medians(m.walls))
        print(f"  {side:<12} {shards:<30} {worst:8.2f} {ratios[side]:8.3f} {worst / limits.floor:8.3f}")
    print("  per shard: predicted + start-up | tests' own time (JUnit) | wall - tests' time")
    for side in SIDES:
        m = measured[side]
        guess = predicted[side]
        shown = " ".join(f"{p + limits.startup:6.2f}" if p is not None else "     ?" for p in (guess or []))
        own = " ".join(f"{t:6.2f}" for t in per_shard_medians(m.tests_time))
        rest = [
            [w - t for w, t in zip(wr, tr, strict=True)] for wr, tr in zip(m.walls, m.tests_time, strict=True)
        ]
        outside = " ".join(f"{t:6.2f}" for t in per_shard_medians(rest))
        print(f"  {side:<12} {shown or '(none)'} | {own} | {outside}")
    print("  tests' time over the recording, all shards, median over rounds (largest modules):")
    for side in SIDES:
        rounds = [excess_by_module(shards, tests) for shards in measured[side].junit]
        modules = {module for excess in rounds for module in excess}
        median = {mod: statistics.median(e.get(mod, 0.0) for e in rounds) for mod in modules}
        top = sorted(median.items(), key=lambda kv: -kv[1])[:4]
        total = statistics.median(sum(e.values()) for e in rounds)
        print(f"  {side:<12} {total:+.2f} s: " + ", ".join(f"{mod} {sec:+.2f}" for mod, sec in top))
    verdict = "PASS" if ratios["ours"] <= TARGET else "MISS"
    print(
        f"  {suite.name}: ours slowest / ideal = {ratios['ours']:.3f} (target <= {TARGET}: {verdict}), "
        f"pytest-split least_duration {ratios['split-least']:.3f}; floor {limits.floor / limits.ideal:.3f}"
    )
    return ratios["ours"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="rounds of both sides' shards (default 3)")
    parser.add_argument("--shards", type=int, default=4, help="N (default 4)")
    parser.add_argument(
        "--suites", nargs="+", default=list(SUITES), choices=list(SUITES), help="default: all"
    )
    parser.add_argument(
        "--cache-dir", default=DEFAULT_CACHE, help=f"sdists and installs (default {DEFAULT_CACHE})"
    )
    parser.add_argument("--split-dir", help="where pytest-split is installed (pip install --target)")
    parser.add_argument(
        "--all-plugins",
        action="store_true",
        help="let every installed pytest plugin load (default: only ci-toolkit or pytest-split)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.shards < 2:
        parser.error("--reps must be >= 1 and --shards >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    split_dir = find_pytest_split(args.split_dir)
    tmp = Path(tempfile.mkdtemp(prefix="ci-toolkit-bench-real-"))
    ratios: dict[str, float | None] = {}
    try:
        prepared = [prepare(SUITES[name], Path(args.cache_dir)) for name in args.suites]
        print(f"pytest-split from {split_dir or 'the environment'}; N = {args.shards}, {args.reps} rounds")
        for ready in prepared:
            suite = ready.suite
            print(f"\n{suite.key} ({suite.licence}), {ready.root}: {suite.about}")
            for nodeid, why in suite.deselect.items():
                print(f"  deselected {nodeid}: {why}")
            logs = tmp / suite.key
            logs.mkdir()
            ratios[suite.name] = bench_suite(ready, args, split_dir, logs)
            if ratios[suite.name] is None:
                args.keep = True
                return 1
        print("\nsummary: ours slowest / ideal " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items() if v))
        missed = any(v is not None and v > TARGET for v in ratios.values())
        return 1 if args.strict and missed else 0
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
