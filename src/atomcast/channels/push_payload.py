"""Push notification payloads for APNs, FCM HTTP v1 and Web Push, built from rendered text.

The inputs are strings a layout has already rendered (title, body, subtitle, URLs); this
module only assembles them into the three wire formats. Payloads are built as Python data
and serialized with :mod:`json`, never by templating JSON text, so no title can break out
of its string.

Payload shapes
==============

APNs (Apple's ``aps`` dictionary plus custom keys)::

    {"aps": {"alert": {"title", "subtitle"?, "body"}, "mutable-content": 1?,
             "thread-id"?, "sound": "default"},
     "image_url"?, "url"?, <data keys>?}

``mutable-content`` is set only when an image is attached: it is what wakes the app's
Notification Service Extension so that it can download ``image_url``.

FCM HTTP v1 (the body of ``projects.messages.send``)::

    {"message": {
        "notification": {"title", "body", "image"?},
        "android": {"notification": {"click_action"?, "image"?, "tag"?}, "collapse_key"?},
        "apns": {"payload": <APNs payload without the data keys>,
                 "fcm_options": {"image"?}},
        "webpush": {"fcm_options": {"link"?}, "notification": {"icon"?, "image"?, "tag"?}?},
        "data": {"url"?, <data keys>}}}

* ``data`` values are strings, as FCM requires (see :func:`stringify_data`).
* ``android.notification.click_action`` is an Android *intent action* (an activity with a
  matching intent filter is launched), not a URL, so the click URL is never put there; it
  travels as ``data["url"]`` for the app to open, and ``click_action`` is only set from the
  explicit ``android_click_action`` argument.
* FCM copies ``message.data`` into the APNs payload as custom keys by itself, so the
  ``apns.payload`` it carries leaves the data keys out instead of counting them twice
  against the 4096-byte budget.

Web Push (the JSON the service worker receives, before RFC 8291 encryption)::

    {"title", "body", "icon"?, "image"?, "data": {"url"?, <data keys>}, "tag"?}

Size limits and truncation
==========================

Each payload, serialized compactly (:func:`payload_size`), must fit its byte limit
(:class:`PushLimits`: 4096 for APNs and FCM, 3993 for Web Push: 4096 minus what aes128gcm
adds). The title, subtitle and body are **shared** by the three payloads: a notification
reads the same on every platform, and one cut satisfies every limit because the cut point
is searched against all payloads at once (so the tightest limit decides).

Fields are shortened in two rounds, each taking the body first, then the subtitle, then
the title, and stopping as soon as everything fits:

1. down to the display limits (``body_chars``, ``title_chars``): text past them is cut
   visually by the phone anyway, so it goes before anything a reader would see;
2. down to nothing (the field becomes ``"…"``).

A field is cut at a grapheme-cluster boundary (``regex``'s ``\\X``: an emoji ZWJ sequence,
a flag or a letter with its combining marks is never split), at the longest prefix that
fits (binary search), then moved back to a word boundary if one is close, and ``"…"`` is
appended. Each cut field yields a ``truncated`` warning with its sizes before and after.
A subtitle is only cut for the payloads that carry it (APNs and FCM). A payload that cannot
fit even with every text field reduced to ``"…"`` (huge ``data`` or URLs) is left alone,
does not cost the other payloads their text, and is reported as ``payload_too_large``.

Display limits
==============

Exceeding ``title_chars`` / ``body_chars`` (counted in grapheme clusters) never shortens
the payload: the phone cuts the text visually, and the full text still shows when the
notification is expanded. It yields ``title_too_long`` / ``subtitle_too_long`` /
``body_too_long`` warnings, and :attr:`PushPayloads.previews` holds the text as a lock
screen would show it.

Warning codes
=============

``truncated``, ``payload_too_large``, ``title_too_long``, ``subtitle_too_long``,
``body_too_long``, ``unsafe_url`` (a non-https or malformed image/click/icon URL, dropped),
``reserved_data_key`` (a data key FCM or this module reserves, dropped),
``invalid_text`` (lone surrogates replaced by U+FFFD: they cannot be encoded as UTF-8).

This module is pure: it depends only on the grapheme, error and JSON text helpers of atomcast.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from atomcast.channels.graphemes import grapheme_clusters, grapheme_len
from atomcast.errors import ParameterError
from atomcast.jsontext import compact_encoder

__all__ = [
    "DEFAULT_LIMITS",
    "ELLIPSIS",
    "PayloadName",
    "PushLimits",
    "PushPayloads",
    "PushWarning",
    "build_push",
    "grapheme_clusters",
    "grapheme_len",
    "payload_size",
    "safe_https_url",
    "stringify_data",
    "truncate_graphemes",
    "truncate_text",
    "truncate_utf8",
]

ELLIPSIS: Final = "…"
_ELLIPSIS_LEN: Final = grapheme_len(ELLIPSIS)

# Inside a Python str a surrogate code point is always unpaired (pairs are decoded into one
# code point), and it has no UTF-8 encoding: json.dumps(...).encode() would raise.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# A URL is rejected rather than repaired when it holds characters a browser would strip or
# reinterpret (whitespace, controls, backslash read as "/"): what is checked must be what
# is opened.
_URL_FORBIDDEN: Final = re.compile("[\\s\x00-\x1f\x7f\\\\\ud800-\udfff]")
_WHITESPACE_RUN: Final = re.compile(r"\s+")
_NO_BREAK_SPACES: Final = frozenset("\u00a0\u2007\u202f")

# Going back to a word boundary is only worth it when the word is short: a longer run
# without spaces is a language written without them (Chinese, Japanese, Thai...) or a URL,
# and is better cut at the grapheme.
_MAX_WORD_BACKOFF: Final = 32

# Keys of ``data`` that would collide with keys this module writes (APNs ``aps``, the
# ``url`` / ``image_url`` custom keys, web push ``data.url``) or that FCM reserves.
_RESERVED_DATA_KEYS: Final = frozenset({"aps", "url", "image_url", "from", "message_type"})
_RESERVED_DATA_PREFIXES: Final = ("google", "gcm")

PayloadName = Literal["apns", "fcm", "webpush"]
_PAYLOADS: Final[tuple[PayloadName, ...]] = ("apns", "fcm", "webpush")
_TextField = Literal["title", "subtitle", "body"]
# Which payloads carry each text field: cutting a field only helps those.
_CARRIERS: Final[Mapping[_TextField, tuple[PayloadName, ...]]] = {
    "title": _PAYLOADS,
    "subtitle": ("apns", "fcm"),
    "body": _PAYLOADS,
}


@dataclasses.dataclass(frozen=True, slots=True)
class PushLimits:
    """Size and display limits for a push notification.

    :param title_chars: title length, in grapheme clusters, that an iOS lock screen shows
        on its single title line; longer titles warn ``title_too_long``. Also the display
        limit of the subtitle.
    :param body_chars: body length, in grapheme clusters, that fits the four body lines of
        an iOS lock-screen notification; longer bodies warn ``body_too_long``.
    :param apns_bytes: maximum APNs payload size (Apple: 4096 bytes for a remote
        notification).
    :param fcm_bytes: maximum FCM message size (FCM: 4096 bytes).
    :param webpush_bytes: maximum web push plaintext: 4096 bytes of record minus the 103
        bytes RFC 8291's aes128gcm header, padding delimiter and tag take.
    :param android_title_chars: title length shown by a collapsed Android notification
        (one line, about 65 characters on a typical phone in portrait).
    :param android_body_chars: body length shown by an Android notification before it is
        cut (about 240 characters once expanded to its big-text style).
    :raises ValueError: if a limit is not a positive integer.
    """

    title_chars: int = 40
    body_chars: int = 178
    apns_bytes: int = 4096
    fcm_bytes: int = 4096
    webpush_bytes: int = 3993
    android_title_chars: int = 65
    android_body_chars: int = 240

    def __post_init__(self) -> None:
        for limit in dataclasses.fields(self):
            name = limit.name
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ParameterError(
                    f"PushLimits.{name}", f"must be a positive integer, got {value!r}"
                )

    def byte_limit(self, payload: PayloadName) -> int:
        """Return the byte limit of ``payload`` (``"apns"``, ``"fcm"`` or ``"webpush"``)."""
        limits: dict[PayloadName, int] = {
            "apns": self.apns_bytes,
            "fcm": self.fcm_bytes,
            "webpush": self.webpush_bytes,
        }
        return limits[payload]


DEFAULT_LIMITS: Final = PushLimits()


@dataclasses.dataclass(frozen=True, slots=True)
class PushWarning:
    """Something a campaign author should know about a built notification.

    :param code: stable machine-readable code (see the module documentation).
    :param message: human-readable explanation, with the numbers involved.
    """

    code: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class PushPayloads:
    """The three payloads of one notification, and what was done to build them.

    :param title: the title every payload carries (after any truncation).
    :param body: the body every payload carries (after any truncation).
    :param apns: the APNs payload.
    :param fcm: the FCM HTTP v1 request body (``{"message": {...}}``).
    :param webpush: the JSON a web push service worker receives.
    :param previews: display-truncated text for preview UIs: ``ios_preview_title``,
        ``ios_preview_body``, ``android_preview_title``, ``android_preview_body``, and
        ``ios_preview_subtitle`` when there is a subtitle.
    :param warnings: what was dropped, truncated or is too long to display, in order.
    """

    title: str
    body: str
    apns: dict[str, Any]
    fcm: dict[str, Any]
    webpush: dict[str, Any]
    previews: dict[str, str]
    warnings: tuple[PushWarning, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the push channel's JSON object (SPEC section 5), without ``status``."""
        return {
            "title": self.title,
            "body": self.body,
            "apns": self.apns,
            "fcm": self.fcm,
            "webpush": self.webpush,
            "previews": self.previews,
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }


