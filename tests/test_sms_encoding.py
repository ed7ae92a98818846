"""SMS encoding: alphabets, boundaries, smart replacement, and a cross-check with smsutil."""

from __future__ import annotations

import sys
import unicodedata

import pytest
import regex
import smsutil
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.channels.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_REPLACEMENTS,
    Replacement,
    SmsEncoding,
    encode_sms,
    is_gsm7,
    smart_replace,
)
from tests.conftest import examples

ESC = "\x1b"


def septets(text: str) -> int:
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def utf16_units(text: str) -> int:
    # surrogatepass: hypothesis's characters() can yield lone surrogates, which count 1 unit.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def graphemes(text: str) -> list[str]:
    return list(regex.findall(r"\X", text))


# --- alphabets -------------------------------------------------------------------------------


def test_alphabet_sizes() -> None:
    # 128 code positions minus the escape to the extension table.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert ESC not in GSM7_BASIC


def test_alphabet_matches_smsutil_except_escape() -> None:
    # smsutil lists ESC as a basic character; it is the escape code itself, so a literal
    # ESC in a text cannot be sent as GSM-7 and we treat it as non-GSM.
    assert set(smsutil.codecs.GSM_BASIC_CHARSET) - {ESC} == GSM7_BASIC
    assert set(smsutil.codecs.GSM_EXT_CHARSET) == GSM7_EXTENSION


