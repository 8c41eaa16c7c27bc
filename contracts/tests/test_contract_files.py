"""The checked-in contract files: fresh, backward compatible, and describing exactly the topics in use."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from contracts.compat import breaking_changes
from contracts.export import check, render_schemas, write_all
from contracts.topics import load_topics

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def test_checked_in_contract_files_are_up_to_date():
    assert check() == [], "run `make contracts` and commit the result"


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "contracts"
    shutil.copytree(REPO / "contracts", copy, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    return copy


def test_a_stale_schema_file_is_reported(contracts_copy: Path):
    path = contracts_copy / "schemas" / "zalo.events.v1.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["text"]["description"] = "edited by hand"
    path.write_text(json.dumps(schema, indent=2))
    assert check(contracts_copy) == ["zalo.events.v1.schema.json: stale (run `make contracts`)"]


def test_a_breaking_change_against_the_committed_schema_is_reported(contracts_copy: Path):
    # The committed schema gains a field the current model does not have: to the check, the model
    # "removed" it — exactly what a developer deleting a field would produce.
    path = contracts_copy / "schemas" / "reports.submitted.v1.schema.json"
    committed = json.loads(path.read_text())
    committed["properties"]["reporter_phone"] = {"type": "string"}
    path.write_text(json.dumps(committed))
    problems = check(contracts_copy)
    assert "reports.submitted.v1: $.reporter_phone: removed" in problems


def test_write_all_regenerates_what_check_accepts(contracts_copy: Path):
    (contracts_copy / "asyncapi.yaml").write_text("stale")
    write_all(contracts_copy)
    assert check(contracts_copy) == []


def _schema() -> dict:
    return json.loads(render_schemas()["reports.submitted.v1"])


def test_removing_a_field_breaks():
    new = _schema()
    del new["properties"]["place_text"]
    assert breaking_changes(_schema(), new) == ["$.place_text: removed"]


def test_retyping_a_field_breaks():
    new = _schema()
    new["properties"]["anonymous"] = {"type": "string"}
    assert breaking_changes(_schema(), new) == ["$.anonymous: retyped from ['boolean'] to ['string']"]


def test_making_an_optional_field_required_breaks():
    new = _schema()
    new["required"] = [*new["required"], "place_text"]
    assert breaking_changes(_schema(), new) == ["$.place_text: optional field made required"]


def test_a_nested_change_is_found_through_refs():
    new = _schema()
    new["$defs"]["Location"]["properties"]["latitude"] = {"type": "string"}
    assert breaking_changes(_schema(), new) == ["$.location.latitude: retyped from ['number'] to ['string']"]


def test_adding_an_optional_field_or_widening_a_type_is_compatible():
    new = _schema()
    new["properties"]["channel"] = {"type": "string", "default": "zalo"}
    new["properties"]["category"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(_schema(), new) == []


def test_asyncapi_lists_exactly_the_topics_of_the_catalogue_and_the_code():
    doc = yaml.safe_load((REPO / "contracts" / "asyncapi.yaml").read_text())
    assert doc["asyncapi"].startswith("3.")
    documented = {c["address"] for c in doc["channels"].values()}
    catalogue = {t.name for t in load_topics()}
    assert documented == catalogue

    # Every topic the services' code refers to (by constant or by name) is in the catalogue, and
    # every catalogue topic (dead-letter topics aside) is used by some service code.
    import contracts.topics as topics_module

    constants = {
        name: value
        for name, value in vars(topics_module).items()
        if name.isupper() and isinstance(value, str) and value in catalogue
    }
    literal = re.compile(r"""["']((?:zalo|citizen|conversation|reports|news)\.[a-z-]+\.v\d+)["']""")
    used: set[str] = set()
    for folder in ("services", "servicekit", "zalosim"):
        for py in (REPO / folder).rglob("*.py"):
            if "tests" in py.parts:
                continue
            code = py.read_text(encoding="utf-8")
            used.update(literal.findall(code))
            used.update(value for name, value in constants.items() if re.search(rf"\b{name}\b", code))
    assert used - catalogue == set(), "code uses topics that are not in contracts/topics.toml"
    unused = {t.name for t in load_topics() if t.dead_letter_of is None} - used
    assert unused == set(), f"catalogue topics no service uses: {sorted(unused)}"
