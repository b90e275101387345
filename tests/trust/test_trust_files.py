"""Issue 9, "never a user's file lost": what ci-toolkit writes, replaces and deletes, and what it refuses to.

Every test here uses real files, directories, FIFOs, device nodes, processes and (where the kernel lets us)
a read-only bind mount; nothing is mocked. Tests that start `ci-toolkit` itself are marked e2e.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import TIMEOUT, Run, World, cli_env, git, run_ci_toolkit

from ci_toolkit import config
from ci_toolkit.commands.services import write_env_file
from ci_toolkit.errors import CiToolkitError, ConfigError, ExitCode
from ci_toolkit.files import atomic
from ci_toolkit.report import json_report
from ci_toolkit.run.layout import RunPaths

if TYPE_CHECKING:
    from conftest import SampleProject

Factory = Callable[..., "SampleProject"]

ONE_LANE = """
[tool.ci-toolkit]
workers = 0
"""
MARKER = ".ci-toolkit-output"  # ci_toolkit.MARKER
OLD_GITIGNORE = "# Created by ci-toolkit: run artefacts, not source.\n*\n"
COVERAGE_JSON = {
    "meta": {"branch_coverage": False},
    "files": {"samplepkg/full.py": {"summary": {"num_statements": 1}, "missing_lines": []}},
}


def one_error_line(run: Run, *names: str, code: int = ExitCode.USAGE_ERROR) -> str:
    assert run.code == code, run.describe()
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith("ci-toolkit: error: "), run.describe()
    for name in names:
        assert name in lines[0], run.describe()
    assert "Traceback" not in run.output, run.describe()
    return lines[0]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root: file bytes, or None for a directory."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))
    }


def make_device(path: Path, major: int, minor: int) -> Path:
    """A character device node like /dev/full (1, 7) or /dev/null (1, 3), in our own temp dir."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


needs_ro_mount = pytest.mark.skipif(
    not _can_mount_read_only(), reason="no mount namespace for a read-only bind"
)


def run_read_only(directory: Path, *args: str, cwd: Path) -> Run:
    """`ci-toolkit ARGS` with `directory` bind-mounted read-only (a read-only checkout), in a private mount
    namespace so that nothing outside this process tree sees the mount."""
    script = (
        f'mount --bind "{directory}" "{directory}" && mount -o remount,ro,bind "{directory}" && '
        f'exec "{sys.executable}" -m ci_toolkit "$@"'
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)


# -- item 2: the output dir is ours, or it is left alone ------------------------------------------------


@pytest.mark.e2e
def test_an_output_dir_holding_the_users_files_is_refused_and_left_alone(
    sample_project_factory: Factory,
) -> None:
    project = sample_project_factory(pyproject_extra='[tool.ci-toolkit]\nworkers = 0\noutput_dir = "tests"\n')
    for name in ("coverage/baseline.txt", "results/expected.json", "logs/keep.log"):
        project.write(f"tests/{name}", "the user's\n")
    before = tree(project.root / "tests")

    run = run_ci_toolkit("local", cwd=project.root)

    one_error_line(run, "tool.ci-toolkit.output_dir", str(project.root / "tests"), "not made by ci-toolkit")
    assert tree(project.root / "tests") == before
    assert "== lane" not in run.stdout, "no test may run"


def test_prepare_refuses_a_directory_it_did_not_make_and_deletes_nothing(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "reports")
    for name in ("junit/theirs.xml", "coverage/index.html", "notes.txt"):
        (paths.output_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / name).write_text("the user's")
    before = tree(paths.output_dir)
    with pytest.raises(ConfigError, match=r"not made by ci-toolkit .*notes\.txt") as info:
        paths.prepare()
    assert "\n" not in str(info.value)
    assert tree(paths.output_dir) == before


