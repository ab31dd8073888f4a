"""A caller's CANCEL, INVITE retransmission and ACK of our non-2xx matched to its INVITE by
branch compared without regard to case (RFC 3261 7.3.1: a branch is a token), the one rule
``transaction.branch_key`` that review119 gave to the responses to our requests. Compared
as written (before sip45), a caller (or an SBC in front of it) writing the branch of its
CANCEL in another case than its INVITE's was answered 481 and its callee's phone, ours,
rang on; its INVITE sent again so was a second call on the line (482)."""

from __future__ import annotations

from telephony.call import EndReason
from telephony.sip.server_transaction import FinalState
from tests.telephony.sipwire import ack_of, front_end, offer, request, ringing_call


def _other_case(branch: str) -> str:
    return branch.swapcase()


def test_a_cancel_whose_branch_is_in_another_case_cancels_the_ringing_call() -> None:
    fe, wire = front_end()
    invite = request("INVITE", call_id="case1", body=offer(), branch="z9hG4bKAbC123def")
    call = ringing_call(fe, invite)
    fe._on_message(request("CANCEL", call_id="case1", branch=_other_case(invite.top_branch)))
    assert wire.codes()[-2:] == [200, 487] and call.end_reason is EndReason.CANCELLED
    terminated = wire.sent[-1][0]
    # The ACK of our 487, its branch in the other case too, is the 487's transaction's.
    fe._on_message(ack_of(request("INVITE", call_id="case1", body=offer(),
                                  branch=_other_case(invite.top_branch)), terminated))
    assert fe.admission.finals.state(invite) is FinalState.CONFIRMED


def test_an_invite_sent_again_with_its_branch_in_another_case_is_the_same_call() -> None:
    fe, wire = front_end()
    invite = request("INVITE", call_id="case2", body=offer(), branch="z9hG4bKAbC456def")
    call = ringing_call(fe, invite)
    assert call.answer()
    ok = wire.sent[-1][0]
    assert ok.status_code == 200
    fe._on_message(request("INVITE", call_id="case2", body=offer(),
                           branch=_other_case(invite.top_branch)))
    # Our 200 again, not a 482 refusing it as a second call of the same Call-ID.
    again = wire.sent[-1][0]
    assert again.status_code == 200 and again.to_tag == ok.to_tag
    assert 482 not in wire.codes()
