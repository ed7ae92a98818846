"""docs/reference.md against the models: every documented key exists, every model field is
documented, every example passes ``check`` and every mistake gives the error the page says.
The page is regenerated from the outcomes and must equal the committed file."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import BaseModel

from atomcast import models
from atomcast.reference import atom_json_schema, project_json_schema
from atomcast.reference.keys import COMMON_ATOM_FIELDS, KEYS, KIND_FIELDS, Edit
from atomcast.reference_page import (
    SECTIONS,
    Sandbox,
    edit_key,
    parse_page,
    reference_markdown,
    sandbox,
)

from .conftest import ROOT
from .test_cli import atomcast

PAGE = ROOT / "docs" / "reference.md"
_ROW = re.compile(r"^\| `([^`]+)` \|", re.M)


def _documented_keys() -> set[str]:
    return set(_ROW.findall(PAGE.read_text(encoding="utf-8")))


def _model_keys() -> set[str]:
    keys = {prefix + name for model, _, prefix in SECTIONS for name in model.model_fields}
    keys |= set(COMMON_ATOM_FIELDS)
    return keys


def test_documented_keys_are_the_models_keys() -> None:
    documented = _documented_keys()
    expected = _model_keys()
    assert expected <= documented, sorted(expected - documented)
    extra = {k for k in documented - expected if not k.startswith(("email.", "push.", "persona."))}
    # Kind rows name the kinds themselves.
    assert extra <= set(KIND_FIELDS), sorted(extra - set(KIND_FIELDS))


def test_every_model_field_has_words_an_example_and_a_mistake() -> None:
    documented_models: list[type[BaseModel]] = [m for m, _, _ in SECTIONS] + [models.AtomSpec]
    for model in documented_models:
        assert set(KEYS[model]) == set(model.model_fields), model.__name__
        for name, doc in KEYS[model].items():
            assert doc.description, (model.__name__, name)
            assert doc.example is not None, (model.__name__, name)
            assert doc.mistake is not None, (model.__name__, name)
    kind_specific = set(models.AtomSpec.model_fields) - set(COMMON_ATOM_FIELDS)
    assert set().union(*KIND_FIELDS.values()) == kind_specific
    assert set(KIND_FIELDS) == set(models.KINDS)
    for kind, required in models.REQUIRED_FIELDS.items():
        assert set(required) <= set(KIND_FIELDS[kind]), kind


class _Memo:
    def __init__(self, box: Sandbox, seen: dict[str, list[str]]) -> None:
        self.box = box
        self.seen = seen

    def outcome(self, edit: Edit) -> list[str]:
        key = edit_key(edit)
        if key not in self.seen:
            self.seen[key] = self.box.outcome(edit)
        return self.seen[key]


@pytest.mark.slow
def test_every_example_checks_and_every_mistake_gives_its_error() -> None:
    text = PAGE.read_text(encoding="utf-8")
    documented = parse_page(text)
    assert len(documented) > 120
    seen: dict[str, list[str]] = {}
    with sandbox() as box:
        for item in documented:
            outcome = box.outcome(item.edit)
            seen[edit_key(item.edit)] = outcome
            errors = [line for line in outcome if ": error: " in line]
            if item.kind == "example":
                assert not errors, (item.edit, errors)
            else:
                assert item.said, item.edit
                assert item.said in outcome, (item.edit, item.said, outcome)
        # Nothing but the outcomes above is needed to write the page again: it must match.
        fresh = reference_markdown(_Memo(box, seen))
    assert fresh == text, "docs/reference.md is stale: run `make reference`"


def test_json_schemas_follow_the_models_and_carry_descriptions() -> None:
    config = project_json_schema()
    assert set(config["properties"]) == set(models.ProjectConfig.model_fields)
    brand = config["$defs"]["BrandConfig"]["properties"]
    assert brand["logo_url"]["description"].startswith("The logo")
    assert config["$defs"]["BrandConfig"]["additionalProperties"] is False
    atom = atom_json_schema()
    assert set(atom["properties"]) == set(models.AtomSpec.model_fields)
    assert atom["properties"]["kind"]["description"]


@pytest.mark.slow
def test_schema_command_prints_json_for_config_atom_and_persona() -> None:
    for kind in ("config", "atom"):
        result = atomcast("schema", "--kind", kind)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["$schema"].startswith("https://json-schema.org/")
    result = atomcast("schema", str(ROOT), "--kind", "persona")
    assert result.returncode == 0, result.stderr
    persona = json.loads(result.stdout)
    assert persona["properties"]["consent"]["properties"]["sms"]["type"] == "boolean"
    assert persona["required"] == ["id"]
