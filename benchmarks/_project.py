"""Generate a realistic, deterministic sample project for the benchmarks.

The project is a package `pkg` of small modules full of branches and a test suite of
roughly 300 test items: mostly fast, some sleeping a few milliseconds (I/O-ish tests),
a few parametrized, two module-scoped fixtures. Branch coverage of `pkg` lands near 90 %
because some branches and helpers are deliberately left untested, as in real code.

Expected values in the tests are computed by executing the generated module source here,
so the suite passes by construction whatever the random constants are.

Usage: `python benchmarks/_project.py DIR` writes the project into DIR (for poking at by hand).
"""

from __future__ import annotations

import argparse
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20240611
N_MODULES = 30
WORKERS = 2
FAIL_UNDER = 80

PYPROJECT = f"""\
[project]
name = "bench-sample"
version = "0.0.1"
requires-python = ">=3.10"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]

[tool.ci-toolkit]
workers = {WORKERS}

[tool.ci-toolkit.coverage]
source = ["pkg"]
branch = true
fail_under = {FAIL_UNDER}
"""


@dataclass
class _Module:
    """Source of one `pkg` module and the test functions that exercise it."""

    name: str
    source: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


def _load(source: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"pkg.{name}"}
    exec(compile(source, f"pkg/{name}.py", "exec"), namespace)
    return namespace


def _call_expr(mod: str, fn: str, args: tuple[Any, ...]) -> str:
    return f"{mod}.{fn}({', '.join(repr(a) for a in args)})"


