"""API keys for ``atomcast serve``: ``ATOMCAST_API_KEYS`` (comma-separated), sent as
``Authorization: Bearer KEY``.

Keys are compared by their SHA-256 digests with :func:`hmac.compare_digest`, every key each
time: neither a key's length nor which key nearly matched shows in the response time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from atomcast.errors import ServeError

__all__ = ["API_KEYS_ENV", "ApiKeys", "bearer_token"]

API_KEYS_ENV = "ATOMCAST_API_KEYS"
#: Keys shorter than this are refused: guessable over a few thousand requests.
MIN_KEY_LENGTH = 16


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """The accepted keys (as digests); empty means no key is needed (loopback only)."""

    digests: tuple[bytes, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> ApiKeys:
        """Keys from the variable's text; ``None`` (unset) means none.

        :raises ServeError: a set variable without a usable key, or a key that is too short or
            not visible ASCII (it could not travel in a header as written).
        """
        if text is None:
            return cls()
        keys = [part.strip() for part in text.split(",")]
        keys = [key for key in keys if key]
        if not keys:
            raise ServeError(f"{API_KEYS_ENV} is set but holds no key")
        for number, key in enumerate(keys, 1):
            if not all(0x21 <= ord(ch) <= 0x7E for ch in key):
                raise ServeError(
                    f"{API_KEYS_ENV}: key {number} has a character other than visible ASCII"
                )
            if len(key) < MIN_KEY_LENGTH:
                raise ServeError(
                    f"{API_KEYS_ENV}: key {number} is shorter than {MIN_KEY_LENGTH} characters"
                )
        return cls(tuple(_digest(key.encode("ascii")) for key in keys))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ApiKeys:
        env = os.environ if environ is None else environ
        return cls.parse(env.get(API_KEYS_ENV))

    @property
    def required(self) -> bool:
        return bool(self.digests)

    def allows(self, token: bytes | None) -> bool:
        """Whether ``token`` is one of the keys (always true when no key is set)."""
        if not self.digests:
            return True
        if token is None:
            return False
        given = _digest(token)
        found = False
        for digest in self.digests:
            # No early exit: the time taken does not tell which key matched.
            found |= hmac.compare_digest(given, digest)
        return found


def bearer_token(header: bytes | None) -> bytes | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value, else ``None``."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    return token or None