def test_an_empty_or_missing_output_dir_is_claimed(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for name in ("empty", "missing/deeper"):
        paths = RunPaths(tmp_path / name)
        paths.prepare()
        assert (paths.output_dir / MARKER).is_file()
        assert sorted(p.name for p in paths.output_dir.iterdir()) == sorted(
            [MARKER, ".gitignore", "junit", "results", "coverage"]
        )


def test_the_output_dir_of_the_previous_version_is_adopted(tmp_path: Path) -> None:
    """Today's `.ci-toolkit/` has no marker: made only of what ci-toolkit writes, it is taken over."""
    paths = RunPaths(tmp_path / ".ci-toolkit")
    old = {
        ".gitignore": OLD_GITIGNORE,
        "junit/unit.xml": "<x/>",
        "results/unit.json": "{}",
        "coverage/unit/.coverage": "",
        "logs/unit.log": "",
        ".coverage": "",
        ".coverage.abc123.tmp": "",  # a merge that was killed
        ".plan.json.k2j3.tmp": "",  # an atomic write that was killed
        "plan.json": "{}",
        "run.json": "{}",
        "lanes.json": "[]",
        "collected.json": "{}",
        "lanes-verdict": "go\n",
        "shard-timings.json": "{}",
        "timings.json": "{}",
        "services/state.json": "{}",
        "services/work/db-x/data": "",
        "summary.json": json.dumps(
            {"schema_version": 1, "passed": True}
        ),  # `--json .ci-toolkit/summary.json`
    }
    for name, text in old.items():
        (paths.output_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / name).write_text(text)

    paths.prepare()

    left = tree(paths.output_dir)
    assert left[MARKER]
    for kept in ("timings.json", "services/state.json", "services/work/db-x/data", "summary.json"):
        assert left[kept] == old[kept].encode(), kept
    for cleared in (
        "junit/unit.xml",
        "results/unit.json",
        "logs/unit.log",
        "plan.json",
        "run.json",
        ".coverage",
    ):
        assert cleared not in left, cleared
    assert left[".gitignore"] == OLD_GITIGNORE.encode()


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"junit/a.xml": "<x/>"}, id="artefacts-without-our-gitignore"),
        pytest.param({".gitignore": "build/\n", "results/a.json": "{}"}, id="a-gitignore-of-the-users"),
        pytest.param({".gitignore": OLD_GITIGNORE, "summary.json": '{"mine": 1}'}, id="json-not-a-summary"),
        pytest.param({".gitignore": OLD_GITIGNORE, "junit": "a file, not a directory"}, id="wrong-type"),
        pytest.param({MARKER: "somebody else's file of that name\n", "x": ""}, id="not-our-marker"),
    ],
)
def test_a_directory_that_only_looks_like_ours_is_refused(tmp_path: Path, files: dict[str, str]) -> None:
    paths = RunPaths(tmp_path / "out")
    for name, text in files.items():
        (paths.output_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / name).write_text(text)
    before = tree(paths.output_dir)
    with pytest.raises(ConfigError, match="not made by ci-toolkit"):
        paths.prepare()
    assert tree(paths.output_dir) == before


def test_a_file_where_the_output_dir_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("mine")
    with pytest.raises(ConfigError, match="not a directory"):
        RunPaths(tmp_path / "out").prepare()
    assert (tmp_path / "out").read_text() == "mine"


