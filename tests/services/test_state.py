"""The services state file: records written and read back, and whose process still runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci_toolkit.services import state
from ci_toolkit.services.base import Endpoint, ServiceError


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_records_round_trip_and_an_empty_state_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "services" / "state.json"
    endpoint = Endpoint("db", "postgres", "native", "127.0.0.1", 5432, "u", "p", "d", handle={"pid": 7})
    record = state.Record(endpoint, "/w", "up", 42, fingerprint="f", starting=True)
    state.save_state(path, [record])
    assert json.loads(path.read_text())["version"] == state.STATE_VERSION
    assert state.load_state(path) == [record]
    state.save_state(path, [])
    assert not path.exists() and state.load_state(path) == []


def test_a_state_file_that_cannot_be_read_says_so(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "services": [{"endpoint": {}}]}))
    with pytest.raises(ServiceError, match=r"state.json: unreadable services state \(.*then delete it$"):
        state.load_state(path)
    with pytest.raises(ServiceError, match="cannot read the services state"):
        state.load_state(tmp_path)  # a directory


def test_owner_alive() -> None:
    assert not state.owner_alive(os.getpid())  # our own pid in a record is a previous process's
    assert not state.owner_alive(dead_pid())
    assert not state.owner_alive(0)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "ci-toolkit"])
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 10  # until the child has exec'd, /proc shows the parent's cmdline
        while b"ci-toolkit" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state.owner_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
