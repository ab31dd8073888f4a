"""What the front end answers a request whose method it does not serve, socket-free at the
shipped settings: RFC 3261 8.2.1's 405 with Allow for a method a UAS recognises, 501 for
one it does not (one table, ``dialog.KNOWN_NOT_SERVED``)."""

from __future__ import annotations

import pytest

from telephony.sip.dialog import ALLOW
from tests.telephony.sipwire import front_end, request


@pytest.mark.parametrize("method", ["REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "NOTIFY",
                                    "REFER", "PRACK"])
def test_a_method_we_know_but_do_not_serve_is_405_with_allow(method: str) -> None:
    fe, wire = front_end()
    fe._on_message(request(method, call_id=f"m-{method}"))
    [(answer, _)] = wire.sent
    assert answer.status_code == 405 and answer.cseq[1] == method
    assert answer.first("Allow") == ALLOW


def test_a_method_we_never_heard_of_is_501() -> None:
    fe, wire = front_end()
    fe._on_message(request("FROBNICATE", call_id="m-x"))
    [(answer, _)] = wire.sent
    assert answer.status_code == 501 and answer.first("Allow") == ALLOW