@pytest.mark.parametrize("target", [".", ".."], ids=["root", "parent"])
def test_an_output_dir_that_is_the_root_or_a_parent_of_it_through_a_symlink(
    tmp_path: Path, target: str
) -> None:
    from ci_toolkit.run import layout as outdir

    root = tmp_path / "project"
    root.mkdir()
    (root / "out").symlink_to(target)
    cfg = config.Config(root=root, path=root / "pyproject.toml", output_dir=Path("out"))
    with pytest.raises(
        ConfigError, match=r"output_dir: .*must not be the project root or one of its parents"
    ):
        outdir.check(cfg)


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_an_output_dir_holding_tracked_files_is_refused(tmp_path: Path) -> None:
    from ci_toolkit.run import layout as outdir

    root = tmp_path / "project"
    (root / "out" / "results").mkdir(parents=True)
    (root / "out" / "results" / "golden.json").write_text("{}")
    (root / "out" / MARKER).write_text(outdir.MARKER_TEXT)
    git(root, "init", "-q")
    git(root, "add", "-f", "out")
    cfg = config.Config(root=root, path=root / "pyproject.toml", output_dir=Path("out"))
    with pytest.raises(ConfigError, match=r"tracked by git \(out/results/golden\.json"):
        outdir.check(cfg)
    assert (root / "out" / "results" / "golden.json").read_text() == "{}"


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_a_committed_timing_history_in_the_output_dir_is_fine(tmp_path: Path) -> None:
    from ci_toolkit.run import layout as outdir

    root = tmp_path / "project"
    (root / ".ci-toolkit").mkdir(parents=True)
    (root / ".ci-toolkit" / "timings.json").write_text("{}")
    git(root, "init", "-q")
    git(root, "add", "-f", ".ci-toolkit/timings.json")
    outdir.check(config.Config(root=root, path=root / "pyproject.toml"))  # no error


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_an_output_dir_that_is_not_there_holds_nothing_to_clear(tmp_path: Path) -> None:
    """Files git tracks under an output dir deleted from the working tree: nothing is there to clear, and
    git is not asked (a run from a fresh checkout, as every CI run is, pays no git call)."""
    from ci_toolkit.run import layout as outdir

    root = tmp_path / "project"
    (root / "out").mkdir(parents=True)
    (root / "out" / "golden.json").write_text("{}")
    git(root, "init", "-q")
    git(root, "add", "-f", "out")
    shutil.rmtree(root / "out")
    cfg = config.Config(root=root, path=root / "pyproject.toml", output_dir=Path("out"))
    assert outdir.check(cfg) == root / "out"
    (root / "out").mkdir()
    with pytest.raises(ConfigError, match="tracked by git"):  # once it is there, git is asked again
        outdir.check(cfg)


def test_outside_a_git_checkout_the_tracked_check_is_skipped(tmp_path: Path) -> None:
    from ci_toolkit.run import layout as outdir

    root = tmp_path / "project"
    root.mkdir()
    outdir.check(config.Config(root=root, path=root / "pyproject.toml"))


def test_the_clean_up_never_removes_the_services_state(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / ".ci-toolkit")
    paths.prepare()
    state = paths.output_dir / "services" / "state.json"
    state.parent.mkdir()
    state.write_text("{}")
    paths.prepare()
    assert state.read_text() == "{}"


def test_the_clean_up_removes_a_symlinked_artefact_dir_without_following_it(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "out")
    paths.prepare()
    elsewhere = tmp_path / "important"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    shutil.rmtree(paths.junit)
    paths.junit.symlink_to(elsewhere)
    paths.prepare()
    assert (elsewhere / "keep.txt").read_text() == "mine"
    assert paths.junit.is_dir() and not paths.junit.is_symlink()


def test_a_clean_up_that_fails_is_one_line(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "out")
    paths.prepare()
    (paths.plan_file / "x").mkdir(parents=True)  # a directory where our plan.json goes: unlink fails
    with pytest.raises(ConfigError, match=r"output_dir: cannot clear .*plan\.json: ") as info:
        paths.prepare()
    assert "\n" not in str(info.value)


def test_checking_json_creates_nothing_before_the_run(tmp_path: Path) -> None:
    from ci_toolkit.files import outputs

    outputs.check(json_path=tmp_path / ".ci-toolkit" / "junit" / "summary.json")
    assert list(tmp_path.iterdir()) == []  # not even the output dir: the run claims that itself


# -- item 3: atomic writes go through symlinks and never replace what is not a regular file -------------


def test_a_symlink_is_written_through_and_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real" / "timings.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "timings.json"
    link.symlink_to(real)
    atomic.write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_a_chain_of_relative_symlinks_is_followed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "real").write_text("old")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "link1").symlink_to("b/real")
    (tmp_path / "link2").symlink_to("link1")
    atomic.write_text(tmp_path / "link2", "new")
    assert (tmp_path / "a" / "real").read_text() == "new"
    assert (tmp_path / "link1").is_symlink() and (tmp_path / "link2").is_symlink()


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "env"
    link.symlink_to("secrets/.env")
    (tmp_path / "secrets").mkdir()
    atomic.write_text(link, "A=1\n")
    assert link.is_symlink() and (tmp_path / "secrets" / ".env").read_text() == "A=1\n"