def test_is_gsm7_agrees_with_smsutil_on_every_bmp_character() -> None:
    disagreements = [
        hex(code)
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF
        if is_gsm7(chr(code)) != smsutil.codecs.is_valid_gsm(chr(code))
    ]
    assert disagreements == [hex(ord(ESC))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Hello @ 10£ / 5€ {ok} [x] ~ | ^ \\", True),
        ("Ça coûte", False),  # û is not in the alphabet
        ("Ça va", True),
        ("ça va", False),  # only the capital C-cedilla is in GSM 03.38
        ("Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ", True),
        ("α", False),  # Greek capitals only
        ("line\r\nfeed\fform", True),
        ("tab\there", False),
        ("back`tick", False),
        (ESC, False),
        ("😀", False),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


# --- boundaries ------------------------------------------------------------------------------

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # 4 astral + 3 ZWJ = 11 UTF-16 units, one grapheme
FLAG = "🇫🇷"  # two regional indicators = 4 units, one grapheme
ACUTE = "e\u0301"  # decomposed é: 2 units, one grapheme

# (id, text, encoding, units, part sizes in units: septets or UTF-16 code units)
BOUNDARIES: list[tuple[str, str, str, int, list[int]]] = [
    ("empty", "", "GSM-7", 0, [0]),
    ("gsm-1", "a", "GSM-7", 1, [1]),
    ("gsm-160", "a" * 160, "GSM-7", 160, [160]),
    ("gsm-161", "a" * 161, "GSM-7", 161, [153, 8]),
    ("gsm-306", "a" * 306, "GSM-7", 306, [153, 153]),
    ("gsm-307", "a" * 307, "GSM-7", 307, [153, 153, 1]),
    ("gsm-459", "a" * 459, "GSM-7", 459, [153, 153, 153]),
    ("ext-80-is-160-septets", "€" * 80, "GSM-7", 160, [160]),
    ("ext-81", "€" * 81, "GSM-7", 162, [152, 10]),
    ("ext-159+1-overflows", "a" * 159 + "{", "GSM-7", 161, [153, 8]),
    ("ext-158+1-fits", "a" * 158 + "{", "GSM-7", 160, [160]),
    # An extension character whose escape would be septet 153 moves whole to part 2.
    ("ext-at-153", "a" * 152 + "€" + "a" * 10, "GSM-7", 164, [152, 12]),
    ("ext-ends-at-153", "a" * 151 + "€" + "a" * 10, "GSM-7", 163, [153, 10]),
    ("ext-at-306", "a" * 153 + "a" * 152 + "|" + "a", "GSM-7", 308, [153, 152, 3]),
    ("ucs2-70", "中" * 70, "UCS-2", 70, [70]),
    ("ucs2-71", "中" * 71, "UCS-2", 71, [67, 4]),
    ("ucs2-134", "中" * 134, "UCS-2", 134, [67, 67]),
    ("ucs2-135", "中" * 135, "UCS-2", 135, [67, 67, 1]),
    ("ucs2-gsm-mix-70", "a" * 69 + "中", "UCS-2", 70, [70]),
    # Extension characters cost one unit like any other once the message is UCS-2.
    ("ucs2-ext-chars", "€" * 69 + "中", "UCS-2", 70, [70]),
    ("emoji-fits-70", "中" * 68 + "😀", "UCS-2", 70, [70]),
    ("emoji-overflows-70", "中" * 69 + "😀", "UCS-2", 71, [67, 4]),
    # A surrogate pair that would occupy units 67-68 moves whole to part 2.
    ("emoji-at-67", "中" * 66 + "😀" + "中" * 10, "UCS-2", 78, [66, 12]),
    ("emoji-ends-at-67", "中" * 65 + "😀" + "中" * 10, "UCS-2", 77, [67, 10]),
    ("family-at-67", "中" * 60 + FAMILY + "中" * 10, "UCS-2", 81, [60, 21]),
    ("family-x10", FAMILY * 10, "UCS-2", 110, [66, 44]),
    ("flag-at-67", "中" * 65 + FLAG + "中" * 10, "UCS-2", 79, [65, 14]),
    ("flags-x20", FLAG * 20, "UCS-2", 80, [64, 16]),
    ("combining-at-67", "中" * 66 + ACUTE + "中" * 10, "UCS-2", 78, [66, 12]),
    ("combining-x40", ACUTE * 40, "UCS-2", 80, [66, 14]),
    ("crlf-stays-together", "中" * 66 + "\r\n" + "中" * 10, "UCS-2", 78, [66, 12]),
    # One grapheme longer than a part must be cut; by code points, so 67 + 34.
    ("oversized-cluster", "a" + "\u0301" * 100, "UCS-2", 101, [67, 34]),
    # ... and never inside a surrogate pair: astral combining marks cost 2 units each.
    ("oversized-astral-cluster", "a" + "\U0001d167" * 40, "UCS-2", 81, [67, 14]),
    ("oversized-astral-odd", "ab" + "\U0001d167" * 40, "UCS-2", 82, [66, 16]),
]


@pytest.mark.parametrize(
    ("text", "encoding", "units", "part_units"),
    [pytest.param(*row[1:], id=row[0]) for row in BOUNDARIES],
)
def test_boundaries(text: str, encoding: str, units: int, part_units: list[int]) -> None:
    result = encode_sms(text, smart=False)
    count = septets if encoding == "GSM-7" else utf16_units
    assert result.encoding == encoding
    assert result.units == units
    assert result.segments == len(part_units)
    assert [count(part) for part in result.parts] == part_units
    assert "".join(result.parts) == text


def test_family_emoji_is_one_character_and_never_split() -> None:
    result = encode_sms(FAMILY * 10)
    assert result.characters == 10
    for part in result.parts:
        assert graphemes(part) == [FAMILY] * len(graphemes(part))


def test_flags_never_split() -> None:
    result = encode_sms("中" * 65 + FLAG + "中" * 10)
    assert result.parts[1].startswith(FLAG)
    assert result.characters == 76


@pytest.mark.parametrize(
    ("text", "characters"),
    [
        ("", 0),
        ("hello", 5),
        (FAMILY, 1),
        (FLAG * 3, 3),
        (ACUTE * 4, 4),
        ("👍🏽", 1),  # emoji + skin-tone modifier
        ("\r\n", 1),
        ("€", 1),
    ],
)
def test_characters_are_grapheme_clusters(text: str, characters: int) -> None:
    assert encode_sms(text).characters == characters


ARABIC = "مَرْحَبًا بِكُمْ فِي مَتْجَرِنَا، خَصْمٌ ٣٠٪ عَلَى كُلِّ شَيْءٍ! "
HEBREW = "שָׁלוֹם! מִבְצָע קַיִץ: 30% הֲנָחָה עַל הַכֹּל. "


@pytest.mark.parametrize("text", [ARABIC * 3, HEBREW * 4, ARABIC + HEBREW + "Hi " * 20])
def test_rtl_text_with_vowel_marks(text: str) -> None:
    result = encode_sms(text)
    assert result.encoding == "UCS-2"
    assert result.units == len(text)  # all BMP
    assert result.segments == len(result.parts) > 1
    assert "".join(result.parts) == text
    for part in result.parts:
        assert utf16_units(part) <= 67
        # A part never starts with a harakat/niqqud mark torn from its letter.
        assert unicodedata.category(part[0]) != "Mn"
    # The cut follows grapheme clusters: splitting the parts again gives the same clusters.
    assert [g for part in result.parts for g in graphemes(part)] == graphemes(text)


# --- smart replacement -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sent", "replacements"),
    [
        ("“Hello”", '"Hello"', [("“", '"', 1), ("”", '"', 1)]),
        ("it’s Pat’s", "it's Pat's", [("’", "'", 2)]),
        ("‘single’", "'single'", [("‘", "'", 1), ("’", "'", 1)]),
        ("„Hallo“ «salut» ‹x›", '"Hallo" "salut" <x>', None),
        ("a – b — c − d ‐ e", "a - b - c - d - e", None),
        ("Wait…", "Wait...", [("…", "...", 1)]),
        ("50\u00a0€\u202fnow\u2009!", "50 € now !", None),
        ("\u3000wide\tspace", " wide space", None),
        ("• one\n• two", "- one\n- two", [("•", "-", 2)]),
        ("zero\u200bwidth\ufeff", "zerowidth", None),
        ("soft\u00adhyphen", "softhyphen", [("\u00ad", "", 1)]),
        ("line\u2028sep", "line\nsep", None),
        ("ＳＡＬＥ！５０％", "SALE!50%", None),
        ("1⁄2 off", "1/2 off", None),
        ("`quoted´", "'quoted'", None),
    ],
)
def test_smart_replacement(
    text: str, sent: str, replacements: list[tuple[str, str, int]] | None
) -> None:
    result = encode_sms(text)
    assert result.encoding == "GSM-7"
    assert result.text == sent
    assert "".join(result.parts) == sent
    assert result.non_gsm_characters == ()
    assert result.replacements  # something was reported
    if replacements is not None:
        assert result.replacements == tuple(Replacement(*r) for r in replacements)
    assert smart_replace(text) == (sent, result.replacements)


