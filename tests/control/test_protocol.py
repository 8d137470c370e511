"""The control protocol's decoding: everything a hostile or broken client can send becomes a
ProtocolError with a short reason (never a RecursionError, a ValueError or a traceback)."""

from __future__ import annotations

import pytest

from carpd.control import protocol
from carpd.control.protocol import Busy, ProtocolError, decode_request, decode_response


@pytest.mark.parametrize(("line", "reason"), [
    (b"[" * 30000 + b"]" * 30000, "nested too deeply"),
    (b'{"cmd": "demote", "args": {"by": ' + b"9" * 5000 + b"}}",
     "an integer of more than 4300 digits"),
    (b'{"cmd": "demote", "args": {"for": NaN}}', "NaN is not a number"),
    (b'{"cmd": "demote", "args": {"for": Infinity}}', "Infinity is not a number"),
    (b"\xff", "can't decode"),
    (b"{" * 10 + b"\n", "not JSON this protocol accepts"),
    (b" " * (protocol.MAX_REQUEST + 1), "request too large (limit 65536 bytes)"),
])
def test_hostile_requests_are_protocol_errors(line: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_request(line)
    assert type(caught.value) is ProtocolError and reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_busy_reply_is_told_apart_from_a_refusal() -> None:
    with pytest.raises(Busy, match="too many"):
        decode_response(protocol.encode_error("too many", retry=True))
    with pytest.raises(ProtocolError) as caught:
        decode_response(protocol.encode_error("no VIP named 'x'"))
    assert not isinstance(caught.value, Busy)


def test_requests_stay_far_below_the_request_bound() -> None:
    big = protocol.Request(cmd="demote", args={"name": "v" * 1000, "by": 254, "for": 1e9})
    assert len(protocol.encode_request(big)) < protocol.MAX_REQUEST // 32