def test_an_existing_files_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("old")
    path.chmod(0o640)
    atomic.write_text(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.chmod(0o604)
    atomic.write_text(path, "newer")
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_a_new_file_gets_the_umask_default_not_0600(tmp_path: Path) -> None:
    path = tmp_path / "new" / "summary.json"
    atomic.write_text(path, "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.json"]


def test_a_fifo_is_written_directly(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    atomic.write_text(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_device_is_written_directly_and_its_error_reported(tmp_path: Path) -> None:
    full = make_device(tmp_path / "full", 1, 7)
    null = make_device(tmp_path / "null", 1, 3)
    atomic.write_text(null, "gone\n")
    with pytest.raises(OSError) as info:
        atomic.write_text(full, "x" * 10)
    assert info.value.errno == errno.ENOSPC
    for node in (full, null):
        assert stat.S_ISCHR(node.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "null"]


def test_a_symlink_to_an_open_descriptor_is_written_to_it_not_replaced(tmp_path: Path) -> None:
    """What `--json /dev/stdout` is: a symlink into /proc/self/fd. A test on the real /dev/stdout would
    break the machine on failure, so a link of our own to the same place stands in for it."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    code = (
        "from pathlib import Path; from ci_toolkit.files import atomic; "
        f"atomic.write_text(Path({str(link)!r}), 'hi\\n')"
    )
    for capture in ("pipe", "file"):
        out_file = tmp_path / "captured.txt"
        if capture == "pipe":
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
            out, err = proc.stdout, proc.stderr
        else:
            out_file.write_text("before\n")
            with out_file.open("a") as fh:
                proc = subprocess.run(
                    [sys.executable, "-c", code], stdout=fh, stderr=subprocess.PIPE, check=False
                )
            out, err = out_file.read_text(), proc.stderr.decode()
        assert proc.returncode == 0, err
        assert out == ("hi\n" if capture == "pipe" else "before\nhi\n")
        assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_a_directory_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic.write_text(tmp_path / "dir", "x")
    assert (tmp_path / "dir").is_dir()


@pytest.mark.e2e
def test_gate_json_to_a_full_device_is_one_line_and_exit_2(tmp_path: Path) -> None:
    full = make_device(tmp_path / "full", 1, 7)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (project / "cov.json").write_text(json.dumps(COVERAGE_JSON))
    run = run_ci_toolkit("gate", "--json", str(full), "cov.json", cwd=project)
    one_error_line(run, str(full), "No space left on device")
    assert stat.S_ISCHR(full.lstat().st_mode)


# -- item 4: an env file keeps every line that is not ours -------------------------------------------------


@pytest.fixture
def no_github_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ENV", raising=False)


@pytest.mark.usefixtures("no_github_env")
def test_the_env_file_keeps_the_users_lines_byte_for_byte(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    original = b"# my settings\r\nSECRET_KEY=s3cr\xc3\xa9t\r\nexport DATABASE_URL=sqlite://\r\nSENTRY_DSN=https://x@y/1"
    env.write_bytes(original)
    env.chmod(0o600)

    write_env_file(env, "DATABASE_URL=postgresql://h:1/app\nREDIS_URL=redis://h:2/0\n")

    assert env.read_bytes() == (
        b"# my settings\r\nSECRET_KEY=s3cr\xc3\xa9t\r\nDATABASE_URL=postgresql://h:1/app\r\n"
        b"SENTRY_DSN=https://x@y/1\r\nREDIS_URL=redis://h:2/0\r\n"
    )
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    # The second `up` changes only our values again.
    write_env_file(env, "DATABASE_URL=postgresql://h:3/app\nREDIS_URL=redis://h:4/0\n")
    assert env.read_bytes() == (
        b"# my settings\r\nSECRET_KEY=s3cr\xc3\xa9t\r\nDATABASE_URL=postgresql://h:3/app\r\n"
        b"SENTRY_DSN=https://x@y/1\r\nREDIS_URL=redis://h:4/0\r\n"
    )


@pytest.mark.usefixtures("no_github_env")
def test_a_new_env_file_is_the_variables(tmp_path: Path) -> None:
    env = tmp_path / "ci.env"
    write_env_file(env, "A=1\nB=2\n")
    assert env.read_text() == "A=1\nB=2\n"


@pytest.mark.usefixtures("no_github_env")
def test_a_symlinked_env_file_updates_its_target(tmp_path: Path) -> None:
    (tmp_path / "shared.env").write_text("KEEP=1\nA=0\n")
    (tmp_path / ".env").symlink_to("shared.env")
    write_env_file(tmp_path / ".env", "A=1\n")
    assert (tmp_path / ".env").is_symlink()
    assert (tmp_path / "shared.env").read_text() == "KEEP=1\nA=1\n"


@pytest.mark.usefixtures("no_github_env")
def test_an_env_file_that_cannot_be_read_is_never_replaced(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"SECRET=\xff\xfe\n")
    with pytest.raises(CiToolkitError, match=r"\.env: cannot read .*not UTF-8.*left as it is") as info:
        write_env_file(env, "A=1\n")
    assert "\n" not in str(info.value)
    assert env.read_bytes() == b"SECRET=\xff\xfe\n"
    (tmp_path / "dir.env").mkdir()
    with pytest.raises(CiToolkitError, match=r"dir\.env: cannot read"):
        write_env_file(tmp_path / "dir.env", "A=1\n")


def test_github_env_is_still_appended_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    github = tmp_path / "github_env"
    github.write_text("EARLIER=1\nA=0\n")
    monkeypatch.setenv("GITHUB_ENV", str(github))
    write_env_file(github, "A=1\n")
    assert github.read_text() == "EARLIER=1\nA=0\nA=1\n"


@pytest.mark.usefixtures("no_github_env")
def test_an_env_file_that_is_a_fifo_gets_the_variables(tmp_path: Path) -> None:
    fifo = tmp_path / "env.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_env_file(fifo, "A=1\n")
    reader.join(timeout=10)
    assert got == [b"A=1\n"]


CUSTOM_SERVICE = """
[tool.ci-toolkit.services.web]
kind = "custom"
backend = "native"
command = [{python}, "-m", "http.server", "{{port}}", "--bind", "{{host}}"]
ready_timeout = 30
[tool.ci-toolkit.services.web.export]
WEB_URL = "http://{{host}}:{{port}}/"
"""


@pytest.mark.e2e
def test_services_up_env_file_keeps_the_users_dotenv(sample_project_factory: Factory, world: World) -> None:
    extra = "[tool.ci-toolkit]\n" + CUSTOM_SERVICE.format(python=json.dumps(sys.executable))
    project = sample_project_factory(pyproject_extra=extra)
    env = project.root / ".env"
    env.write_text("SECRET_KEY=keep-me\nSENTRY_DSN=https://k@s/1\n")
    up = world.run(project.root, "services", "up", "--env-file", ".env")
    try:
        assert up.code == 0, up.describe()
        assert env.read_text() == "SECRET_KEY=keep-me\nSENTRY_DSN=https://k@s/1\n" + up.stdout
    finally:
        down = world.run(project.root, "services", "down")
        assert down.code == 0, down.describe()


# -- item 9: one run at a time in an output dir ------------------------------------------------------------


@pytest.mark.e2e
def test_a_second_run_stops_with_the_holders_pid_and_touches_nothing(sample_project_factory: Factory) -> None:
    from ci_toolkit.run import layout as outdir

    project = sample_project_factory(pyproject_extra=ONE_LANE)
    cfg = config.load(cwd=project.root)
    with outdir.lock(cfg):
        sentinel = project.root / ".ci-toolkit" / "junit" / "all.xml"
        sentinel.parent.mkdir()
        sentinel.write_text("the first run's")
        run = run_ci_toolkit("local", cwd=project.root)
        one_error_line(run, f"pid {os.getpid()}", ".ci-toolkit", "in use")
        assert sentinel.read_text() == "the first run's"
    run = run_ci_toolkit("local", cwd=project.root)
    assert run.code == 0, run.describe()


WEB_SERVICE = """
[tool.ci-toolkit.services.web]
kind = "custom"
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
export = { WEB_URL = "http://{host}:{port}/" }
"""


def test_services_up_and_down_wait_for_no_run_and_claim_the_output_dir(
    sample_project_factory: Factory, tmp_path: Path
) -> None:
    """Before: `services up` wrote its state file into any output dir, a user's included, and `down`
    could stop the servers of a `local` run that was still using them."""
    from ci_toolkit.run import layout as outdir

    project = sample_project_factory(pyproject_extra=WEB_SERVICE)
    cfg = config.load(cwd=project.root)
    with outdir.lock(cfg):
        for args in (("services", "up"), ("services", "down")):
            (project.root / ".ci-toolkit" / "services").mkdir(exist_ok=True)
            endpoint = {"name": "web", "kind": "custom", "backend": "native", "host": "127.0.0.1", "port": 9}
            record = {"endpoint": endpoint, "workdir": str(tmp_path / "gone"), "owner": "up", "pid": 1}
            (project.root / ".ci-toolkit" / "services" / "state.json").write_text(
                json.dumps({"version": 1, "services": [record]})
            )
            run = run_ci_toolkit(*args, cwd=project.root)
            one_error_line(run, f"pid {os.getpid()}", "in use")
    foreign = sample_project_factory(
        "foreign", pyproject_extra=WEB_SERVICE + '\n[tool.ci-toolkit]\noutput_dir = "tests"\n'
    )
    before = tree(foreign.root / "tests")
    run = run_ci_toolkit("services", "up", cwd=foreign.root)
    one_error_line(run, "tool.ci-toolkit.output_dir", "was not made by ci-toolkit")
    assert tree(foreign.root / "tests") == before


HOLD = """
import sys, time
from pathlib import Path
from ci_toolkit import config
from ci_toolkit.run import layout as outdir
with outdir.lock(config.load(cwd=Path(sys.argv[1]))):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    from ci_toolkit.run import layout as outdir

    (tmp_path / "pyproject.toml").write_text("")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        cfg = config.load(cwd=tmp_path)
        busy = rf"in use by another ci-toolkit run \(pid {holder.pid}\)"
        with pytest.raises(CiToolkitError, match=busy), outdir.lock(cfg):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with outdir.lock(cfg):  # no wait, no stale lock
            pass
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_released_when_the_block_ends_however_it_ends(tmp_path: Path) -> None:
    from ci_toolkit.run import layout as outdir

    (tmp_path / "pyproject.toml").write_text("")
    cfg = config.load(cwd=tmp_path)
    with pytest.raises(KeyboardInterrupt), outdir.lock(cfg):
        raise KeyboardInterrupt
    with outdir.lock(cfg):
        pass


# -- item 10: workers are bounded ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"workers": 9223372036854775807}, "tool.ci-toolkit.workers"),
        ({"workers": 100_000}, "tool.ci-toolkit.workers"),
        ({"lanes": [{"name": "a", "workers": 5000}]}, "tool.ci-toolkit.lanes[0].workers"),
    ],
)
def test_too_many_workers_are_refused_naming_the_key(tmp_path: Path, table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.parse({"tool": {"ci-toolkit": table}}, tmp_path / "pyproject.toml", cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(f"pyproject.toml: {key}: expected")
    assert f"at most {config.max_workers()}" in message and "\n" not in message


def test_the_workers_cap_is_at_least_64_and_4_per_cpu(tmp_path: Path) -> None:
    assert config.max_workers() == max(64, 4 * (os.cpu_count() or 1))
    cap = config.max_workers()
    parsed = config.parse(
        {"tool": {"ci-toolkit": {"workers": cap}}}, tmp_path / "pyproject.toml", cwd=tmp_path
    )
    assert parsed.workers == cap


# -- item 12: unwritable outputs are one line before the run, never exit 70 ---------------------------------


@pytest.mark.e2e
def test_local_json_to_an_unwritable_place_stops_before_any_test(sample_project_factory: Factory) -> None:
    project = sample_project_factory(pyproject_extra=ONE_LANE)
    run = run_ci_toolkit("local", "--json", "/proc/x.json", cwd=project.root)
    one_error_line(run, "/proc/x.json", "--json")
    assert "== lane" not in run.stdout
    assert not (project.root / ".ci-toolkit").exists()


@pytest.mark.e2e
def test_a_closed_stdout_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cov.json").write_text(json.dumps(COVERAGE_JSON))
    proc = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", "gate", "cov.json"],
        cwd=tmp_path,
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),  # `ci-toolkit gate cov.json >&-`
        timeout=TIMEOUT,
        check=False,
    )
    run = Run(("gate", "cov.json"), proc.returncode, "", proc.stderr)
    one_error_line(run, "stdout")


@pytest.mark.e2e
def test_a_stdout_whose_reader_is_gone_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cov.json").write_text(json.dumps(COVERAGE_JSON))
    read_end, write_end = os.pipe()
    os.close(read_end)  # `ci-toolkit gate cov.json | true`, with `true` gone already
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ci_toolkit", "gate", "--json", "out.json", "cov.json"],
            cwd=tmp_path,
            env=cli_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    run = Run(("gate",), proc.returncode, "", proc.stderr)
    one_error_line(run, "stdout")


@pytest.mark.e2e
@needs_ro_mount
def test_a_read_only_checkout_is_one_line_before_anything_runs(sample_project_factory: Factory) -> None:
    project = sample_project_factory(pyproject_extra=ONE_LANE)
    run = run_read_only(project.root, "local", cwd=project.root)
    one_error_line(run, str(project.root / ".ci-toolkit"), "Read-only file system")
    assert "== lane" not in run.stdout


@pytest.mark.e2e
@needs_ro_mount
def test_an_unwritable_output_dir_is_one_line(sample_project_factory: Factory) -> None:
    project = sample_project_factory(pyproject_extra=ONE_LANE)
    RunPaths(project.root / ".ci-toolkit").prepare()  # made (and marked) by an earlier run
    run = run_read_only(project.root / ".ci-toolkit", "local", cwd=project.root)
    one_error_line(run, ".ci-toolkit", "Read-only file system")
    assert "== lane" not in run.stdout


# -- item 17: --json and --config name files of the right kind ----------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["local", "gate"])
def test_json_over_a_file_that_is_not_a_summary_is_refused(
    sample_project_factory: Factory, command: str
) -> None:
    project = sample_project_factory(pyproject_extra=ONE_LANE)
    (project.root / "cov.json").write_text(json.dumps(COVERAGE_JSON))
    before = (project.root / "pyproject.toml").read_bytes()
    args = (
        ["local", "--json", "pyproject.toml"]
        if command == "local"
        else ["gate", "--json", "pyproject.toml", "cov.json"]
    )
    run = run_ci_toolkit(*args, cwd=project.root)
    one_error_line(run, "pyproject.toml", "not a ci-toolkit JSON summary")
    assert (project.root / "pyproject.toml").read_bytes() == before
    assert "== lane" not in run.stdout and not (project.root / ".ci-toolkit").exists()


def test_json_replaces_a_previous_summary_or_an_empty_file(tmp_path: Path) -> None:
    from ci_toolkit.files import outputs

    data = json_report.to_dict([], None, extra={"exit_code": 0})
    previous = tmp_path / "summary.json"
    previous.write_text(json.dumps({"schema_version": 1, "passed": False}))
    empty = tmp_path / "empty.json"
    empty.touch()
    for path in (previous, empty, tmp_path / "new" / "s.json"):
        outputs.check(json_path=path)
        json_report.write(path, data)
        assert json.loads(path.read_text()) == data


def test_json_write_refuses_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    from ci_toolkit.files import outputs

    path = tmp_path / "notes.json"
    outputs.check(json_path=path)
    path.write_text("[1, 2]")  # written by someone else while the tests ran
    with pytest.raises(CiToolkitError, match="not a ci-toolkit JSON summary"):
        json_report.write(path, json_report.to_dict([], None))
    assert path.read_text() == "[1, 2]"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.mkdir(), id="directory"),
        pytest.param(lambda p: p.write_bytes(b"\xff"), id="not-utf8"),
    ],
)
def test_json_check_refuses_what_it_cannot_replace(tmp_path: Path, make: Callable[[Path], Any]) -> None:
    from ci_toolkit.files import outputs

    path = tmp_path / "out.json"
    make(path)
    with pytest.raises(CiToolkitError, match=str(path)):
        outputs.check(json_path=path)


