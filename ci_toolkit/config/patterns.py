"""What a glob pattern in [tool.ci-toolkit] may look like: the one rule the configuration checks and the
matcher (ci_toolkit.config.globs) both apply, so a pattern has one spelling from the file to the report.

A pattern that breaks the rule is refused with a hint naming the spelling to use, never rewritten: the
pattern a user wrote is the one every report shows.
"""

from __future__ import annotations

from pathlib import PureWindowsPath

# The reference page's account of the rule (ci_toolkit.config.reference), kept beside the code it describes.
RULES = (
    "Glob patterns (`coverage.paths`, `groups`, `critical` and the file part of `keep_together`) are POSIX "
    "paths relative to the project root, matched against whole paths, case-sensitively.",
    "`*` matches any run of characters inside one path segment, `?` one character, `[abc]` and `[!abc]` a "
    "character class; none of them matches `/`. `**` matches any number of directories, none included, "
    'and must be a whole segment: `"app/**"` is every file under `app`, `"**/models.py"` is every '
    "`models.py`, `app/**.py` is refused (write `app/**/*.py`).",
    "Each pattern has one spelling, so that the pattern a report shows is the one you wrote. A pattern "
    'must not be empty, start with `/` or `./`, end with `/` (write `"app/**"` for a whole directory), '
    "contain `//`, backslashes, or `.` and `..` segments. A refused pattern is reported with the spelling "
    "to use.",
)


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not an accepted glob (the text after "expected"), or None when it is fine."""
    if not pattern:
        return "a non-empty glob pattern"
    if "\\" in pattern:
        return 'a glob with "/" separators and no backslashes'
    if pattern.startswith("/") or PureWindowsPath(pattern).drive:
        return "a glob relative to the project root"
    segments = pattern.split("/")
    if segments[0] == ".":
        rest = pattern
        while rest.startswith("./"):
            rest = rest[2:]
        return f'a glob without a leading "./" (write "{_whole_directory(rest)}")'
    if segments[-1] == "":
        return f'a glob naming files, not a directory (write "{_whole_directory(pattern)}")'
    if "" in segments:
        return f'a glob without empty segments ("//") (write "{"/".join(filter(None, segments))}")'
    if "." in segments or ".." in segments:
        return 'a glob inside the project root, without "." or ".." segments'
    for segment in segments:
        if "**" in segment and segment != "**":
            hint = "/".join(_split_double_star(s) if "**" in s else s for s in segments)
            return f'a glob with "**" only as a whole path segment (write "{hint}")'
    return None


def _whole_directory(pattern: str) -> str:
    """'' -> '**', 'app/' -> 'app/**': a directory's files, as a glob."""
    return pattern + "**" if not pattern or pattern.endswith("/") else pattern


def _split_double_star(segment: str) -> str:
    """'**.py' -> '**/*.py', 'app**' -> 'app*/**': the pattern the user most likely meant."""
    pieces = segment.split("**")
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if piece:
            if index > 0 and not piece.startswith("*"):
                piece = "*" + piece
            if index < len(pieces) - 1 and not piece.endswith("*"):
                piece += "*"
            parts.append(piece)
        if index < len(pieces) - 1 and (not parts or parts[-1] != "**"):
            parts.append("**")
    return "/".join(parts)
