"""The commented [tool.ci-toolkit] table `ci-toolkit init` writes, made from the detected facts.

Lanes come from the declared markers: a serial-like marker gets a lane without xdist, an
integration-like one a lane of its own, and a `default` lane takes every other test. Each lane's
expression excludes the markers of the lanes before it in priority (serial first), so every test is
selected by exactly one lane whatever markers it combines, and the lanes check passes by construction.

The text always starts with the table's header and ends with a key: `place` relies on both to find and
replace exactly these lines on `init --force`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_toolkit.scaffold.detect import DEFAULT_FLOOR, Facts, Found

SERIAL_MARKERS = ("serial", "sequential", "no_parallel", "nonparallel", "not_parallel", "no_xdist")
LANE_MARKERS = ("integration", "db", "database", "e2e", "functional", "system", "acceptance", "slow")
DEFAULT_LANE = "default"


@dataclass(frozen=True)
class LanePlan:
    name: str
    markers: str | None  # None: every test
    kind: str  # "all", "rest" (the default lane), "marker" or "serial"
    allow_empty: bool = False


def plan_lanes(markers: tuple[str, ...], applied: frozenset[str]) -> tuple[LanePlan, ...]:
    """The lanes for these declared markers: the default lane first (the fast tests report first), then
    one lane per integration-like marker, the serial ones last."""
    declared = set(markers)
    serial = [name for name in SERIAL_MARKERS if name in declared]
    others = [name for name in markers if name in LANE_MARKERS]
    taken: list[str] = []
    lanes: list[LanePlan] = []
    for name in [*serial, *others]:  # priority: a test both serial and integration must run serially
        expression = " and ".join([name, *(f"not {earlier}" for earlier in taken)])
        kind = "serial" if name in serial else "marker"
        lanes.append(LanePlan(name, expression, kind, allow_empty=name not in applied))
        taken.append(name)
    if not taken:
        return (LanePlan("all", None, "all"),)
    rest = LanePlan(DEFAULT_LANE, " and ".join(f"not {marker}" for marker in taken), "rest")
    return (rest, *lanes[len(serial) :], *lanes[: len(serial)])


def toml_string(text: str) -> str:
    """`text` as a TOML basic string."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _lane_lines(lane: LanePlan) -> list[str]:
    lines = ["", "[[tool.ci-toolkit.lanes]]"]
    if lane.kind == "all":
        lines += [
            "# One lane for the whole suite. To split it: mark tests (@pytest.mark.integration), declare",
            '# the marker, give it a lane with markers = "integration" and this one "not integration".',
        ]
    elif lane.kind == "serial":
        lines.append(f"# Tests marked @pytest.mark.{lane.name}: in pytest's own process, one at a time.")
    elif lane.kind == "marker":
        lines += [
            f"# Tests marked @pytest.mark.{lane.name}. A lane can start the servers its tests need:",
            '# services = ["postgres"], with a [tool.ci-toolkit.services.postgres] table (docs/services.md).',
        ]
    else:
        lines.append("# Every test the other lanes do not take: unmarked tests.")
    lines.append(f"name = {toml_string(lane.name)}")
    if lane.markers is not None:
        lines.append(f"markers = {toml_string(lane.markers)}")
    if lane.kind == "serial":
        lines.append("workers = 0")
    if lane.allow_empty:
        lines += [
            "# No test applies this marker yet; once one does, remove allow_empty so that a lane",
            "# selecting nothing (a renamed marker) stops the run.",
            "allow_empty = true",
        ]
    return lines


def _origin(found: Found | None, fallback: str) -> str:
    return f"from {found.origin}" if found is not None else fallback


def render(facts: Facts) -> str:
    """The [tool.ci-toolkit] tables for `facts`, LF line endings, ending in a newline."""
    lanes = plan_lanes(facts.markers, facts.applied)
    lines = [
        "[tool.ci-toolkit]",
        "# Written by `ci-toolkit init`; every key is described in docs/reference/configuration.md.",
        '# xdist workers per lane: "auto" is one per CPU, 0 runs the tests without xdist.',
        'workers = "auto"',
        "# Lanes: one pytest run each, over the tests its `markers` (a pytest -m expression) selects.",
        "# Before any test runs, every collected test must be selected by exactly one lane.",
    ]
    for lane in lanes:
        lines += _lane_lines(lane)
    floor = facts.fail_under.value if facts.fail_under is not None else DEFAULT_FLOOR
    lines += ["", "[tool.ci-toolkit.coverage]"]
    if facts.source is not None:
        entries = ", ".join(toml_string(entry) for entry in facts.source.value)
        lines += [f"# What is measured and judged ({_origin(facts.source, '')}).", f"source = [{entries}]"]
    else:
        lines += [
            "# No package found to measure: name yours, or the gate has nothing to judge.",
            '# source = ["mypackage"]',
        ]
    branch = facts.branch.value if facts.branch is not None else True
    lines += [
        f"# Measure branches as well as lines ({_origin(facts.branch, 'the default')}).",
        f"branch = {'true' if branch else 'false'}",
        f"# The floor for all of the source together ({_origin(facts.fail_under, 'a starting point')}).",
        f"fail_under = {toml_number(floor)}",
        '# Files that must be covered completely, every line and branch, as globs: ["app/payments/**"].',
        "critical = []",
    ]
    return "\n".join(lines) + "\n"
