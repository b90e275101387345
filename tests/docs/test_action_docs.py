"""The GitHub Actions page documents the action as action.yml declares it: every input (with its default)
and every output, so the page cannot drift from the file users run."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "github-actions.md").read_text(encoding="utf-8")


def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_every_input_is_documented_with_its_default() -> None:
    rows = {line.split("|")[1].strip(): line for line in PAGE.splitlines() if line.startswith("| `")}
    for name, spec in _action()["inputs"].items():
        assert f"`{name}`" in rows, f"docs/github-actions.md: input {name} is not in the inputs table"
        default = str(spec.get("default", ""))
        if default and "${{" not in default:
            assert f"`{default}`" in rows[f"`{name}`"], f"input {name}: the page does not show its default"


def test_every_output_is_documented() -> None:
    for name in _action()["outputs"]:
        assert f"`{name}`" in PAGE, f"docs/github-actions.md: output {name} is not documented"