# --------------------------------------------------------------------------- text helpers


def payload_size(payload: Mapping[str, Any]) -> int:
    """Return the size in bytes of ``payload`` serialized the way it is sent.

    Compact separators, non-ASCII characters kept as UTF-8 rather than ``\\u`` escapes.

    :param payload: a JSON-serializable mapping.
    :returns: the UTF-8 length of its compact JSON.
    """
    return len(_to_json(payload).encode("utf-8", "surrogatepass"))


def truncate_text(
    text: str,
    fits: Callable[[str], bool],
    *,
    min_graphemes: int = 0,
    ellipsis: str = ELLIPSIS,
) -> str:
    """Return the longest shortening of ``text`` that ``fits`` accepts.

    ``text`` itself is returned when it fits. Otherwise the result is a prefix of ``text``
    that ends on a grapheme-cluster boundary, followed by ``ellipsis``. The longest fitting
    prefix is found by binary search, which relies on ``fits`` being monotonic (a shorter
    candidate never fits worse). The cut then moves back to the end of the previous word
    when that word is short, and whitespace before the ellipsis is dropped.

    :param text: the text to shorten.
    :param fits: predicate on a candidate result.
    :param min_graphemes: never keep fewer grapheme clusters than this (whitespace trimmed
        before the ellipsis aside). If ``text`` has no more clusters than this, it is
        returned unchanged even though it does not fit.
    :param ellipsis: what marks the cut.
    :returns: ``text``, or the best candidate; when even the shortest allowed candidate
        does not fit, that shortest candidate (the caller must check).
    """
    if fits(text):
        return text
    clusters = grapheme_clusters(text)
    count = len(clusters)
    floor = max(min_graphemes, 0)
    if floor >= count:
        return text
    offsets = [0]
    for cluster in clusters:
        offsets.append(offsets[-1] + len(cluster))

    def candidate(kept: int) -> str:
        return text[: offsets[kept]] + ellipsis

    low, high = floor, count - 1
    if fits(candidate(low)):
        while low < high:
            middle = (low + high + 1) // 2
            if fits(candidate(middle)):
                low = middle
            else:
                high = middle - 1
    cut = _word_cut(clusters, low, floor)
    while cut > 0 and clusters[cut - 1].isspace():
        cut -= 1
    return candidate(cut)


