"""A stand-in for the `docker` CLI, for tests on machines where no Docker engine can run.

Every call appends its argv (JSON, one line) to $FAKE_DOCKER_DIR/argv.log and answers like the real
CLI for the subcommands ci-toolkit uses. `run` starts a real listener process (fake_server.py) on a
free 127.0.0.1 port, playing the container's published port, so host-side probes really connect;
`rm -f` kills it. Behaviour knobs (environment):

  FAKE_DOCKER_ENGINE        up (default) | down (info fails) | hang (info never returns)
  FAKE_DOCKER_HEALTHY_AFTER polls of `inspect` answering "starting" before "healthy" (default 2) | never
  FAKE_DOCKER_PROTOCOL      the listener's protocol (default: from the image name; see fake_server.py)
  FAKE_DOCKER_EXITED        1: the container exits at once (State.Status "exited")
  FAKE_DOCKER_RUN_ERROR     `run` fails with this message on stderr (exit 125)
  FAKE_DOCKER_EXEC_ERROR    `exec` fails with this message on stderr (exit 1)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

STATE = Path(os.environ["FAKE_DOCKER_DIR"])
CONTAINERS = STATE / "containers"
SERVER = Path(__file__).with_name("fake_server.py")
# Options of `docker run` that take a value, as the real CLI parses them.
RUN_VALUE_OPTIONS = {
    "--label", "-p", "--publish", "-e", "--env", "--name", "--tmpfs", "--health-cmd",
    "--health-interval", "--health-retries", "--health-timeout", "--health-start-period",
}  # fmt: skip


def no_such(container: str) -> int:
    print(f"Error response from daemon: No such container: {container}", file=sys.stderr)
    return 1


def find(container: str) -> Path | None:
    """A container by id (full or a prefix, as the CLI accepts) or by --name."""
    for path in CONTAINERS.glob("*.json"):
        if path.stem.startswith(container) or json.loads(path.read_text())["name"] == container:
            return path
    return None


def cmd_info(args: list[str]) -> int:
    engine = os.environ.get("FAKE_DOCKER_ENGINE", "up")
    if engine == "hang":
        time.sleep(60)
    if engine != "up":
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", file=sys.stderr)
        return 1
    print("28.2.2")
    return 0


def cmd_run(args: list[str]) -> int:
    if os.environ.get("FAKE_DOCKER_RUN_ERROR"):
        print(os.environ["FAKE_DOCKER_RUN_ERROR"], file=sys.stderr)
        return 125
    options: dict[str, list[str]] = {}
    rest = list(args)
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        value = rest.pop(0) if flag in RUN_VALUE_OPTIONS else ""
        options.setdefault(flag, []).append(value)
    image, command = rest[0], rest[1:]
    protocol = os.environ.get("FAKE_DOCKER_PROTOCOL") or next(
        (name for name in ("postgres", "redis", "mysql", "mariadb") if name in image), "silent"
    )
    protocol = "mysql" if protocol == "mariadb" else protocol
    container = uuid.uuid4().hex + uuid.uuid4().hex
    CONTAINERS.mkdir(parents=True, exist_ok=True)
    # Like the engine, a failing start may leave a created container behind (found by name later).
    port_file = CONTAINERS / f"{container}.port"
    server = subprocess.Popen(
        [sys.executable, "-S", str(SERVER), protocol, str(port_file)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not port_file.exists():
        time.sleep(0.01)
    record = {
        "image": image,
        "name": options.get("--name", [""])[-1],
        "command": command,
        "labels": dict(label.split("=", 1) for label in options.get("--label", [])),
        "health": "--health-cmd" in options,
        "pid": server.pid,
        "port": int(port_file.read_text()),
        "polls": 0,
        "exited": os.environ.get("FAKE_DOCKER_EXITED") == "1",
    }
    (CONTAINERS / f"{container}.json").write_text(json.dumps(record))
    port_file.unlink()
    print(container)
    return 0


def cmd_port(args: list[str]) -> int:
    path = find(args[0])
    if path is None:
        return no_such(args[0])
    print(f"127.0.0.1:{json.loads(path.read_text())['port']}")
    return 0


def cmd_inspect(args: list[str]) -> int:
    path = find(args[-1])
    if path is None:
        print("[]")
        return no_such(args[-1])
    record = json.loads(path.read_text())
    record["polls"] += 1
    path.write_text(json.dumps(record))
    state: dict[str, object] = {"Status": "running", "Running": True, "ExitCode": 0}
    if record["exited"]:
        state = {"Status": "exited", "Running": False, "ExitCode": 1}
    if record["health"]:
        after = os.environ.get("FAKE_DOCKER_HEALTHY_AFTER", "2")
        healthy = after != "never" and record["polls"] > int(after)
        state["Health"] = {"Status": "healthy" if healthy else "starting"}
    print(json.dumps(state))
    return 0


def cmd_logs(args: list[str]) -> int:
    path = find(args[-1])
    if path is None:
        return no_such(args[-1])
    print("fake server: initialising")
    print("fake server: still initialising", file=sys.stderr)
    print("fake server: listening")
    return 0


def cmd_rm(args: list[str]) -> int:
    status = 0
    for container in (arg for arg in args if not arg.startswith("-")):
        path = find(container)
        if path is None:
            status = no_such(container)
            continue
        pid = json.loads(path.read_text())["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        path.unlink()
        print(container)
    return status


def matches(labels: dict[str, str], want: str) -> bool:
    key, sep, value = want.partition("=")
    return key in labels and (not sep or labels[key] == value)


def cmd_ps(args: list[str]) -> int:
    wanted = [arg.split("=", 1)[1] for arg in args if arg.startswith("label=")]
    for path in sorted(CONTAINERS.glob("*.json")):
        labels = json.loads(path.read_text())["labels"]
        if all(matches(labels, want) for want in wanted):
            print(path.stem[:12])
    return 0


def cmd_exec(args: list[str]) -> int:
    if os.environ.get("FAKE_DOCKER_EXEC_ERROR"):
        print(os.environ["FAKE_DOCKER_EXEC_ERROR"], file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "argv.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    handlers = {
        "info": cmd_info, "run": cmd_run, "port": cmd_port, "inspect": cmd_inspect, "logs": cmd_logs,
        "rm": cmd_rm, "ps": cmd_ps, "exec": cmd_exec,
    }  # fmt: skip
    if not argv or argv[0] not in handlers:
        print(f"fake docker: unsupported command {argv[:1]}", file=sys.stderr)
        return 2
    return handlers[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
