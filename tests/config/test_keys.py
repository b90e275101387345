"""The key table: one row per key drives the parser, the model's defaults and the reference, so they agree."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import COVERAGE_KEYS, LANE_KEYS, TOP_KEYS, Config, CoverageConfig, Lane, parse
from ci_toolkit.config.keys import (
    COVERAGE,
    LANE,
    REQUIRED,
    SERVICE,
    TABLES,
    TEMPLATE_FIELD_HELP,
    TOP,
    Table,
)
from ci_toolkit.config.parser import _Parser
from ci_toolkit.config.services import SERVICE_KEYS, ServiceTables
from ci_toolkit.services.base import TEMPLATE_FIELDS, ServiceSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MODELS = [(TOP, Config), (LANE, Lane), (COVERAGE, CoverageConfig), (SERVICE, ServiceSpec)]
STRUCTURED = {"lanes", "coverage", "services"}  # top-level keys whose defaults are built from their tables


def field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return REQUIRED if field.default is dataclasses.MISSING else field.default


@pytest.mark.parametrize(("table", "model"), MODELS, ids=lambda item: getattr(item, "__name__", ""))
def test_every_field_is_a_row_with_the_same_default(table: Table, model: type) -> None:
    fields = {field.name: field for field in dataclasses.fields(model) if field.name not in ("root", "path")}
    assert set(table.names) == set(fields) - ({"name"} if model is ServiceSpec else set())
    for option in table:
        if model is Config and option.name in STRUCTURED:
            assert option.default is None and option.shown, option.name
        else:
            assert field_default(fields[option.name]) == option.default, option.name


def test_class_attributes_are_the_table_defaults() -> None:
    # Other modules read defaults as Config.<field>.
    assert Config.timings_alpha == 0.3 == TOP.defaults["timings_alpha"]
    assert Config.output_dir == Path(".ci-toolkit")
    assert Config.timings == Path(".ci-toolkit/timings.json")
    assert (Config.workers, Config.scheduler, Config.shard_overhead) == ("auto", "duration", "auto")
    assert Lane.workers is None and CoverageConfig.branch is True


def test_the_public_key_lists_come_from_the_table() -> None:
    assert (TOP.names, LANE.names, COVERAGE.names) == (TOP_KEYS, LANE_KEYS, COVERAGE_KEYS)


def test_service_rows_are_the_keys_the_services_parser_reads() -> None:
    assert SERVICE.names == SERVICE_KEYS
    assert all(option.check is None for option in SERVICE)  # parsed by ci_toolkit.config.services


@pytest.mark.parametrize("table", [TOP, LANE, COVERAGE], ids=lambda table: table.header)
def test_every_row_names_a_check_the_parser_has(table: Table) -> None:
    for option in table:
        assert callable(getattr(_Parser, str(option.check), None)), option.name
    assert issubclass(_Parser, ServiceTables)


def test_needs_are_top_level_keys_read_before_the_table_that_uses_them() -> None:
    read_at = {LANE.header: TOP.names.index("lanes"), COVERAGE.header: TOP.names.index("coverage")}
    for table in (TOP, LANE, COVERAGE):
        for option in table:
            before = TOP.names.index(option.name) if table is TOP else read_at[table.header]
            for name in option.needs:
                assert TOP.names.index(name) < before, (option.name, name)
    assert LANE["services"].needs == ("services",) and TOP["timings"].needs == ("output_dir",)


def test_rows_say_what_the_reference_needs() -> None:
    for table in TABLES:
        for option in table:
            assert option.type and option.help.endswith("."), option.name
            assert option.default is not None or option.shown, option.name
    assert [option.name for table in TABLES for option in table if option.default is REQUIRED] == [
        "name",
        "kind",
    ]
    assert repr(REQUIRED) == "REQUIRED"
    assert tuple(TEMPLATE_FIELD_HELP) == TEMPLATE_FIELDS
    with pytest.raises(KeyError):
        TOP["no_such_key"]


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.header)
def test_every_example_parses_and_sets_only_its_own_keys(table: Table, tmp_path: Path) -> None:
    document = tomllib.loads(table.example)
    config = parse(document, tmp_path / "pyproject.toml", cwd=tmp_path)
    assert config != Config(root=tmp_path, path=tmp_path / "pyproject.toml")
    tool = document["tool"]["ci-toolkit"]
    found = {
        TOP.header: tool,
        LANE.header: (tool.get("lanes") or [{}])[0],
        COVERAGE.header: tool.get("coverage", {}),
        SERVICE.header: next(iter(tool.get("services", {"": {}}).values())),
    }[table.header]
    assert found and set(found) <= set(table.names)
