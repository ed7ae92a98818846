"""SMS encoding and segmentation, counted the way carriers bill it.

A message is sent in the GSM 03.38 7-bit default alphabet (*GSM-7*) when every character
belongs to the default alphabet or its extension table, and in *UCS-2* otherwise. UCS-2 is
counted in UTF-16 code units: characters outside the Basic Multilingual Plane (most emoji)
are sent as a surrogate pair and cost two units, which is what handsets and SMSCs actually
transmit even though UCS-2 proper has no surrogates.

============  ==============  ==========================
encoding      single message  per part when concatenated
============  ==============  ==========================
GSM-7         160 septets     153 septets
UCS-2         70 units        67 units
============  ==============  ==========================

Concatenated parts lose 7 septets / 3 units each to the user data header that lets the
handset reassemble them.

Splitting keeps together what a handset could not reassemble or would show broken:

* a GSM-7 extension character (``^ { } \\ [ ~ ] | €`` and form feed) is an escape septet
  followed by the character's septet; the two never land in different parts;
* a surrogate pair is never split;
* in UCS-2, an extended grapheme cluster (``regex``'s ``\\X``: a flag, a ZWJ emoji
  family, a letter with its combining accents) is not split either, unless it alone is
  longer than a part; such a cluster is cut between code points, still never inside a
  surrogate pair.

The empty message is GSM-7 and one (empty) segment: a carrier still bills a message with no
text.

This module is pure: it depends on nothing else in atomcast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from atomcast.channels.graphemes import grapheme_clusters

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_MULTI_PART_SEPTETS",
    "GSM7_SINGLE_SEPTETS",
    "SMART_REPLACEMENTS",
    "UCS2_MULTI_PART_UNITS",
    "UCS2_SINGLE_UNITS",
    "Replacement",
    "SmsEncoding",
    "encode_sms",
    "is_gsm7",
    "smart_replace",
]

# 3GPP TS 23.038 default alphabet in code order, 0x00-0x7F. Position 0x1B is the escape to
# the extension table, not a character anyone can type, so it is left out: a text that
# contains a raw ESC cannot be sent as GSM-7 verbatim.
_GSM7_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

GSM7_BASIC: Final[frozenset[str]] = frozenset(_GSM7_TABLE) - {"\x1b"}
"""The 127 characters of the GSM 03.38 default alphabet; each costs one septet."""

GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")
"""The extension-table characters; each costs two septets (escape + character)."""

_GSM7_ALL: Final[frozenset[str]] = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE_SEPTETS: Final = 160
GSM7_MULTI_PART_SEPTETS: Final = 153
UCS2_SINGLE_UNITS: Final = 70
UCS2_MULTI_PART_UNITS: Final = 67


def _table(targets: dict[str, str]) -> dict[str, str]:
    """Expand ``{replacement: "lookalike characters"}`` into ``{lookalike: replacement}``."""
    return {char: replacement for replacement, chars in targets.items() for char in chars}


SMART_REPLACEMENTS: Final[Mapping[str, str]] = MappingProxyType(
    _table(
        {
            # Quotes that word processors and phone keyboards substitute for ASCII ones.
            "'": "\u2018\u2019\u201a\u201b\u2032\u2035\u00b4\u0060\u02b9\u02bb\u02bc"
            "\u02bd\u02c8\u02ca\u275b\u275c\uff07",
            '"': "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u02ba\u02ee\u275d"
            "\u275e\u301d\u301e\u301f\uff02",
            "<": "\u2039",
            ">": "\u203a",
            # Hyphens and dashes (and the minus sign) all read as a hyphen in a text message.
            "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d"
            # Bullets: a pasted bulleted list still reads as a list with hyphens.
            "\u2022\u2023\u2219\u25e6\u2027",
            ".": "\u2024",
            "..": "\u2025",
            "...": "\u2026",
            "/": "\u2044\u2215",
            # Every space that is not U+0020 (no-break, thin, ideographic...), and tab,
            # which GSM-7 lacks.
            " ": "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
            "\u2009\u200a\u202f\u205f\u3000",
            "\n": "\u0085\u2028\u2029",
            # Invisible characters that only force UCS-2: dropping them changes nothing a
            # reader sees. (A ZWJ only matters between emoji, which are not GSM-7 anyway.)
            "": "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff",
        }
    )
    # Full-width ASCII (U+FF01-FF5E), pasted from CJK input methods, whose half-width
    # counterpart is in the GSM alphabet.
    | {
        chr(code): chr(code - 0xFEE0)
        for code in range(0xFF01, 0xFF5F)
        if chr(code - 0xFEE0) in _GSM7_ALL
    }
)
"""Typographic lookalike -> GSM-7 text. Applied by :func:`smart_replace`."""


@dataclass(frozen=True, slots=True)
class Replacement:
    """One kind of substitution made by :func:`smart_replace`.

    :ivar original: the character that was replaced.
    :ivar replacement: what it was replaced with (possibly empty, for invisible characters).
    :ivar count: how many times it occurred in the text.
    """

    original: str
    replacement: str
    count: int


@dataclass(frozen=True, slots=True)
class SmsEncoding:
    """How a text would be sent as SMS.

    :ivar text: the text as it will be sent, after smart replacement.
    :ivar encoding: ``"GSM-7"`` or ``"UCS-2"``.
    :ivar units: septets for GSM-7 (extension characters count two), UTF-16 code units
        for UCS-2 (characters outside the BMP count two).
    :ivar characters: number of grapheme clusters, i.e. what a reader would call
        characters; for display next to a character counter.
    :ivar segments: number of SMS the carrier sends and bills; the empty text is one.
    :ivar parts: :attr:`text` cut into the segments as they would be sent; joined, they
        give back :attr:`text`. Always ``len(parts) == segments``.
    :ivar replacements: the smart replacements that were applied, in order of first
        occurrence; empty when the text was sent unchanged.
    :ivar non_gsm_characters: the distinct grapheme clusters, in order of first
        occurrence, that forced UCS-2 and that smart replacement could not fix; removing or
        changing them would make the message GSM-7. Empty for GSM-7.
    """

    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    characters: int
    segments: int
    parts: tuple[str, ...]
    replacements: tuple[Replacement, ...]
    non_gsm_characters: tuple[str, ...]


def is_gsm7(text: str) -> bool:
    """Tell whether *text* can be sent in the GSM-7 default alphabet and extension table.

    :param text: the message text; the empty text is GSM-7.
    :returns: ``True`` if every character is in :data:`GSM7_BASIC` or
        :data:`GSM7_EXTENSION`.
    """
    return _GSM7_ALL.issuperset(text)


def smart_replace(text: str) -> tuple[str, tuple[Replacement, ...]]:
    """Replace typographic lookalikes (curly quotes, dashes, ellipsis, exotic spaces...)
    with their GSM-7 equivalents.

    This replaces unconditionally; :func:`encode_sms` decides whether the result is used
    (only when it makes the whole text GSM-7).

    :param text: the message text.
    :returns: the replaced text and one :class:`Replacement` per distinct replaced
        character, in order of first occurrence.
    """
    counts: dict[str, int] = {}
    out: list[str] = []
    for char in text:
        replacement = SMART_REPLACEMENTS.get(char)
        if replacement is None:
            out.append(char)
        else:
            out.append(replacement)
            counts[char] = counts.get(char, 0) + 1
    replacements = tuple(
        Replacement(char, SMART_REPLACEMENTS[char], count) for char, count in counts.items()
    )
    return "".join(out), replacements


def _utf16_units(text: str) -> int:
    # Counted per code point rather than via encode("utf-16") so that a lone surrogate
    # (possible in a Python str) costs one unit instead of raising.
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _septets(text: str) -> int:
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def _pack(items: list[str], cost: Callable[[str], int], limit: int) -> tuple[str, ...]:
    """Cut *items* greedily into parts of at most *limit*, never splitting an item.

    Greedy filling is optimal for an ordered sequence: no other cut needs fewer parts.
    Items longer than *limit* must have been broken up by the caller.
    """
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for item in items:
        size = cost(item)
        if current and used + size > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(item)
        used += size
    parts.append("".join(current))
    return tuple(parts)


def _split_gsm7(text: str, septets: int) -> tuple[str, ...]:
    if septets <= GSM7_SINGLE_SEPTETS:
        return (text,)
    # Splitting by character keeps each escape septet with its extension character.
    return _pack(list(text), _septets, GSM7_MULTI_PART_SEPTETS)


def _split_ucs2(text: str, units: int) -> tuple[str, ...]:
    if units <= UCS2_SINGLE_UNITS:
        return (text,)
    items: list[str] = []
    for cluster in grapheme_clusters(text):
        if _utf16_units(cluster) <= UCS2_MULTI_PART_UNITS:
            items.append(cluster)
        else:
            # A cluster longer than a part (e.g. a long run of combining marks) cannot stay
            # whole; falling back to code points still keeps surrogate pairs intact, since
            # a Python str holds an astral character as one code point.
            items.extend(cluster)
    return _pack(items, _utf16_units, UCS2_MULTI_PART_UNITS)


def _non_gsm_clusters(text: str, *, smart: bool) -> tuple[str, ...]:
    # Characters smart replacement would fix are not what forced UCS-2: once the editor
    # removes the real culprits, those get replaced automatically.
    def fixable(char: str) -> bool:
        return char in _GSM7_ALL or (smart and char in SMART_REPLACEMENTS)

    found: dict[str, None] = {}
    for cluster in grapheme_clusters(text):
        if not all(fixable(char) for char in cluster):
            found.setdefault(cluster)
    return tuple(found)


def encode_sms(text: str, *, smart: bool = True) -> SmsEncoding:
    """Work out the encoding, length and segments of an SMS.

    :param text: the message text, exactly as rendered.
    :param smart: replace typographic lookalikes (see :func:`smart_replace`) when that
        makes the whole text GSM-7. When some other character forces UCS-2 anyway, the
        original text is kept untouched, since replacing would only degrade it.
    :returns: the :class:`SmsEncoding` of the text as it would be sent.
    """
    replacements: tuple[Replacement, ...] = ()
    if smart and not is_gsm7(text):
        replaced, found = smart_replace(text)
        if is_gsm7(replaced):
            text, replacements = replaced, found

    if is_gsm7(text):
        septets = _septets(text)
        return SmsEncoding(
            text=text,
            encoding="GSM-7",
            units=septets,
            characters=len(grapheme_clusters(text)),
            segments=len(parts := _split_gsm7(text, septets)),
            parts=parts,
            replacements=replacements,
            non_gsm_characters=(),
        )

    units = _utf16_units(text)
    return SmsEncoding(
        text=text,
        encoding="UCS-2",
        units=units,
        characters=len(grapheme_clusters(text)),
        segments=len(parts := _split_ucs2(text, units)),
        parts=parts,
        replacements=(),
        non_gsm_characters=_non_gsm_clusters(text, smart=smart),
    )