def test_json_write_failure_is_a_one_line_error(tmp_path: Path) -> None:
    from ci_toolkit.files import outputs

    full = make_device(tmp_path / "full", 1, 7)
    outputs.check(json_path=full)  # a device: written directly, at the end
    with pytest.raises(CiToolkitError) as info:
        json_report.write(full, {"schema_version": 1})
    assert info.value.exit_code == ExitCode.USAGE_ERROR
    assert str(info.value) == f"--json {full}: cannot write the JSON summary: No space left on device"


@pytest.mark.e2e
def test_config_must_name_a_regular_file(tmp_path: Path) -> None:
    devdir = tmp_path / "dev"
    devdir.mkdir()
    null = make_device(devdir / "null", 1, 3)
    run = run_ci_toolkit("local", "--config", str(null), cwd=tmp_path)
    one_error_line(run, "dev/null: cannot read: not a regular file", "--config")
    run = run_ci_toolkit("local", "--config", str(devdir), cwd=tmp_path)
    one_error_line(run, str(devdir), "--config", "is a directory")
    assert sorted(p.name for p in devdir.iterdir()) == ["null"], "no .ci-toolkit next to /dev/null"


def test_load_refuses_a_config_that_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pyproject.toml"
    os.mkfifo(fifo)
    threading.Thread(target=release_readers, args=(fifo, 5.0), daemon=True).start()
    start = time.monotonic()
    with pytest.raises(ConfigError, match="not a regular file"):
        config.load(fifo, cwd=tmp_path)
    assert time.monotonic() - start < 4, "a FIFO must not be opened (it would block)"


