"""Extended grapheme clusters (what a reader sees as one character), as push and SMS count
and cut text: Unicode's rules through the ``regex`` module's ``\\X``, skipped for text they
cannot join.

Below U+0300 no character joins its neighbour except CR LF: the characters that extend a
cluster (combining marks, joiners, emoji modifiers, regional indicators, Hangul jamo,
prepended and spacing marks) all lie above. Names, offers and codes in Latin scripts are
almost always such text, where every code point is a cluster of its own.
"""

from __future__ import annotations

from typing import Final

import regex  # type: ignore[import-untyped]

_GRAPHEME: Final = regex.compile(r"\X")
#: The first code point that can join a neighbour (U+0300 COMBINING GRAVE ACCENT).
_FIRST_JOINING: Final = "\u0300"


def _separate(text: str) -> bool:
    """Whether every code point of ``text`` is a cluster of its own."""
    return "\r" not in text and (text.isascii() or max(text) < _FIRST_JOINING)


def grapheme_clusters(text: str) -> list[str]:
    """Split ``text`` into extended grapheme clusters.

    :param text: any string.
    :returns: the clusters, in order; ``"".join`` of them is ``text``.
    """
    if _separate(text):
        return list(text)
    clusters: list[str] = _GRAPHEME.findall(text)
    return clusters


def grapheme_len(text: str) -> int:
    """The number of extended grapheme clusters in ``text``."""
    if _separate(text):
        return len(text)
    return len(_GRAPHEME.findall(text))


__all__ = ["grapheme_clusters", "grapheme_len"]
