"""Benchmark starting PostgreSQL + Redis: ci-toolkit's native backend vs pytest-postgresql + pytest-redis.

Both sides start the same system binaries (PostgreSQL from --pg-bindir, redis-server from PATH) and are
timed from "start" until both servers are ready, then stopped (untimed). Each timed start runs in a fresh
worker process (this same script with --worker) under identical conditions: same interpreter, same user
(when we are root: an unprivileged account, since initdb refuses root), same environment; the clock runs
inside the worker, after its imports. Sides:

  ours-warm     NativeBackend().start() for postgres then redis; the initdb result is cached (warm)
  ours-cold     the same with an empty cache ($TMPDIR fresh): initdb runs and its result is saved
  ours-nocache  NativeBackend(reuse_initdb=False): initdb every time, nothing saved
  theirs        pytest-postgresql's PostgreSQLExecutor.start() + wait_for_postgres(), then pytest-redis's
                RedisExecutor.start(), built the way their session fixtures build them
  cli           `ci-toolkit services up` in a temp project (run as the invoking user, wall time of the whole
                command, interpreter start-up included); `services down` afterwards, untimed

Repetitions are interleaved and the order rotates every repetition. Target: median(ours) / median(theirs)
<= 1.0, reported both with a warm and with a cold initdb cache.

Usage: python benchmarks/bench_services.py --deps DIR     (DIR: pip install --target DIR pytest-postgresql
pytest-redis; not needed when both are importable here and we are not root)
Exit status: 0 when every run succeeded (and, with --strict, the targets were met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import json
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.0
WORKER_SIDES = ("ours-warm", "ours-cold", "ours-nocache", "theirs")
USER, PASSWORD = "postgres", "postgres"  # both sides: the same superuser and password
_SERVER_NAMES = ("postgres", "redis-server")
_WORKER_TIMEOUT = 180.0


# --- worker: runs in its own process, prints one JSON line ---------------------------------------------


def worker_ours(mode: str, workdir: Path, pg_bindir: Path, redis_server: Path) -> dict[str, Any]:
    from ci_toolkit.services.backends.native import NativeBackend
    from ci_toolkit.services.base import Endpoint, ServiceSpec

    backend = NativeBackend(prefer="system", reuse_initdb=mode != "nocache")
    specs = [
        ServiceSpec(
            name="postgres", kind="postgres", version=pg_major(pg_bindir), user=USER, password=PASSWORD
        ),
        ServiceSpec(name="redis", kind="redis"),
    ]
    found = [backend.binaries(spec) for spec in specs]
    # Otherwise the two sides would not be starting the same servers.
    if found[0] is None or found[0].bindir.resolve() != pg_bindir.resolve():
        raise SystemExit(f"ours would use {found[0] and found[0].bindir}, not {pg_bindir}")
    if found[1] is None or found[1].server.resolve() != redis_server.resolve():
        raise SystemExit(f"ours would use {found[1] and found[1].server}, not {redis_server}")
    endpoints: list[Endpoint] = []
    parts: dict[str, float] = {}
    try:
        began = mark = time.perf_counter()
        for spec in specs:
            endpoints.append(backend.start(spec, workdir))
            parts[spec.name], mark = time.perf_counter() - mark, time.perf_counter()
        ready = mark - began
    finally:
        stopping = time.perf_counter()
        for endpoint in reversed(endpoints):
            backend.stop(endpoint)
        stop = time.perf_counter() - stopping
    pids = [int(e.handle["pid"]) for e in endpoints]
    return {"ready": ready, "parts": parts, "stop": stop, "pids": pids}


def worker_theirs(workdir: Path, pg_bindir: Path, redis_server: Path) -> dict[str, Any]:
    import port_for
    import psycopg
    import redis
    from pytest_postgresql.executors import PostgreSQLExecutor
    from pytest_redis.executor import RedisExecutor

    # What their session fixtures (postgresql_proc, redis_proc) pass with the plugins' default settings,
    # except the password, set so that both sides create the same authenticated superuser.
    pg_port = port_for.get_port(None)
    redis_port = port_for.get_port(None, [pg_port])
    assert pg_port is not None and redis_port is not None
    redis_dir = workdir / "redis"
    redis_dir.mkdir()
    pg = PostgreSQLExecutor(
        executable=str(pg_bindir / "pg_ctl"),
        host="127.0.0.1",
        port=pg_port,
        datadir=str(workdir / f"data-{pg_port}"),
        unixsocketdir=str(workdir),
        logfile=str(workdir / f"postgresql.{pg_port}.log"),
        startparams="-w",
        dbname="tests",
        user=USER,
        password=PASSWORD,
    )
    rd = RedisExecutor(
        executable=str(redis_server),
        databases=8,
        redis_timeout=15,
        loglevel="notice",
        host="127.0.0.1",
        port=redis_port,
        datadir=redis_dir,
        startup_timeout=60,
    )
    parts: dict[str, float] = {}
    pids: list[int] = []
    try:
        began = mark = time.perf_counter()
        pg.start()
        pg.wait_for_postgres()
        parts["postgres"], mark = time.perf_counter() - mark, time.perf_counter()
        rd.start()
        parts["redis"], mark = time.perf_counter() - mark, time.perf_counter()
        ready = mark - began
        # Their readiness is a TCP connect; ours is a real query. Also time until one answers on both.
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=pg_port, user=USER, password=PASSWORD, dbname="postgres"
                ) as conn:
                    conn.execute("SELECT 1").fetchone()
                redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=2).ping()
                break
            except (psycopg.OperationalError, redis.ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        query = time.perf_counter() - began
        pids.append(int((Path(pg.datadir) / "postmaster.pid").read_text().split()[0]))
        if rd.process is not None:
            pids.append(rd.process.pid)
    finally:
        stopping = time.perf_counter()
        for executor in (rd, pg):
            with contextlib.suppress(Exception):  # one never started: nothing to stop
                executor.stop()
        stop = time.perf_counter() - stopping
        pg.clean_directory()
    return {"ready": ready, "parts": parts, "stop": stop, "pids": pids, "query": query}


def worker_main(args: argparse.Namespace) -> int:
    workdir, pg_bindir, redis_server = Path(args.workdir), Path(args.pg_bindir), Path(args.redis_server)
    if args.worker == "theirs":
        result = worker_theirs(workdir, pg_bindir, redis_server)
    else:
        result = worker_ours(args.worker.removeprefix("ours-"), workdir, pg_bindir, redis_server)
    print(json.dumps(result), flush=True)
    return 0


# --- helpers shared by both modes -----------------------------------------------------------------------


def pg_major(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\) (\d+)", out)
    if not match:
        raise SystemExit(f"cannot read the PostgreSQL version from {out!r}")
    return match.group(1)


def default_pg_bindir() -> str | None:
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(re.sub(r"\D", "", d) or 0))
    if debian:
        return debian[-1]
    pg_ctl = shutil.which("pg_ctl")
    return str(Path(pg_ctl).parent) if pg_ctl else None


# --- the parent: plans, launches and reports -------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """Who the workers run as: ourselves, or (when we are root) an unprivileged account."""

    name: str
    uid: int
    gid: int
    home: Path

    def popen_kwargs(self) -> dict[str, Any]:
        if self.uid == os.geteuid():
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass
class Setup:
    account: Account
    python: str
    pythonpath: list[str]
    pg_bindir: Path
    redis_server: Path
    base: Path  # our scratch dir; everything a worker makes lives below it, except ours-warm's cache
    logs: Path
    cli: list[str] | None
    cli_project: Path | None = None
    warm_tmp: Path = Path()  # ours-warm's $TMPDIR, kept across runs
    cli_tmp: Path = Path()  # the cli's $TMPDIR, kept across runs (so its initdb cache is warm too)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    side: str
    ok: bool
    ready: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    stop: float = 0.0
    query: float | None = None
    pids: tuple[int, ...] = ()
    error: str = ""


def resolve_account(name: str | None) -> Account:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
    else:
        entry = None
        for candidate in (name, "postgres", "nobody") if name else ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(candidate)
                break
        if entry is None:
            raise SystemExit("running as root, but no postgres or nobody account to run the servers as")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def deps_dir(given: str | None) -> list[str]:
    if given:
        return [str(Path(given).resolve())]
    found: list[str] = []
    for package in ("pytest_postgresql", "pytest_redis"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(
                f"{package} is not installed: python -m pip install --target /tmp/ci-toolkit-bench-deps "
                "pytest-postgresql pytest-redis, then pass --deps /tmp/ci-toolkit-bench-deps"
            )
        site = str(Path(next(iter(spec.submodule_search_locations))).parent)
        if site not in found:
            found.append(site)
    return found


def worker_env(setup: Setup, tmpdir: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PG", "VIRTUAL_ENV", "TMP"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), *setup.pythonpath]),
        PYTHONDONTWRITEBYTECODE="1",
        TMPDIR=str(tmpdir),
        HOME=str(home),
        USER=setup.account.name,
        LOGNAME=setup.account.name,
    )
    env.pop("CI_TOOLKIT_NATIVE_PREFER", None)
    return env


def pick_python(account: Account, pythonpath: list[str], given: str | None, base: Path) -> str:
    """An interpreter `account` can run that imports both sides (/root is 0700: root's pyenv is not)."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = (
        [given] if given else [sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    )
    ours = "ci_toolkit.services.backends.native"
    modules = f"{ours}, pytest_postgresql.executors, pytest_redis.executor, psycopg, redis"
    check = f"import {modules}"
    probe_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(REPO), *pythonpath]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(base),
    }
    errors: list[str] = []
    for python in candidates:
        if not python or not Path(python).exists():
            continue
        try:
            result = subprocess.run(
                [python, "-c", check], capture_output=True, text=True, check=False, cwd=base, env=probe_env,
                **account.popen_kwargs(),
            )  # fmt: skip
        except OSError as exc:  # e.g. under /root, which the account may not enter
            errors.append(f"{python}: {exc.strerror}")
            continue
        if result.returncode == 0:
            return python
        errors.append(f"{python}: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    raise SystemExit(f"no Python {version} usable as {account.name} imports both sides: " + "; ".join(errors))


def cli_command() -> list[str] | None:
    script = Path(sys.executable).with_name("ci-toolkit")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ci_toolkit"]
    probe = subprocess.run([*command, "services", "up", "--help"], capture_output=True, check=False)
    return command if probe.returncode == 0 else None


def write_cli_project(directory: Path, major: str) -> Path:
    directory.mkdir()
    (directory / "pyproject.toml").write_text(
        '[project]\nname = "svc-bench"\nversion = "0"\n\n'
        # version pins the same PostgreSQL as the other sides; password/user as there too.
        f'[tool.ci-toolkit.services.postgres]\nversion = "{major}"\n'
        f'user = "{USER}"\npassword = "{PASSWORD}"\n\n'
        "[tool.ci-toolkit.services.redis]\n"
    )
    return directory


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, 0)
            return True
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def servers_under(base: Path) -> list[int]:
    """Live postgres / redis-server processes working below `base` (their cwd: postgres runs in its data
    dir, redis in its --dir), i.e. anything this benchmark started; other programs' servers are ignored."""
    pids: list[int] = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() not in _SERVER_NAMES or not alive(int(entry.name)):
                continue
            if Path(os.readlink(entry / "cwd")).is_relative_to(base):
                pids.append(int(entry.name))
    return sorted(pids)