# Each template returns (source, argument tuples the tests call it with). Some templates sometimes
# omit a case on purpose so that a few branches stay uncovered, as in real suites.
def _classify(rng: random.Random, fn: str) -> tuple[str, list[tuple[Any, ...]]]:
    low, high = sorted(rng.sample(range(-50, 150), 2))
    src = f"""
def {fn}(x: float) -> str:
    if x < {low}:
        return "low"
    elif x < {high}:
        return "mid"
    elif x == {high}:
        return "edge"
    return "high"
"""
    cases = [(low - 1,), ((low + high) // 2,), (high + 7,)]
    if rng.random() < 0.5:
        cases.append((high,))
    return src, cases


def _clamp_sum(rng: random.Random, fn: str) -> tuple[str, list[tuple[Any, ...]]]:
    limit = rng.randint(20, 200)
    src = f"""
def {fn}(values: list[int], limit: int = {limit}) -> int:
    total = 0
    for v in values:
        if v < 0:
            continue
        total += v
        if total > limit:
            return limit
    return total
"""
    small = [rng.randint(0, 5) for _ in range(4)]
    big = [rng.randint(limit // 2, limit) for _ in range(3)]
    return src, [(big,), ([-3, *small],)]


def _parse_token(rng: random.Random, fn: str) -> tuple[str, list[tuple[Any, ...]]]:
    prefix = rng.choice(["#", "@", "%", "~"])
    src = f"""
def {fn}(token: str) -> object:
    token = token.strip()
    if not token:
        raise ValueError("empty token")
    if token.isdigit():
        return int(token)
    if token.startswith("-") and token[1:].isdigit():
        return -int(token[1:])
    if token.startswith({prefix!r}):
        return ("tag", token[1:].lower())
    return token.lower()
"""
    word = "".join(rng.choice("ABCdefGHij") for _ in range(6))
    cases: list[tuple[Any, ...]] = [(f" {rng.randint(0, 999)} ",), (f"-{rng.randint(1, 99)}",), (word,)]
    if rng.random() < 0.6:
        cases.append((f"{prefix}{word}",))
    return src, cases


def _fizz(rng: random.Random, fn: str) -> tuple[str, list[tuple[Any, ...]]]:
    a, b = rng.sample([2, 3, 5, 7, 11], 2)
    src = f"""
def {fn}(n: int) -> str:
    if n % {a * b} == 0:
        return "both"
    if n % {a} == 0:
        return "a"
    if n % {b} == 0:
        return "b"
    return str(n)
"""
    cases: list[tuple[Any, ...]] = [(a * b * 2,), (a,), (a * b + 1,)]
    if rng.random() < 0.5:
        cases.append((b,))
    return src, cases


def _merge_ranges(rng: random.Random, fn: str) -> tuple[str, list[tuple[Any, ...]]]:
    src = f"""
def {fn}(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if start > end:
            raise ValueError(f"bad range {{start}}..{{end}}")
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
"""
    ranges = []
    for _ in range(rng.randint(3, 6)):
        start = rng.randint(0, 60)
        ranges.append((start, start + rng.randint(0, 12)))
    return src, [(ranges,), ([],)]


def _stats(rng: random.Random, fn: str) -> tuple[str, list[tuple[Any, ...]]]:
    src = f"""
def {fn}(values: list[float]) -> dict[str, float]:
    if not values:
        return {{"n": 0, "mean": 0.0, "spread": 0.0}}
    mean = sum(values) / len(values)
    lo, hi = min(values), max(values)
    spread = hi - lo if len(values) > 1 else 0.0
    return {{"n": len(values), "mean": round(mean, 6), "spread": spread}}
"""
    values = [rng.randint(-20, 20) for _ in range(rng.randint(2, 8))]
    return src, [(values,), ([],)]


_TEMPLATES: list[tuple[str, Callable[[random.Random, str], tuple[str, list[tuple[Any, ...]]]]]] = [
    ("classify", _classify),
    ("clamp_sum", _clamp_sum),
    ("parse_token", _parse_token),
    ("fizz", _fizz),
    ("merge_ranges", _merge_ranges),
    ("stats", _stats),
]

_CLASS_TEMPLATE = '''
class Inventory:
    """A tiny stateful object: what real code's classes look like to coverage."""

    def __init__(self, capacity: int = {capacity}) -> None:
        self.capacity = capacity
        self.items: dict[str, int] = {{}}

    def add(self, name: str, qty: int = 1) -> int:
        if qty <= 0:
            raise ValueError("qty must be positive")
        if self.total() + qty > self.capacity:
            raise OverflowError(name)
        self.items[name] = self.items.get(name, 0) + qty
        return self.items[name]

    def remove(self, name: str, qty: int = 1) -> int:
        have = self.items.get(name, 0)
        if qty >= have:
            self.items.pop(name, None)
            return 0
        self.items[name] = have - qty
        return self.items[name]

    def total(self) -> int:
        return sum(self.items.values())

    def report(self) -> str:
        if not self.items:
            return "empty"
        return ", ".join(f"{{k}}={{v}}" for k, v in sorted(self.items.items()))
'''

# Real code has paths nobody tests: error handling, debug helpers. They bring coverage to ~90 %.
_UNTESTED_HELPER = """
def _debug_dump(obj: object, depth: int = 0) -> str:
    if depth > 3:
        return "..."
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k}: {_debug_dump(v, depth + 1)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_debug_dump(v, depth + 1) for v in obj) + "]"
    return repr(obj)
"""


def _sleep_line(rng: random.Random) -> str:
    return f"    time.sleep({rng.randint(5, 50) / 1000})\n"


def _build_module(rng: random.Random, index: int) -> _Module:
    name = f"mod_{index:02d}"
    module = _Module(name=name, header=["from __future__ import annotations", ""])
    chosen = rng.sample(_TEMPLATES, k=3 if rng.random() < 0.8 else 4)
    funcs: list[tuple[str, list[tuple[Any, ...]]]] = []
    for kind, template in chosen:
        fn = f"{kind}_{rng.randint(10, 99)}"
        src, cases = template(rng, fn)
        module.source.append(textwrap.dedent(src))
        funcs.append((fn, cases))
    has_class = rng.random() < 0.35
    if has_class:
        module.source.append(textwrap.dedent(_CLASS_TEMPLATE.format(capacity=rng.randint(10, 40))))
    if rng.random() < 0.3:
        module.source.append(textwrap.dedent(_UNTESTED_HELPER))

    namespace = _load("\n".join(module.header + module.source), name)
    sleepy = rng.random() < 0.35
    parametrize_fn = rng.choice(funcs)[0] if rng.random() < 0.4 else None

    for fn, cases in funcs:
        if fn == parametrize_fn and len(cases) > 1:
            params = ",\n".join(
                f"        ({', '.join(repr(a) for a in args)}, {namespace[fn](*args)!r})" for args in cases
            )
            argnames = ", ".join(f"a{i}" for i in range(len(cases[0])))
            module.tests.append(
                f'@pytest.mark.parametrize(\n    "{argnames}, expected",\n    [\n{params},\n    ],\n)\n'
                f"def test_{fn}_table({argnames}, expected):\n"
                f"    assert {name}.{fn}({argnames}) == expected\n"
            )
            continue
        for i, args in enumerate(cases):
            body = f"    assert {_call_expr(name, fn, args)} == {namespace[fn](*args)!r}\n"
            if sleepy and rng.random() < 0.3:
                body = _sleep_line(rng) + body
            module.tests.append(f"def test_{fn}_{i}():\n{body}")

    if any(fn.startswith("parse_token") for fn, _ in funcs):
        fn = next(fn for fn, _ in funcs if fn.startswith("parse_token"))
        module.tests.append(
            f'def test_{fn}_empty():\n    with pytest.raises(ValueError):\n        {name}.{fn}("   ")\n'
        )

    if has_class:
        module.tests.append(
            '@pytest.fixture(scope="module")\n'
            "def stock():\n"
            "    # Module scope: built once per worker, like a fixture loading a data file.\n"
            f"{_sleep_line(rng)}"
            f"    inv = {name}.Inventory()\n"
            '    inv.add("bolt", 3)\n'
            '    inv.add("nut", 2)\n'
            "    return inv\n"
        )
        module.tests += [
            'def test_inventory_report(stock):\n    assert stock.report() == "bolt=3, nut=2"\n',
            f'def test_inventory_remove():\n    inv = {name}.Inventory()\n    inv.add("a", 4)\n'
            '    assert inv.remove("a", 1) == 3\n    assert inv.remove("a", 9) == 0\n',
            f"def test_inventory_overflow():\n    inv = {name}.Inventory(capacity=2)\n"
            '    with pytest.raises(OverflowError):\n        inv.add("x", 3)\n',
        ]
    return module


def _test_file(module: _Module) -> str:
    head = ["import time", "", "import pytest", "", f"from pkg import {module.name}", "", ""]
    return "\n".join(head) + "\n\n".join(module.tests)


def write_project(root: Path, seed: int = SEED) -> Path:
    """Write the sample project into `root` (created if missing) and return `root`."""
    rng = random.Random(seed)
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "pkg" / "__init__.py").write_text('"""Benchmark sample package."""\n')
    for index in range(N_MODULES):
        module = _build_module(rng, index)
        (root / "pkg" / f"{module.name}.py").write_text("\n".join(module.header + module.source))
        (root / "tests" / f"test_{module.name}.py").write_text(_test_file(module))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="directory to write the project into")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    print(write_project(args.dest, seed=args.seed))


if __name__ == "__main__":
    main()