def test_smart_replacement_saves_segments() -> None:
    text = "a" * 150 + "…" + "’"
    assert encode_sms(text) == SmsEncoding(
        text="a" * 150 + "...'",
        encoding="GSM-7",
        units=154,
        characters=154,
        segments=1,
        parts=("a" * 150 + "...'",),
        replacements=(Replacement("…", "...", 1), Replacement("’", "'", 1)),
        non_gsm_characters=(),
    )
    raw = encode_sms(text, smart=False)
    assert (raw.encoding, raw.units, raw.segments, raw.text) == ("UCS-2", 152, 3, text)


def test_smart_replacement_can_add_a_segment_but_still_wins() -> None:
    # 159 septets + "…" (3 septets) = 162 septets = 2 GSM segments, versus 160 units of
    # UCS-2 = 3 segments: replacement is still the cheaper choice.
    result = encode_sms("a" * 159 + "…")
    assert (result.encoding, result.units, result.segments) == ("GSM-7", 162, 2)


def test_smart_replacement_is_not_applied_when_text_stays_ucs2() -> None:
    text = "“Hi” — see you… 😀"
    result = encode_sms(text)
    assert result.encoding == "UCS-2"
    assert result.text == text
    assert result.replacements == ()
    # The quotes and dashes would be fixed automatically once the emoji goes.
    assert result.non_gsm_characters == ("😀",)


def test_smart_off_keeps_and_reports_lookalikes() -> None:
    result = encode_sms("“Hi” “there”", smart=False)
    assert result.encoding == "UCS-2"
    assert result.text == "“Hi” “there”"
    assert result.replacements == ()
    assert result.non_gsm_characters == ("“", "”")


def test_smart_replace_on_text_without_lookalikes() -> None:
    assert smart_replace("plain 😀 text") == ("plain 😀 text", ())


