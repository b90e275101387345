"""examples/fastapi-postgres end to end: the README's first command, and what the gate does to it.

Each test copies the example to a temporary directory and runs `ci-toolkit local` there as a real
process: ci-toolkit starts a real PostgreSQL (native backend), the example's lanes run with xdist against
it, coverage is merged and gated, PostgreSQL is stopped. Nothing is mocked here; the example's own
tests fake the payment provider at its network boundary (a local HTTP server), as its README explains.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from support import World

from ci_toolkit.errors import ExitCode
from ci_toolkit.services.backends.native import NativeBackend
from ci_toolkit.services.base import ServiceSpec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi-postgres"
PAYMENTS_TESTS = "tests/integration/test_payments.py"
# The one test that reaches the idempotency-conflict branch of the payments service: without it, the
# critical app/payments/** is no longer fully covered.
UNIQUE_PAYMENTS_TEST = "test_same_key_for_another_order_is_409"

_NO_POSTGRES = NativeBackend().unavailable_reason(ServiceSpec(name="postgres", kind="postgres"))
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_NO_POSTGRES is not None, reason=f"no PostgreSQL binaries: {_NO_POSTGRES}"),
]


def copy_example(world: World) -> Path:
    # The example's async tests need anyio's pytest plugin, which pytest loads by its entry point, as it
    # does in the example's own environment.
    world.autoload = True
    # Under the world's TMPDIR (0755), not pytest's 0700 tmp_path: as root PostgreSQL runs as another
    # user, and the per-run directories ci-toolkit makes under the project must be reachable to it.
    project = world.tmpdir / "fastapi-postgres"
    skip = shutil.ignore_patterns(".ci-toolkit", "__pycache__", ".coverage*")
    shutil.copytree(EXAMPLE, project, ignore=skip)
    return project


def summary(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / "summary.json").read_text())
    return data


def remove_function(path: Path, name: str) -> None:
    """Delete one top-level test function (with its decorators) from a module."""
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            lines = text.splitlines(keepends=True)
            path.write_text("".join(lines[: first - 1] + lines[node.end_lineno :]))
            return
    raise AssertionError(f"{path} has no function {name}")


def test_the_example_passes_its_gate_and_stops_postgres(world: World) -> None:
    """The README's first command, minus the pip install this suite's set-up already did."""
    project = copy_example(world)
    run = world.run(project, "local", "--json", "summary.json")

    assert run.code == ExitCode.OK, run.describe()
    data = summary(project)
    lanes = {lane["name"]: lane for lane in data["lanes"]}
    assert list(lanes) == ["unit", "integration", "slow"]
    assert all(lane["ok"] and lane["counts"]["passed"] > 0 for lane in lanes.values()), lanes
    assert data["tests"]["failed"] == 0 and data["tests"]["skipped"] == 0
    assert [(s["name"], s["backend"]) for s in data["services"]] == [("postgres", "native")]
    # The three lanes are concurrent: one pytest session runs them. The count is missing when the session
    # started before the lanes check was done.
    header = r"^== lanes unit, integration, slow: one session, (\d+ tests, )?2 workers ==$"
    assert re.search(header, run.stdout, re.M), run.describe()
    critical = [c for c in data["coverage"]["checks"] if c["kind"] == "critical"]
    assert critical and all(c["passed"] and c["percent"] == 100.0 for c in critical), critical
    assert data["coverage"]["passed"] and data["coverage"]["total"]["percent"] >= 85
    assert re.search(r"^ci-toolkit: \d+ passed, 0 failed, 0 skipped$", run.last_line), run.describe()
    assert "service postgres: stopped" in run.stderr
    world.assert_nothing_left(project)


def test_without_one_payments_test_the_gate_fails_naming_the_lines(world: World) -> None:
    project = copy_example(world)
    remove_function(project / PAYMENTS_TESTS, UNIQUE_PAYMENTS_TEST)
    run = world.run(project, "local", "--json", "summary.json")

    assert run.code == ExitCode.GATE_FAILED, run.describe()
    failed = [c for c in summary(project)["coverage"]["checks"] if not c["passed"]]
    assert failed, "the gate failed without a failing check"
    assert all(c["subject"].startswith("app/payments/") for c in failed), failed
    uncovered = [c for c in failed if c["missing_lines"] or c["missing_branches"]]
    assert uncovered, failed
    for check in uncovered:
        # The terminal summary names the file and its missing lines or branches, as the JSON does.
        assert check["subject"] in run.stdout, run.describe()
        assert (check["missing_lines"] or check["missing_branches"]) in run.stdout, run.describe()
    assert summary(project)["tests"]["failed"] == 0  # every test passed: the gate alone failed the run
    world.assert_nothing_left(project)


FAILING_TEST = """

@pytest.mark.integration
@pytest.mark.anyio
async def test_a_product_is_free(client) -> None:
    created = await client.post(
        "/products", json={"sku": "FREE-1", "name": "Gift", "price": "0.01", "stock": 1}
    )
    assert created.json()["price"] == "0.00"
"""


def test_a_failing_test_fails_the_run_and_is_named(world: World) -> None:
    project = copy_example(world)
    products = project / "tests" / "integration" / "test_products.py"
    products.write_text(products.read_text() + FAILING_TEST)
    run = world.run(project, "local", "--json", "summary.json")

    assert run.code == ExitCode.TESTS_FAILED, run.describe()
    nodeid = "tests/integration/test_products.py::test_a_product_is_free"
    assert nodeid in run.stdout, run.describe()
    failed = [f["nodeid"] for lane in summary(project)["lanes"] for f in lane["failed"]]
    assert failed == [nodeid]
    world.assert_nothing_left(project)
