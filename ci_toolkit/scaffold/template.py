"""The GitHub Actions workflow `ci-toolkit init` copies into a project.

The file is the repository's top-level workflows/ci.yml, the one copy there is: ci_toolkit/scaffold/
workflows is a link to that folder, and the wheel carries the file as package data of this package
(pyproject.toml, [tool.setuptools.package-data]), so an installed ci-toolkit reads it the same way.
"""

from __future__ import annotations

from importlib import resources

from ci_toolkit.errors import CiToolkitError

TARGET = (".github", "workflows", "ci.yml")  # where it goes, relative to the project root


def workflow() -> bytes:
    try:
        return resources.files(__package__).joinpath("workflows", "ci.yml").read_bytes()
    except OSError as exc:
        raise CiToolkitError(
            f"the workflow template is missing from this ci-toolkit installation ({exc.strerror or exc}); "
            "reinstall ci-toolkit, or pass --no-workflow"
        ) from None