def test_every_replacement_is_gsm7_and_every_original_is_not() -> None:
    for original, replacement in SMART_REPLACEMENTS.items():
        assert len(original) == 1
        assert not is_gsm7(original), repr(original)
        assert is_gsm7(replacement), repr(original)


# --- characters that force UCS-2 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "non_gsm"),
    [
        ("Hello", ()),
        ("Olá, ça va? 😀 😀", ("á", "ç", "😀")),
        ("caf" + ACUTE, (ACUTE,)),  # the whole cluster, not a bare combining mark
        (f"Family {FAMILY}!", (FAMILY,)),
        (f"{FLAG} Paris", (FLAG,)),
        ("Price: 10₹ or 5¢", ("₹", "¢")),
        ("مرحبا Hi", ("م", "ر", "ح", "ب", "ا")),
        ("tab\tand 中", ("中",)),  # the tab would be replaced by a space
        (ESC + "x", (ESC,)),
    ],
)
def test_non_gsm_characters(text: str, non_gsm: tuple[str, ...]) -> None:
    assert encode_sms(text).non_gsm_characters == non_gsm


def test_surrogate_halves_do_not_crash() -> None:
    # Not valid text, but a Python str can hold them (e.g. from surrogateescape decoding).
    result = encode_sms("\ud83d" + "中" * 80)
    assert result.encoding == "UCS-2"
    assert result.units == 81
    assert "".join(result.parts) == result.text


# --- invariants, on arbitrary text -------------------------------------------------------------

INTERESTING = (
    sorted(GSM7_BASIC)
    + sorted(GSM7_EXTENSION) * 4
    + sorted(SMART_REPLACEMENTS)
    + list("中é😀🇫🇷\u0301\u200d\U0001f3fd\U0001d167مש")
)
texts = st.lists(
    st.tuples(st.sampled_from(INTERESTING) | st.characters(), st.integers(1, 40)),
    max_size=25,
).map(lambda runs: "".join(char * n for char, n in runs))