def run_worker(setup: Setup, side: str, tag: str) -> Run:
    workdir = setup.base / tag
    workdir.mkdir()
    os.chown(workdir, setup.account.uid, setup.account.gid)
    # $TMPDIR holds the service dirs and (for ours) the initdb cache: ours-warm keeps one for the whole
    # benchmark (filled by the warm-up), every other run gets an empty one.
    tmpdir = setup.warm_tmp if side == "ours-warm" else workdir
    log = setup.logs / f"{tag}.log"
    argv = [
        setup.python, str(Path(__file__).resolve()), "--worker", side, "--workdir", str(workdir),
        "--pg-bindir", str(setup.pg_bindir), "--redis-server", str(setup.redis_server),
    ]  # fmt: skip
    try:
        with log.open("w") as err:
            result = subprocess.run(
                argv, stdout=subprocess.PIPE, stderr=err, text=True, check=False, cwd=workdir,
                env=worker_env(setup, tmpdir, workdir), timeout=_WORKER_TIMEOUT,
                **setup.account.popen_kwargs(),
            )  # fmt: skip
    except subprocess.TimeoutExpired:
        return Run(side, False, error=f"timed out after {_WORKER_TIMEOUT:g} s; see {log}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result.returncode != 0:
        tail = " | ".join(log.read_text().strip().splitlines()[-6:])
        return Run(side, False, error=f"exit {result.returncode}: {tail}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Run(side, True, data["ready"], data["parts"], data["stop"], data.get("query"), tuple(data["pids"]))


def run_cli(setup: Setup, tag: str) -> Run:
    assert setup.cli is not None and setup.cli_project is not None
    project = setup.cli_project
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "CI_TOOLKIT_", "TMP"))}
    env["TMPDIR"] = str(setup.cli_tmp)
    log = setup.logs / f"{tag}.log"
    began = time.perf_counter()
    up = subprocess.run(
        [*setup.cli, "services", "up"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    ready = time.perf_counter() - began
    pids = tuple(_state_pids(project))
    stopping = time.perf_counter()
    down = subprocess.run(
        [*setup.cli, "services", "down"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    stop = time.perf_counter() - stopping
    log.write_text(f"$ services up\n{up.stdout}{up.stderr}\n$ services down\n{down.stdout}{down.stderr}")
    exported = {line.split("=", 1)[0] for line in up.stdout.splitlines() if "=" in line}
    if up.returncode != 0 or not {"POSTGRES_URL", "REDIS_URL"} <= exported:
        return Run("cli", False, error=f"services up exit {up.returncode}; see {log}")
    if down.returncode != 0:
        return Run("cli", False, error=f"services down exit {down.returncode}; see {log}")
    return Run("cli", True, ready, {}, stop, None, pids)


def _state_pids(project: Path) -> list[int]:
    found: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pid" and isinstance(value, int):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for state in project.glob("**/services/state.json"):
        with contextlib.suppress(OSError, ValueError):
            walk(json.loads(state.read_text()))
    return found


def one(setup: Setup, side: str, tag: str) -> Run:
    run = run_cli(setup, tag) if side == "cli" else run_worker(setup, side, tag)
    left = [pid for pid in run.pids if alive(pid)]
    if left:
        # Waiting a moment: a stopped server's last child may still be exiting.
        time.sleep(1)
        left = [pid for pid in left if alive(pid)]
    if left:
        setup.failures.append(f"{tag}: processes still running after stop: {left}")
    if not run.ok:
        setup.failures.append(f"{tag}: {run.error}")
    return run


def fmt(seconds: float | None) -> str:
    return "   -   " if seconds is None else f"{seconds:7.3f}"


def median(runs: Sequence[Run], key: str = "ready") -> float | None:
    values: list[float] = []
    for run in runs:
        if not run.ok:
            continue
        value = run.parts.get(key) if key in ("postgres", "redis") else getattr(run, key)
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else None


def ratio_line(label: str, ours: float | None, theirs: float | None) -> tuple[str, bool]:
    if ours is None or theirs is None:
        return f"  {label:<44} n/a (a side failed)", False
    ratio = ours / theirs
    met = ratio <= TARGET_RATIO
    text = f"  {label:<44} {ours:.3f} / {theirs:.3f} = {ratio:.2f}  (target <= {TARGET_RATIO:.1f})"
    return f"{text}  {verdict(met)}", met


def bench(setup: Setup, sides: list[str], reps: int, warmup: int) -> tuple[dict[str, list[Run]], bool]:
    results: dict[str, list[Run]] = {side: [] for side in sides}
    for index in range(warmup):
        for side in sides:
            run = one(setup, side, f"warmup{index + 1}-{side}")
            status = "ok" if run.ok else "FAILED"
            print(f"warm-up {index + 1}: {side} {status} ({run.ready:.3f} s)", flush=True)
    header = "  ".join(f"{side:>12}" for side in sides)
    print(f"\nseconds from start to ready (postgres + redis)\n{'rep':>4}  {header}", flush=True)
    for rep in range(reps):
        shift = rep % len(sides)
        order = sides[shift:] + sides[:shift]  # rotate so drift hits every side alike
        runs = {side: one(setup, side, f"rep{rep + 1}-{side}") for side in order}
        for side, run in runs.items():
            results[side].append(run)
        cells = "  ".join(f"{fmt(runs[s].ready) if runs[s].ok else 'FAILED':>12}" for s in sides)
        print(f"{rep + 1:>4}  {cells}   (order: {', '.join(order)})", flush=True)
    return results, not setup.failures


def report(results: dict[str, list[Run]], reps: int) -> bool:
    print(f"\nmedians of {reps} reps (s)        ready  postgres    redis     stop")
    for side, runs in results.items():
        cells = "  ".join(fmt(median(runs, key)) for key in ("ready", "postgres", "redis", "stop"))
        print(f"  {side:<26} {cells}")
    theirs_query = median(results["theirs"], "query")
    print(f"  {'theirs until a query answers':<26} {fmt(theirs_query)}  (psycopg SELECT 1 + redis PING)")
    theirs = median(results["theirs"])
    warm, cold = median(results["ours-warm"]), median(results["ours-cold"])
    lines = [
        ("ours (warm initdb cache) / theirs", warm, theirs),
        ("ours (cold: empty cache) / theirs", cold, theirs),
        ("ours (no cache, reuse_initdb=False) / theirs", median(results["ours-nocache"]), theirs),
        ("ours (warm) / theirs until a query answers", warm, theirs_query),
    ]
    if "cli" in results:
        lines.append(("`services up` (whole command) / theirs", median(results["cli"]), theirs))
    print("\nratio ours / theirs, medians:")
    verdicts = [ratio_line(*line) for line in lines]
    for text, _ in verdicts:
        print(text)
    warm_met, cold_met = verdicts[0][1], verdicts[1][1]
    print(
        f"\nheadline: warm cache {verdict(warm_met)}, cold cache {verdict(cold_met)} (ours / theirs <= 1.0)"
    )
    return warm_met and cold_met


def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark service start-up: ci-toolkit vs pytest plugins.")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions per side (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per side first (default 1)")
    parser.add_argument("--deps", help="directory holding pytest-postgresql and pytest-redis (pip --target)")
    parser.add_argument("--pg-bindir", default=default_pg_bindir(), help="PostgreSQL bin dir for both sides")
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server for both")
    parser.add_argument("--run-as", help="when root: the workers' account (default: postgres, else nobody)")
    parser.add_argument("--python", help="interpreter for the workers (default: this one, if it can)")
    parser.add_argument("--skip-cli", action="store_true", help="do not time `ci-toolkit services up`")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir and logs")
    parser.add_argument("--strict", action="store_true", help="also exit 1 when a target is missed")
    parser.add_argument("--worker", choices=WORKER_SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.warmup < 1 or args.reps < 1:
        raise SystemExit(
            "--reps and --warmup must be at least 1 (the warm-up fills ours-warm's initdb cache)"
        )
    if args.worker:
        return worker_main(args)
    if not args.pg_bindir or not (Path(args.pg_bindir) / "pg_ctl").exists():
        raise SystemExit("no PostgreSQL bin dir with pg_ctl found; pass --pg-bindir")
    if not args.redis_server:
        raise SystemExit("no redis-server on PATH; pass --redis-server")
    account = resolve_account(args.run_as)
    pythonpath = deps_dir(args.deps)
    base = Path(tempfile.mkdtemp(prefix="ctsb-"))  # short: unix socket paths live below it
    base.chmod(0o755)
    logs = base / "logs"
    logs.mkdir()
    pg_bindir = Path(args.pg_bindir)
    try:
        setup = Setup(
            account=account,
            python=pick_python(account, pythonpath, args.python, base),
            pythonpath=pythonpath,
            pg_bindir=pg_bindir,
            redis_server=Path(args.redis_server),
            base=base,
            logs=logs,
            cli=None if args.skip_cli else cli_command(),
            warm_tmp=base / "tmp-warm",
            cli_tmp=base / "tmp-cli",
        )
        setup.warm_tmp.mkdir()
        os.chown(setup.warm_tmp, account.uid, account.gid)
        setup.cli_tmp.mkdir()
        sides = list(WORKER_SIDES)
        if setup.cli is not None:
            setup.cli_project = write_cli_project(base / "project", pg_major(pg_bindir))
            sides.append("cli")
        print(f"PostgreSQL {pg_major(pg_bindir)} from {pg_bindir}; {setup.redis_server}")
        print(f"workers: {setup.python} as {account.name} (uid {account.uid})")
        print(f"PYTHONPATH for workers: {os.pathsep.join([str(REPO), *pythonpath])}")
        if setup.cli is None:
            print("`ci-toolkit services up` not available (or --skip-cli): timing the in-process sides only")
        else:
            print(f"cli: {' '.join(setup.cli)} services up / down, as {pwd.getpwuid(os.geteuid()).pw_name}")
        results, ok = bench(setup, sides, args.reps, args.warmup)
        met = report(results, args.reps)
        left = servers_under(base)
        if left:
            setup.failures.append(f"postgres/redis-server processes left running: {left}")
            ok = False
    finally:
        if args.keep:
            print(f"kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"\nleft running afterwards: {left or 'nothing'}")
    for failure in setup.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 0 if ok and (met or not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
