"""Which response is a client transaction's (RFC 3261 17.1.3): the one whose top Via
carries the branch we put in the request, and the request's CSeq method; and a response
with more than one Via is no response to us at all (8.1.3.3). Before the thirty-fifth
round (sip44) a response was matched by Call-ID and CSeq alone: anyone who had seen or
guessed a Call-ID (a log line, a proxy on the path, a capture) could answer the INVITE of
a call we placed, from anywhere, and the call was "answered" with the forger's SDP and
Contact, or end our BYE's transaction. Socket-free: a real front end at the shipped
settings (``sipwire``); what still works with the right branch is pinned beside each."""

from __future__ import annotations

import random
import secrets
import threading

from telephony.call import CallState, DialOutcome, OutcomeKind
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.message import SipMessage, build_response
from telephony.sip.sdp import build_sdp, offer_formats
from telephony.sip.uri import parse_via
from tests.telephony.sipwire import PHONE, STRANGER, Clockwork, front_end, request, ringing_call

CALLEE = f"sip:1001@{PHONE[0]}:{PHONE[1]}"


def _other_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(16)


def _answer_sdp() -> bytes:
    return build_sdp(ip=PHONE[0], port=42000, session_id=3, formats=offer_formats(),
                     event_pt=101)


def _dialling(fe: SipFrontEnd, wire: Clockwork
              ) -> tuple[threading.Thread, list[DialOutcome], SipMessage]:
    outcomes: list[DialOutcome] = []
    dial = threading.Thread(target=lambda: outcomes.append(fe.call(CALLEE, timeout=3600)),
                            daemon=True)
    dial.start()
    return dial, outcomes, wire.first_sent("INVITE")


def _ok(invite: SipMessage, *, via: list[str] | None = None, tag: str = "callee") -> bytes:
    """The callee's 200 to ``invite`` with SDP; ``via``: these Via rows instead of the
    INVITE's (a forger's, or one with a second Via)."""
    data = build_response(invite, 200, to_tag=tag, body=_answer_sdp(),
                          extra=[("Contact", f"<{CALLEE}>")])
    if via is None:
        return data
    ours = next(v for n, v in invite.header_list if n == "Via")
    return data.replace(f"Via: {ours}\r\n".encode(),
                        "".join(f"Via: {v}\r\n" for v in via).encode(), 1)


def _via_with(invite: SipMessage, branch: str | None) -> str:
    """The INVITE's own Via with another branch (None: none at all)."""
    ours = next(v for n, v in invite.header_list if n == "Via")
    head, _, _ = ours.partition(";branch=")
    return head + (f";branch={branch}" if branch is not None else "") + ";rport"


def _acks(wire: Clockwork) -> list[SipMessage]:
    return [m for m, _ in wire.sent if m.type != 0 and m.method == "ACK"]


def _hang_up(fe: SipFrontEnd, dial: threading.Thread) -> None:
    fe.stop()
    dial.join(timeout=30)
    assert not dial.is_alive()


def test_a_2xx_with_the_call_id_and_cseq_but_another_branch_answers_nothing() -> None:
    """A forger who knows the Call-ID (and our From tag, and the CSeq) answers our INVITE
    with a branch of its own, or none, from the callee's address or its own: the call
    stays ringing, nothing is ACKed, no dialog is made with the forger's Contact. The
    callee's own 200 (the INVITE's branch) still answers it, and is ACKed."""
    fe, wire = front_end()
    dial, outcomes, invite = _dialling(fe, wire)
    call = fe._lookup(invite.call_id)
    assert call is not None
    for branch in (_other_branch(), None, _other_branch().upper(), ""):
        for source in (PHONE, STRANGER):
            fe._on_message(SipMessage(_ok(invite, via=[_via_with(invite, branch)],
                                          tag="forger"), source))
    assert call.state is CallState.DIALING and not _acks(wire) and not call.remote_tag
    fe._on_message(SipMessage(_ok(invite), PHONE))
    dial.join(timeout=30)
    assert outcomes and outcomes[0].kind is OutcomeKind.ANSWERED
    assert call.remote_tag == "callee" and [a.to_tag for a in _acks(wire)] == ["callee"]
    _hang_up(fe, dial)


def test_a_response_with_two_vias_is_dropped_whatever_its_branch() -> None:
    """RFC 3261 8.1.3.3: a response with more than one Via is discarded (it was meant for
    a proxy's, not for us). Our own branch on top with a row added below, or below one
    added on top: the call stays ringing, and its 180 or final of one Via still counts."""
    fe, wire = front_end()
    dial, outcomes, invite = _dialling(fe, wire)
    call = fe._lookup(invite.call_id)
    assert call is not None
    ours = next(v for n, v in invite.header_list if n == "Via")
    other = f"SIP/2.0/UDP {STRANGER[0]}:{STRANGER[1]};branch={_other_branch()}"
    for vias in ([ours, other], [other, ours], [f"{ours}, {other}"]):
        fe._on_message(SipMessage(_ok(invite, via=vias), PHONE))
    assert call.state is CallState.DIALING and not _acks(wire)
    fe._on_message(SipMessage(build_response(invite, 180, to_tag="callee"), PHONE))
    assert call.state is CallState.ALERTING
    fe._on_message(SipMessage(_ok(invite), PHONE))
    dial.join(timeout=30)
    assert outcomes and outcomes[0].kind is OutcomeKind.ANSWERED
    _hang_up(fe, dial)