@settings(max_examples=examples(400), deadline=None)
@given(text=texts, smart=st.booleans())
def test_invariants(text: str, smart: bool) -> None:
    result = encode_sms(text, smart=smart)
    assert "".join(result.parts) == result.text
    assert len(result.parts) == result.segments >= 1
    gsm = result.encoding == "GSM-7"
    assert gsm == is_gsm7(result.text)
    count = septets if gsm else utf16_units
    single, multi = (160, 153) if gsm else (70, 67)
    assert result.units == count(result.text)
    assert (result.segments == 1) == (result.units <= single)
    if result.segments > 1:
        assert all(0 < count(part) <= multi for part in result.parts)
        # No cut can do better than full parts; in GSM-7 a part wastes at most the one
        # septet an extension character could not take, so greedy stays near that bound.
        assert result.segments >= -(-result.units // multi)
        if gsm:
            assert result.segments <= -(-result.units // (multi - 1))
    if gsm:
        assert result.non_gsm_characters == ()
    else:
        assert result.text == text
        assert result.non_gsm_characters
        cut = [g for part in result.parts for g in graphemes(part)]
        clusters = graphemes(text)
        if all(utf16_units(c) <= multi for c in clusters):
            assert cut == clusters
    if result.text != text:
        assert smart
        assert result.replacements
        assert (result.text, result.replacements) == smart_replace(text)


# --- cross-check with smsutil ------------------------------------------------------------------
#
# smsutil (1.1.3) is an independent splitter with the same limits (160/153 septets, 140/134
# bytes of UTF-16). It already follows two of our rules: an extension character counts two
# septets and never straddles a part, and an astral character counts two units and never
# straddles a part. Where it differs, the generated domain is restricted to where both
# claim the same rule:
#
# * it treats a literal ESC (0x1B) as a one-septet basic character; we treat it as non-GSM
#   (0x1B is the escape code, not a character), so ESC is never generated;
# * it cuts UCS-2 by code points, with no notion of grapheme clusters, so a flag, a ZWJ
#   sequence, a combining accent or CR LF may be torn across parts (see
#   test_smsutil_tears_grapheme_clusters_we_do_not). The UCS-2 domain is therefore made of
#   code points with Grapheme_Cluster_Break=Other, where every code point is its own
#   cluster and both rules coincide, plus GSM characters other than CR (LF, FF and the rest
#   are clusters on their own unless preceded by CR);
# * it calls the empty text utf_16_be; we call it GSM-7. Both make it one segment, so only
#   the encoding of non-empty text is compared.

GSM_ALPHABET = sorted(GSM7_BASIC)
EXT_ALPHABET = sorted(GSM7_EXTENSION)
_OTHER = regex.compile(r"\p{Grapheme_Cluster_Break=Other}")


def _lone_clusters(codes: range) -> list[str]:
    return [
        chr(code)
        for code in codes
        if unicodedata.category(chr(code)) not in {"Cn", "Cs"}
        and not is_gsm7(chr(code))
        and _OTHER.fullmatch(chr(code))
    ]


UCS2_BMP = _lone_clusters(range(0x80, 0x10000))
UCS2_ASTRAL = _lone_clusters(range(0x1F300, 0x1FB00)) + _lone_clusters(range(0x20000, 0x20400))
UCS2_GSM_MIX = sorted((GSM7_BASIC | GSM7_EXTENSION) - {"\r"})


def _runs(alphabet: st.SearchStrategy[str], max_runs: int) -> st.SearchStrategy[str]:
    # Runs of one character reach multi-part lengths in a few draws and put extension
    # characters / surrogate pairs right on part boundaries often; the run count is drawn
    # explicitly because Hypothesis' default list sizes are far too short for SMS limits.
    @st.composite
    def build(draw: st.DrawFn) -> str:
        n = draw(st.integers(0, max_runs))
        runs = draw(st.lists(st.tuples(alphabet, st.integers(1, 30)), min_size=n, max_size=n))
        return "".join(char * count for char, count in runs)

    return build()


gsm_texts = _runs(st.sampled_from(GSM_ALPHABET) | st.sampled_from(EXT_ALPHABET), 40)
ucs2_texts = _runs(
    st.sampled_from(UCS2_BMP) | st.sampled_from(UCS2_ASTRAL) | st.sampled_from(UCS2_GSM_MIX),
    20,
).filter(lambda text: not is_gsm7(text))

CROSS_CHECK = settings(
    max_examples=examples(2000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def assert_same_split(text: str, encoding: str, unit_bytes: int) -> None:
    ours = encode_sms(text, smart=False)
    theirs = smsutil.split(text)
    assert ours.segments == len(theirs.parts)
    assert ours.parts == tuple(part.content for part in theirs.parts)
    assert ours.units * unit_bytes == theirs.total_bytes
    if text:
        assert ours.encoding == encoding
        assert theirs.encoding == {"GSM-7": "gsm0338", "UCS-2": "utf_16_be"}[encoding]


@pytest.mark.slow
@CROSS_CHECK
@given(text=gsm_texts)
def test_gsm7_split_matches_smsutil(text: str) -> None:
    assert_same_split(text, "GSM-7", 1)


@pytest.mark.slow
@CROSS_CHECK
@given(text=ucs2_texts)
def test_ucs2_split_matches_smsutil(text: str) -> None:
    assert_same_split(text, "UCS-2", 2)


@pytest.mark.parametrize(
    "cluster", [FLAG, FAMILY, ACUTE, "\r\n", "👍🏽"], ids=["flag", "zwj", "acute", "crlf", "tone"]
)
def test_smsutil_tears_grapheme_clusters_we_do_not(cluster: str) -> None:
    # Put the cluster's second code point exactly on unit 68, the first unit of part 2.
    head = "中" * (67 - utf16_units(cluster[0]))
    text = head + cluster + "中" * 10
    theirs = [part.content for part in smsutil.split(text).parts]
    ours = encode_sms(text, smart=False).parts
    assert theirs[0] == head + cluster[0]
    assert ours[0] == head
    assert ours[1].startswith(cluster)
    assert len(ours) == len(theirs) == 2


def test_environment_is_what_the_cross_check_assumes() -> None:
    # The domain above relies on both sides seeing astral characters as single code points.
    assert sys.maxunicode == 0x10FFFF
    assert UCS2_BMP
    assert UCS2_ASTRAL
