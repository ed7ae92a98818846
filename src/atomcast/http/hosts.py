"""Which ``Host`` and ``Origin`` values a local server answers.

A server bound to 127.0.0.1 is still reachable from any web page the user has open: through
DNS rebinding (a hostile name re-resolved to 127.0.0.1, so requests carry that name in
``Host``) and through cross-site posts. :class:`HostPolicy` serves only loopback names and
the one the operator chose with ``--host``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = ["HostPolicy", "is_loopback", "is_loopback_bind", "normalise_bind_host", "split_host"]

_PORT = re.compile(r"[0-9]{1,5}")


def split_host(value: str) -> str | None:
    """The host of a ``Host`` header value (``name``, ``name:port``, ``[v6]:port``),
    lower-cased and without the port; ``None`` when the value is malformed."""
    text = value.lower()
    if not text or any(not 0x21 <= ord(ch) <= 0x7E for ch in text):
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[: end + 1], text[end + 1 :]
    else:
        host, sep, port = text.partition(":")
        rest = sep + port
    if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
        return None
    return host or None


def is_loopback(host: str) -> bool:
    """``localhost``, any 127.0.0.0/8 address or ``[::1]`` (``host`` as :func:`split_host`
    returns it). Other spellings of those addresses (``127.1``, ``0x7f.0.0.1``, decimal)
    are refused rather than interpreted."""
    if host == "localhost":
        return True
    try:
        if host.startswith("[") and host.endswith("]"):
            v6 = ipaddress.IPv6Address(host[1:-1])
            if v6.scope_id:
                return False
            mapped = v6.ipv4_mapped
            return mapped.is_loopback if mapped is not None else v6.is_loopback
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def normalise_bind_host(host: str) -> str:
    """``--host`` as it appears in a ``Host`` header: lower-case, IPv6 in brackets."""
    text = host.strip().lower()
    if ":" in text and not text.startswith("["):
        return f"[{text}]"
    return text


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which ``Host`` names are served: loopback always, plus ``extra`` (``--host``)."""

    extra: frozenset[str] = frozenset()

    @classmethod
    def for_bind(cls, host: str | None) -> HostPolicy:
        return cls(frozenset({normalise_bind_host(host)}) if host else frozenset())

    def allows_host(self, header: str) -> bool:
        host = split_host(header)
        return host is not None and (is_loopback(host) or host in self.extra)

    def same_origin(self, origin: str, host_header: str) -> bool:
        """Whether an ``Origin`` header names this very server (scheme, host and port)."""
        return origin.lower() in (f"http://{host_header.lower()}", f"https://{host_header.lower()}")


def is_loopback_bind(host: str) -> bool:
    """Whether ``--host`` names a loopback interface (so only this machine can connect)."""
    return is_loopback(normalise_bind_host(host))
