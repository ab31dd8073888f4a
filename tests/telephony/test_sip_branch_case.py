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


def test_the_invite_cancel_and_cancel_again_in_other_cases_make_one_call_ended_once() -> None:
    """review130: the INVITE sent again while it rings (in another case), then its CANCEL in
    another case, then that CANCEL sent again as first written: one call, one handler (one
    ticket's worth of dialogue), one 487, every copy answered."""
    fe, wire = front_end()
    started: list[str] = []
    fe._start_handler = lambda call: started.append(call.call_id)  # type: ignore[method-assign]
    invite = request("INVITE", call_id="once", body=offer(), branch="z9hG4bKOnCe789abc")
    call = ringing_call(fe, invite)
    fe._on_message(request("INVITE", call_id="once", body=offer(),
                           branch=_other_case(invite.top_branch)))
    cancel = request("CANCEL", call_id="once", branch=invite.top_branch.lower())
    fe._on_message(cancel)
    fe._on_message(request("CANCEL", call_id="once", branch=invite.top_branch.upper()))
    assert started == ["once"] and len(fe._calls) <= 1
    assert call.end_reason is EndReason.CANCELLED
    codes = wire.codes()
    assert codes.count(487) == 1 and 482 not in codes and 481 not in codes
    assert codes.count(200) == 2  # each CANCEL's


def test_two_calls_whose_branches_differ_only_in_case_stay_apart() -> None:
    """Two callers (two Call-IDs) whose INVITEs' branches differ only in case: the CANCEL of
    one cancels that one only; the other's INVITE sent again is answered as its own."""
    fe, wire = front_end()
    one = ringing_call(fe, request("INVITE", call_id="one", body=offer(),
                                   branch="z9hG4bKsame0001"))
    two = ringing_call(fe, request("INVITE", call_id="two", body=offer(),
                                   branch="z9hG4bKSAME0001"))
    fe._on_message(request("CANCEL", call_id="two", branch="z9hG4bKSAME0001"))
    assert two.end_reason is EndReason.CANCELLED and not one.ended
    before = len(wire.sent)
    fe._on_message(request("INVITE", call_id="one", body=offer(), branch="z9hG4bKSAME0001"))
    again = wire.sent[before][0]
    assert again.call_id == "one" and again.status_code == 180 and not one.ended
