"""Our non-2xx final answers to INVITEs and re-INVITEs sent again until their ACK (RFC 3261
17.2.1: Timer G at T1 doubling to T2, Timer H at 64*T1, Timer I after the ACK), and what is
their transaction's absorbed before any dialog sees it: the INVITE again (the same answer,
never a second call), its ACK (not the ACK of our 200 to anything), a CANCEL of it (200,
RFC 3261 9.2). CANCEL races: after our 200, for no transaction, during a burst.
Socket-free: a real front end at the shipped settings, its socket and timers by hand
(``sipwire``); the states are ``server_transaction.FinalState``."""

from __future__ import annotations

import pytest

from config.settings import Settings
from telephony.call import CallHandle, CallState, Direction, EndReason, InvalidTransition
from telephony.sip.indialog import InviteState
from telephony.sip.message import SipMessage, build_response
from telephony.sip.server_transaction import (
    FINAL_TRANSITIONS,
    FinalState,
    InviteFinals,
)
from telephony.sip.timers import ACK_WAIT, T1, T2
from tests.telephony.sipwire import (
    PHONE,
    STRANGER,
    Clockwork,
    ack_of,
    front_end,
    offer,
    request,
    ringing_call,
)


def fill_the_lines(fe_calls: dict[str, CallHandle], fe: object, count: int) -> None:
    """``count`` inbound calls up, each from an address of its own (a burst)."""
    for n in range(count):
        call = CallHandle(fe, direction=Direction.INBOUND,  # type: ignore[arg-type]
                          call_id=f"busy{n}", local_tag=f"b{n}", caller="", callee="")
        call.invite_source = (f"203.0.113.{n + 1}", 5060)
        fe_calls[call.call_id] = call


def last(wire: Clockwork) -> SipMessage:
    return wire.sent[-1][0]


def test_the_states_and_their_transitions() -> None:
    assert {
        FinalState.COMPLETED: {FinalState.CONFIRMED, FinalState.TERMINATED},
        FinalState.CONFIRMED: {FinalState.TERMINATED},
        FinalState.TERMINATED: set(),
    } == FINAL_TRANSITIONS


def test_only_a_non_2xx_final_is_the_tables() -> None:
    wire = Clockwork()
    finals = InviteFinals(send=wire.send, later=wire.call_later)
    invite = request("INVITE", body=offer())
    with pytest.raises(ValueError):
        finals.send(invite, build_response(invite, 200, to_tag="x"), PHONE)


def test_a_busy_answer_goes_again_until_its_ack_and_the_invite_again_makes_no_call() -> None:
    """In a burst every line is busy: 486. Lost on UDP, the caller (its proxy's 100 having
    stopped its own INVITE retransmissions) waited 32 s for nothing; and a retransmitted
    INVITE that came once a line was free was taken as a new call. Now the 486 goes again
    at T1 doubling to T2 until its ACK, and the INVITE again gets the same 486."""
    sip = Settings().sip
    fe, wire = front_end(sip)
    fill_the_lines(fe._calls, fe, sip.max_calls)
    invite = request("INVITE", call_id="burst1", body=offer())
    fe._on_message(invite)
    assert wire.codes() == [100, 486]
    busy = last(wire)
    assert busy.first("Retry-After") and fe.admission.finals.state(invite) is (
        FinalState.COMPLETED)
    delays = [wire.fire() for _ in range(4)]
    assert delays == [T1, 2 * T1, 4 * T1, T2] and wire.codes() == [100] + [486] * 5
    assert all(m.to_tag == busy.to_tag for m, _ in wire.sent[1:])
    # A line frees; the INVITE comes again (the caller never heard our 486): the same
    # answer, not a call.
    fe._calls.clear()
    fe._on_message(invite)
    assert wire.codes()[-1] == 486 and last(wire).to_tag == busy.to_tag
    assert fe._lookup("burst1") is None and wire.codes().count(100) == 1
    # Neither the INVITE again nor its ACK is charged (the buckets only refill between):
    # only the first INVITE's token is gone, and a capacity refusal's ACK gives it back.
    assert fe.flood._buckets[PHONE[0]].tokens >= sip.flood_burst - 1
    fe._on_message(ack_of(invite, busy))
    assert fe.admission.finals.state(invite) is FinalState.CONFIRMED
    assert fe.flood._buckets[PHONE[0]].tokens == sip.flood_burst
    sent = len(wire.sent)
    fe._on_message(ack_of(invite, busy))  # the ACK again: absorbed
    fe._on_message(invite)  # (and the INVITE, which no one should send now)
    assert len(wire.sent) == sent
    while wire.timers:
        wire.fire()
    assert len(wire.sent) == sent and fe.admission.finals.state(invite) is (
        FinalState.TERMINATED)


