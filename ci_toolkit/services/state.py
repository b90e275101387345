"""The services state file, `<output_dir>/services/state.json`: one record per service started.

A record keeps the endpoint with the backend's teardown handle, who started it (an owner in OWNERS)
and the spec's fingerprint, so the next run or `services down` can stop what a killed run left and
`local` can reuse what `services up` left running. manager.py decides; this module reads and writes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit.files.atomic import write_text
from ci_toolkit.services.base import Endpoint, ServiceError, ServiceSpec

if TYPE_CHECKING:
    from ci_toolkit.config import Config

STATE_VERSION = 1
OWNERS = ("local", "up")


@dataclass(frozen=True)
class Record:
    """One started service as the state file keeps it."""

    endpoint: Endpoint
    workdir: str  # the directory made for the backend's data; removed after stop
    owner: str  # "local" or "up"
    pid: int  # the ci-toolkit process that started it
    fingerprint: str = ""  # the spec it was started from, to tell whether it may be reused
    starting: bool = False  # recorded before the start: the endpoint holds only what was noted so far

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": dataclasses.asdict(self.endpoint),
            "workdir": self.workdir,
            "owner": self.owner,
            "pid": self.pid,
            "fingerprint": self.fingerprint,
            "starting": self.starting,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        endpoint = dict(data["endpoint"])
        endpoint["handle"] = dict(endpoint.get("handle") or {})
        return cls(
            endpoint=Endpoint(**endpoint),
            workdir=str(data["workdir"]),
            owner=str(data["owner"]),
            pid=int(data["pid"]),
            fingerprint=str(data.get("fingerprint", "")),
            starting=bool(data.get("starting", False)),
        )


def state_path(config: Config) -> Path:
    return config.root / config.output_dir / "services" / "state.json"


def load_state(path: Path) -> list[Record]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ServiceError(f"{path}: cannot read the services state: {exc.strerror}") from None
    try:
        data = json.loads(text)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
        return [Record.from_json(item) for item in data["services"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ServiceError(
            f"{path}: unreadable services state ({exc}); stop any service it listed by hand, then delete it"
        ) from None


def save_state(path: Path, records: Sequence[Record]) -> None:
    if not records:
        path.unlink(missing_ok=True)
        return
    data = {"version": STATE_VERSION, "services": [record.to_json() for record in records]}
    write_text(path, json.dumps(data, indent=1) + "\n")


# What the tests see of a service but the server does not: a change to these keeps a server reusable.
_NOT_SERVER_SETTINGS = ("export", "database_per_worker", "ready_timeout")


def fingerprint(spec: ServiceSpec) -> str:
    """The spec's server settings: two specs with the same fingerprint can share one running server."""
    settings = {k: v for k, v in dataclasses.asdict(spec).items() if k not in _NOT_SERVER_SETTINGS}
    return json.dumps(settings, sort_keys=True, default=str)


def owner_alive(pid: int) -> bool:
    """Whether the ci-toolkit process that recorded a service still runs. A pid is reused, and in a
    container every run may be pid 1, so our own pid and (where /proc tells) a process that is not
    ci-toolkit count as gone."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False
        cmdline = None  # no /proc (macOS): the signal check below has to do
    except OSError:
        cmdline = None
    if cmdline is not None and b"ci-toolkit" not in cmdline and b"ci_toolkit" not in cmdline:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that number: alive, and not ours to judge
        return True
    except OSError:  # pragma: no cover - e.g. Windows without that pid
        return False
    return True
