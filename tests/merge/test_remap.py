"""Measured paths from other checkouts onto this one: pure, given what exists here."""

from __future__ import annotations

from pathlib import Path

from ci_toolkit.merge.remap import SHOWN, build_aliases, coverage_aliases, parts, remap

ROOT = Path("/work/here/a")
HERE = {f"{ROOT}/app/pay.py", f"{ROOT}/app/__init__.py", f"{ROOT}/src/lib/util.py", f"{ROOT}/setup.py"}


def exists(path: str) -> bool:
    return path.replace("\\", "/") in HERE


def test_checkout_roots_of_every_runner_map_onto_the_local_one() -> None:
    measured = [
        "/home/runner/work/a/a/app/pay.py",
        "/__w/a/a/app/__init__.py",
        "D:\\a\\a\\a\\src\\lib\\util.py",
        "/Users/dev/src/a/setup.py",
    ]
    mapped = remap(measured, ROOT, exists)
    assert mapped.unmapped == ()
    assert mapped.mapping == {
        "/home/runner/work/a/a/app/pay.py": f"{ROOT}/app/pay.py",
        "/__w/a/a/app/__init__.py": f"{ROOT}/app/__init__.py",
        "D:\\a\\a\\a\\src\\lib\\util.py": f"{ROOT}/src/lib/util.py",
        "/Users/dev/src/a/setup.py": f"{ROOT}/setup.py",
    }


def test_the_longest_suffix_that_exists_wins() -> None:
    here = {f"{ROOT}/pay.py", f"{ROOT}/app/pay.py"}
    mapped = remap(["/ci/x/app/pay.py"], ROOT, lambda p: p in here)
    assert mapped.mapping == {"/ci/x/app/pay.py": f"{ROOT}/app/pay.py"}


def test_paths_already_here_are_kept_and_relative_ones_stay_relative() -> None:
    mapped = remap([f"{ROOT}/app/pay.py", "app/pay.py", "other/app/pay.py"], ROOT, exists)
    assert mapped.mapping == {
        f"{ROOT}/app/pay.py": f"{ROOT}/app/pay.py",
        "app/pay.py": "app/pay.py",
        "other/app/pay.py": "app/pay.py",
    }


def test_a_path_of_another_checkout_that_exists_here_still_maps_into_this_one() -> None:
    here = HERE | {"/work/other/a/app/pay.py"}
    mapped = remap(["/work/other/a/app/pay.py"], ROOT, lambda p: p in here)
    assert mapped.mapping == {"/work/other/a/app/pay.py": f"{ROOT}/app/pay.py"}


def test_a_file_outside_the_checkout_that_exists_here_is_kept() -> None:
    mapped = remap(["/opt/lib/x.py"], ROOT, lambda p: p == "/opt/lib/x.py")
    assert mapped.mapping == {"/opt/lib/x.py": "/opt/lib/x.py"}


def test_unmappable_paths_are_listed_first_ten_and_a_count() -> None:
    gone = [f"/ci/a/gone{i}.py" for i in range(13)]
    mapped = remap([*gone, "/ci/a/app/pay.py"], ROOT, exists)
    assert mapped.unmapped == tuple(gone)
    text = mapped.describe_unmapped()
    assert text.count("gone") == SHOWN and text.endswith("and 3 more")
    assert "/ci/a/app/pay.py" in mapped.mapping


def test_a_drive_letter_alone_is_never_a_directory_here() -> None:
    mapped = remap(["C:\\x.py"], ROOT, lambda p: p == f"{ROOT}/C:/x.py")
    assert mapped.unmapped == ("C:\\x.py",)


def test_configured_aliases_win_over_the_suffix() -> None:
    aliases = build_aliases({"lib": ["src/lib/", "/ci/build/lib/"]}, ROOT)
    here = HERE | {f"{ROOT}/lib/util.py"}
    mapped = remap(["/ci/build/lib/util.py"], ROOT, lambda p: p in here, aliases)
    assert mapped.mapping == {"/ci/build/lib/util.py": f"{ROOT}/src/lib/util.py"}


def test_parts_split_both_separators() -> None:
    assert parts("D:\\a\\b/c.py") == ["D:", "a", "b", "c.py"]
    assert parts("./a//b") == ["a", "b"]


def test_coverage_aliases_come_from_the_project_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.coverage.paths]\nsource = ["src/", "/ci/*/src/"]\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text("")
    aliases = coverage_aliases(tmp_path)
    assert aliases is not None
    mapped = remap(["/ci/job7/src/m.py"], tmp_path, aliases=aliases)
    assert mapped.mapping == {"/ci/job7/src/m.py": str(tmp_path / "src" / "m.py")}


def test_coverage_aliases_none_without_paths_and_coveragerc_first(tmp_path: Path) -> None:
    assert coverage_aliases(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[tool.coverage.paths]\nsource = ["src/", "/ci/*/src/"]\n')
    (tmp_path / ".coveragerc").write_text("[run]\nbranch = true\n")
    assert coverage_aliases(tmp_path) is None  # coverage.py reads only the first file it finds


def test_relative_aliases_stay_relative() -> None:
    aliases = build_aliases({"lib": ["src/lib/", "/ci/build/lib/"]}, ROOT, relative=True)
    mapped = remap(["/ci/build/lib/util.py"], ROOT, exists, aliases)
    assert mapped.mapping == {"/ci/build/lib/util.py": "src/lib/util.py"}
    assert build_aliases({}, ROOT) is None
