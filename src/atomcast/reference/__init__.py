"""The configuration reference: JSON Schemas for editors and ``docs/reference.md``."""

from atomcast.reference.jsonschema import atom_json_schema, persona_json_schema, project_json_schema

__all__ = ["atom_json_schema", "persona_json_schema", "project_json_schema"]
