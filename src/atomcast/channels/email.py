"""Email: Jinja + MJML, compiled once per layout, filled per profile.

MJML rewrites its input, so it must never see profile data (a value like ``<mj-text>``
would be parsed as markup). The layout's Jinja constructs are swapped for opaque tokens,
MJML compiles the result once, the tokens are put back and the HTML is compiled as an
autoescaped sandboxed Jinja template. Per profile only that template is rendered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from jinja2 import Template, TemplateSyntaxError
from mjml import mjml2html

from atomcast.channels.base import (
    ChannelOutput,
    ChannelSetup,
    CompiledLayouts,
    FillableOutput,
    RenderWarning,
    StandIn,
    describe_template_error,
    render_string,
)
from atomcast.errors import RenderError
from atomcast.jinjatokens import protect
from atomcast.models import Channel as ChannelName
from atomcast.project import Layout, TemplateSource
from atomcast.templating import clean_url, compile_template, encode_url_values

if TYPE_CHECKING:
    from atomcast.render.context import ChannelContext

#: Gmail clips messages near 102 KB; warn with a margin.
CLIP_BYTES = 100 * 1024
SUBJECT_MAX = 78

_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""\bhref\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_HEAD = re.compile(r"<mj-head\b[^>]*>", re.IGNORECASE)
_MJML_OPEN = re.compile(r"<mjml\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CompiledEmail:
    """A layout after MJML: the HTML template and what could be checked without a profile."""

    layout: Layout
    template: Template
    #: The Jinja source of ``template``: what symbolic rendering rewrites.
    source: str
    static_warnings: tuple[RenderWarning, ...]
    mjml_bytes: int


def _with_preview(mjml: str) -> str:
    """Add ``<mj-preview>`` carrying the front matter preheader, unless the layout has one."""
    if "<mj-preview" in mjml:
        return mjml
    preview = "<mj-preview>{{ preheader }}</mj-preview>"
    head = _HEAD.search(mjml)
    if head:
        return mjml[: head.end()] + preview + mjml[head.end() :]
    opening = _MJML_OPEN.search(mjml)
    if opening is None:
        return mjml
    return mjml[: opening.end()] + f"<mj-head>{preview}</mj-head>" + mjml[opening.end() :]


#: What a header value never carries: C0 and C1 controls (CR, LF, NUL...) and the bidi
#: embedding, override and isolate controls that make a subject read other than it is.
_HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _static_warnings(html: str, layout: Layout) -> list[RenderWarning]:
    warnings: list[RenderWarning] = []
    for tag in _IMG_TAG.findall(html):
        lowered = tag.lower()
        no_alt = re.search(r"""\balt\s*=\s*["']\s*["']""", lowered) or " alt=" not in lowered
        # An empty alt is fine for 1px spacers, so only images with a real src count.
        if no_alt and "src=" in lowered and 'height="1"' not in lowered:
            warnings.append(
                RenderWarning("image_missing_alt", f"{layout.path}: an image has no alt text")
            )
        if " width=" not in lowered:
            warnings.append(
                RenderWarning("image_missing_width", f"{layout.path}: an image has no width")
            )
    for href in _HREF.findall(html):
        if href.lower().startswith("http://"):
            warnings.append(
                RenderWarning("insecure_link", f"{layout.path}: link is not https: {href}")
            )
    return warnings


def compile_email(layout: Layout) -> CompiledEmail:
    """The layout through MJML, its Jinja put back and compiled.

    :raises RenderError: naming the layout file when MJML or Jinja rejects it.
    """
    body = layout.parts["body"]
    protected = protect(_with_preview(body.source))
    try:
        html = mjml2html(protected.text, disable_comments=True)
    except (ValueError, RuntimeError) as exc:
        raise RenderError(f"{layout.path}:{body.line}: MJML error: {exc}") from None
    # MJML decodes entities, so a literal brace must not reopen a Jinja construct.
    restored = protected.restore(html, url_filter="safe_url", literal_brace="&#123;")
    try:
        template = compile_template(restored, "html")
    except TemplateSyntaxError as exc:
        raise RenderError(f"{layout.path}: template error after MJML: {exc.message}") from None
    return CompiledEmail(
        layout, template, restored, tuple(_static_warnings(html, layout)), len(body.source)
    )


class EmailCompiler(CompiledLayouts):
    """Compiles email layouts once (by path and content hash) and keeps them; bounded and
    safe to share between threads."""

    def compile(self, layout: Layout) -> CompiledEmail:
        """The compiled layout.

        :raises RenderError: naming the layout file when MJML or Jinja rejects it.
        """
        return self.get(("email", layout.path, layout.fingerprint), lambda: compile_email(layout))

    def weigh(self, made: Any) -> int:
        # The HTML template's text and the MJML it came from; the compiled template is
        # about proportional to them.
        if isinstance(made, CompiledEmail):
            return len(made.source) + made.mjml_bytes
        return 0


@dataclass(frozen=True, slots=True)
class TextLabels:
    """The few words the plain-text part adds around the atoms' own text."""

    code: str
    ends: str
    open: str
    unsubscribe: str
    date_format: str


#: By base language; anything else falls back to English. Atoms carry the real copy.
TEXT_LABELS = {
    "en": TextLabels("Code", "Ends", "Open", "Unsubscribe", "%B %-d, %Y"),
    "fr": TextLabels("Code", "Jusqu'au", "Ouvrir", "Se désabonner", "%d/%m/%Y"),
}


def text_alternative(
    slots: Mapping[str, Mapping[str, Any] | None],
    order: Sequence[str],
    brand: Mapping[str, Any],
    unsubscribe_url: str,
    locale: str = "en",
) -> str:
    """A readable plain-text part built from the same slot views as the HTML."""
    labels = TEXT_LABELS.get(locale.split("-")[0].lower(), TEXT_LABELS["en"])
    blocks: list[str] = []
    for name in order:
        view = slots.get(name)
        if not view:
            continue
        kind = view.get("kind")
        if kind in ("headline", "body", "snippet") and view.get("text"):
            blocks.append(str(view["text"]))
        elif kind == "offer":
            lines = [str(view.get("title") or "")]
            if view.get("code"):
                lines.append(f"{labels.code}: {view['code']}")
            expires = view.get("expires")
            if isinstance(expires, dt.date):
                lines.append(f"{labels.ends} {expires.strftime(labels.date_format)}")
            elif expires:
                lines.append(f"{labels.ends} {expires}")
            if view.get("terms"):
                lines.append(str(view["terms"]))
            blocks.append("\n".join(line for line in lines if line))
        elif kind == "cta" and view.get("url"):
            blocks.append(f"{view.get('label') or labels.open}: {view['url']}")
    footer = [str(brand.get("name") or "")]
    if brand.get("address"):
        footer.append(str(brand["address"]))
    footer.append(f"{labels.unsubscribe}: {unsubscribe_url}")
    blocks.append("--\n" + "\n".join(part for part in footer if part))
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True, slots=True)
class EmailFields:
    """An email's fields in SPEC section 5."""

    KEYS: ClassVar[tuple[str, ...]] = ("subject", "preheader", "html", "text", "headers")

    subject: str
    preheader: str
    html: str
    text: str
    headers: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "preheader": self.preheader,
            "html": self.html,
            "text": self.text,
            "headers": dict(self.headers),
        }