def test_no_ack_the_answer_is_given_up_at_64_t1() -> None:
    """Timer H: sent at 0, 0.5, 1.5, 3.5, then every T2 up to 31.5 s, then forgotten: the
    INVITE after that is a request of its own."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="nope", body=offer())
    invite_other = request("INVITE", call_id="nope", body=offer(), branch=invite.top_branch)
    fe.admission.refuse(invite, 503, warning="testing", capacity=True)
    waited = 0.0
    while wire.timers:
        waited += wire.fire()
    assert waited == ACK_WAIT and wire.codes() == [503] * 11
    assert fe.admission.finals.state(invite) is FinalState.TERMINATED
    assert not fe.admission.finals.take(invite_other)


def test_the_ack_of_a_500_to_an_early_reinvite_is_not_the_ack_of_our_200() -> None:
    """A re-INVITE before our 200 to the INVITE gets 500 + Retry-After, then our 200 goes.
    The 500's ACK (CSeq 2) came to the dialog, which took it for the ACK of our 200 (CSeq
    1; a higher CSeq is taken for a peer numbering its ACKs on): our 200 was sent no more
    and the call counted as ACKed though the caller might never have had it. Now the
    500's transaction absorbs its ACK."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="early", body=offer(), cseq=1)
    call = ringing_call(fe, invite)
    tag = call.local_tag
    early = request("INVITE", call_id="early", cseq=2, to_tag=tag, body=offer(40002))
    fe._on_message(early)
    refused = last(wire)
    assert refused.status_code == 500 and refused.first("Retry-After")
    assert call.answer()
    assert last(wire).status_code == 200
    assert fe.dialogs.invite_state("early") is InviteState.ACK_AWAITED
    fe._on_message(ack_of(early, refused))
    assert fe.admission.finals.state(early) is FinalState.CONFIRMED
    assert fe.dialogs.invite_state("early") is InviteState.ACK_AWAITED
    assert not call.ack_received.is_set()
    wire.fire()  # our 200's retransmission goes on (the 500's does not)
    assert wire.codes()[-1] == 200
    fe._on_message(request("ACK", call_id="early", cseq=1, to_tag=tag))
    assert fe.dialogs.invite_state("early") is InviteState.CONFIRMED
    assert call.ack_received.is_set() and call.state is CallState.ANSWERED