def test_our_branch_in_another_case_with_params_added_is_still_ours() -> None:
    """A branch is a token, and a parameter's value is compared without regard to case
    (RFC 3261 7.3.1): a trunk or SBC that writes our Via back with the branch (or just
    its cookie) in other letters, and adds ``received``/``rport=`` to it, answers our
    INVITE, and its 200 again is ACKed again. Compared case-sensitively (sip44), the
    callee's 200 was dropped: the call rang on to Timer B and the answered callee heard
    silence. Our branches are lower-case hex, so folding the case costs no secret bits."""
    fe, wire = front_end()
    dial, outcomes, invite = _dialling(fe, wire)
    ours = next(v for n, v in invite.header_list if n == "Via")
    shouted = ours.replace(invite.top_branch, invite.top_branch.upper()).replace(
        ";rport", ";rport=5080;received=198.51.100.7")
    fe._on_message(SipMessage(_ok(invite, via=[shouted]), PHONE))
    dial.join(timeout=30)
    assert outcomes and outcomes[0].kind is OutcomeKind.ANSWERED
    fe._on_message(SipMessage(_ok(invite, via=[ours.replace("z9hG4bK", "z9hg4bk")]), PHONE))
    assert len(_acks(wire)) == 2
    _hang_up(fe, dial)


def test_a_busy_with_another_branch_neither_ends_the_call_nor_is_acked() -> None:
    """A non-2xx final with the wrong branch (a forged 486 to stop a callback reaching a
    citizen): the call rings on, no ACK; the callee's own 486 ends it busy."""
    fe, wire = front_end()
    dial, outcomes, invite = _dialling(fe, wire)
    call = fe._lookup(invite.call_id)
    assert call is not None
    busy = build_response(invite, 486, to_tag="forger").replace(
        invite.top_branch.encode(), _other_branch().encode())
    fe._on_message(SipMessage(busy, PHONE))
    assert not call.ended and not _acks(wire)
    fe._on_message(SipMessage(build_response(invite, 486, to_tag="callee"), PHONE))
    dial.join(timeout=30)
    assert outcomes and outcomes[0].kind is OutcomeKind.BUSY
    assert [a.top_branch for a in _acks(wire)] == [invite.top_branch]
    fe.stop()


def test_a_retransmitted_2xx_is_acked_again_and_a_forged_one_is_not() -> None:
    """The callee's 200 again (its branch, the INVITE's): our ACK again (RFC 3261
    13.2.2.4). The same 200 with another branch, once the call is up: nothing sent."""
    fe, wire = front_end()
    dial, outcomes, invite = _dialling(fe, wire)
    fe._on_message(SipMessage(_ok(invite), PHONE))
    dial.join(timeout=30)
    assert outcomes and outcomes[0].kind is OutcomeKind.ANSWERED
    fe._on_message(SipMessage(_ok(invite), PHONE))
    assert len(_acks(wire)) == 2
    fe._on_message(SipMessage(_ok(invite, via=[_via_with(invite, _other_branch())]), PHONE))
    fe._on_message(SipMessage(_ok(invite, via=[_via_with(invite, _other_branch())],
                                  tag="fork2"), PHONE))
    assert len(_acks(wire)) == 2 and "BYE" not in wire.methods()
    _hang_up(fe, dial)


def test_our_bye_is_not_settled_by_a_200_of_another_branch() -> None:
    """Our BYE to a caller: a 200 naming its Call-ID and CSeq with another branch leaves
    its transaction retransmitting; the caller's 200 (the BYE's branch) ends it."""
    fe, wire = front_end()
    invite = request("INVITE", call_id="b1", body=_answer_sdp())
    call = ringing_call(fe, invite)
    assert call.answer()
    fe._on_message(request("ACK", call_id="b1", to_tag=call.local_tag))
    call.hangup()
    bye = wire.first_sent("BYE")
    forged = build_response(bye, 200).replace(bye.top_branch.encode(),
                                              _other_branch().encode())
    fe._on_message(SipMessage(forged, PHONE))
    assert [t.method for t in fe._transactions.pending("b1")] == ["BYE"]
    fe._on_message(SipMessage(build_response(bye, 200), PHONE))
    assert fe._transactions.pending("b1") == []
    fe.stop()


def test_our_branches_are_the_cookie_and_128_random_bits_whatever_random_is_seeded(
) -> None:
    """Every Via of ours (and the REGISTER pyVoIP writes for us) carries a branch from
    ``secrets``: the module ``random``, seeded alike, gives no two alike, nor does the
    transport's generator."""
    fe, _ = front_end()
    branches = []
    for _ in range(2):
        random.seed(44)
        branches.append(str(parse_via(fe.new_via())["branch"]))
        random.seed(44)
        branches.append(fe._transport.gen_branch())
    register = SipMessage(fe._transport.register_request(expires=60))
    branches.append(register.top_branch)
    assert len(set(branches)) == len(branches)
    for branch in branches:
        assert branch.startswith("z9hG4bK")
        rest = branch[len("z9hG4bK"):]
        assert len(rest) == 32 and int(rest, 16) >= 0


def test_our_tags_come_from_secrets_and_none_is_kept() -> None:
    """A dialog's tags (with its Call-ID, what a request must name to be taken in it):
    ``random`` seeded alike gives no two alike, and the transport keeps no list of them
    (pyVoIP's grew by one a call, scanned on each new tag)."""
    fe, _ = front_end()
    tags = []
    for _ in range(2):
        random.seed(44)
        tags.append(fe.new_tag())
    tags += [fe.new_tag() for _ in range(200)]
    assert len(set(tags)) == len(tags) and all(len(t) == 16 for t in tags)
    assert len(fe._transport.tags) <= 1  # (pyVoIP's own, for its REGISTER)
