"""The lanes check's side in pytest, without a pytest subprocess: what a bad file or no verdict does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.pytest_plugin.collector import read_lanes, wait_for_verdict
from ci_toolkit.run.exchange import lanes as lanes_file


def test_a_verdict_it_cannot_read_stops_pytest(tmp_path: Path) -> None:
    path = tmp_path / "lanes-verdict"
    path.write_text(json.dumps({"version": 9}))
    with pytest.raises(pytest.exit.Exception, match="not a version 1 ci-toolkit lanes verdict") as info:
        wait_for_verdict(path, "run", timeout=1)
    assert info.value.returncode == pytest.ExitCode.INTERRUPTED


def test_no_verdict_in_time_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match="no verdict from ci-toolkit in 0 s"):
        wait_for_verdict(tmp_path / "lanes-verdict", "run", timeout=0.05)


def test_lanes_it_cannot_read_are_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "lanes.json"
    lanes_file.write(path, {"all": None})
    assert read_lanes(path) == {"all": None}
    path.write_text("{}")
    with pytest.raises(pytest.UsageError, match=r"^--ci-toolkit-lanes: .*lanes.json: not a version 1"):
        read_lanes(path)
