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

import operator
import re
import sys
from collections.abc import Callable, Iterable

DISTRIBUTION = "ci-toolkit"

# The shapes ci-toolkit's own requirements take, decided here without `packaging`: importing it was most
# of the check's cost, and the check runs in every pytest session that uses one of our options. Any other
# operator, marker or version form is `packaging`'s to decide.
_FLOOR = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*(?P<floor>\d+(?:\.\d+)*)")
_EXTRA = re.compile(r"extra\s*==\s*(\"[^\"]*\"|'[^']*')")
_PYTHON = re.compile(
    r"python_version\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<q>[\"'])(?P<version>\d+(?:\.\d+)*)(?P=q)"
)
_RELEASE = re.compile(r"\d+(?:\.\d+)*")
_OPERATORS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


def problems(
    requirements: Iterable[str], installed: Callable[[str], str | None], python: str | None = None
) -> list[str]:
    """One line for each of `requirements` (Requires-Dist strings; those for an extra, or whose marker does
    not hold, are left out) that `installed` (distribution name -> its version, None when not installed)
    does not satisfy. `python`: the Python version the markers are evaluated for (this one's by default).
    The lines come in the order of `requirements` where only simple ones fail, the simple ones first
    otherwise."""

    found: list[str] = []
    env = {"extra": ""} if python is None else {"extra": "", "python_version": python}
    complex_ones: list[str] = []
    for text in requirements:
        verdict = _simple_problem(text, installed, python)
        if verdict is None:
            complex_ones.append(text)
        elif verdict:
            found.append(verdict)
    if not complex_ones:
        return found
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    for text in complex_ones:
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


def _simple_problem(text: str, installed: Callable[[str], str | None], python: str | None) -> str | None:
    """For a requirement of a shape decided here (an extra's, or `name>=X.Y` with at most a python_version
    marker, installed as a plain release or not at all): its problem, "" for none. None for anything
    `packaging` must decide."""
    spec, _, marker = (part.strip() for part in text.partition(";"))
    if marker and _EXTRA.fullmatch(marker):
        return ""  # an extra's requirement: not needed for ci-toolkit to run
    match = _FLOOR.fullmatch(spec)
    if match is None:
        return None
    if marker:
        python_marker = _PYTHON.fullmatch(marker)
        current = python if python is not None else f"{sys.version_info[0]}.{sys.version_info[1]}"
        if python_marker is None or not _RELEASE.fullmatch(current):
            return None
        if not _OPERATORS[python_marker["op"]](_release(current), _release(python_marker["version"])):
            return ""
    name = match["name"]
    needed = f"{name}>={match['floor']}"
    version = installed(name)
    if version is None:
        return f"{name} is not installed; ci-toolkit needs {needed}"
    if not _RELEASE.fullmatch(version):
        return None  # a pre-, post- or dev release, a local build: PEP 440's rules, packaging's
    if _release(version) < _release(match["floor"]):
        return f"{name} {version} is installed; ci-toolkit needs {needed}"
    return ""


def _release(text: str) -> tuple[int, ...]:
    """A release's numbers as PEP 440 compares them: trailing zeros do not count (8.0 == 8.0.0)."""
    numbers = [int(part) for part in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


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
