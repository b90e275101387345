"""The versions of its dependencies ci-toolkit declares, checked against those installed.

ci-toolkit plugs into pytest's and pytest-xdist's internals, and reads coverage.py's data; a project that
pins one of them below what ci-toolkit supports (pip only warns about the conflict) would otherwise meet an
ImportError deep inside a run, or an INTERNALERROR that leaves a lane summary half green. So the commands
that run pytest, and the pytest plugin when one of its features is asked for, check first and stop with one
line naming the package, the version found and the range needed.

The ranges are read from ci-toolkit's own installed metadata (pyproject.toml's `dependencies`), so they are
declared in one place. Inside the supported range, differences between versions are feature-detected where
they are used, never compared by version string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

DISTRIBUTION = "ci-toolkit"


def problems(
    requirements: Iterable[str], installed: Callable[[str], str | None], python: str | None = None
) -> list[str]:
    """One line for each of `requirements` (Requires-Dist strings; those for an extra, or whose marker does
    not hold, are left out) that `installed` (distribution name -> its version, None when not installed)
    does not satisfy. `python`: the Python version the markers are evaluated for (this one's by default)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    found: list[str] = []
    env = {"extra": ""} if python is None else {"extra": "", "python_version": python}
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:  # not ours to judge: pip installed it
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        version = installed(requirement.name)
        needed = f"{requirement.name}{requirement.specifier}"
        if version is None:
            found.append(f"{requirement.name} is not installed; ci-toolkit needs {needed}")
            continue
        try:
            ok = requirement.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            continue  # a local build with a version PEP 440 cannot read: let it try
        if not ok:
            found.append(f"{requirement.name} {version} is installed; ci-toolkit needs {needed}")
    return found


def installed_problems() -> list[str]:
    """`problems` of this environment: ci-toolkit's declared requirements against the installed versions.
    Nothing when ci-toolkit itself is not installed (run from a source tree): nothing declares a range."""
    from importlib import metadata

    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return problems(requirements, version)


def message(found: list[str]) -> str:
    """The one line a command or the plugin stops with."""
    return f"{'; '.join(found)} (pip install what it needs, or a ci-toolkit release that supports yours)"
