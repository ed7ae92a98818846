"""The HTTP edge shared by the preview and ``atomcast serve`` (:mod:`atomcast.http`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomcast.errors import ListenError, RequestError
from atomcast.http.bodies import (
    MAX_BODY_BYTES,
    NOT_JSON,
    body_too_large,
    check_declared,
    is_json_type,
    read_capped,
)
from atomcast.http.hosts import is_loopback_bind
from atomcast.http.listen import listen_socket


def test_a_busy_port_names_the_likely_holder_or_none() -> None:
    first = listen_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    first.listen()
    try:
        with pytest.raises(ListenError) as preview:
            listen_socket("127.0.0.1", port, holder="preview")
        assert str(preview.value) == (
            f"port {port} on 127.0.0.1 is already in use (another preview?); stop it or "
            "choose another port with --port"
        )
        with pytest.raises(ListenError) as other:
            listen_socket("127.0.0.1", port)
        assert str(other.value) == (
            f"port {port} on 127.0.0.1 is already in use; stop what holds it or choose "
            "another port with --port"
        )
    finally:
        first.close()


def test_inheritable_only_when_asked() -> None:
    plain = listen_socket("127.0.0.1", 0)
    shared = listen_socket("127.0.0.1", 0, inheritable=True)
    try:
        assert not plain.get_inheritable()
        assert shared.get_inheritable()
    finally:
        plain.close()
        shared.close()


def test_an_unknown_host_is_one_clear_error() -> None:
    with pytest.raises(ListenError, match=r"cannot listen on no-such-host\.invalid:0"):
        listen_socket("no-such-host.invalid", 0)


def test_loopback_binds() -> None:
    assert is_loopback_bind("127.0.0.1")
    assert is_loopback_bind("::1")
    assert is_loopback_bind("LOCALHOST")
    assert not is_loopback_bind("0.0.0.0")
    assert not is_loopback_bind("127.1")


def test_json_types() -> None:
    assert is_json_type("application/json")
    assert is_json_type('Application/JSON; charset="UTF-8"')
    assert not is_json_type("application/json; charset=latin-1")
    assert not is_json_type("text/plain")


@given(st.text(max_size=12))
def test_any_declared_length_is_accepted_or_refused_never_a_crash(length: str) -> None:
    acceptable = length.isascii() and length.isdigit() and int(length) <= MAX_BODY_BYTES
    if acceptable:
        check_declared(["application/json"], [length], MAX_BODY_BYTES)
        return
    with pytest.raises(RequestError) as refused:
        check_declared(["application/json"], [length], MAX_BODY_BYTES)
    assert refused.value.status == 413
    assert str(refused.value) == body_too_large(MAX_BODY_BYTES)


def test_a_unicode_digit_length_is_refused() -> None:
    # "²".isdigit() is true, but int("²") fails.
    with pytest.raises(RequestError) as refused:
        check_declared(["application/json"], ["\u00b2"], MAX_BODY_BYTES)
    assert refused.value.status == 413


def test_the_type_is_checked_before_the_length() -> None:
    with pytest.raises(RequestError) as refused:
        check_declared(["text/plain"], ["999999999"], MAX_BODY_BYTES)
    assert (refused.value.status, str(refused.value)) == (415, NOT_JSON)
    with pytest.raises(RequestError) as twice:
        check_declared(["application/json", "application/json"], [], MAX_BODY_BYTES)
    assert twice.value.status == 415


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_a_body_is_capped_as_it_arrives() -> None:
    assert asyncio.run(read_capped(_chunks([b"ab", b"cd"]), limit=4)) == b"abcd"
    with pytest.raises(RequestError) as refused:
        asyncio.run(read_capped(_chunks([b"ab", b"cd", b"e"]), limit=4))
    assert refused.value.status == 413
