"""A CANCEL racing our 200 OK, socket-free: the call handler answers between the CANCEL's
check of the call and its ending of it. The call stays answered, the CANCEL gets its 200
and no 487 follows our 200 (RFC 3261 9.2); before, the call ended as cancelled with our
200 out and no BYE, the caller left on a silent line."""

from __future__ import annotations

from typing import Any

from telephony.call import CallHandle, CallState, EndReason
from telephony.sip.message import SipMessage
from tests.telephony.test_sip_indialog import codes, inbound_call, make, sip_request


class Rtp:
    def start(self) -> None: ...


def test_a_cancel_losing_the_race_to_our_answer_leaves_the_call_up() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    call.rtp = Rtp()  # type: ignore[assignment]
    real = CallHandle.transition

    def handler_answers_first(self: CallHandle, new: CallState, *args: Any,
                              **kw: Any) -> bool:
        if new is CallState.ENDED and self.state is CallState.INCOMING:
            assert self.answer()  # the handler thread, just after the CANCEL's check
        return real(self, new, *args, **kw)

    call.transition = handler_answers_first.__get__(call)  # type: ignore[method-assign]
    dialogs.on_cancel(sip_request("CANCEL", to_tag=""))
    assert codes(wire) == [200]  # the CANCEL's 200; no 487 for the INVITE
    assert call.state is CallState.ANSWERED and call.end_reason is None
    assert SipMessage(call.last_invite_response or b"").status_code == 200
    dialogs.on_bye(sip_request("BYE", branch="z9hG4bKbye", cseq=3))
    assert call.end_reason is EndReason.REMOTE_HANGUP


def test_a_cancel_before_the_answer_still_ends_the_call() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    call.rtp = Rtp()  # type: ignore[assignment]
    dialogs.on_cancel(sip_request("CANCEL", to_tag=""))
    assert codes(wire) == [200, 487] and call.end_reason is EndReason.CANCELLED
    assert not call.answer()
