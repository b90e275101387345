"""Patch coverage: the diff parser on hand-written diffs (no git), the git edge on real temporary
repositories, and the measure on hand-built reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import git

from ci_toolkit.errors import DataError
from ci_toolkit.gate.jsonreport import from_json
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.patch import (
    Base,
    Patch,
    PatchFile,
    changed_lines,
    measure,
    merge_base,
    parse_diff,
    unquote,
)

# ---- the parser (pure) ----

MODIFIED = """\
diff --git a/app/pay.py b/app/pay.py
index 1111111..2222222 100644
--- a/app/pay.py
+++ b/app/pay.py
@@ -3 +3,2 @@ def pay():
-    return 1
+    x = 2
+    return x
@@ -10,2 +11,0 @@ def other():
-    a
-    b
@@ -20,0 +20 @@ def third():
+    c
"""


def test_added_lines_of_each_hunk_on_the_new_side() -> None:
    assert parse_diff(MODIFIED.splitlines()) == {"app/pay.py": {3, 4, 20}}


def test_lines_may_keep_their_newlines() -> None:
    assert parse_diff(MODIFIED.splitlines(keepends=True)) == {"app/pay.py": {3, 4, 20}}


def test_context_lines_are_counted_but_not_changed() -> None:
    diff = """\
--- a/m.py
+++ b/m.py
@@ -1,4 +1,5 @@
 one
-two
+TWO
+two and a half
 three
 four
\\ No newline at end of file
"""
    assert parse_diff(diff.splitlines()) == {"m.py": {2, 3}}


def test_an_added_line_that_looks_like_a_header_is_a_line() -> None:
    diff = """\
--- a/m.py
+++ b/m.py
@@ -1 +1,3 @@
-x
++++ b/other.py
+--- a/other.py
+diff --git a/z b/z
"""
    assert parse_diff(diff.splitlines()) == {"m.py": {1, 2, 3}}


def test_new_deleted_binary_renamed_files() -> None:
    diff = """\