def _word_cut(clusters: list[str], kept: int, floor: int) -> int:
    """Move a cut after ``kept`` clusters back to a nearby word boundary, if any."""
    lowest = max(floor, kept // 2, kept - _MAX_WORD_BACKOFF)
    for cut in range(kept, lowest - 1, -1):
        if _is_break(clusters[cut]) or (cut > 0 and _is_break(clusters[cut - 1])):
            return cut
    return kept


def _is_break(cluster: str) -> bool:
    # No-break spaces are there precisely so that "30 %" or "M. Dupont" stay together.
    return cluster.isspace() and not any(char in _NO_BREAK_SPACES for char in cluster)


def truncate_graphemes(text: str, max_graphemes: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Shorten ``text`` to at most ``max_graphemes`` grapheme clusters, ellipsis included.

    :param text: the text to shorten.
    :param max_graphemes: the maximum length of the result, in grapheme clusters.
    :param ellipsis: what marks the cut.
    :returns: ``text`` if short enough, else a word- or grapheme-boundary prefix plus the
        ellipsis; ``""`` if not even the ellipsis fits.
    """
    ellipsis_length = _ELLIPSIS_LEN if ellipsis == ELLIPSIS else grapheme_len(ellipsis)
    if ellipsis_length > max_graphemes:
        return "" if max_graphemes < grapheme_len(text) else text
    return truncate_text(text, lambda s: grapheme_len(s) <= max_graphemes, ellipsis=ellipsis)


def truncate_utf8(text: str, max_bytes: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Shorten ``text`` to at most ``max_bytes`` bytes of UTF-8, ellipsis included.

    :param text: the text to shorten.
    :param max_bytes: the maximum UTF-8 length of the result.
    :param ellipsis: what marks the cut.
    :returns: ``text`` if short enough, else a word- or grapheme-boundary prefix plus the
        ellipsis; ``""`` if not even the ellipsis fits.
    """

    def fits(candidate: str) -> bool:
        return len(candidate.encode("utf-8", "surrogatepass")) <= max_bytes

    if not fits(ellipsis):
        return text if fits(text) else ""
    return truncate_text(text, fits, ellipsis=ellipsis)


def safe_https_url(url: str | None) -> str | None:
    """Return ``url`` if it is an absolute ``https`` URL with a host, else ``None``.

    Surrounding whitespace is stripped (a template often leaves a newline). Anything else
    a browser would silently strip or reinterpret (inner whitespace, control characters,
    backslashes) makes the URL unsafe rather than being repaired.

    :param url: candidate URL.
    :returns: the stripped URL, or ``None`` when absent, empty or unsafe.
    """
    if url is None:
        return None
    candidate = url.strip()
    if not candidate or _URL_FORBIDDEN.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:  # e.g. an unbalanced "[" in an IPv6 host
        return None
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    return candidate


def stringify_data(data: Mapping[str, Any]) -> dict[str, str]:
    """Convert a data mapping to the string-to-string map FCM requires.

    Strings are kept as they are; every other value is written as compact JSON (``True``
    becomes ``"true"``, ``3`` becomes ``"3"``, a list or dict its JSON text), and values JSON
    cannot represent (dates, decimals...) as their ``str()``. Keys are converted with
    ``str()``.

    :param data: arbitrary key/value pairs.
    :returns: a new dict with string keys and values, in the same order.
    """
    return {str(key): _data_value(value) for key, value in data.items()}


def _data_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, int | float | list | tuple | dict):
        return _to_json(value)
    # Not a JSON type: its JSON form would be its str() in quotes, which no app expects.
    return str(value)


# One encoder for every call: json.dumps with options builds a new one each time.
_to_json: Final = compact_encoder(default=str)


# ------------------------------------------------------------------------------- payloads


@dataclasses.dataclass(frozen=True, slots=True)
class _Extras:
    """Everything in a payload besides the texts, already validated."""

    image: str | None
    url: str | None
    icon: str | None
    thread_id: str | None
    click_action: str | None
    data: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class _Texts:
    title: str
    subtitle: str | None
    body: str

    def replace(self, field: _TextField, value: str) -> _Texts:
        return dataclasses.replace(self, **{field: value})

    def get(self, field: _TextField) -> str | None:
        if field == "title":
            return self.title
        if field == "subtitle":
            return self.subtitle
        return self.body


def _apns_payload(texts: _Texts, extras: _Extras, *, with_data: bool) -> dict[str, Any]:
    alert: dict[str, Any] = {"title": texts.title}
    if texts.subtitle is not None:
        alert["subtitle"] = texts.subtitle
    alert["body"] = texts.body
    aps: dict[str, Any] = {"alert": alert}
    if extras.image is not None:
        aps["mutable-content"] = 1
    if extras.thread_id is not None:
        aps["thread-id"] = extras.thread_id
    aps["sound"] = "default"
    payload: dict[str, Any] = {"aps": aps}
    if extras.image is not None:
        payload["image_url"] = extras.image
    if extras.url is not None:
        payload["url"] = extras.url
    if with_data:
        payload.update(extras.data)
    return payload


def _fcm_payload(texts: _Texts, extras: _Extras) -> dict[str, Any]:
    notification: dict[str, Any] = {"title": texts.title, "body": texts.body}
    android_notification: dict[str, Any] = {}
    apns_options: dict[str, Any] = {}
    webpush_notification: dict[str, Any] = {}
    if extras.click_action is not None:
        android_notification["click_action"] = extras.click_action
    if extras.icon is not None:
        webpush_notification["icon"] = extras.icon
    if extras.image is not None:
        notification["image"] = extras.image
        android_notification["image"] = extras.image
        apns_options["image"] = extras.image
        webpush_notification["image"] = extras.image
    android: dict[str, Any] = {"notification": android_notification}
    if extras.thread_id is not None:
        android_notification["tag"] = extras.thread_id
        android["collapse_key"] = extras.thread_id
        webpush_notification["tag"] = extras.thread_id
    webpush: dict[str, Any] = {"fcm_options": {} if extras.url is None else {"link": extras.url}}
    if webpush_notification:
        webpush["notification"] = webpush_notification
    data = {} if extras.url is None else {"url": extras.url}
    data.update(extras.data)
    return {
        "message": {
            "notification": notification,
            "android": android,
            "apns": {
                "payload": _apns_payload(texts, extras, with_data=False),
                "fcm_options": apns_options,
            },
            "webpush": webpush,
            "data": data,
        }
    }


def _webpush_payload(texts: _Texts, extras: _Extras) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": texts.title, "body": texts.body}
    if extras.icon is not None:
        payload["icon"] = extras.icon
    if extras.image is not None:
        payload["image"] = extras.image
    data = {} if extras.url is None else {"url": extras.url}
    data.update(extras.data)
    payload["data"] = data
    if extras.thread_id is not None:
        payload["tag"] = extras.thread_id
    return payload


def _payloads(texts: _Texts, extras: _Extras) -> dict[PayloadName, dict[str, Any]]:
    return {
        "apns": _apns_payload(texts, extras, with_data=True),
        "fcm": _fcm_payload(texts, extras),
        "webpush": _webpush_payload(texts, extras),
    }


def _sizes(texts: _Texts, extras: _Extras) -> dict[PayloadName, int]:
    return {name: payload_size(p) for name, p in _payloads(texts, extras).items()}


# ---------------------------------------------------------------------------------- build


def build_push(
    *,
    title: str,
    body: str,
    subtitle: str | None = None,
    image_url: str | None = None,
    url: str | None = None,
    icon_url: str | None = None,
    data: Mapping[str, Any] | None = None,
    thread_id: str | None = None,
    android_click_action: str | None = None,
    limits: PushLimits = DEFAULT_LIMITS,
) -> PushPayloads:
    """Build the APNs, FCM and Web Push payloads of one notification.

    :param title: rendered title.
    :param body: rendered body.
    :param subtitle: rendered subtitle (APNs only; other platforms have no such line).
        ``None`` or ``""`` for none.
    :param image_url: https URL of a rich-notification image. Attaching one sets APNs
        ``mutable-content``.
    :param url: https URL opened when the notification is tapped.
    :param icon_url: https URL of the web push icon.
    :param data: extra key/value pairs for the app; values are stringified
        (:func:`stringify_data`) so that every platform receives the same strings.
    :param thread_id: groups (APNs ``thread-id``) and collapses (Android ``tag`` and
        ``collapse_key``, web push ``tag``) the notifications of one campaign.
    :param android_click_action: Android intent action to launch on tap, when the app
        declares one; left out otherwise (the app then opens ``data["url"]`` itself).
    :param limits: size and display limits.
    :returns: the payloads, the shared title/body, previews and warnings.
    """
    warnings: list[PushWarning] = []
    original = _Texts(
        title=_clean_text("title", title, warnings),
        subtitle=_clean_text("subtitle", subtitle, warnings) if subtitle else None,
        body=_clean_text("body", body, warnings),
    )
    extras = _Extras(
        image=_checked_url("image_url", image_url, warnings),
        url=_checked_url("url", url, warnings),
        icon=_checked_url("icon_url", icon_url, warnings),
        thread_id=_clean_text("thread_id", thread_id, warnings) if thread_id else None,
        click_action=(
            _clean_text("android_click_action", android_click_action, warnings)
            if android_click_action
            else None
        ),
        data=_checked_data(data or {}, warnings),
    )
    texts = _fit(original, extras, limits, warnings)
    _display_warnings(texts, limits, warnings)
    payloads = _payloads(texts, extras)
    return PushPayloads(
        title=texts.title,
        body=texts.body,
        apns=payloads["apns"],
        fcm=payloads["fcm"],
        webpush=payloads["webpush"],
        previews=_previews(texts, limits),
        warnings=tuple(warnings),
    )


def _clean_text(name: str, text: str, warnings: list[PushWarning]) -> str:
    cleaned, count = _SURROGATE.subn("\ufffd", text)
    if count:
        warnings.append(
            PushWarning(
                "invalid_text",
                f"{name}: {count} unpaired surrogate code point(s) replaced by U+FFFD; "
                "they cannot be encoded as UTF-8",
            )
        )
    return cleaned


def _checked_url(name: str, url: str | None, warnings: list[PushWarning]) -> str | None:
    if url is None or not url.strip():
        return None
    safe = safe_https_url(url)
    if safe is None:
        shown = url if len(url) <= 80 else url[:79] + ELLIPSIS
        shown = _SURROGATE.sub("\ufffd", shown)
        warnings.append(
            PushWarning(
                "unsafe_url",
                f"{name} dropped: only absolute https URLs are allowed, got {shown!r}",
            )
        )
    return safe


def _checked_data(data: Mapping[str, Any], warnings: list[PushWarning]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in stringify_data(data).items():
        lowered = key.lower()
        if not key or lowered in _RESERVED_DATA_KEYS or lowered.startswith(_RESERVED_DATA_PREFIXES):
            warnings.append(
                PushWarning(
                    "reserved_data_key",
                    f"data key {key!r} dropped: it is empty, reserved by FCM, or written "
                    "by atomcast itself (aps, url, image_url)",
                )
            )
            continue
        checked[_SURROGATE.sub("\ufffd", key)] = _SURROGATE.sub("\ufffd", value)
    return checked


def _fit(
    original: _Texts, extras: _Extras, limits: PushLimits, warnings: list[PushWarning]
) -> _Texts:
    """Shorten the texts until every payload fits its byte limit (see the module docs)."""
    before = _sizes(original, extras)
    if all(before[name] <= limits.byte_limit(name) for name in _PAYLOADS):
        return original

    minimal = original
    for field in _CARRIERS:
        source = original.get(field)
        if source is not None and _json_len(ELLIPSIS) < _json_len(source):
            minimal = minimal.replace(field, ELLIPSIS)
    smallest = _sizes(minimal, extras)
    # A payload that cannot fit even with no text left is over because of its data or
    # URLs: cutting the text would not save it, so it must not cost the others their text.
    hopeless = {name for name in _PAYLOADS if smallest[name] > limits.byte_limit(name)}

    def fits(texts: _Texts, among: tuple[PayloadName, ...]) -> bool:
        sizes = _sizes(texts, extras)
        return all(sizes[name] <= limits.byte_limit(name) for name in among if name not in hopeless)

    steps: list[tuple[_TextField, int]] = [
        ("body", limits.body_chars),
        ("subtitle", limits.title_chars),
        ("title", limits.title_chars),
        ("body", 0),
        ("subtitle", 0),
        ("title", 0),
    ]
    texts = original
    for field, floor in steps:
        if fits(texts, _PAYLOADS):
            break
        texts = _shrink(texts, field, original.get(field), floor, fits)

    after = _sizes(texts, extras)
    over_before = [name for name in _PAYLOADS if before[name] > limits.byte_limit(name)]
    for field in _CARRIERS:
        old, new = original.get(field), texts.get(field)
        if old is None or new is None or old == new:
            continue
        reasons = ", ".join(
            f"{name} {before[name]} -> {after[name]} bytes (limit {limits.byte_limit(name)})"
            for name in over_before
            if name not in hopeless and name in _CARRIERS[field]
        )
        warnings.append(
            PushWarning(
                "truncated",
                f"{field} truncated from {grapheme_len(old)} to {grapheme_len(new)} "
                f"characters ({_utf8_len(old)} -> {_utf8_len(new)} bytes) to fit {reasons}",
            )
        )
    for name in _PAYLOADS:
        if after[name] > limits.byte_limit(name):
            warnings.append(
                PushWarning(
                    "payload_too_large",
                    f"{name} payload is {after[name]} bytes, over its "
                    f"{limits.byte_limit(name)}-byte limit, and shortening the text cannot "
                    "fix it: reduce the data or the URLs",
                )
            )
    return texts


def _shrink(
    texts: _Texts,
    field: _TextField,
    source: str | None,
    floor: int,
    fits: Callable[[_Texts, tuple[PayloadName, ...]], bool],
) -> _Texts:
    """Cut ``field`` (from its original ``source``) as little as the carrying payloads need."""
    if source is None:
        return texts
    carriers = _CARRIERS[field]

    def field_fits(candidate: str) -> bool:
        return fits(texts.replace(field, candidate), carriers)

    shortened = truncate_text(source, field_fits, min_graphemes=floor)
    current = texts.get(field) or ""
    # "…" is longer than a one- or two-letter text (or than a JSON-escaped control
    # character): a cut that still does not fit must not make the payload bigger.
    if not field_fits(shortened) and _json_len(shortened) >= _json_len(current):
        return texts
    return texts.replace(field, shortened)


def _json_len(text: str) -> int:
    return _utf8_len(_to_json(text))


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _display_warnings(texts: _Texts, limits: PushLimits, warnings: list[PushWarning]) -> None:
    checks: tuple[tuple[str, str | None, int], ...] = (
        ("title", texts.title, limits.title_chars),
        ("subtitle", texts.subtitle, limits.title_chars),
        ("body", texts.body, limits.body_chars),
    )
    for name, text, limit in checks:
        if text is None:
            continue
        length = grapheme_len(text)
        if length > limit:
            warnings.append(
                PushWarning(
                    f"{name}_too_long",
                    f"{name} is {length} characters; a lock screen shows about {limit}, "
                    "the rest is cut visually",
                )
            )


def _previews(texts: _Texts, limits: PushLimits) -> dict[str, str]:
    # A notification title is a single line: line breaks in it display as spaces.
    title = _WHITESPACE_RUN.sub(" ", texts.title).strip()
    previews = {
        "ios_preview_title": truncate_graphemes(title, limits.title_chars),
        "ios_preview_body": truncate_graphemes(texts.body, limits.body_chars),
        "android_preview_title": truncate_graphemes(title, limits.android_title_chars),
        "android_preview_body": truncate_graphemes(texts.body, limits.android_body_chars),
    }
    if texts.subtitle is not None:
        subtitle = _WHITESPACE_RUN.sub(" ", texts.subtitle).strip()
        previews["ios_preview_subtitle"] = truncate_graphemes(subtitle, limits.title_chars)
    return previews
