"""JSON Schemas of the files editors write, for completion in editors (YAML language server).

Built by pydantic from the same models ``check`` validates with, with the reference's
descriptions attached to each property so editors show them on hover.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from atomcast import models
from atomcast.reference.keys import KEYS
from atomcast.schema import ProfileSchema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMA_TYPES = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "list": {"type": "array"},
    "object": {"type": "object"},
}


def _describe(schema: dict[str, Any], model: type[BaseModel]) -> None:
    docs = KEYS.get(model, {})
    for name, prop in schema.get("properties", {}).items():
        if name in docs:
            prop["description"] = docs[name].description


def _model_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    _describe(schema, model)
    by_name = {cls.__name__: cls for cls in KEYS}
    for name, definition in schema.get("$defs", {}).items():
        if name in by_name:
            _describe(definition, by_name[name])
    return {"$schema": DRAFT, "title": title, **schema}


def project_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``atomcast.yaml``."""
    return _model_schema(models.ProjectConfig, "atomcast.yaml")


def atom_json_schema() -> dict[str, Any]:
    """The JSON Schema of an atom's front matter."""
    return _model_schema(models.AtomSpec, "atom front matter")


def persona_json_schema(schema: ProfileSchema) -> dict[str, Any]:
    """The JSON Schema of a project's persona files, from its profile schema."""

    def one(spec: Any) -> dict[str, Any]:
        out: dict[str, Any] = dict(_SCHEMA_TYPES[spec.type])
        if spec.description:
            out["description"] = spec.description
        if spec.type == "object" and spec.properties:
            out["properties"] = {k: one(v) for k, v in spec.properties.items()}
        return out

    properties = {name: one(spec) for name, spec in schema.attributes.items()}
    properties["_description"] = {
        "type": "string",
        "description": "Shown under the persona's name in the preview.",
    }
    return {
        "$schema": DRAFT,
        "title": "persona",
        "type": "object",
        "properties": properties,
        "required": sorted(n for n, s in schema.attributes.items() if s.required),
        "patternProperties": {"^_": {}},
        "additionalProperties": False,
    }


__all__ = ["atom_json_schema", "persona_json_schema", "project_json_schema"]
