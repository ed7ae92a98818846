"""Tests for atomcast.channels.push_payload: payload shapes, size limits, truncation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from atomcast.channels.push_payload import (
    DEFAULT_LIMITS,
    ELLIPSIS,
    PushLimits,
    PushPayloads,
    PushWarning,
    build_push,
    grapheme_clusters,
    grapheme_len,
    payload_size,
    safe_https_url,
    stringify_data,
    truncate_graphemes,
    truncate_text,
    truncate_utf8,
)
from tests.conftest import examples

IMAGE = "https://cdn.harborpine.example/hero.png"
LINK = "https://harborpine.example/sale?utm=push"
ICON = "https://harborpine.example/icon-192.png"

FAMILY = "👩\u200d👩\u200d👧\u200d👦"  # one grapheme, 7 code points, 25 bytes
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"
FLAG_FR = "🇫🇷"
THUMB_DARK = "👍🏽"
E_ACUTE_CIRCUMFLEX = "e\u0301\u0302"


def codes(result: PushPayloads) -> list[str]:
    return [w.code for w in result.warnings]


def messages(result: PushPayloads, code: str) -> list[str]:
    return [w.message for w in result.warnings if w.code == code]


def sizes(result: PushPayloads) -> dict[str, int]:
    return {
        "apns": payload_size(result.apns),
        "fcm": payload_size(result.fcm),
        "webpush": payload_size(result.webpush),
    }


def assert_within_limits(result: PushPayloads, limits: PushLimits = DEFAULT_LIMITS) -> None:
    measured = sizes(result)
    assert measured["apns"] <= limits.apns_bytes
    assert measured["fcm"] <= limits.fcm_bytes
    assert measured["webpush"] <= limits.webpush_bytes


def is_cut_of(result: str, original: str) -> bool:
    """True if ``result`` is ``original`` or a grapheme-cluster prefix of it plus "…"."""
    if result == original:
        return True
    if not result.endswith(ELLIPSIS):
        return False
    kept = result[: -len(ELLIPSIS)]
    boundaries = {0}
    position = 0
    for cluster in grapheme_clusters(original):
        position += len(cluster)
        boundaries.add(position)
    return original.startswith(kept) and len(kept) in boundaries and kept != original


def assert_same_text_everywhere(result: PushPayloads) -> None:
    apns_alert = result.apns["aps"]["alert"]
    message = result.fcm["message"]
    for title, body in (
        (apns_alert["title"], apns_alert["body"]),
        (message["notification"]["title"], message["notification"]["body"]),
        (
            message["apns"]["payload"]["aps"]["alert"]["title"],
            message["apns"]["payload"]["aps"]["alert"]["body"],
        ),
        (result.webpush["title"], result.webpush["body"]),
    ):
        assert (title, body) == (result.title, result.body)


# ------------------------------------------------------------------------------ shapes


def test_minimal_payload_shapes() -> None:
    result = build_push(title="Hi Ana", body="Your cart misses you")

    assert result.title == "Hi Ana"
    assert result.body == "Your cart misses you"
    assert result.warnings == ()
    apns = {
        "aps": {"alert": {"title": "Hi Ana", "body": "Your cart misses you"}, "sound": "default"}
    }
    assert result.apns == apns
    assert result.fcm == {
        "message": {
            "notification": {"title": "Hi Ana", "body": "Your cart misses you"},
            "android": {"notification": {}},
            "apns": {"payload": apns, "fcm_options": {}},
            "webpush": {"fcm_options": {}},
            "data": {},
        }
    }
    assert result.webpush == {"title": "Hi Ana", "body": "Your cart misses you", "data": {}}


def test_full_payload_shapes() -> None:
    result = build_push(
        title="Hi Ana",
        subtitle="Summer sale",
        body="30% off everything",
        image_url=IMAGE,
        url=LINK,
        icon_url=ICON,
        data={"offer": "offer-20", "discount": 20},
        thread_id="summer-sale",
        android_click_action="OPEN_OFFER",
    )

    assert result.warnings == ()
    aps = {
        "alert": {"title": "Hi Ana", "subtitle": "Summer sale", "body": "30% off everything"},
        "mutable-content": 1,
        "thread-id": "summer-sale",
        "sound": "default",
    }
    assert result.apns == {
        "aps": aps,
        "image_url": IMAGE,
        "url": LINK,
        "offer": "offer-20",
        "discount": "20",
    }
    assert result.fcm == {
        "message": {
            "notification": {"title": "Hi Ana", "body": "30% off everything", "image": IMAGE},
            "android": {
                "notification": {
                    "click_action": "OPEN_OFFER",
                    "image": IMAGE,
                    "tag": "summer-sale",
                },
                "collapse_key": "summer-sale",
            },
            # FCM copies message.data into the APNs custom keys itself.
            "apns": {
                "payload": {"aps": aps, "image_url": IMAGE, "url": LINK},
                "fcm_options": {"image": IMAGE},
            },
            "webpush": {
                "fcm_options": {"link": LINK},
                "notification": {"icon": ICON, "image": IMAGE, "tag": "summer-sale"},
            },
            "data": {"url": LINK, "offer": "offer-20", "discount": "20"},
        }
    }
    assert result.webpush == {
        "title": "Hi Ana",
        "body": "30% off everything",
        "icon": ICON,
        "image": IMAGE,
        "data": {"url": LINK, "offer": "offer-20", "discount": "20"},
        "tag": "summer-sale",
    }


@pytest.mark.parametrize(("image_url", "mutable"), [(IMAGE, True), (None, False), ("", False)])
def test_mutable_content_only_with_an_image(image_url: str | None, mutable: bool) -> None:
    result = build_push(title="t", body="b", image_url=image_url)

    assert ("mutable-content" in result.apns["aps"]) is mutable
    assert ("mutable-content" in result.fcm["message"]["apns"]["payload"]["aps"]) is mutable
    if mutable:
        assert result.apns["aps"]["mutable-content"] == 1
        assert result.apns["image_url"] == IMAGE
        assert result.fcm["message"]["apns"]["fcm_options"] == {"image": IMAGE}
        assert result.webpush["image"] == IMAGE
    else:
        assert "image_url" not in result.apns
        assert "image" not in result.fcm["message"]["notification"]
        assert "image" not in result.webpush


def test_click_url_is_never_an_android_click_action() -> None:
    # click_action names an intent filter action; a URL there would open nothing.
    result = build_push(title="t", body="b", url=LINK)

    assert "click_action" not in result.fcm["message"]["android"]["notification"]
    assert result.fcm["message"]["data"]["url"] == LINK
    assert result.fcm["message"]["webpush"]["fcm_options"]["link"] == LINK
    assert result.apns["url"] == LINK
    assert result.webpush["data"]["url"] == LINK


@pytest.mark.parametrize("thread_id", [None, ""])
def test_no_thread_id_means_no_grouping_keys(thread_id: str | None) -> None:
    result = build_push(title="t", body="b", thread_id=thread_id)

    assert "thread-id" not in result.apns["aps"]
    assert "collapse_key" not in result.fcm["message"]["android"]
    assert "tag" not in result.fcm["message"]["android"]["notification"]
    assert "tag" not in result.webpush


@pytest.mark.parametrize("subtitle", [None, ""])
def test_no_subtitle_key_without_subtitle(subtitle: str | None) -> None:
    result = build_push(title="t", body="b", subtitle=subtitle)

    assert "subtitle" not in result.apns["aps"]["alert"]
    assert "ios_preview_subtitle" not in result.previews


def test_text_is_data_not_json_text() -> None:
    nasty = 'Ana"}, "aps": {"alert": "pwned"}, "x": {"'
    result = build_push(title=nasty, body='\\" \n </script>', subtitle=nasty)

    assert json.loads(json.dumps(result.apns))["aps"]["alert"]["title"] == nasty
    assert set(result.apns) == {"aps"}
    assert result.webpush["body"] == '\\" \n </script>'


def test_payloads_are_json_serializable_and_sized_compactly() -> None:
    result = build_push(title="Été ☀️", body="Plage 🏖️", data={"when": dt.date(2026, 6, 1)})

    for payload in (result.apns, result.fcm, result.webpush):
        compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        assert payload_size(payload) == len(compact.encode("utf-8"))
    assert result.fcm["message"]["data"] == {"when": "2026-06-01"}


def test_to_dict_is_the_channel_json() -> None:
    result = build_push(title="t", body="b", url="javascript:alert(1)")

    as_dict = result.to_dict()

    assert as_dict["title"] == "t"
    assert as_dict["body"] == "b"
    assert as_dict["apns"] is result.apns
    assert as_dict["fcm"]["message"]["notification"] == {"title": "t", "body": "b"}
    assert as_dict["warnings"] == [{"code": "unsafe_url", "message": result.warnings[0].message}]
    json.dumps(as_dict)


def test_results_are_frozen() -> None:
    result = build_push(title="t", body="b")

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.title = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.title_chars = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PushWarning("c", "m").code = "d"  # type: ignore[misc]


@pytest.mark.parametrize(
    "field", ["title_chars", "body_chars", "apns_bytes", "fcm_bytes", "webpush_bytes"]
)
@pytest.mark.parametrize("value", [0, -1, True, 4.5])
def test_limits_must_be_positive_integers(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        PushLimits(**{field: value})  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- data


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        (3, "3"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([1, "a"], '[1,"a"]'),
        ({"a": 1, "b": "é"}, '{"a":1,"b":"é"}'),
        (dt.date(2026, 6, 1), "2026-06-01"),
    ],
)
def test_data_values_are_stringified_for_every_payload(value: Any, expected: str) -> None:
    result = build_push(title="t", body="b", data={"k": value})

    assert result.fcm["message"]["data"] == {"k": expected}
    assert result.webpush["data"] == {"k": expected}
    assert result.apns["k"] == expected
    assert stringify_data({"k": value}) == {"k": expected}


def test_data_keys_are_stringified() -> None:
    assert stringify_data({1: 2}) == {"1": "2"}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "key",
    ["from", "message_type", "google.c.a.e", "gcm.notification.title", "aps", "url", "URL", ""],
)
def test_reserved_data_keys_are_dropped(key: str) -> None:
    result = build_push(title="t", body="b", url=LINK, data={key: "javascript:x", "ok": "1"})

    assert codes(result) == ["reserved_data_key"]
    assert result.fcm["message"]["data"] == {"url": LINK, "ok": "1"}
    assert result.webpush["data"] == {"url": LINK, "ok": "1"}
    assert "javascript" not in json.dumps([result.apns, result.fcm, result.webpush])


# -------------------------------------------------------------------------------- URLs

UNSAFE_URLS = [
    "javascript:alert(1)",
    " JAVASCRIPT:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox",
    "http://harborpine.example/sale",
    "ftp://harborpine.example/a.png",
    "//harborpine.example/a.png",
    "/relative/path",
    "https://",
    "https:///path-only",
    "https:harborpine.example",
    "https://harbor pine.example/",
    "https://harborpine.example/\\evil",
    "https://harborpine.example/a\nb",
    "https://[::1",
]


@pytest.mark.parametrize("unsafe", UNSAFE_URLS)
@pytest.mark.parametrize("argument", ["image_url", "url", "icon_url"])
def test_unsafe_urls_are_dropped(argument: str, unsafe: str) -> None:
    urls: dict[str, Any] = {argument: unsafe}
    result = build_push(title="t", body="b", **urls)

    assert codes(result) == ["unsafe_url"]
    assert argument in result.warnings[0].message
    serialized = json.dumps([result.apns, result.fcm, result.webpush], ensure_ascii=False)
    assert unsafe.strip() not in serialized
    assert "mutable-content" not in result.apns["aps"]
    assert result.fcm["message"]["webpush"]["fcm_options"] == {}
    assert result.webpush["data"] == {}
    assert safe_https_url(unsafe) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (LINK, LINK),
        ("  https://harborpine.example/a\n", "https://harborpine.example/a"),
        ("HTTPS://harborpine.example/", "HTTPS://harborpine.example/"),
        (
            "https://xn--hrbor-pine-h7a.example/é?q=1#x",
            "https://xn--hrbor-pine-h7a.example/é?q=1#x",
        ),
        ("https://[2001:db8::1]/a", "https://[2001:db8::1]/a"),
    ],
)
def test_safe_urls_are_kept(url: str, expected: str) -> None:
    assert safe_https_url(url) == expected
    result = build_push(title="t", body="b", url=url)
    assert result.warnings == ()
    assert result.apns["url"] == expected


@pytest.mark.parametrize("blank", [None, "", "  \n"])
def test_blank_urls_are_absent_without_warning(blank: str | None) -> None:
    result = build_push(title="t", body="b", image_url=blank, url=blank, icon_url=blank)

    assert result.warnings == ()
    assert safe_https_url(blank) is None


# -------------------------------------------------------------------------- truncation

HUGE_TEXTS = {
    "emoji": "😀" * 5000,
    "zwj_families": FAMILY * 2000,
    "zwj_words": " ".join([FAMILY + RAINBOW_FLAG + THUMB_DARK] * 900),
    "flags": FLAG_FR * 3000,
    "combining_marks": E_ACUTE_CIRCUMFLEX * 5000,
    "stacked_marks": ("a" + "\u0301" * 30) * 400,
    "cjk": "夏のセールが始まりました" * 800,
    "hebrew": "מבצע קיץ גדול לכל הלקוחות " * 400,
    "arabic": "تخفيضات الصيف الكبرى لجميع العملاء " * 300,
    "mixed_rtl_ltr": "Sale \u202bמבצע\u202c 50% " * 700,
    "thai": "ลดราคาฤดูร้อน" * 800,
    "devanagari": "गर्मी की सेल शुरू " * 600,
    "no_space_word": "a" * 20_000,
    "words": "word " * 4000,
    "json_escapes": '"\\\x00\n' * 3000,
}


@pytest.mark.parametrize("text", HUGE_TEXTS.values(), ids=HUGE_TEXTS.keys())
def test_huge_body_fits_every_payload(text: str) -> None:
    result = build_push(
        title="Summer", subtitle="Sale", body=text, image_url=IMAGE, url=LINK, thread_id="summer"
    )

    assert_within_limits(result)
    assert_same_text_everywhere(result)
    assert result.title == "Summer"
    assert result.apns["aps"]["alert"]["subtitle"] == "Sale"
    assert result.body != text
    assert is_cut_of(result.body, text)
    truncated = messages(result, "truncated")
    assert len(truncated) == 1
    assert truncated[0].startswith("body truncated from ")
    assert "fcm" in truncated[0]


@pytest.mark.parametrize("text", HUGE_TEXTS.values(), ids=HUGE_TEXTS.keys())
def test_huge_title_and_body_fit_every_payload(text: str) -> None:
    result = build_push(title=text, body=text, subtitle=text)

    assert_within_limits(result)
    assert_same_text_everywhere(result)
    for field in (result.title, result.body, result.apns["aps"]["alert"]["subtitle"]):
        assert field != text
        assert is_cut_of(field, text)
    assert [m.split(" ")[0] for m in messages(result, "truncated")] == [
        "title",
        "subtitle",
        "body",
    ]


def test_body_is_cut_before_the_title() -> None:
    title = "A long but legitimate title " * 10  # 280 characters, well under the limits
    result = build_push(title=title, body="word " * 4000)

    assert result.title == title
    assert result.body.endswith(ELLIPSIS)
    assert [m.split(" ")[0] for m in messages(result, "truncated")] == ["body"]


def test_visible_text_is_cut_last() -> None:
    # Round 1 takes both fields down to their display limits before either loses a
    # visible character: here the body stops at 178 clusters and the title absorbs the rest.
    result = build_push(title="😀" * 3000, body="😀" * 3000)

    assert grapheme_len(result.body) == DEFAULT_LIMITS.body_chars + 1
    assert grapheme_len(result.title) > DEFAULT_LIMITS.title_chars
    assert_within_limits(result)


def test_extreme_text_cuts_the_body_below_its_display_limit_first() -> None:
    # 25 bytes a cluster, twice in FCM: not even 40 + 178 clusters fit.
    result = build_push(title=FAMILY * 3000, body=FAMILY * 3000)

    assert grapheme_len(result.title) == DEFAULT_LIMITS.title_chars + 1
    assert grapheme_len(result.body) < DEFAULT_LIMITS.body_chars
    assert_within_limits(result)


UNLIMITED = PushLimits(apns_bytes=10**6, fcm_bytes=10**6, webpush_bytes=10**6)


@pytest.mark.parametrize("piece", ["字", "a", FAMILY, E_ACUTE_CIRCUMFLEX, '"'])
def test_cut_is_minimal_when_there_is_no_word_boundary(piece: str) -> None:
    text = piece * 9000
    result = build_push(title="t", body=text)

    kept = grapheme_len(result.body) - 1
    assert result.body == piece * kept + ELLIPSIS
    one_more = build_push(title="t", body=piece * (kept + 1) + ELLIPSIS, limits=UNLIMITED)
    assert payload_size(one_more.fcm) > DEFAULT_LIMITS.fcm_bytes


@pytest.mark.parametrize(
    ("text", "expected_tail"),
    [
        ("word " * 4000, "word" + ELLIPSIS),
        ("Hello wonderful world " * 1000, "wonderful" + ELLIPSIS),
    ],
)
def test_cut_moves_back_to_a_word_boundary(text: str, expected_tail: str) -> None:
    limits = PushLimits(webpush_bytes=1000)
    result = build_push(title="t", body=text, limits=limits)

    assert result.body.endswith(ELLIPSIS)
    assert not result.body[:-1].endswith(" ")
    assert_within_limits(result, limits)
    if expected_tail == "word" + ELLIPSIS:
        assert result.body.endswith(expected_tail)


def test_tightest_limit_decides_and_the_text_is_shared() -> None:
    limits = PushLimits(webpush_bytes=600)
    result = build_push(title="Summer", body="The sale is on. " * 300, limits=limits)

    assert 500 < payload_size(result.webpush) <= 600
    assert_within_limits(result, limits)
    assert_same_text_everywhere(result)
    (message,) = messages(result, "truncated")
    assert "webpush" in message
    assert "limit 600" in message


def test_truncation_warning_reports_sizes() -> None:
    body = "x" * 10_000
    result = build_push(title="t", body=body)

    (message,) = messages(result, "truncated")
    assert message.startswith(f"body truncated from 10000 to {grapheme_len(result.body)} ")
    assert f"({len(body)} -> {len(result.body.encode())} bytes)" in message
    before = payload_size(build_push(title="t", body=body, limits=UNLIMITED).fcm)
    assert f"fcm {before} -> {payload_size(result.fcm)} bytes (limit 4096)" in message


def test_subtitle_is_only_cut_for_the_payloads_that_carry_it() -> None:
    subtitle = "s" * 1000
    limits = PushLimits(webpush_bytes=400)
    result = build_push(title="t", subtitle=subtitle, body="b " * 1000, limits=limits)

    assert result.apns["aps"]["alert"]["subtitle"] == subtitle
    assert_within_limits(result, limits)


def test_data_that_cannot_fit_does_not_cost_the_text() -> None:
    result = build_push(title="Hi", body="Your cart misses you", data={"blob": "x" * 5000})

    assert result.title == "Hi"
    assert result.body == "Your cart misses you"
    assert "truncated" not in codes(result)
    too_large = messages(result, "payload_too_large")
    assert len(too_large) == 3
    assert too_large[0].startswith("apns payload is ")


def test_only_the_hopeless_payload_is_reported() -> None:
    # The image URL is long enough to sink FCM (which repeats it four times) but not
    # the others; the text is still cut as far as APNs and web push need.
    image = "https://cdn.harborpine.example/" + "i" * 1000
    result = build_push(title="t", body="b " * 2000, image_url=image)

    assert [m.split(" ")[0] for m in messages(result, "payload_too_large")] == ["fcm"]
    assert payload_size(result.apns) <= 4096
    assert payload_size(result.webpush) <= 3993
    assert result.body.endswith(ELLIPSIS)


def test_ellipsis_never_makes_a_text_longer() -> None:
    limits = PushLimits(apns_bytes=60, fcm_bytes=60, webpush_bytes=60)
    result = build_push(title="a", body="b", limits=limits)

    # Only FCM is over, and "…" would be longer than "a": nothing is cut.
    assert (result.title, result.body) == ("a", "b")
    assert codes(result) == ["payload_too_large"]
    assert messages(result, "payload_too_large")[0].startswith("fcm payload is ")


def test_lone_surrogates_are_replaced() -> None:
    result = build_push(title="bad \ud800 text", body="ok", data={"k": "\udfff"})

    assert codes(result) == ["invalid_text"]
    assert result.title == "bad \ufffd text"
    assert result.apns["k"] == "\ufffd"
    payload_size(result.fcm)
    json.dumps(result.fcm, ensure_ascii=False).encode("utf-8")


# ------------------------------------------------------------------ property-based tests

TRICKY = [
    FAMILY,
    RAINBOW_FLAG,
    FLAG_FR,
    THUMB_DARK,
    E_ACUTE_CIRCUMFLEX,
    "\u0301",
    "\u200d",
    "\u0600",
    "字",
    "שלום",
    "مرحبا",
    "ค",
    "한",
    "\u1100\u1161\u11a8",
    " ",
    "\n",
    "\r\n",
    "\t",
    "a",
    "word",
    '"',
    "\\",
    "\x00",
    "\x1f",
    "…",
    "\U0010ffff",
]

big_text = st.one_of(
    st.text(max_size=20_000),
    st.lists(st.sampled_from(TRICKY), max_size=8000).map("".join).map(lambda s: s[:20_000]),
    st.builds(
        lambda piece, times: (piece * times)[:20_000],
        st.text(min_size=1, max_size=30),
        st.integers(min_value=1, max_value=20_000),
    ),
)

PROPERTY_SETTINGS = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(title=big_text, body=big_text, subtitle=st.one_of(st.none(), big_text))
@example(title="", body="", subtitle=None)
@example(title=FAMILY * 20_000, body="", subtitle=None)
@example(title="\u0600 " * 5000, body="\u0600 " * 5000, subtitle="\u0600 " * 5000)
def test_every_payload_fits_and_cuts_are_grapheme_prefixes(
    title: str, body: str, subtitle: str | None
) -> None:
    result = build_push(
        title=title, body=body, subtitle=subtitle, image_url=IMAGE, url=LINK, thread_id="t"
    )

    event("truncated" if "truncated" in codes(result) else "not truncated")
    assert_within_limits(result)
    assert_same_text_everywhere(result)
    assert is_cut_of(result.title, title)
    assert is_cut_of(result.body, body)
    if subtitle:
        assert is_cut_of(result.apns["aps"]["alert"]["subtitle"], subtitle)
    assert "payload_too_large" not in codes(result)


@PROPERTY_SETTINGS
@given(
    title=big_text,
    body=big_text,
    webpush_bytes=st.integers(min_value=300, max_value=4096),
    fcm_bytes=st.integers(min_value=400, max_value=4096),
)
def test_any_limits_are_respected(
    title: str, body: str, webpush_bytes: int, fcm_bytes: int
) -> None:
    limits = PushLimits(webpush_bytes=webpush_bytes, fcm_bytes=fcm_bytes)
    result = build_push(title=title, body=body, limits=limits)

    event("truncated" if "truncated" in codes(result) else "not truncated")
    assert_within_limits(result, limits)
    assert is_cut_of(result.title, title)
    assert is_cut_of(result.body, body)


@given(text=big_text, limit=st.integers(min_value=0, max_value=300))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_truncate_graphemes_property(text: str, limit: int) -> None:
    result = truncate_graphemes(text, limit)

    assert grapheme_len(result) <= limit
    assert result == "" or is_cut_of(result, text)
    if grapheme_len(text) <= limit:
        assert result == text


@given(text=big_text, limit=st.integers(min_value=0, max_value=3000))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_truncate_utf8_property(text: str, limit: int) -> None:
    result = truncate_utf8(text, limit)

    assert len(result.encode("utf-8")) <= limit
    assert result == "" or is_cut_of(result, text)


# ---------------------------------------------------------------------- text helpers


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("", 0),
        ("abc", 3),
        (FAMILY, 1),
        (RAINBOW_FLAG + FLAG_FR + THUMB_DARK, 3),
        (E_ACUTE_CIRCUMFLEX * 2, 2),
        ("\r\n", 1),
        ("한국", 2),
        ("\u1100\u1161\u11a8", 1),
    ],
)
def test_grapheme_len(text: str, clusters: int) -> None:
    assert grapheme_len(text) == clusters
    assert "".join(grapheme_clusters(text)) == text


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Hello world", 20, "Hello world"),
        ("Hello world", 11, "Hello world"),
        ("Hello world", 10, "Hello…"),
        ("Hello world", 6, "Hello…"),
        ("Hello world", 5, "Hell…"),
        ("Hello world", 1, "…"),
        ("Hello world", 0, ""),
        ("abcdefghijkl", 5, "abcd…"),
        (FAMILY * 10, 4, FAMILY * 3 + "…"),
        (E_ACUTE_CIRCUMFLEX * 10, 3, E_ACUTE_CIRCUMFLEX * 2 + "…"),
        (FLAG_FR * 5, 3, FLAG_FR * 2 + "…"),
        ("夏のセールが始まりました", 6, "夏のセール…"),
        ("מבצע קיץ גדול", 10, "מבצע קיץ…"),
        ("a b", 2, "a…"),
        ("Hi       there", 8, "Hi…"),
        ("Save 30\u00a0% now", 9, "Save…"),
        ("Save 30\u00a0% now", 10, "Save 30\u00a0%…"),
    ],
)
def test_truncate_graphemes(text: str, limit: int, expected: str) -> None:
    assert truncate_graphemes(text, limit) == expected


def test_word_boundary_is_not_worth_a_long_backoff() -> None:
    text = "Hi " + "x" * 100
    assert truncate_graphemes(text, 50) == "Hi " + "x" * 46 + "…"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("héllo", 6, "héllo"),
        ("héllo wörld", 10, "héllo…"),
        ("😀😀😀", 8, "😀…"),
        (E_ACUTE_CIRCUMFLEX * 3, 8, E_ACUTE_CIRCUMFLEX + "…"),
        ("abc", 2, ""),
    ],
)
def test_truncate_utf8(text: str, limit: int, expected: str) -> None:
    assert truncate_utf8(text, limit) == expected


def test_truncate_text_respects_the_floor() -> None:
    text = "abcdefghij"
    assert truncate_text(text, lambda s: len(s) <= 4, min_graphemes=6) == "abcdef…"
    assert truncate_text(text, lambda s: len(s) <= 4, min_graphemes=10) == text
    assert truncate_text(text, lambda s: len(s) <= 4, ellipsis="...") == "a..."


# -------------------------------------------------------------------- display limits


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("t" * 40, "b" * 178, []),
        ("t" * 41, "b" * 178, ["title_too_long"]),
        ("t" * 40, "b" * 179, ["body_too_long"]),
        ("t" * 41, "b" * 179, ["title_too_long", "body_too_long"]),
        (FAMILY * 40, E_ACUTE_CIRCUMFLEX * 178, []),
        (FAMILY * 41, "字" * 179, ["title_too_long", "body_too_long"]),
    ],
)
def test_display_limit_warnings(title: str, body: str, expected: list[str]) -> None:
    result = build_push(title=title, body=body)

    assert codes(result) == expected
    assert (result.title, result.body) == (title, body)  # warned, not truncated


def test_display_limits_are_configurable() -> None:
    limits = PushLimits(title_chars=10, body_chars=20)
    result = build_push(title="t" * 11, body="b" * 20, subtitle="s" * 11, limits=limits)

    assert codes(result) == ["title_too_long", "subtitle_too_long"]
    assert "11 characters" in messages(result, "title_too_long")[0]


def test_previews_cut_like_a_phone() -> None:
    title = "Your VIP summer starts now, Ana: 30% off everything in store"
    body = "Our biggest sale of the year is here. " * 10
    result = build_push(title=title, subtitle="Summer sale", body=body)

    previews = result.previews
    assert set(previews) == {
        "ios_preview_title",
        "ios_preview_subtitle",
        "ios_preview_body",
        "android_preview_title",
        "android_preview_body",
    }
    assert previews["ios_preview_title"] == "Your VIP summer starts now, Ana: 30%…"
    assert previews["android_preview_title"] == title
    assert grapheme_len(previews["ios_preview_body"]) <= 178
    assert grapheme_len(previews["android_preview_body"]) <= 240
    assert grapheme_len(previews["ios_preview_body"]) < grapheme_len(
        previews["android_preview_body"]
    )
    assert is_cut_of(previews["ios_preview_body"], body)
    assert previews["ios_preview_subtitle"] == "Summer sale"
    # Previews never change what is sent.
    assert result.body == body


def test_preview_title_is_one_line() -> None:
    result = build_push(title="Summer\nsale  starts", body="b")

    assert result.previews["ios_preview_title"] == "Summer sale starts"
    assert result.title == "Summer\nsale  starts"


def test_preview_never_splits_a_grapheme() -> None:
    family = build_push(title=FAMILY * 50, body="b")
    marks = build_push(title="t", body=E_ACUTE_CIRCUMFLEX * 300)

    assert family.previews["ios_preview_title"] == FAMILY * 39 + ELLIPSIS
    assert family.previews["android_preview_title"] == FAMILY * 50
    assert marks.previews["ios_preview_body"] == E_ACUTE_CIRCUMFLEX * 177 + ELLIPSIS
    assert marks.previews["android_preview_body"] == E_ACUTE_CIRCUMFLEX * 239 + ELLIPSIS