diff --git a/new.py b/new.py
new file mode 100644
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+a = 1
+b = 2
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-a = 1
-b = 2
diff --git a/logo.png b/logo.png
index 1111111..2222222 100644
Binary files a/logo.png and b/logo.png differ
diff --git a/old_name.py b/new_name.py
similarity index 90%
rename from old_name.py
rename to new_name.py
--- a/old_name.py
+++ b/new_name.py
@@ -7 +7 @@
-x = 1
+x = 2
diff --git a/same.py b/moved.py
similarity index 100%
rename from same.py
rename to moved.py
"""
    assert parse_diff(diff.splitlines()) == {"new.py": {1, 2}, "new_name.py": {7}}


def test_paths_with_spaces_quotes_and_non_ascii() -> None:
    diff = (
        "diff --git a/dir name/f.py b/dir name/f.py\n"
        "--- a/dir name/f.py\t\n"
        "+++ b/dir name/f.py\t\n"
        "@@ -1 +1 @@\n-a\n+b\n"
        'diff --git "a/caf\\303\\251.py" "b/caf\\303\\251.py"\n'
        '--- "a/caf\\303\\251.py"\n'
        '+++ "b/caf\\303\\251.py"\n'
        "@@ -2 +2 @@\n-a\n+b\n"
        "--- a/ünï.py\n"
        "+++ b/ünï.py\n"
        "@@ -3 +3 @@\n-a\n+b\n"
        '--- "a/tab\\there \\"q\\\\.py"\n'
        '+++ "b/tab\\there \\"q\\\\.py"\n'
        "@@ -4 +4 @@\n-a\n+b\n"
    )
    assert parse_diff(diff.splitlines()) == {
        "dir name/f.py": {1},
        "café.py": {2},
        "ünï.py": {3},
        'tab\there "q\\.py': {4},
    }


def test_unquote() -> None:
    assert unquote("plain.py") == "plain.py"
    assert unquote('"a\\nb\\a\\b\\v\\f\\r"') == "a\nb\a\b\v\f\r"
    assert unquote('"x\\"') == "x\\"  # a lone trailing backslash is kept as it is
    assert unquote('"') == '"'


def test_a_file_without_added_lines_is_left_out() -> None:
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +0,0 @@\n-a\n-b\n"
    assert parse_diff(diff.splitlines()) == {}


def test_no_newline_markers_inside_a_hunk_and_hunks_before_any_file() -> None:
    diff = "@@ -1 +1 @@\n-a\n+b\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n"
    assert parse_diff(diff.splitlines()) == {"m.py": {1}}


def test_a_hunk_header_it_cannot_read_is_skipped() -> None:
    assert parse_diff(["--- a/m.py", "+++ b/m.py", "@@ nonsense @@", "+x"]) == {}


# ---- the measure (pure) ----


def fc(
    path: str, executed: tuple[int, ...], missing: tuple[int, ...], **arcs: tuple[tuple[int, int], ...]
) -> FileCoverage:
    taken, missed = arcs.get("taken", ()), arcs.get("missed", ())
    return FileCoverage(
        path=path,
        statements=len(executed) + len(missing),
        missing_lines=missing,
        branches=len(taken) + len(missed),
        missing_branches=missed,
        executed_lines=executed,
        executed_branches=taken,
    )


def test_only_changed_measured_lines_count_with_their_branches() -> None:
    report = CoverageReport(
        files=(
            fc("app/pay.py", (1, 2, 3, 5, 41), (42, 43, 44, 57), taken=((5, 6),), missed=((5, 41), (41, 43))),
            fc("app/untouched.py", (1,), (2,)),
            fc("app/comments.py", (1,), (2,)),
        ),
        has_branches=True,
    )
    changed = {
        "app/pay.py": {4, 5, 41, 42, 43, 44, 57, 99},  # 4 and 99: not statements (blank, comment, gone)
        "app/comments.py": {3, 4},
        "docs/readme.md": {1},
        "tests/test_pay.py": {1, 2},
    }
    patch = measure("main", changed, report)
    # lines 5, 41 ran; 42-44, 57 did not; branches 5->6 ran, 5->41 and 41->43 did not
    (pay,) = patch.files
    assert pay == PatchFile("app/pay.py", Measure(2 + 1, 6 + 3), "42-44, 57", "5->41, 41->43")
    assert patch == Patch("main", Measure(3, 9), (pay,))
    assert pay.summary == "app/pay.py 42-44, 57"
    assert patch.uncovered == (pay,)


def test_a_fully_covered_change_and_no_change() -> None:
    report = CoverageReport(files=(fc("a.py", (1, 2), ()),))
    done = measure("HEAD~1", {"a.py": {2}}, report)
    assert done.files == (PatchFile("a.py", Measure(1, 1), ""),)
    assert done.files[0].summary == "a.py"
    assert done.uncovered == ()
    assert measure("HEAD", {}, report) == Patch("HEAD", Measure(0, 0), ())


def test_the_json_reader_keeps_what_ran() -> None:
    entry = {
        "executed_lines": [3, 1],
        "missing_lines": [4],
        "excluded_lines": [],
        "executed_branches": [[3, 4], [1, 3]],
        "missing_branches": [[3, -1]],
        "summary": {"num_statements": 3, "num_branches": 3, "missing_lines": 1, "missing_branches": 1},
    }
    report = from_json({"meta": {"branch_coverage": True}, "files": {"m.py": entry}}, Path("/nowhere"))
    (f,) = report.files
    assert f.executed_lines == (1, 3)
    assert f.executed_branches == ((1, 3), (3, 4))
    assert measure("b", {"m.py": {3}}, report).files == (PatchFile("m.py", Measure(2, 3), "", "3->exit"),)


# ---- git (real temporary repositories) ----


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def lines(n: int, prefix: str = "x") -> str:
    return "".join(f"{prefix}{i} = {i}\n" for i in range(1, n + 1))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: several files committed; then a branch `work` with one commit; main moves on after it."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(
        root,
        {
            "app/pay.py": lines(10),
            "app/old name.py": lines(30, "r"),
            "app/gone.py": lines(3),
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x01",
            "café/m.py": lines(2),
        },
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "work")
    write(root, {"app/pay.py": lines(10).replace("x5 = 5\n", "x5 = 50\nextra = 1\n")})
    git(root, "commit", "-q", "-am", "work")
    git(root, "checkout", "-q", "main")
    write(root, {"app/pay.py": "# main moved on\n" + lines(10)})
    git(root, "commit", "-q", "-am", "main moves")
    git(root, "checkout", "-q", "work")
    return root


def test_changes_since_the_merge_base_including_the_working_tree(repo: Path) -> None:
    # Uncommitted edits count; a rename with an edit, a deleted file, a binary file, spaces, non-ASCII.
    (repo / "app/old name.py").rename(repo / "app/new name.py")
    write(repo, {"app/new name.py": lines(30, "r").replace("r20 = 20\n", "r20 = 21\n")})
    (repo / "app/gone.py").unlink()
    write(repo, {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x02\x03", "café/m.py": lines(2) + "z = 1\n"})
    write(repo, {"cr.py": "a = 1\rb = 2\n"})  # a lone CR is not a line break for git
    git(repo, "add", "-A")
    write(repo, {"untracked.py": "u = 1\n"})  # not in git's diff: not part of the patch
    base = merge_base(repo, "main")
    assert base == Base("main", git(repo, "merge-base", "main", "HEAD"))
    assert changed_lines(repo, base) == {
        "app/pay.py": {5, 6},  # main's own later commit is not the change
        "app/new name.py": {20},
        "café/m.py": {3},
        "cr.py": {1},
    }


def test_paths_are_relative_to_the_project_root_inside_the_repository(repo: Path) -> None:
    write(
        repo,
        {
            "app/pay.py": lines(10)
            .replace("x1 = 1\n", "x1 = 10\n")
            .replace("x5 = 5\n", "x5 = 50\nextra = 1\n")
        },
    )
    write(repo, {"café/m.py": "changed\n" + lines(2)})
    assert changed_lines(repo / "app", merge_base(repo / "app", "main")) == {"pay.py": {1, 5, 6}}


def test_a_ref_that_does_not_exist(repo: Path) -> None:
    with pytest.raises(
        DataError, match=r"^--base nope: no such commit or branch here; .*git fetch origin nope"
    ):
        merge_base(repo, "nope")


@pytest.mark.parametrize("ref", ["", "--output=/tmp/x"])
def test_a_ref_that_is_an_option_is_refused(repo: Path, ref: str) -> None:
    with pytest.raises(DataError, match="not a git ref"):
        merge_base(repo, ref)


def test_not_a_git_working_tree(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is not in a git working tree"):
        merge_base(tmp_path, "main")


def test_unrelated_histories(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "commit", "-q", "-m", "orphan")
    with pytest.raises(DataError, match=r"^--base main: main and HEAD share no history$"):
        merge_base(repo, "main")


def test_a_shallow_clone_without_the_merge_base_says_how_to_fetch(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(
        tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", "-b", "work", repo.as_uri(), str(clone)
    )
    with pytest.raises(DataError) as info:
        merge_base(clone, "origin/main")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("--base origin/main: the clone is shallow")
    assert "fetch-depth: 0" in message and "git fetch --deepen" in message
    git(clone, "fetch", "-q", "--unshallow")
    assert merge_base(clone, "origin/main").ref == "origin/main"


def test_git_diff_failing_is_one_line(repo: Path) -> None:
    with pytest.raises(DataError, match=r"^--base main: git diff failed: "):
        changed_lines(repo, Base("main", "0" * 40))


def test_git_missing_is_one_line(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-bin-here"))
    with pytest.raises(DataError, match="could not run git"):
        merge_base(repo, "main")
    with pytest.raises(DataError, match="could not run git"):
        changed_lines(repo, Base("main", "0" * 40))
