"""Personas: sample profiles under ``previews/profiles``, validated against the schema."""

from __future__ import annotations

from atomcast.errors import ProfileError, relative_path
from atomcast.paths import name_problem
from atomcast.project.context import LoadContext, locale_problem
from atomcast.project.model import PERSONAS_DIR, Persona
from atomcast.schema import ProfileSchema, validate_profile
from atomcast.yamlsource import YamlSyntaxError, load_yaml


def load_personas(ctx: LoadContext, schema: ProfileSchema) -> dict[str, Persona]:
    """Every persona that validates, by file stem."""
    folder = ctx.root / PERSONAS_DIR
    personas: dict[str, Persona] = {}
    if not folder.is_dir() or ctx.escapes(folder, f"the {PERSONAS_DIR} folder"):
        return personas
    for file in sorted(folder.iterdir()):
        if file.suffix not in (".yaml", ".yml") or not file.is_file():
            continue
        if ctx.escapes(file, "persona"):
            continue
        bad_name = name_problem(file.stem, what="persona name")
        if bad_name:
            ctx.problems.add(file, 1, f"{bad_name} (rename the file)")
            continue
        text = ctx.read_text(file)
        if text is None:
            continue
        try:
            located = load_yaml(text)
        except YamlSyntaxError as exc:
            ctx.problems.add(file, exc.line, str(exc))
            continue
        if not isinstance(located.data, dict):
            ctx.problems.add(file, 1, "a persona must be a mapping of profile attributes")
            continue
        raw = {k: v for k, v in located.data.items() if not k.startswith("_")}
        persona_locale = raw.get("locale")
        if isinstance(persona_locale, str) and locale_problem(persona_locale):
            ctx.problems.add(
                file,
                located.line_of(("locale",)),
                f"persona: {locale_problem(persona_locale)}",
                "warning",
            )
        for key in raw:
            if key not in schema.attributes:
                ctx.problems.add(
                    file,
                    located.line_of((key,)),
                    f"'{key}' is not in the profile schema and is ignored",
                    "warning",
                )
        try:
            profile = validate_profile(schema, raw)
        except ProfileError as exc:
            key_path = tuple((exc.field or "").split(".")) if exc.field else ()
            ctx.problems.add(file, located.line_of(key_path), f"persona: {exc}")
            continue
        description = str(located.data.get("_description", ""))
        personas[file.stem] = Persona(
            file.stem, relative_path(file, ctx.root), description, raw, profile
        )
    return personas
