"""The JSON line of a rendered profile, faster than encoding the whole record every time.

A line is exactly ``json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":"))``
plus a newline, in UTF-8; that is what :class:`RecordEncoder` produces, byte for byte, but it
encodes a record piece by piece (a JSON object is the concatenation of its members) and
reuses the bytes of pieces that repeat across profiles:

- the segments / experiments / decisions of a profile (a campaign has few combinations);
- a channel output the renderer memoised and shares between profiles (push, SMS and web
  usually), recognised by the identity of its ``fields`` mapping, which the renderer never
  mutates;
- an email that differs from another only by the profile's unsubscribe URL: the URL is
  swapped for a sentinel, the result looked up, and the URL put back into the bytes.

Encoding the email's HTML (most of a record's bytes) and the UTF-8 conversion of the whole
line otherwise cost more than rendering the profile did. Each cache admits a piece on its
second sighting only, so that one-off pieces cost nothing but a lookup, and is cleared whole
when full (of entries or of bytes: an email's pieces are ~16 KB each), so that memory stays
flat.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from atomcast.channels.base import ChannelOutput, FillableOutput, RenderWarning
from atomcast.jsontext import compact_encoder
from atomcast.render import RenderResult
from atomcast.render.symbolic import TOKEN_CLOSE, TOKEN_OPEN

#: Alphanumeric (JSON leaves it alone) and border-free (no prefix equals a suffix), so that
#: replacing it back can never match across the text around it.
SENTINEL = "Zq7AtomcastUnsubscribeSentinel4Kx9Wm2Pb8"
_SENTINEL_BYTES = SENTINEL.encode("ascii")
SHARED_LIMIT = 1024
EMAIL_LIMIT = 512
SYMBOLIC_LIMIT = 1024
HEAD_LIMIT = 4096
#: Shared outputs (``ChannelOutput.shared``) whose bytes are kept, by identity.
OUTPUTS_LIMIT = 4096
#: Byte bounds of the caches whose pieces can be large (counted as the bytes they keep:
#: encoded pieces, and the text of the keys that hold a whole email).
SHARED_BYTES = 8 << 20
EMAIL_BYTES = 8 << 20
SYMBOLIC_BYTES = 8 << 20
HEAD_BYTES = 2 << 20
OUTPUTS_BYTES = 8 << 20
#: Keys ``ChannelOutput`` writes itself; fields that use them take the plain path.
_RESERVED = ChannelOutput.RESERVED


_TOKEN = re.compile(TOKEN_OPEN + r"(\d+)" + TOKEN_CLOSE)


def _border_free(text: str) -> bool:
    return not any(text[:size] == text[-size:] for size in range(1, len(text)))


assert _border_free(SENTINEL)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Pieces(Generic[K, V]):
    """A cache of encoded pieces, cleared whole when it holds ``limit`` entries or about
    ``budget`` bytes (each entry's size is given as it is stored)."""

    __slots__ = ("budget", "entries", "get", "held", "limit")

    def __init__(self, limit: int, budget: int) -> None:
        self.limit = limit
        self.budget = budget
        self.entries: dict[K, V] = {}
        #: The dict's own lookup: a hit costs no Python call (the dict is never replaced).
        self.get: Callable[[K], V | None] = self.entries.get
        self.held = 0

    def put(self, key: K, value: V, size: int) -> None:
        if size > self.budget:
            return
        if len(self.entries) >= self.limit or self.held + size > self.budget:
            self.clear()
        self.entries[key] = value
        self.held += size

    def clear(self) -> None:
        self.entries.clear()
        self.held = 0

    def __len__(self) -> int:
        return len(self.entries)


class _Admission:
    """Second-sighting admission: remembers hashes of keys seen once (small ints only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[int] = set()

    def admit(self, key: Any) -> bool:
        marker = hash(key)
        if marker in self.seen:
            return True
        if len(self.seen) >= self.limit:
            self.seen.clear()
        self.seen.add(marker)
        return False


def _normal(value: Any, url: str) -> Any:
    """``value`` with ``url`` swapped for the sentinel, hashable; ``None`` when it cannot be
    (the caller then encodes the output directly)."""
    if isinstance(value, str):
        if SENTINEL in value:
            return None
        return value.replace(url, SENTINEL)
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            normal = _normal(item, url)
            if normal is None or not isinstance(key, str) or SENTINEL in key:
                return None
            items.append((key, normal))
        return ("\0map", tuple(items))
    if value is None or isinstance(value, bool | int | float):
        return ("\0scalar", type(value).__name__, value)
    return None


def _count(value: Any) -> int:
    """Sentinels in a normalised value (what the encoded bytes must contain, no more)."""
    if isinstance(value, str):
        return value.count(SENTINEL)
    if isinstance(value, tuple) and value and value[0] == "\0map":
        return sum(_count(item) for _, item in value[1])
    return 0


class RecordEncoder:
    """Encodes :class:`~atomcast.render.RenderResult` records into JSON lines (bytes).

    ``encode(result)`` is always equal to ``(dumps(result.to_json()) + "\\n").encode()``
    with ``dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode``.
    """

    def __init__(self) -> None:
        self.dumps: Callable[[Any], str] = compact_encoder()
        self._heads: _Pieces[tuple[Any, ...], bytes] = _Pieces(HEAD_LIMIT, HEAD_BYTES)
        self._shared: _Pieces[tuple[Any, ...], tuple[Mapping[str, Any], bytes]] = _Pieces(
            SHARED_LIMIT, SHARED_BYTES
        )
        self._shared_admission = _Admission(SHARED_LIMIT * 4)
        self._email: _Pieces[tuple[Any, ...], bytes] = _Pieces(EMAIL_LIMIT, EMAIL_BYTES)
        self._email_admission = _Admission(EMAIL_LIMIT * 8)
        self._labels: dict[tuple[str, ...], list[bytes]] = {}
        self._warning_lists: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._fieldless: dict[tuple[Any, ...], bytes] = {}
        #: Bytes of shared outputs, by identity (the output kept alive with them, so that
        #: its id cannot be reused meanwhile).
        self._outputs: _Pieces[int, tuple[ChannelOutput, bytes]] = _Pieces(
            OUTPUTS_LIMIT, OUTPUTS_BYTES
        )
        #: Identity only decides what is kept: a reused id costs one needless entry.
        self._outputs_admission = _Admission(OUTPUTS_LIMIT * 4)
        #: The envelope of symbolic outputs, by status (see :meth:`_envelope`).
        self._envelopes: dict[str, tuple[bytes, bytes, bytes]] = {}
        #: Encoded literal text of symbolic outputs' leaves, by the output's identity.
        #: With them, by status, the record's template (see :meth:`_template`).
        self._symbolic: _Pieces[
            int,
            tuple[
                FillableOutput,
                tuple[bytes | int, ...] | None,
                dict[str, tuple[tuple[bytes | int, ...], bytes]],
            ],
        ] = _Pieces(SYMBOLIC_LIMIT, SYMBOLIC_BYTES)
        #: ``json`` 's own string encoder (what ``dumps`` calls for a str, without the
        #: per-call overhead).
        self._encode_text: Callable[[str], str] = json.encoder.encode_basestring
        #: Pieces served from the caches, by cache (for benchmarks and tests).
        self.hits = {"shared": 0, "email": 0, "symbolic": 0}

    def clear(self) -> None:
        """Forget every cached piece."""
        for cache in (self._heads, self._shared, self._email, self._symbolic, self._outputs):
            cache.clear()
        for admission in (self._shared_admission, self._email_admission, self._outputs_admission):
            admission.seen.clear()
        self._labels.clear()
        self._warning_lists.clear()
        self._fieldless.clear()
        self._envelopes.clear()

    @property
    def bytes_held(self) -> int:
        """About the bytes the large caches keep (what their budgets bound)."""
        caches = (self._heads, self._shared, self._email, self._symbolic, self._outputs)
        return sum(c.held for c in caches)

    def encode(self, result: RenderResult) -> bytes:
        """The record's JSON line, newline included, in UTF-8.

        :raises UnicodeEncodeError: when the record holds a lone surrogate.
        """
        dumps = self.dumps
        profile_id = result.profile_id
        encoded_id = self._encode_text(profile_id) if type(profile_id) is str else dumps(profile_id)
        channels = result.channels
        names = tuple(channels)
        labels = self._labels.get(names)
        if labels is None:
            # Each channel's key, with the comma before every one but the first.
            labels = [b"," + dumps(name).encode() + b":" for name in names]
            if labels:
                labels[0] = labels[0][1:]
            if len(self._labels) >= HEAD_LIMIT:
                self._labels.clear()
            self._labels[names] = labels
        body: list[bytes] = labels * 2
        body[1::2] = [self._channel(output) for output in channels.values()]
        body[::2] = labels
        return b"".join(
            [b'{"profile_id":', encoded_id.encode(), self._head(result), *body, b"}}\n"]
        )

    def _head(self, result: RenderResult) -> bytes:
        """``,"campaign":...,"decisions":{...},"channels":{`` (shared by many profiles)."""
        key = (
            result.campaign,
            result.segments,
            tuple(result.experiments.items()),
            tuple(result.decisions.items()),
        )
        head = self._heads.get(key)
        if head is None:
            dumps = self.dumps
            head = (
                f',"campaign":{dumps(result.campaign)},"segments":{dumps(list(result.segments))}'
                f',"experiments":{dumps(dict(result.experiments))}'
                f',"decisions":{dumps(dict(result.decisions))},"channels":{{'
            ).encode()
            # The key holds the same names and ids as the bytes.
            self._heads.put(key, head, 2 * len(head))
        return head

    def _plain(self, output: ChannelOutput) -> bytes:
        return self.dumps(output.to_json()).encode()

    def _channel(self, output: ChannelOutput) -> bytes:
        if output.shared:
            # Many profiles' records hold this very output (never mutated): encoded once,
            # from its second record on (most outputs of a long tail of names have one).
            known = self._outputs.get(id(output))
            if known is not None and known[0] is output:
                return known[1]
            encoded = self._unshared(output)
            if self._outputs_admission.admit(id(output)):
                self._outputs.put(id(output), (output, encoded), 2 * len(encoded))
            return encoded
        return self._unshared(output)

    def _unshared(self, output: ChannelOutput) -> bytes:
        filled = output.filled
        if filled is not None:
            return self._symbolic_channel(output, filled[0], filled[1])
        fields = output.fields
        warnings = output.warnings
        atoms = output.atoms
        rest = (
            output.status,
            output.reason,
            tuple([(w.code, w.message) for w in warnings]) if warnings else (),
            tuple(atoms.items()) if atoms else (),
        )
        if not fields:
            # A skipped channel (no consent, ...): a handful of distinct records per run.
            known = self._fieldless.get(rest)
            if known is None:
                known = self._plain(output)
                if len(self._fieldless) >= SHARED_LIMIT:
                    self._fieldless.clear()
                self._fieldless[rest] = known
            return known
        key = (id(fields), *rest)
        hit = self._shared.get(key)
        if hit is not None and hit[0] is fields:
            self.hits["shared"] += 1
            return hit[1]
        url = _unsubscribe_url(fields)
        if url and not _RESERVED.intersection(fields):
            return self._email_channel(output, url, rest)
        encoded = self._plain(output)
        if self._shared_admission.admit(key):
            # The mapping is kept alive with its bytes, so its id cannot be reused meanwhile
            # (its own text is counted too: the renderer's memo may have dropped it).
            self._shared.put(key, (fields, encoded), 2 * len(encoded))
        return encoded

    def _symbolic_channel(
        self, output: ChannelOutput, symbolic: FillableOutput, values: tuple[str, ...]
    ) -> bytes:
        """A filled output: its fields are encoded once per symbolic output, with a token
        where each value goes, and per profile only the values are encoded."""
        cached = self._symbolic.get(id(symbolic))
        if cached is None or cached[0] is not symbolic:
            # The output is kept alive with its pieces, so its id cannot be reused meanwhile
            # (counted twice: its text, and the pieces and per-status templates made of it).
            # A field named like the record's own keys is encoded plainly (None).
            pieces = (
                None if _RESERVED.intersection(symbolic.fields) else self._field_pieces(symbolic)
            )
            cached = (symbolic, pieces, {})
            size = sum([len(p) for p in pieces if isinstance(p, bytes)]) if pieces else 0
            self._symbolic.put(id(symbolic), cached, 3 * size)
        else:
            self.hits["symbolic"] += 1
        pieces_of_fields = cached[1]
        if pieces_of_fields is None:
            return self._plain(output)
        encode_text = self._encode_text
        if output.atoms or output.reason is not None:
            encoded = [encode_text(value)[1:-1].encode() for value in values]
            fields = b"".join([p if isinstance(p, bytes) else encoded[p] for p in pieces_of_fields])
            return output.encode(self.dumps, fields, self._warnings(output.warnings))
        # The envelope and the literal pieces, merged: per profile only the values are new.
        template = cached[2].get(output.status)
        if template is None:
            template = cached[2][output.status] = self._template(output, pieces_of_fields)
        pieces, after = template
        encoded = [encode_text(value)[1:-1].encode() for value in values]
        parts = [p if isinstance(p, bytes) else encoded[p] for p in pieces]
        warnings = output.warnings
        if warnings:
            parts += (self._warnings(warnings), after)
        else:
            parts.append(b"[]" + after)
        return b"".join(parts)

    def _template(
        self, output: ChannelOutput, pieces_of_fields: tuple[bytes | int, ...]
    ) -> tuple[tuple[bytes | int, ...], bytes]:
        """The pieces of a symbolic output's record up to its warnings (envelope and fields,
        adjacent literals merged), and what follows the warnings."""
        envelope = self._envelopes.get(output.status)
        if envelope is None:
            envelope = self._envelopes[output.status] = self._envelope(output)
        merged: list[bytes | int] = []
        for piece in (envelope[0], *pieces_of_fields, envelope[1]):
            if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] += piece
            else:
                merged.append(piece)
        return tuple(merged), envelope[2]

    def _envelope(self, output: ChannelOutput) -> tuple[bytes, bytes, bytes]:
        """What ``output.encode`` writes before the fields, between them and the warnings,
        and after the warnings, for outputs of its status with no reason and no atoms.

        Asked of ``output.encode`` itself (with NUL marks, which JSON always escapes), so
        that the key order stays the channel output's own."""
        marked = output.encode(self.dumps, b"\0fields\0", b"\0warnings\0")
        before, after_fields = marked.split(b"\0fields\0")
        between, after = after_fields.split(b"\0warnings\0")
        return before, between, after

    def _warnings(self, warnings: list[RenderWarning]) -> bytes:
        """A warnings list, encoded (a few distinct lists repeat across profiles)."""
        if not warnings:
            return b"[]"
        key = tuple((warning.code, warning.message) for warning in warnings)
        encoded = self._warning_lists.get(key)
        if encoded is None:
            encoded = self.dumps([warning.to_json() for warning in warnings]).encode()
            if len(self._warning_lists) >= HEAD_LIMIT:
                self._warning_lists.clear()
            self._warning_lists[key] = encoded
        return encoded

    def _field_pieces(self, symbolic: FillableOutput) -> tuple[bytes | int, ...] | None:
        """``,"name":value`` for every field, as bytes and value indexes; JSON escapes
        character by character, so encoding the fields around a token and putting each
        value's own encoding in its place is the encoding of the filled fields."""
        tokens = tuple(f"{TOKEN_OPEN}{index}{TOKEN_CLOSE}" for index in range(len(symbolic.slots)))
        with_tokens = symbolic.fill(tokens)
        text = "".join(f",{self.dumps(name)}:{self.dumps(v)}" for name, v in with_tokens.items())
        pieces: list[bytes | int] = []
        position = 0
        for found in _TOKEN.finditer(text):
            pieces.append(text[position : found.start()].encode())
            pieces.append(int(found.group(1)))
            position = found.end()
        pieces.append(text[position:].encode())
        literal = "".join(piece.decode() for piece in pieces if isinstance(piece, bytes))
        if TOKEN_OPEN in literal or TOKEN_CLOSE in literal:
            return None  # a field held the token characters itself: encode plainly
        return tuple(piece for piece in pieces if piece != b"")

    def _email_channel(self, output: ChannelOutput, url: str, rest: tuple[Any, ...]) -> bytes:
        normal = _normal(output.fields, url)
        if normal is None:
            return self._plain(output)
        key = (normal, *rest)
        encoded = self._email.get(key)
        if encoded is None:
            plain = self._plain(output)
            if not self._email_admission.admit(key):
                return plain
            personal = output.to_json()
            personal.update(_denormalised(output.fields, url))
            encoded = self.dumps(personal).encode()
            if encoded.count(_SENTINEL_BYTES) != _count(normal):
                return plain
            # The key holds the email's text as well.
            self._email.put(key, encoded, 2 * len(encoded))
            return plain
        self.hits["email"] += 1
        return encoded.replace(_SENTINEL_BYTES, self.dumps(url)[1:-1].encode())


def _unsubscribe_url(fields: Mapping[str, Any]) -> str | None:
    headers = fields.get("headers")
    if not isinstance(headers, Mapping):
        return None
    value = headers.get("List-Unsubscribe")
    if isinstance(value, str) and len(value) > 2 and value[0] == "<" and value[-1] == ">":
        return value[1:-1]
    return None


def _denormalised(fields: Mapping[str, Any], url: str) -> dict[str, Any]:
    """The fields with the URL swapped for the sentinel (the shape the cache stores)."""

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(url, SENTINEL)
        if isinstance(value, Mapping):
            return {key: swap(item) for key, item in value.items()}
        return value

    return {key: swap(value) for key, value in fields.items()}


__all__ = ["SENTINEL", "RecordEncoder"]