def release_readers(fifo: Path, after: float) -> None:
    """After `after` seconds, give whoever blocks reading `fifo` an end of file: a test fails, not hangs."""
    time.sleep(after)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError:  # ENXIO: no reader yet
            time.sleep(0.05)


@pytest.mark.parametrize(
    ("timings", "why"),
    [
        ("pyproject.toml", "the configuration file"),
        (".ci-toolkit/plan.json", "outside .ci-toolkit/plan.json (cleared before every run)"),
        (".ci-toolkit/logs/t.json", "outside .ci-toolkit/logs (cleared before every run)"),
        (".ci-toolkit/.gitignore", "a file ci-toolkit does not write itself"),
        (".ci-toolkit/services/t.json", "a file ci-toolkit does not write itself"),
    ],
)
def test_timings_may_not_name_a_file_ci_toolkit_writes_or_clears(
    tmp_path: Path, timings: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=r"tool\.ci-toolkit\.timings: expected") as info:
        config.parse(
            {"tool": {"ci-toolkit": {"timings": timings}}}, tmp_path / "pyproject.toml", cwd=tmp_path
        )
    assert why in str(info.value)


def test_output_dir_may_not_be_inside_git(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tool.ci-toolkit.output_dir: expected a directory outside \.git"):
        config.parse(
            {"tool": {"ci-toolkit": {"output_dir": ".git/ci"}}}, tmp_path / "pyproject.toml", cwd=tmp_path
        )
