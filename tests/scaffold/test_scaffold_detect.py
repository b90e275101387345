"""What `init` reads from a project: packages, declared and applied markers, coverage settings, from
real files in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.scaffold import detect
from ci_toolkit.scaffold.place import parse


def write(root: Path, files: dict[str, str]) -> dict[str, object]:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    pyproject = root / "pyproject.toml"
    return parse(pyproject.read_text(encoding="utf-8"), "pyproject.toml") if pyproject.exists() else {}


def test_markers_from_every_place_pytest_reads_them(tmp_path: Path) -> None:
    document = write(
        tmp_path,
        {
            "pyproject.toml": """\
                [tool.pytest.ini_options]
                markers = ["serial: one at a time", "slow(reason): takes long"]
                """,
            "pytest.ini": "[pytest]\nmarkers =\n    db: needs the database\n    serial\n",
            "setup.cfg": "[tool:pytest]\nmarkers = e2e: end to end\n",
            "tox.ini": "[pytest]\nmarkers =\n  integration: talks to services\n",
        },
    )
    assert detect.declared_markers(tmp_path, document) == ("serial", "slow", "db", "e2e", "integration")


def test_markers_as_one_string_and_pytest_9_table(tmp_path: Path) -> None:
    document = {
        "tool": {"pytest": {"ini_options": {"markers": "a: x\n\nb"}, "markers": ["c: native"]}},
    }
    assert detect.declared_markers(tmp_path, document) == ("a", "b", "c")


def test_applied_markers_are_found_in_python_files_only_outside_virtualenvs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "tests/test_a.py": "import pytest\n\n@pytest.mark.serial\ndef test_x(): pass\n",
            "tests/test_b.py": "pytestmark = [pytest.mark.db]\n",
            "tests/notes.txt": "pytest.mark.integration\n",
            ".venv/lib/x.py": "pytest.mark.integration\n",
            "env/pyvenv.cfg": "",
            "env/lib/y.py": "pytest.mark.integration\n",
            "tests/test_c.py": "pytest.mark.serialized\n",
        },
    )
    found = detect.applied_markers(tmp_path, ("serial", "db", "integration", "e2e"))
    assert found == {"serial", "db"}
    assert detect.applied_markers(tmp_path, ()) == frozenset()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": "[tool.coverage.report]\nfail_under = 91.5\n"}, 91.5),
        ({"pyproject.toml": "", ".coveragerc": "[report]\nfail_under = 77\n"}, 77),
        ({"pyproject.toml": "", "setup.cfg": "[coverage:report]\nfail_under=60\n"}, 60),
        ({"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-ra --cov-fail-under=85"\n'}, 85),
        ({"pyproject.toml": '[tool.pytest.ini_options]\naddopts = ["--cov-fail-under", "70"]\n'}, 70),
        ({"pyproject.toml": "", "pytest.ini": "[pytest]\naddopts = --cov=app --cov-fail-under 65\n"}, 65),
        # coverage.py's own setting wins over pytest-cov's option
        (
            {
                "pyproject.toml": "[tool.coverage.report]\nfail_under = 90\n[tool.pytest.ini_options]\n"
                'addopts = "--cov-fail-under=50"\n'
            },
            90,
        ),
    ],
)
def test_the_floor_the_project_already_has(tmp_path: Path, files: dict[str, str], expected: float) -> None:
    found = detect.fail_under(tmp_path, write(tmp_path, files))
    assert found is not None and found.value == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[tool.coverage.report]\nfail_under = true\n",
        "[tool.coverage.report]\nfail_under = 150\n",
        '[tool.pytest.ini_options]\naddopts = "--cov-fail-under=lots"\n',
        '[tool.pytest.ini_options]\naddopts = "--cov-fail-under"\n',
    ],
)
def test_no_usable_floor(tmp_path: Path, text: str) -> None:
    assert detect.fail_under(tmp_path, write(tmp_path, {"pyproject.toml": text})) is None


def test_cov_fail_under_takes_the_last_and_survives_bad_quoting() -> None:
    assert detect.cov_fail_under("--cov-fail-under=10 --cov-fail-under=20") == "20"
    assert detect.cov_fail_under("-k 'unclosed --cov-fail-under=30") == "30"
    assert detect.cov_fail_under("--cov=app") is None


def test_branch(tmp_path: Path) -> None:
    assert detect.branch(tmp_path, {"tool": {"coverage": {"run": {"branch": False}}}}).value is False
    write(tmp_path, {".coveragerc": "[run]\nbranch = yes\n"})
    assert detect.branch(tmp_path, {}).value is True
    (tmp_path / ".coveragerc").write_text("[run]\nbranch = maybe\n", encoding="utf-8")
    assert detect.branch(tmp_path, {}) is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": '[tool.coverage.run]\nsource = ["app", "lib"]\n'}, ("app", "lib")),
        ({"pyproject.toml": "", "setup.cfg": "[coverage:run]\nsource = app, lib\n"}, ("app", "lib")),
        ({"pyproject.toml": '[tool.setuptools]\npackages = ["app", "app.sub", "tool"]\n'}, ("app", "tool")),
        (
            {"pyproject.toml": '[tool.hatch.build.targets.wheel]\npackages = ["src/app", "src/x*"]\n'},
            ("src/app",),
        ),
        (
            {
                "pyproject.toml": '[tool.poetry]\npackages = [{include = "app", from = "src/"}, '
                '{include = "cli"}, {include = "g*"}, "odd"]\n'
            },
            ("src/app", "cli"),
        ),
        ({"pyproject.toml": "", "src/app/__init__.py": "", "src/app/sub/__init__.py": ""}, ("src/app",)),
        ({"pyproject.toml": "", "app/__init__.py": "", "tests/__init__.py": ""}, ("app",)),
    ],
)
def test_source(tmp_path: Path, files: dict[str, str], expected: tuple[str, ...]) -> None:
    found = detect.source(tmp_path, write(tmp_path, files))
    assert found is not None and found.value == expected


def test_no_source_found(tmp_path: Path) -> None:
    assert detect.source(tmp_path, write(tmp_path, {"pyproject.toml": "", "scripts/run.py": ""})) is None


def test_a_broken_ini_file_is_one_line_naming_it(tmp_path: Path) -> None:
    write(tmp_path, {"setup.cfg": "this is not ini\n"})
    with pytest.raises(ConfigError, match=r"setup\.cfg: cannot read it") as info:
        detect.declared_markers(tmp_path, {})
    assert "\n" not in str(info.value)


def test_detect_gathers_it_all(tmp_path: Path) -> None:
    document = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nmarkers = ["db: x"]\n',
            "app/__init__.py": "",
            "tests/test_db.py": "@pytest.mark.db\ndef test(): pass\n",
        },
    )
    facts = detect.detect(tmp_path, document)
    assert facts.markers == ("db",) and facts.applied == {"db"}
    assert facts.source is not None and facts.source.value == ("app",)
    assert facts.fail_under is None and facts.branch is None
