"""Compact JSON text (``ensure_ascii=False``, no spaces): records, payloads, stored rows.

``json.JSONEncoder.encode`` builds a new C encoder for every top-level object it encodes,
which costs about as much as encoding a small payload. The batch encodes a few small
objects per profile, so :func:`compact_encoder` builds the C encoder once and reuses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _stdlib
from typing import Any

#: Objects that :func:`compact_encoder` checks itself against when it is built: every JSON
#: type, nesting, and text that needs escaping.
_SAMPLES: tuple[Any, ...] = (
    {"a": [1, 2.5, -0.0, 1e300, True, False, None], 'é\n"': {"x": "\u2028\x00\U0001f600"}},
    "text",
    [],
    {},
    3,
)


def compact_encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=default)
    .encode``, with one C encoder kept for every call.

    It does not look for circular references (``check_circular=False``): atomcast encodes
    what it built itself, and a structure nested too deeply raises ``RecursionError`` either
    way. Where the C encoder is missing or answers otherwise than the standard one, this is
    the standard one.
    """
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=default)
    # Not in typeshed: the C accelerator json.encoder uses itself.
    make = getattr(_stdlib, "c_make_encoder", None)
    if make is None:
        return standard.encode
    try:
        # The same arguments JSONEncoder.iterencode passes to it, markers aside.
        iterencode = make(
            None,
            standard.default,
            _stdlib.encode_basestring,
            None,
            standard.key_separator,
            standard.item_separator,
            False,
            False,
            True,
        )
    except TypeError:  # another Python's signature
        return standard.encode

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    try:
        same = all(encode(sample) == standard.encode(sample) for sample in _SAMPLES)
    except (TypeError, ValueError):
        same = False
    return encode if same else standard.encode


__all__ = ["compact_encoder"]