#: Stands in for the unsubscribe URL in memoised and symbolic email; alphanumeric after the
#: scheme so that HTML escaping leaves it intact and the real, escaped URL can replace it.
UNSUBSCRIBE_SENTINEL = "https://atomcast.invalid/unsubscribe-7f3a9c2e51d84b06"
#: Warnings whose wording depends on the printed values' lengths.
VALUE_WARNINGS = frozenset({"subject_too_long", "html_too_large"})


def unsubscribe_stand_in(brand: Mapping[str, Any]) -> StandIn:
    """The profile's unsubscribe URL (``brand.unsubscribe_url`` rendered, the profile's
    values in it percent-encoded, and anything a header line cannot hold encoded too)."""
    return StandIn(
        name="unsubscribe_url",
        sentinel=UNSUBSCRIBE_SENTINEL,
        host="atomcast.invalid",
        # Escaped once in the HTML, as printed in the text part and the header.
        depths={"html": 1, "text": 0, "headers": 0},
        # Profile values in the URL are percent-encoded: an id cannot add a second target.
        source=encode_url_values(brand.get("unsubscribe_url") or ""),
        where="brand.unsubscribe_url",
        finish=clean_url,
    )


class EmailRender:
    """Email for one campaign: subject, preheader and the MJML-compiled HTML (phase 1), then
    header clean-up, size and link warnings, the text part and headers (phase 2)."""

    fills_text = False
    value_warnings = VALUE_WARNINGS

    def __init__(self, setup: ChannelSetup, compiled: CompiledEmail | None = None) -> None:
        self.setup = setup
        self.layout = setup.layout if compiled is None else compiled.layout
        self.stand_in: StandIn | None = unsubscribe_stand_in(setup.brand)
        self._compiled = compiled

    def compiled(self) -> CompiledEmail:
        if self._compiled is None:
            layout = self.layout
            self._compiled = self.setup.compiled.get(
                ("email", layout.path, layout.fingerprint), lambda: compile_email(layout)
            )
        return self._compiled

    def key_sources(self) -> list[str]:
        return [part.source for part in self.layout.parts.values()]

    def slots_read(self) -> frozenset[str] | None:
        # The text part and the link and alt-text warnings go through every slot.
        return None

    def template_sources(self) -> dict[str, str]:
        compiled = self.compiled()
        parts = self.layout.parts
        found = {name: parts[name].source for name in ("subject", "preheader") if name in parts}
        found["body"] = compiled.source
        return found

    def with_sources(self, sources: Mapping[str, str]) -> EmailRender:
        compiled = self.compiled()
        parts: dict[str, TemplateSource] = dict(self.layout.parts)
        for name in ("subject", "preheader"):
            if name in sources and name in parts:
                parts[name] = dataclasses.replace(parts[name], source=sources[name])
        layout = dataclasses.replace(self.layout, parts=parts)
        body = sources.get("body", compiled.source)
        try:
            template = compile_template(body, "html")
        except TemplateSyntaxError as exc:
            raise RenderError(f"{layout.path}: {exc.message}") from None
        return EmailRender(
            self.setup,
            dataclasses.replace(compiled, layout=layout, template=template, source=body),
        )

    def render_text(self, context: ChannelContext) -> dict[str, str]:
        compiled = self.compiled()
        layout = compiled.layout
        namespace = context.namespace
        subject_part = layout.parts.get("subject")
        preheader_part = layout.parts.get("preheader")
        subject = (
            render_string(subject_part.source, namespace, f"{layout.path}: subject")
            if subject_part
            else ""
        )
        preheader = (
            render_string(preheader_part.source, namespace, f"{layout.path}: preheader").strip()
            if preheader_part
            else ""
        )
        try:
            html = compiled.template.render({**namespace, "preheader": preheader})
        except Exception as exc:  # any template failure is this profile's error
            raise RenderError(describe_template_error(exc, layout.path)) from None
        return {"subject": subject, "preheader": preheader, "html": html}

    def finish(self, text: Mapping[str, str], context: ChannelContext) -> ChannelOutput:
        compiled = self.compiled()
        warnings = list(compiled.static_warnings)
        # A header line: no line breaks, NULs, other controls or bidi overrides from a value.
        subject = _HEADER_UNSAFE.sub("", " ".join(text["subject"].strip().split()))
        preheader = text["preheader"]
        html = text["html"]
        if not preheader:
            warnings.append(
                RenderWarning("preheader_missing", "no preheader: inboxes show the first body text")
            )
        if len(subject) > SUBJECT_MAX:
            warnings.append(
                RenderWarning(
                    "subject_too_long",
                    f"subject has {len(subject)} characters; over {SUBJECT_MAX} it is cut in "
                    "many inboxes",
                )
            )
        size = len(html.encode("utf-8"))
        if size > CLIP_BYTES:
            warnings.append(
                RenderWarning(
                    "html_too_large",
                    f"HTML is {size // 1024} KB; Gmail clips messages near 102 KB",
                )
            )
        for view in context.slots.values():
            if not view:
                continue
            for key in ("url", "link"):
                value = view.get(key)
                if isinstance(value, str) and value.lower().startswith("http://"):
                    warnings.append(
                        RenderWarning("insecure_link", f"atom '{view.id}': {key} is not https")
                    )
            if view.kind == "image" and not view.get("alt"):
                warnings.append(
                    RenderWarning("image_missing_alt", f"image atom '{view.id}' has no alt text")
                )
        unsubscribe = clean_url(str(context.value("unsubscribe_url") or ""))
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        plain = text_alternative(
            context.slot_fields,
            self.setup.slot_order,
            context.base.brand,
            unsubscribe,
            str(context.base.locale or "en"),
        )
        fields = EmailFields(subject, preheader, html, plain, headers)
        return ChannelOutput("rendered", fields.to_json(), warnings)

    def fillable(self, output: FillableOutput, values: tuple[str, ...]) -> bool:
        # The two value-dependent warnings above, checked on the filled output's sizes.
        if output.length("subject", values) > SUBJECT_MAX:
            return False
        return not (
            output.length("html", values) * 4 > CLIP_BYTES
            and len(output.field("html", values).encode("utf-8", "replace")) > CLIP_BYTES
        )


class EmailChannel:
    name: ChannelName = "email"
    fields = EmailFields

    def prepare(self, setup: ChannelSetup) -> EmailRender:
        return EmailRender(setup)


EMAIL = EmailChannel()
