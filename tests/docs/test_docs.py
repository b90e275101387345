"""The manual and the README: the site builds strictly, the README stays short and its links resolve.

`mkdocs build --strict` fails on a page missing from the nav, a link to a page or anchor that does not exist,
and any other warning, so a moved page or a renamed heading cannot leave a dead link behind.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import cli_env

from ci_toolkit import config

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_README_LINES = 150
# [text](target) in Markdown; images too. Targets in angle brackets or with titles are not used here.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def readme_blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text(encoding="utf-8")) if lang == language]


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    targets = (target.split("#", 1)[0] for target in LINK.findall(text))
    return [t for t in targets if t and not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_the_manual_builds_strictly(tmp_path: Path) -> None:
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[test]' brings it)")
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
    env = cli_env(extra={"NO_MKDOCS_2_WARNING": "1"})
    run = subprocess.run(
        [*command, "--site-dir", str(site)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )

    assert run.returncode == 0, run.stdout + run.stderr
    for page in ("index.html", "architecture/index.html", "reference/cli/index.html"):
        assert (site / page).is_file(), page


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; the manual belongs in docs/"


@pytest.mark.parametrize("page", [README, ROOT / "benchmarks" / "README.md"], ids=["README", "benchmarks"])
def test_every_relative_link_points_at_a_file(page: Path) -> None:
    links = relative_links(page)
    assert links, f"{page} links nowhere: the test would prove nothing"
    missing = [t for t in links if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_readme_keeps_the_two_set_up_commands() -> None:
    """The commands a fresh machine runs: tests/test_example_fastapi.py runs the first one's `local` on the
    example, .ci/run the second."""
    shell = [block.strip() for block in readme_blocks("sh")]
    assert shell[:2] == [
        "python3 -m pip install -e '.[embedded]' -r examples/fastapi-postgres/requirements.txt"
        " && cd examples/fastapi-postgres && ci-toolkit local",
        "bash tests/run.sh",
    ]


def test_the_readme_configuration_is_valid(tmp_path: Path) -> None:
    (example,) = readme_blocks("toml")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "app"\n\n' + example, encoding="utf-8")

    loaded = config.load(pyproject)

    assert [lane.name for lane in loaded.lanes] == ["unit", "integration"]
    assert loaded.coverage.fail_under == 85
