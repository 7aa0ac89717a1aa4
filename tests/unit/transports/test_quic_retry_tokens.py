"""Retry tokens (p2pstack.transports.quic.retry): bound to the client's address, the Retry's
connection id and the listener's key; expire; any other bytes are an InvalidRetryToken."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from p2pstack.errors import DecodeError
from p2pstack.transports.quic.retry import (
    MAX_TOKEN_SIZE,
    RETRY_TOKEN_LIFETIME,
    ExpiredRetryToken,
    InvalidRetryToken,
    RetryTokens,
    parse_plaintext,
)

CLIENT = ("127.0.0.1", 40000)
ORIGINAL = bytes(range(8))
RETRY_CID = b"\xaa" * 8


def _issue(tokens: RetryTokens, now: float = 100.0) -> bytes:
    return tokens.issue(address=CLIENT, original_cid=ORIGINAL, retry_cid=RETRY_CID, now=now)


def test_a_token_gives_back_the_original_connection_id() -> None:
    tokens = RetryTokens()
    token = _issue(tokens)
    assert len(token) <= MAX_TOKEN_SIZE
    now = 100.0 + RETRY_TOKEN_LIFETIME
    assert tokens.validate(token, address=CLIENT, destination_cid=RETRY_CID, now=now) == ORIGINAL


def test_an_expired_token_is_refused() -> None:
    tokens = RetryTokens()
    token = _issue(tokens)
    with pytest.raises(ExpiredRetryToken):
        tokens.validate(
            token,
            address=CLIENT,
            destination_cid=RETRY_CID,
            now=100.0 + RETRY_TOKEN_LIFETIME + 0.01,
        )


@pytest.mark.parametrize(
    ("address", "cid"),
    [
        (("127.0.0.2", 40000), RETRY_CID),  # another host
        (("127.0.0.1", 40001), RETRY_CID),  # another port
        (CLIENT, b"\xab" * 8),  # not the Retry's connection id
        (CLIENT, ORIGINAL),
    ],
)
def test_a_token_is_bound_to_address_and_connection_id(
    address: tuple[str, int], cid: bytes
) -> None:
    tokens = RetryTokens()
    with pytest.raises(InvalidRetryToken):
        tokens.validate(_issue(tokens), address=address, destination_cid=cid, now=100.0)


def test_another_listener_s_token_is_refused() -> None:
    token = _issue(RetryTokens())
    with pytest.raises(InvalidRetryToken):
        RetryTokens().validate(token, address=CLIENT, destination_cid=RETRY_CID, now=100.0)


def test_a_flipped_bit_anywhere_is_refused() -> None:
    tokens = RetryTokens()
    token = _issue(tokens)
    for index in range(len(token)):
        forged = bytearray(token)
        forged[index] ^= 0x01
        with pytest.raises(InvalidRetryToken):
            tokens.validate(bytes(forged), address=CLIENT, destination_cid=RETRY_CID, now=100.0)


def test_malformed_plaintexts_sealed_with_our_key_are_refused() -> None:
    tokens = RetryTokens(bytes(16))
    for plaintext in (b"", bytes(8), bytes(8) + b"\x05abc", bytes(8) + b"\x15" + bytes(21)):
        token = tokens.seal(plaintext, address=CLIENT, retry_cid=RETRY_CID)
        with pytest.raises(InvalidRetryToken):
            tokens.validate(token, address=CLIENT, destination_cid=RETRY_CID, now=0.0)


def test_errors_are_decode_errors() -> None:
    assert issubclass(ExpiredRetryToken, InvalidRetryToken)
    assert issubclass(InvalidRetryToken, DecodeError)


@settings(max_examples=200, deadline=None)
@given(token=st.binary(max_size=80))
def test_any_bytes_are_an_invalid_token(token: bytes) -> None:
    with pytest.raises(InvalidRetryToken):
        RetryTokens(bytes(16)).validate(token, address=CLIENT, destination_cid=RETRY_CID, now=0)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=40), now=st.floats(allow_nan=True))
def test_any_sealed_plaintext_decodes_or_is_refused(plaintext: bytes, now: float) -> None:
    tokens = RetryTokens(bytes(16))
    token = tokens.seal(plaintext, address=CLIENT, retry_cid=RETRY_CID)
    try:
        original = tokens.validate(token, address=CLIENT, destination_cid=RETRY_CID, now=now)
    except InvalidRetryToken:
        return
    assert parse_plaintext(plaintext)[1] == original
