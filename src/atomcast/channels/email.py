"""Email: Jinja + MJML, compiled once per layout, filled per profile.

MJML rewrites its input, so it must never see profile data (a value like ``<mj-text>``
would be parsed as markup). The layout's Jinja constructs are swapped for opaque tokens,
MJML compiles the result once, the tokens are put back and the HTML is compiled as an
autoescaped sandboxed Jinja template. Per profile only that template is rendered.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from mjml import mjml2html

from atomcast.channels.base import ChannelOutput, RenderWarning, render_string
from atomcast.errors import RenderError
from atomcast.jinjatokens import protect
from atomcast.project import Layout
from atomcast.templating import clean_url, compile_template

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


class EmailCompiler:
    """Compiles email layouts once and keeps them; safe to share between threads."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str], CompiledEmail] = {}
        self._lock = threading.Lock()

    def compile(self, layout: Layout) -> CompiledEmail:
        """The compiled layout.

        :raises RenderError: naming the layout file when MJML or Jinja rejects it.
        """
        key = (layout.path, layout.fingerprint)
        cached = self._compiled.get(key)
        if cached is not None:
            return cached
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
        compiled = CompiledEmail(
            layout, template, restored, tuple(_static_warnings(html, layout)), len(body.source)
        )
        with self._lock:
            self._compiled[key] = compiled
        return compiled


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


def render_email(
    compiled: CompiledEmail,
    context: Mapping[str, Any],
    slot_order: Sequence[str],
) -> ChannelOutput:
    """Fill the compiled layout for one profile.

    :raises RenderError: when a template fails for this profile.
    """
    layout = compiled.layout
    warnings = list(compiled.static_warnings)
    subject_part = layout.parts.get("subject")
    preheader_part = layout.parts.get("preheader")
    subject = (
        render_string(subject_part.source, context, f"{layout.path}: subject").strip()
        if subject_part
        else ""
    )
    # A header line: no line breaks, NULs, other controls or bidi overrides from a value.
    subject = _HEADER_UNSAFE.sub("", " ".join(subject.split()))
    preheader = (
        render_string(preheader_part.source, context, f"{layout.path}: preheader").strip()
        if preheader_part
        else ""
    )
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
    full_context = {**context, "preheader": preheader}
    try:
        html = compiled.template.render(full_context)
    except Exception as exc:  # any template failure is this profile's error
        from atomcast.channels.base import describe_template_error

        raise RenderError(describe_template_error(exc, layout.path)) from None
    size = len(html.encode("utf-8"))
    if size > CLIP_BYTES:
        warnings.append(
            RenderWarning(
                "html_too_large",
                f"HTML is {size // 1024} KB; Gmail clips messages near 102 KB",
            )
        )
    slots = context["slots"]
    for view in slots.values():
        if not view:
            continue
        for key in ("url", "link"):
            value = view.get(key)
            if isinstance(value, str) and value.lower().startswith("http://"):
                warnings.append(
                    RenderWarning("insecure_link", f"atom '{view['id']}': {key} is not https")
                )
        if view.get("kind") == "image" and not view.get("alt"):
            warnings.append(
                RenderWarning("image_missing_alt", f"image atom '{view['id']}' has no alt text")
            )
    unsubscribe = clean_url(str(context.get("unsubscribe_url") or ""))
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    text = text_alternative(
        slots, slot_order, context["brand"], unsubscribe, str(context.get("locale") or "en")
    )
    return ChannelOutput(
        "rendered",
        {
            "subject": subject,
            "preheader": preheader,
            "html": html,
            "text": text,
            "headers": headers,
        },
        warnings,
    )
