"""``docs/reference.md``, generated: the models give types and defaults,
:mod:`atomcast.reference.keys` gives the words and the edits, and ``check`` itself gives the
error each mistake produces.

Examples are edits of the project ``atomcast init`` writes. The page embeds each edit in an
HTML comment (``<!-- ref:example file=... at=/a/b -->``) before its YAML block, so a test can
read the page back, apply every edit and check that examples pass and mistakes give the
documented error.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from atomcast import models
from atomcast.errors import ReferenceDocError
from atomcast.limits import Limits
from atomcast.reference.keys import (
    COMMON_ATOM_FIELDS,
    EMAIL_KEYS,
    KEYS,
    KIND_FIELDS,
    PERSONA_KEYS,
    PUSH_KEYS,
    SNIPPET_EXAMPLE,
    SNIPPET_MISTAKE,
    Edit,
    FileKey,
)

#: Model -> (section title, how its keys are written in the page, anchor).
SECTIONS: tuple[tuple[type[BaseModel], str, str], ...] = (
    (models.ProjectConfig, "Top level", ""),
    (models.BrandConfig, "brand", "brand."),
    (models.LocalesConfig, "locales", "locales."),
    (models.AttributeConfig, "profile attributes", "profile.NAME."),
    (models.CampaignConfig, "campaigns", "campaigns.NAME."),
    (models.ChannelConfig, "channels", "campaigns.NAME.channels.CHANNEL."),
    (models.SlotConfig, "slots", "campaigns.NAME.slots.SLOT."),
    (models.ExperimentConfig, "experiments", "campaigns.NAME.experiments.NAME."),
    (models.AssetsConfig, "assets", "assets."),
    (models.MetricConfig, "metrics", "metrics.NAME."),
    (Limits, "limits", "limits."),
)
_MODEL_NAMES = {
    models.BrandConfig: "brand",
    models.LocalesConfig: "locales",
    models.AttributeConfig: "attribute",
    models.CampaignConfig: "campaign",
    models.ChannelConfig: "channel settings",
    models.SlotConfig: "slot",
    models.ExperimentConfig: "experiment",
    models.AssetsConfig: "assets",
    models.MetricConfig: "metric",
    Limits: "limits",
}
_COMMENT = re.compile(r"<!-- ref:(example|mistake) (.*?) -->")


# -- types and defaults ------------------------------------------------------------------


def type_text(annotation: Any) -> str:
    """A reader's name for a field type: ``list of string``, ``mapping of name to slot``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_text(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is tuple:
        return "[" + ", ".join(type_text(a) for a in args) + "]"
    if origin is dict:
        return f"mapping of name to {type_text(args[1])}"
    if annotation is typing.Any:
        return "condition"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _MODEL_NAMES.get(annotation, annotation.__name__)
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        dt.date: "date (YYYY-MM-DD)",
    }.get(annotation, str(annotation))


def _constraints(info: FieldInfo) -> str:
    words: list[str] = []
    for item in info.metadata:
        for name, label in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, name, None)
            if value is not None:
                words.append(f"{label} {value}")
        if getattr(item, "min_length", None):
            words.append(f"at least {item.min_length}")
        if getattr(item, "pattern", None):
            words.append(f"matches `{item.pattern}`")
    return ", ".join(words)


def default_text(info: FieldInfo) -> str:
    """``required``, or the default a missing key takes."""
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        made = info.default_factory()  # type: ignore[call-arg]
        if isinstance(made, BaseModel):
            return "default: all defaults"
        return f"default: `{_inline(made)}`"
    if info.default is None:
        return "optional"
    return f"default: `{_inline(info.default)}`"


def _inline(value: Any) -> str:
    if value == "":
        return '""'
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1000)
    return text.strip().removesuffix("...").strip()


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=1000)


# -- applying edits ----------------------------------------------------------------------


def _split(text: str) -> tuple[str, str] | None:
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---\n", 4)
    if end < 0:
        return None
    return text[4 : end + 1], text[end + 5 :]


