"""The configuration reference page, generated from the key table (ci_toolkit.config.keys).

`python -m ci_toolkit.config.reference` prints it; `--write` writes docs/reference/configuration.md (run
from the project root). A test fails when the committed page differs from what this renders.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.config.keypath import show_value
from ci_toolkit.config.keys import COVERAGE, LANE, REQUIRED, SERVICE, TEMPLATE_FIELD_HELP, TOP, Option, Table
from ci_toolkit.config.parser import parse
from ci_toolkit.config.patterns import RULES
from ci_toolkit.errors import ConfigError
from ci_toolkit.files.atomic import write_text
from ci_toolkit.services import kinds, templates
from ci_toolkit.services.base import KINDS, ServiceSpec

PAGE = Path("docs/reference/configuration.md")
COMMAND = "python -m ci_toolkit.config.reference --write"

# Mistakes whose messages the page shows, produced by the parser itself so that they cannot drift.
_SAMPLE_MISTAKES: tuple[Mapping[str, Any], ...] = (
    {"coverage": {"paths": {"app/**": "high"}}},
    {"coverage": {"fail_undr": 80}},
    {
        "lanes": [{"name": "unit"}, {"name": "it", "services": ["pg"]}],
        "services": {"db": {"kind": "postgres"}},
    },
)


def render() -> str:
    """The whole page, as Markdown."""
    blocks = [
        "# Configuration reference",
        f"<!-- Generated from ci_toolkit/config/keys.py by `{COMMAND}`: edit the table, not this page. -->",
        "ci-toolkit reads `[tool.ci-toolkit]` from the file `--config PATH` names, or else from the nearest "
        "`pyproject.toml` in the current directory or one of its parents; the directory of that file is the "
        "project root, which relative paths start from. Everything is checked before anything runs: an "
        "unknown key, a wrong type or a value out of range stops the run (exit code 2) with one line naming "
        "the file, the key, what was expected and what was found. An unknown key comes with the closest "
        "valid one:",
        _fence("text", "\n".join(_message(mistake) for mistake in _SAMPLE_MISTAKES)),
        *_table_section(TOP),
        *_table_section(LANE),
        *_table_section(COVERAGE),
        "## Glob patterns",
        *RULES,
        *_table_section(SERVICE),
        "### Template fields",
        "An `export` template may use these placeholders. In a "
        "template that is a URL (it contains `://`), `{user}`, `{password}` and `{database}` are "
        "percent-encoded; elsewhere every value is inserted as it is. Only plain `{field}` placeholders are "
        "accepted: `{port:>6}` and `{user!r}` are refused.",
        _markdown_table(
            ("Field", "Value"), [(f"`{{{name}}}`", text) for name, text in TEMPLATE_FIELD_HELP.items()]
        ),
        "### Defaults per kind",
        "What a service gets for the keys it leaves out. The image tag shown is the kind's default "
        "version; `version` replaces it.",
        _markdown_table(
            ("Kind", "`user`", "`password`", "`database`", "Server port", "Docker image", "Default export"),
            [_kind_row(kind) for kind in KINDS],
        ),
    ]
    return "\n\n".join(blocks) + "\n"


def _table_section(table: Table) -> list[str]:
    blocks = [f"## `{table.header}`", table.about, _fence("toml", table.example.rstrip("\n"))]
    for option in table:
        blocks += [
            f"### `{option.name}`",
            f"- **Type:** {option.type}\n- **Default:** {_default(option)}",
            option.help,
        ]
    return blocks


def _default(option: Option) -> str:
    if option.shown is not None:
        return option.shown
    if option.default is REQUIRED:
        return "required"
    value = option.default
    if isinstance(value, Path):
        value = value.as_posix()
    elif isinstance(value, tuple):
        value = list(value)
    return f"`{show_value(value, limit=200)}`"


def _message(table: Mapping[str, Any]) -> str:
    try:
        parse({"tool": {"ci-toolkit": table}}, "pyproject.toml", cwd=Path("/"))
    except ConfigError as exc:
        return str(exc)
    raise AssertionError(f"not a mistake: {table}")  # pragma: no cover - a broken sample, caught by the tests


def _kind_row(kind: str) -> tuple[str, ...]:
    info = kinds.get(kind)
    spec = ServiceSpec(name=kind, kind=kind)
    user, password, database = info.credentials(spec)
    with_password = templates.exports(ServiceSpec(name=kind, kind=kind, password="secret"))
    exported = " ".join(f"`{template}`" for template in templates.exports(spec).values())
    if with_password != templates.exports(spec):
        exported += "; with a `password`: " + " ".join(f"`{t}`" for t in with_password.values())
    return (
        f"`{kind}`",
        f"`{show_value(user)}`",
        f"`{show_value(password)}`",
        f"`{show_value(database)}`",
        str(info.default_port) if info.default_port else "none",
        f"`{info.docker_image(spec)}`" if info.image else "`image` (required with docker)",
        exported or "none: `export` is required",
    )


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _fence(language: str, text: str) -> str:
    return f"```{language}\n{text}\n```"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ci_toolkit.config.reference",
        description="Print the configuration reference, or write it to the docs.",
    )
    parser.add_argument(
        "--write",
        nargs="?",
        const=str(PAGE),
        metavar="PATH",
        help=f"write the page to PATH (default: {PAGE}, from the project root) instead of printing it",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.write is None:
        sys.stdout.write(text)
        return 0
    path = Path(args.write)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
