"""Finding and reading pyproject.toml: discovery, unreadable files and TOML errors are one line each."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ci_toolkit.config import find_pyproject, load
from ci_toolkit.errors import ConfigError


def write(directory: Path, text: str, name: str = "pyproject.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_nearest_pyproject_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, "[tool.ci-toolkit]\nworkers = 1\n")
    inner = write(tmp_path / "pkg", "[tool.ci-toolkit]\nworkers = 2\n")
    deep = tmp_path / "pkg" / "src" / "deep"
    deep.mkdir(parents=True)
    config = load(cwd=deep)
    assert config.path == inner
    assert config.root == tmp_path / "pkg"
    assert config.workers == 2
    assert find_pyproject(tmp_path / "other") == tmp_path / "pyproject.toml"


def test_error_in_a_parent_pyproject_shows_an_absolute_path(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.ci-toolkit]\nworkers = -1\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    with pytest.raises(ConfigError) as info:
        load(cwd=sub)
    assert (
        str(info.value) == f'{path}: tool.ci-toolkit.workers: expected "auto" or a whole number >= 0, got -1'
    )


def test_error_under_cwd_shows_a_relative_path(tmp_path: Path) -> None:
    write(tmp_path / "conf", "[tool.ci-toolkit]\nallow_overlap = 1\n", name="ci.toml")
    with pytest.raises(ConfigError, match=r"^conf/ci\.toml: tool\.ci-toolkit\.allow_overlap: expected true"):
        load(Path("conf/ci.toml"), cwd=tmp_path)


def test_no_pyproject_anywhere(tmp_path: Path) -> None:
    if find_pyproject(tmp_path) is not None:
        pytest.skip(f"a pyproject.toml exists above {tmp_path} on this machine")
    with pytest.raises(ConfigError) as info:
        load(cwd=tmp_path)
    assert str(info.value) == (
        f"no pyproject.toml found in {tmp_path} or any parent directory: "
        "run ci-toolkit inside a project or pass --config PATH"
    )


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[tool.ci-toolkit]\nworkers = "auto\n', 2, "Illegal character"),
        ("[tool.ci-toolkit]\nworkers = 1\nworkers = 2\n", 3, "Cannot overwrite a value"),
        ("[tool.ci-toolkit]\nworkers =", 2, "Invalid value"),
    ],
)
def test_broken_toml_is_one_line_with_the_line_number(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(f"pyproject.toml:{line}: invalid TOML: {reason}")
    assert "\n" not in message


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^missing\.toml: cannot read: No such file or directory$"):
        load(Path("missing.toml"), cwd=tmp_path)
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match=r"^dir\.toml: cannot read: "):
        load(tmp_path / "dir.toml", cwd=tmp_path)
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(
        ConfigError, match=r"^latin1\.toml: cannot read: not UTF-8 text \(bad byte at offset 11\)$"
    ):
        load(Path("latin1.toml"), cwd=tmp_path)