def apply_edit(root: Path, edit: Edit) -> None:
    """Apply ``edit`` to the project in ``root``, creating the file when it is missing."""
    path = root / edit.file
    text = path.read_text(encoding="utf-8") if path.exists() else "---\n{}\n---\n"
    front = path.suffix in (".md", ".mjml")
    body = ""
    if front:
        parts = _split(text)
        if parts is None:
            raise ReferenceDocError(f"{edit.file}: no front matter to edit")
        meta_text, body = parts
        data = yaml.safe_load(meta_text) or {}
    else:
        data = yaml.safe_load(text) or {}
    target = data
    for key in edit.at:
        target = target.setdefault(key, {})
    if edit.delete is not None:
        target.pop(edit.delete, None)
    for key, value in (edit.values or {}).items():
        target[key] = value
    dumped = _yaml(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{dumped}---\n{body}" if front else dumped, encoding="utf-8")


class Outcomes(Protocol):
    """Anything that tells what ``check`` says about an edit (a :class:`Sandbox`, a memo)."""

    def outcome(self, edit: Edit) -> list[str]: ...


def edit_key(edit: Edit) -> str:
    """A stable text of an edit, to remember outcomes by."""
    return _comment("edit", edit) + (_yaml(edit.values) if edit.values else "")


@dataclass(slots=True)
class Sandbox:
    """A starter project in a temporary folder; each edit is undone after its check."""

    root: Path

    def outcome(self, edit: Edit) -> list[str]:
        """Every problem ``check`` reports with ``edit`` applied, errors first."""
        from atomcast.check import check_project

        path = self.root / edit.file
        before = path.read_bytes() if path.exists() else None
        try:
            apply_edit(self.root, edit)
            problems = check_project(self.root)
        finally:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(before)
        ordered = sorted(problems, key=lambda p: (not p.is_error,))
        return [str(p) for p in ordered]


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A fresh starter project for the duration of the ``with`` block."""
    from atomcast.starter import init_project

    folder = Path(tempfile.mkdtemp(prefix="atomcast-reference-"))
    try:
        init_project(folder / "project")
        yield Sandbox(folder / "project")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the page ----------------------------------------------------------------------------


def _comment(kind: str, edit: Edit) -> str:
    at = "/" + "/".join(edit.at)
    extra = f" delete={edit.delete}" if edit.delete else ""
    return f"<!-- ref:{kind} file={edit.file} at={at}{extra} -->"


@dataclass(frozen=True, slots=True)
class Documented:
    """One example or mistake as the page shows it.

    :param said: for a mistake, the ``check`` line the page says it gives.
    """

    kind: str
    edit: Edit
    said: str | None


def parse_page(text: str) -> list[Documented]:
    """Every example and mistake of a reference page, read back from its comments."""
    found: list[Documented] = []
    for match in _COMMENT.finditer(text):
        fields = dict(part.split("=", 1) for part in match.group(2).split())
        at = tuple(p for p in fields["at"].split("/") if p)
        rest = text[match.end() :]
        block = re.match(r"\s*```yaml\n(.*?)```", rest, re.S)
        values = yaml.safe_load(block.group(1)) if block else None
        if block:
            rest = rest[block.end() :]
        said = re.match(r"\s*```text\n(.*?)\n```", rest, re.S)
        edit = Edit(fields["file"], at, values, fields.get("delete"))
        found.append(Documented(match.group(1), edit, said.group(1) if said else None))
    return found


def _edit_block(kind: str, edit: Edit, box: Outcomes, where: str) -> list[str]:
    outcome = box.outcome(edit)
    errors = [line for line in outcome if ": error: " in line]
    lines = [_comment(kind, edit)]
    if edit.values:
        lines += ["```yaml", _yaml(edit.values).rstrip("\n"), "```"]
    place = f"`{edit.file}`" + (f", under `{'.'.join(edit.at)}`" if edit.at else "")
    if kind == "example":
        if errors:
            raise ReferenceDocError(f"{where}: the example does not pass check: {errors[0]}")
        return [f"Example ({place}):", "", *lines, ""]
    if not outcome:
        raise ReferenceDocError(f"{where}: the mistake passes check")
    if edit.delete and not edit.values:
        said = f"Leaving out `{edit.delete}` ({place})"
    else:
        said = f"A mistake ({place})"
    return [f"{said}, and what `check` says:", "", *lines, "```text", outcome[0], "```", ""]


def _key_section(
    title: str,
    doc_type: str,
    required: str,
    text: str,
    example: Edit | None,
    mistake: Edit | None,
    box: Outcomes,
) -> list[str]:
    lines = [f"#### `{title}`", "", f"{doc_type} · {required}. {text}", ""]
    if example is not None:
        lines += _edit_block("example", example, box, title)
    if mistake is not None:
        lines += _edit_block("mistake", mistake, box, title)
    return lines


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    lines = ["| Key | Type | Required / default | What it is |", "|---|---|---|---|"]
    for key, kind, required, text in rows:
        lines.append(f"| `{key}` | {kind} | {required} | {text} |")
    return [*lines, ""]


def _field_row(model: type[BaseModel], name: str, prefix: str) -> tuple[str, str, str, str]:
    info = model.model_fields[name]
    kind = type_text(info.annotation)
    limits = _constraints(info)
    if limits:
        kind += f" ({limits})"
    return (prefix + name, kind, default_text(info), KEYS[model][name].description)


HEADER = """# Configuration reference

<!-- Generated from src/atomcast/models.py and src/atomcast/reference/keys.py by
`atomcast schema --markdown > docs/reference.md` (or `make reference`). Do not edit by hand:
tests/test_reference.py fails when this page and the models disagree. -->

Every key of `atomcast.yaml`, of atom front matter, of layouts and of persona files: its
type, whether it is required or what it defaults to, an example, and the `check` error a
typical mistake produces. Examples are edits of the project `atomcast init` writes (the
line numbers in errors are those of that project after the edit), and every one of them is
checked by the test suite.

## Editor completion

`atomcast schema` prints a JSON Schema of `atomcast.yaml` (`--kind atom` for atom front
matter, `--kind persona` for persona files of a project). `atomcast init` writes
`atomcast.schema.json` beside `atomcast.yaml`, whose first line tells the YAML language
server (VS Code's *YAML* extension by Red Hat, JetBrains IDEs) to use it:

```yaml
# yaml-language-server: $schema=./atomcast.schema.json
```

For an existing project: `atomcast schema > atomcast.schema.json`, then add that line, or
map the files in VS Code's `settings.json` (personas too; atom front matter lives in
Markdown files, which the YAML server does not read):

```json
{"yaml.schemas": {"./atomcast.schema.json": "atomcast.yaml",
                  "./persona.schema.json": "previews/profiles/*.yaml"}}
```

(`atomcast schema --kind persona > persona.schema.json` writes the second one; it follows
the project's own profile schema, so regenerate it when attributes change.)

"""


def reference_markdown(outcomes: Outcomes | None = None) -> str:
    """The whole reference page.

    :param outcomes: what ``check`` says about each edit; by default a fresh sandbox runs
        ``check`` once per example and mistake (seconds).
    """
    if outcomes is None:
        with sandbox() as fresh:
            return reference_markdown(fresh)
    box = outcomes
    out = [HEADER, "## atomcast.yaml", ""]
    for model, title, prefix in SECTIONS:
        out += [f"### {title}", ""]
        out += _table([_field_row(model, name, prefix) for name in model.model_fields])
        for name in model.model_fields:
            row = _field_row(model, name, prefix)
            doc = KEYS[model][name]
            out += _key_section(
                row[0], row[1], row[2], doc.description, doc.example, doc.mistake, box
            )
    out += _atoms(box)
    out += _layouts(box)
    out += _personas(box)
    return "\n".join(out).rstrip("\n") + "\n"


def _atoms(box: Outcomes) -> list[str]:
    spec = models.AtomSpec
    out = [
        "## Atoms",
        "",
        "An atom is a Markdown file under `content_atoms/` (any folder depth): YAML front "
        "matter between `---` lines, then, for `body` atoms, the Markdown body (a template "
        "too; required for bodies). Every kind takes the common keys; the kind's own keys "
        "follow. Template fields see `profile`, `brand`, `campaign` and `locale`.",
        "",
        "### Common keys",
        "",
    ]
    out += _table([_field_row(spec, name, "") for name in COMMON_ATOM_FIELDS])
    for name in COMMON_ATOM_FIELDS:
        row = _field_row(spec, name, "")
        doc = KEYS[spec][name]
        out += _key_section(row[0], row[1], row[2], doc.description, doc.example, doc.mistake, box)
    out += ["### Keys of each kind", ""]
    rows = []
    for kind, names in KIND_FIELDS.items():
        required = models.REQUIRED_FIELDS[kind]
        shown = [f"**{n}**" if n in required else n for n in names]
        body = " + Markdown body (**required**)" if kind == "body" else ""
        rows.append(f"| `{kind}` | {', '.join(shown)}{body} |")
    out += ["| Kind | Keys (**bold**: required) |", "|---|---|", *rows, ""]
    documented: set[str] = set()
    for names in KIND_FIELDS.values():
        for name in names:
            if name in documented:
                continue
            documented.add(name)
            row = _field_row(spec, name, "")
            doc = KEYS[spec][name]
            out += _key_section(
                row[0], row[1], "optional", doc.description, doc.example, doc.mistake, box
            )
    out += _key_section(
        "snippet",
        "kind",
        "text required",
        "A one-line aside (shipping deadlines, loyalty notes).",
        SNIPPET_EXAMPLE,
        SNIPPET_MISTAKE,
        box,
    )
    return out


def _file_keys(keys: tuple[FileKey, ...], box: Outcomes, prefix: str) -> list[str]:
    out = _table([(prefix + k.key, k.type, k.required, k.description) for k in keys])
    for k in keys:
        out += _key_section(
            prefix + k.key, k.type, k.required, k.description, k.example, k.mistake, box
        )
    return out


def _layouts(box: Outcomes) -> list[str]:
    from atomcast.project import LAYOUT_NAMES, LAYOUT_SUFFIX

    suffixes = ", ".join(f"{ch} `{suffix}`" for ch, suffix in LAYOUT_SUFFIX.items())
    out = [
        "## Layouts",
        "",
        f"A layout is `layouts/CHANNEL/NAME.EXT` ({suffixes}); a campaign channel names it "
        "with `layout: NAME`. Every part is a Jinja template that sees "
        f"{', '.join(f'`{n}`' for n in sorted(LAYOUT_NAMES))}. SMS and web layouts are one "
        "template each, with no keys. Email layouts are YAML front matter and an MJML body; "
        'set fonts with `<mj-all font-family="...">` and a system font stack (MJML adds a '
        "web-font link for its default font), and give dark-mode clients styles in "
        "`@media (prefers-color-scheme: dark)`.",
        "",
        "### Email front matter",
        "",
    ]
    out += _file_keys(EMAIL_KEYS, box, "email.")
    out += ["### Push layouts", "", "A YAML mapping of templates.", ""]
    out += _file_keys(PUSH_KEYS, box, "push.")
    return out


def _personas(box: Outcomes) -> list[str]:
    out = [
        "## Persona files",
        "",
        "A persona is `previews/profiles/NAME.yaml`: one profile the preview renders in every "
        "channel, and a name `render --profile NAME` accepts. Its keys are the attributes of "
        "the profile schema; `atomcast schema --kind persona` prints a JSON Schema for them.",
        "",
    ]
    out += _file_keys(PERSONA_KEYS, box, "persona.")
    return out


__all__ = [
    "SECTIONS",
    "Documented",
    "Outcomes",
    "Sandbox",
    "apply_edit",
    "edit_key",
    "parse_page",
    "reference_markdown",
    "sandbox",
]