def test_a_491_goes_again_until_its_ack_and_that_ack_answers_nothing() -> None:
    """Our offer in a 200 awaits its answer; the peer's offer meanwhile gets 491, sent
    again until its ACK (before: once), which is not the ACK bringing our answer."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="glare", body=offer())
    call = ringing_call(fe, invite)
    assert call.answer()
    tag = call.local_tag
    fe._on_message(request("ACK", call_id="glare", cseq=1, to_tag=tag))
    wire.timers.clear()
    fe._on_message(request("INVITE", call_id="glare", cseq=2, to_tag=tag))  # no SDP
    assert last(wire).status_code == 200 and last(wire).body_bytes  # our offer
    theirs = request("INVITE", call_id="glare", cseq=3, to_tag=tag, body=offer(40004))
    fe._on_message(theirs)
    pending = last(wire)
    assert pending.status_code == 491
    wire.fire()  # T1: our 200 with the offer, then the 491, each again
    wire.fire()
    assert sorted(wire.codes()[-2:]) == [200, 491]
    fe._on_message(ack_of(theirs, pending))
    assert fe.admission.finals.state(theirs) is FinalState.CONFIRMED
    assert fe.dialogs.invite_state("glare") is InviteState.ANSWER_AWAITED
    sent = len(wire.sent)
    while any(t.when < T1 * 2 + 0.01 for t in wire.timers):
        wire.fire()
    assert [m.status_code for m, _ in wire.sent[sent:]] == [200]  # no 491 any more


def test_a_cancel_of_a_ringing_call_its_487_until_the_ack_which_the_call_never_sees() -> None:
    """CANCEL while ringing: 200, then 487 to the INVITE, sent again until its ACK; the ACK
    (our tag, the INVITE's branch) is the 487's transaction's, absorbed there: before, it
    reached the dialog and counted as the call's ACK."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="cx", body=offer())
    call = ringing_call(fe, invite)
    fe._on_message(request("CANCEL", call_id="cx", branch=invite.top_branch))
    assert wire.codes()[-2:] == [200, 487] and call.end_reason is EndReason.CANCELLED
    terminated = last(wire)
    assert not call.answer()
    wire.fire()
    assert wire.codes()[-1] == 487
    fe._on_message(invite)  # the INVITE again: the 487 again
    assert wire.codes()[-1] == 487
    fe._on_message(ack_of(invite, terminated))
    assert not call.ack_received.is_set()
    assert fe.admission.finals.state(invite) is FinalState.CONFIRMED
    sent = len(wire.sent)
    fe._on_message(request("CANCEL", call_id="cx", branch=invite.top_branch))  # again
    assert [(m.status_code, m.cseq[1]) for m, _ in wire.sent[sent:]] == [(200, "CANCEL")]
    while wire.timers:  # the 487 no more; the call forgotten after its linger
        wire.fire()
    assert len(wire.sent) == sent + 1 and fe._lookup("cx") is None
    assert fe.admission.finals.state(invite) is FinalState.TERMINATED


def test_a_cancel_of_an_invite_refused_in_a_burst_gets_200_and_no_487() -> None:
    """The INVITE was refused 486 (every line busy) and the CANCEL crossed it: it matches a
    transaction we have, so 200 and nothing else (RFC 3261 9.2); before, 481 (no call),
    and the CANCEL was charged to the flood guard as a new request."""
    sip = Settings().sip
    fe, wire = front_end(sip)
    fill_the_lines(fe._calls, fe, sip.max_calls)
    invite = request("INVITE", call_id="crossed", body=offer())
    fe._on_message(invite)
    busy = last(wire)
    assert busy.status_code == 486
    fe._on_message(request("CANCEL", call_id="crossed", branch=invite.top_branch))
    assert last(wire).status_code == 200 and last(wire).cseq[1] == "CANCEL"
    assert 487 not in wire.codes()
    wire.fire()
    assert wire.codes()[-1] == 486  # still until its ACK
    fe._on_message(ack_of(invite, busy))
    assert fe.admission.finals.state(invite) is FinalState.CONFIRMED


def test_a_cancel_for_no_transaction_is_481_and_after_our_200_changes_nothing() -> None:
    fe, wire = front_end()
    fe._on_message(request("CANCEL", call_id="unknown"))
    assert wire.codes() == [481]
    invite = request("INVITE", call_id="up", body=offer())
    call = ringing_call(fe, invite)
    assert call.answer()
    fe._on_message(request("CANCEL", call_id="up", branch=invite.top_branch))
    assert last(wire).status_code == 200 and last(wire).cseq[1] == "CANCEL"
    assert 487 not in wire.codes() and call.state is CallState.ANSWERED
    fe._on_message(request("ACK", call_id="up", cseq=1, to_tag=call.local_tag))
    assert call.ack_received.is_set() and call.state is CallState.ANSWERED


def test_a_transition_the_table_does_not_allow_raises() -> None:
    wire = Clockwork()
    finals = InviteFinals(send=wire.send, later=wire.call_later)
    invite = request("INVITE", body=offer())
    final = finals.send(invite, build_response(invite, 488, to_tag="x"), PHONE)
    finals._terminate(final)
    with pytest.raises(InvalidTransition):
        finals._move(final, FinalState.CONFIRMED)


def test_nothing_more_goes_to_an_address_banned_since() -> None:
    """An INVITE with a forged source draws our answer to whoever owns the address: once
    the flood guard bans it, its answers are sent no more (before this they went once; sent
    again unchecked they would go eleven times)."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="spoofed", source=STRANGER, body=offer())
    fe.admission.refuse(invite, 486, warning="testing", capacity=True)
    wire.fire()
    assert wire.codes() == [486, 486]
    fe.admission.penalize(STRANGER[0], 1000, "testing")
    fe._on_message(invite)  # absorbed: no answer to a banned address
    while wire.timers:
        wire.fire()
    assert wire.codes() == [486, 486]
    assert fe.admission.finals.state(invite) is FinalState.TERMINATED


def test_a_transaction_dropped_past_the_limit_is_sent_no_more() -> None:
    """Past ``limit`` transactions the oldest is dropped, and with it its retransmissions
    (docs/sip.md): the bound is what a surge of refused INVITEs from many addresses costs.
    Before, a dropped one stayed COMPLETED and its timer sent it on until 64*T1."""
    wire = Clockwork()
    finals = InviteFinals(send=wire.send, later=wire.call_later, limit=2)
    invites = [request("INVITE", call_id=f"surge{n}", body=offer()) for n in range(3)]
    sent = [finals.send(i, build_response(i, 486, to_tag=f"t{n}"), PHONE)
            for n, i in enumerate(invites)]
    assert sent[0].state is FinalState.TERMINATED
    assert finals.state(invites[0]) is FinalState.TERMINATED
    while wire.timers:
        wire.fire()
    per_call = [sum(1 for m, _ in wire.sent if m.call_id == i.call_id) for i in invites]
    assert per_call == [1, 11, 11]


def test_the_invite_again_is_answered_no_more_often_than_a_client_resends_it() -> None:
    """The INVITE again is free (not charged): a lost answer is not the caller's fault. But
    copies of a refused INVITE sent with a forged source were each answered, uncharged, so
    the flood guard never banned the address and we answered whoever owns it at the
    sender's rate. A client resends an INVITE six times at most (Timer A within Timer B):
    more copies than that are absorbed unanswered."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="reflect", source=STRANGER, body=offer())
    fe.admission.refuse(invite, 486, warning="testing", capacity=True)
    for _ in range(50):
        fe._on_message(invite)
    assert wire.codes() == [486] * 7
    assert fe.admission.finals.state(invite) is FinalState.COMPLETED


def test_a_copy_refused_from_another_address_leaves_the_callers_transaction_alone() -> None:
    """The transaction is the INVITE's from its address. A copy of it (the same Call-ID,
    branch and CSeq) refused from another address took its place: the caller's ACK then
    matched nothing (charged as a new request, its capacity refund lost) and our answer
    went on to the caller for 32 s after it had ACKed."""
    wire = Clockwork()
    finals = InviteFinals(send=wire.send, later=wire.call_later)
    invite = request("INVITE", call_id="twin", body=offer())
    copy = request("INVITE", call_id="twin", body=offer(), branch=invite.top_branch,
                   source=STRANGER)
    answer = build_response(invite, 486, to_tag="ours")
    busy = SipMessage(answer)
    finals.send(invite, answer, PHONE)
    finals.send(copy, build_response(copy, 486, to_tag="theirs"), STRANGER)
    assert finals.take(ack_of(invite, busy))
    assert finals.state(invite) is FinalState.CONFIRMED
    while wire.timers:
        wire.fire()
    assert sum(1 for _, addr in wire.sent if addr == PHONE) == 1
