"""A fair naive campaign pipeline: what a competent team writes without atomcast's tricks.

Run as its own process by ``benchmarks/batch.py`` so that its start-up counts like
atomcast's. Per worker process, once: the project is loaded, one sandboxed Jinja
environment per mode with atomcast's filters (``atomcast.templating.make_environment``),
every template compiled once (on first use, then kept), image renditions looked up once per
image atom. Then per profile:

- validate the profile and select atoms (``atomcast.selection``: the decision logic is the
  same on both sides and is not what is compared);
- render each atom's fields with Jinja, its Markdown body with Jinja then Markdown;
- email: subject and preheader, the MJML layout through Jinja, then ``mjml2html``, then the
  plain-text part; push: the layout's parts, then the APNs/FCM/Web Push payloads; SMS: the
  text, the footer, GSM-7/UCS-2 segment count; web: the HTML fragment and its slot data;
- write the same JSON record shape as ``atomcast batch`` (compact, UTF-8), in input order.

Channel finishing (push payloads, SMS encoding, the text part) calls atomcast's own
functions: they cost the same on both sides, so the comparison is about how rendering is
organised, not about who wrote a faster GSM table.

Workers: ``multiprocessing.Pool`` (the platform's default start method) over chunks of
input lines, results written by the parent in order, ``fdatasync`` at the end like
``atomcast batch``.

Usage::

    python benchmarks/naive_pipeline.py PROJECT -c CAMPAIGN -p IN.jsonl -o OUT.jsonl \
        --at 2026-07-15T12:00:00Z -w 2 [--limit N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from collections.abc import Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

_STATE: dict[str, Any] = {}


def _init(project_dir: str, campaign: str, at: str) -> None:
    from jinja2 import Template
    from markupsafe import Markup
    from mjml import mjml2html

    from atomcast.channels.email import text_alternative
    from atomcast.channels.push import push_limits, push_output
    from atomcast.channels.sms import sms_output
    from atomcast.channels.web import slot_data
    from atomcast.markdown import render_markdown
    from atomcast.project import load_project
    from atomcast.render import Renderer
    from atomcast.schema import validate_profile
    from atomcast.selection import Selector, parse_instant
    from atomcast.templating import make_environment, safe_url

    project = load_project(Path(project_dir))
    config = project.config.campaigns[campaign]
    envs = {"text": make_environment("text"), "html": make_environment("html")}
    compiled: dict[tuple[str, str], Template] = {}

    def template(source: str, mode: str = "text") -> Template:
        found = compiled.get((mode, source))
        if found is None:
            found = envs[mode].from_string(source)
            compiled[(mode, source)] = found
        return found

    renderer = Renderer(project)  # only for image renditions, looked up once per atom
    image_fields: dict[str, Mapping[str, Any]] = {}
    layouts = {ch: project.layouts[(ch, cfg.layout)] for ch, cfg in config.channels.items()}
    _STATE.update(
        project=project,
        campaign=campaign,
        config=config,
        selector=Selector(project),
        instant=parse_instant(at),
        brand=project.config.brand.model_dump(),
        layouts=layouts,
        template=template,
        image_fields=image_fields,
        renderer=renderer,
        validate=lambda raw: validate_profile(project.schema, raw),
        markdown=render_markdown,
        safe_url=safe_url,
        Markup=Markup,
        mjml2html=mjml2html,
        text_alternative=text_alternative,
        push_output=push_output,
        push_limits=push_limits(config.channels["push"]) if "push" in config.channels else None,
        sms_output=sms_output,
        slot_data=slot_data,
    )


_TEXT_FIELDS = ("text", "short", "alt", "title", "code", "terms", "label")
_MAIN_FIELD = {"headline": "text", "body": "text", "offer": "title", "cta": "label"}


def _view(atom: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    state = _STATE
    template = state["template"]
    fields = atom.fields
    view: dict[str, Any] = {"id": atom.id, "kind": atom.kind}
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        view[name] = template(value).render(context) if isinstance(value, str) else None
    for name in ("url", "link"):
        value = fields.get(name)
        view[name] = (
            state["safe_url"](template(value).render(context)) or None
            if isinstance(value, str)
            else None
        )
    for name in ("discount", "amount"):
        number = fields.get(name)
        view[name] = int(number) if isinstance(number, float) and number.is_integer() else number
    view["expires"] = fields.get("expires")
    view["focal"] = fields.get("focal")
    if atom.body is not None:
        # Jinja first, then Markdown, for every profile: the straightforward order.
        converted = state["markdown"](template(atom.body.source).render(context))
        view["html"] = state["Markup"](converted.html)
        view["text" if atom.kind == "body" else "body_text"] = converted.text.strip()
    if atom.kind == "image":
        found = state["image_fields"].get(atom.id)
        if found is None:
            found = dict(state["renderer"].image_fields(atom))
            found.pop("image_warnings", None)
            state["image_fields"][atom.id] = found
        view.update(found)
    main = _MAIN_FIELD.get(atom.kind)
    if not view.get("short") and main:
        view["short"] = view.get(main)
    return view


def _channel(channel: str, layout: Any, context: dict[str, Any]) -> dict[str, Any]:
    state = _STATE
    template = state["template"]
    parts = layout.parts
    if channel == "email":
        unsubscribe = template(state["brand"]["unsubscribe_url"]).render(context)
        context["unsubscribe_url"] = unsubscribe
        subject = " ".join(template(parts["subject"].source).render(context).split())
        preheader = template(parts["preheader"].source).render(context).strip()
        mjml = template(parts["body"].source, "html").render({**context, "preheader": preheader})
        html = state["mjml2html"](mjml, disable_comments=True)
        text = state["text_alternative"](
            context["slots"],
            list(state["config"].slots),
            state["brand"],
            unsubscribe,
            str(context["locale"]),
        )
        return {
            "status": "rendered",
            "subject": subject,
            "preheader": preheader,
            "html": html,
            "text": text,
            "headers": {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            "warnings": [],
        }
    if channel == "push":
        rendered = {name: template(part.source).render(context) for name, part in parts.items()}
        out = state["push_output"](rendered, state["push_limits"], state["campaign"])
    elif channel == "sms":
        body = template(parts["body"].source).render(context)
        footer_source = state["brand"].get("sms_footer")
        footer = template(footer_source).render(context) if footer_source else None
        out = state["sms_output"](body, state["config"].channels["sms"], footer)
    else:
        html = template(parts["body"].source, "html").render(context).strip()
        return {
            "status": "rendered",
            "html": html,
            "data": state["slot_data"](context["slots"]),
            "warnings": [],
        }
    return out.to_json()


def _record(raw: Mapping[str, Any]) -> dict[str, Any]:
    state = _STATE
    profile = state["validate"](raw)
    selection = state["selector"].select(profile, state["campaign"], state["instant"])
    context: dict[str, Any] = {
        "profile": profile.attributes,
        "brand": state["brand"],
        "campaign": {"name": state["campaign"], "description": state["config"].description},
        "locale": profile.attributes.get("locale") or state["project"].config.locales.default,
    }
    channels: dict[str, Any] = {}
    for channel, layout in state["layouts"].items():
        plan = selection.channels[channel]
        if plan.state != "ready":
            channels[channel] = {"status": "skipped", "reason": plan.reason, "warnings": []}
            continue
        views: dict[str, Any] = {}
        for slot, atom in selection.atoms_for(channel).items():
            views[slot] = _view(atom, context) if atom is not None else None
        try:
            channels[channel] = _channel(channel, layout, {**context, "slots": views})
        except Exception as exc:  # a template failure is this profile's error, as in atomcast
            channels[channel] = {"status": "error", "reason": str(exc), "warnings": []}
    return {
        "profile_id": profile.id,
        "campaign": state["campaign"],
        "segments": list(selection.segments),
        "experiments": dict(selection.experiments),
        "decisions": dict(selection.decisions),
        "channels": channels,
    }


def _default(value: Any) -> Any:
    return str(value)  # dates in slot data, as atomcast's encoder writes them


def _chunk(lines: list[str]) -> tuple[bytes, int, int]:
    out: list[str] = []
    rejected = 0
    for line in lines:
        try:
            record = _record(json.loads(line))
        except Exception:
            rejected += 1
            continue
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_default))
    text = "\n".join(out) + "\n" if out else ""
    return text.encode("utf-8"), len(out), rejected


def _chunks(path: Path, size: int, limit: int | None) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as handle:
        lines = islice(handle, limit) if limit is not None else handle
        while True:
            chunk = list(islice(lines, size))
            if not chunk:
                return
            yield chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("-c", "--campaign", required=True)
    parser.add_argument("-p", "--profiles", required=True, type=Path)
    parser.add_argument("-o", "--out", required=True, type=Path)
    parser.add_argument("--at", required=True)
    parser.add_argument("-w", "--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N profiles.")
    args = parser.parse_args()

    rendered = rejected = 0
    initargs = (args.project, args.campaign, args.at)
    with (
        open(args.out, "wb") as out,
        multiprocessing.Pool(args.workers, initializer=_init, initargs=initargs) as pool,
    ):
        for data, good, bad in pool.imap(
            _chunk, _chunks(args.profiles, args.chunk_size, args.limit)
        ):
            out.write(data)
            rendered += good
            rejected += bad
        out.flush()
        os.fdatasync(out.fileno())
    json.dump({"rendered": rendered, "rejected": rejected}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
