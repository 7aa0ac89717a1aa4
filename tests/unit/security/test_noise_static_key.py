"""Static key reuse and the cache of verified payloads in the Noise XX handshake."""

from __future__ import annotations

import pytest

from p2pstack.errors import HandshakeError, PeerIdMismatch
from p2pstack.identity import Identity
from p2pstack.role import Role
from p2pstack.security.noise import NoiseHandshake
from p2pstack.security.noise.handshake import StaticKey


def shake(init: NoiseHandshake, resp: NoiseHandshake) -> None:
    resp.receive_data(init.data_to_send())
    init.receive_data(resp.data_to_send())
    resp.receive_data(init.data_to_send())
    assert init.complete
    assert resp.complete


def test_a_reused_static_key_keeps_session_keys_fresh() -> None:
    a, b = Identity.generate(), Identity.generate()
    static = StaticKey(a)
    results = []
    for _ in range(2):
        init = NoiseHandshake(a, role=Role.INITIATOR, static=static, expected_peer=b.peer_id)
        resp = NoiseHandshake(b, role=Role.RESPONDER)
        shake(init, resp)
        results.append((init.result, resp.result))
    (i1, r1), (i2, r2) = results
    assert r1.remote_static == r2.remote_static == static.public
    assert i1.remote_static != i2.remote_static  # the responder had no StaticKey: fresh ones
    assert i1.send_key != i2.send_key  # ephemeral keys differ: new session keys
    assert r1.remote_peer == r2.remote_peer == a.peer_id


def test_a_static_key_of_another_identity_is_refused() -> None:
    with pytest.raises(ValueError, match="another identity"):
        NoiseHandshake(
            Identity.generate(), role=Role.INITIATOR, static=StaticKey(Identity.generate())
        )


def test_a_cached_payload_still_meets_the_expected_peer_check() -> None:
    a, b, c = Identity.generate(), Identity.generate(), Identity.generate()
    static = StaticKey(b)
    shake(
        NoiseHandshake(a, role=Role.INITIATOR, expected_peer=b.peer_id),
        NoiseHandshake(b, role=Role.RESPONDER, static=static),
    )
    init = NoiseHandshake(a, role=Role.INITIATOR, expected_peer=c.peer_id)
    resp = NoiseHandshake(b, role=Role.RESPONDER, static=static)
    resp.receive_data(init.data_to_send())
    with pytest.raises(PeerIdMismatch):
        init.receive_data(resp.data_to_send())


def test_a_payload_signing_another_static_key_fails_even_after_a_good_one() -> None:
    a, b = Identity.generate(), Identity.generate()
    good = StaticKey(b)
    shake(
        NoiseHandshake(a, role=Role.INITIATOR),
        NoiseHandshake(b, role=Role.RESPONDER, static=good),
    )
    forged = StaticKey(b)
    mismatched = StaticKey.__new__(StaticKey)
    for name, value in (
        ("private", forged.private),
        ("public", forged.public),
        ("signer", b.peer_id),
        ("payload", good.payload),  # signs good.public, not forged.public
    ):
        setattr(mismatched, name, value)
    init = NoiseHandshake(a, role=Role.INITIATOR)
    resp = NoiseHandshake(b, role=Role.RESPONDER, static=mismatched)
    resp.receive_data(init.data_to_send())
    with pytest.raises(HandshakeError, match="signature"):
        init.receive_data(resp.data_to_send())
