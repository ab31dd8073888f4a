"""Requests inside the dialogs we have, and the server side of an INVITE once its call
exists: ACK, BYE, CANCEL (F7), INFO (DTMF), OPTIONS, session refreshes by re-INVITE or
UPDATE (RFC 4028, RFC 3311), the 420/422 of options we lack, our 200 OK to an INVITE or
re-INVITE retransmitted until its ACK (RFC 3261 13.3.1.4; ``InviteState``), 491 to an offer
while ours is unanswered, 500 + Retry-After to a re-INVITE before our 2xx to the INVITE has
gone (14.2), and our SDP offer in the 200 to an INVITE or re-INVITE that had
none, whose answer comes in the ACK (RFC 3261 13.2.1, 14.2; one path for both).

It owns neither the socket nor the table of calls: it is given ``lookup(call_id)``, a
``send(data, addr)`` callable, a timer factory, and the refusal of an INVITE (the
admission's, so that its ACK is recognised).
"""

from __future__ import annotations

import enum
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from telephony.call import CallHandle, CallState, EndReason, InvalidTransition, KeySource
from telephony.media.dtmf import signalled_key
from telephony.sip import metrics, session_timer
from telephony.sip.dialog import ALLOW, first_hop, in_dialog, of_invite
from telephony.sip.message import SipMessage, build_response
from telephony.sip.sdp import (
    SUPPORTED_CODECS,
    MediaOffer,
    Negotiated,
    NotAcceptable,
    SdpError,
    UnsupportedBody,
    answer_direction,
    answer_offer,
    answered_media,
    build_offer,
    build_sdp,
    hears_us,
    message_sdp,
    negotiate,
    on_hold,
    parse_sdp,
)
from telephony.sip.server_transaction import InviteFinals, final_code
from telephony.sip.timers import ACK_WAIT, T1, next_retransmission
from telephony.sip.transaction import Later
from telephony.sip.uri import LWS, media_type, uri_of

Send = Callable[[bytes, tuple[str, int] | None], None]
log = logging.getLogger("telephony.sip")
# The Signal line of an application/dtmf-relay body, and the one key it may name.
_SIGNAL = re.compile(rb"^[ \t]*Signal[ \t]*=[ \t]*([^\r\n]*?)[ \t]*\r?$", re.MULTILINE)


class Refuse(Protocol):
    def __call__(self, msg: SipMessage, code: int, *,
                 extra: list[tuple[str, str]] | None = None) -> None: ...


# How the wait for the answer to our offer in the 200 to an INVITE without SDP ended
# (``InDialog.offers``, ``hotline_sip_delayed_offers_total``); OFFERED counts the offers.
OFFERED, ANSWERED, NO_ACK = "offered", "answered", "no_ack"
ACK_WITHOUT_SDP, UNUSABLE_ANSWER = "ack_without_sdp", "unusable_answer"


@dataclass(frozen=True)
class _Offer:
    """Our SDP offer in a 200, waiting for its answer in the ACK."""

    cseq: int  # the INVITE's CSeq number, which its ACK carries (RFC 3261 17.1.1.3)
    codecs: tuple[str, ...]  # what it offered: the answer must pick one of these
    # Whether an offer went at all: our UPDATE refresh carries none, so SDP in its 2xx that
    # we cannot use (or none) answers nothing and leaves the hold as it was (review53).
    sent: bool = True


class Order(enum.Enum):
    """Where a request of the peer's stands in its dialog's CSeq sequence
    (``InDialog._order``)."""

    NEW = "new"  # above every request taken: taken, its CSeq now the last
    SAME = "same"  # the last one's: a retransmission, answered again and taken once
    OLD = "old"  # below it: delivered late or replayed, 500 (RFC 3261 12.2.2)


class InviteState(enum.Enum):
    """Where a call's dialog stands with the peer's INVITEs (the first and every
    re-INVITE): whether a 2xx of ours still waits for its ACK (RFC 3261 13.3.1.4; RFC 6026
    calls it "Accepted", RFC 5407 "Moratorium")."""

    CONFIRMED = "confirmed"  # every 2xx of ours ACKed (or none sent): a re-INVITE is taken
    # Our 2xx carried our answer (to a plain refresh, our SDP unchanged): sent again until
    # its ACK; the offer/answer is complete, so a newer re-INVITE is taken and confirms it
    # (the peer could not send one without our 2xx, RFC 3261 14.1).
    ACK_AWAITED = "ack_awaited"
    # Our 2xx carried our offer (the INVITE or re-INVITE had none): its ACK brings the
    # answer, and until then the peer may make no offer (RFC 3264 4): a re-INVITE, or an
    # UPDATE with SDP, gets 491 (RFC 3261 14.2, RFC 3311 5.2).
    ANSWER_AWAITED = "answer_awaited"


INVITE_TRANSITIONS: dict[InviteState, frozenset[InviteState]] = {
    InviteState.CONFIRMED: frozenset({InviteState.ACK_AWAITED, InviteState.ANSWER_AWAITED}),
    # Its ACK; a newer re-INVITE (which then makes its own 2xx await its ACK); the call's
    # end; or 64*T1 without the ACK, which ends a re-INVITE's call with BYE.
    InviteState.ACK_AWAITED: frozenset({InviteState.CONFIRMED}),
    InviteState.ANSWER_AWAITED: frozenset({InviteState.CONFIRMED}),
}


@dataclass
class _Unacked:
    """Our 2xx to one INVITE or re-INVITE of the peer's, sent again until its ACK."""

    cseq: int  # the request's CSeq number: its ACK carries the same (RFC 3261 13.2.2.4)
    branch: str  # the request's: a retransmission of it gets this 2xx again
    response: bytes
    dest: tuple[str, int] | None
    offer: _Offer | None  # our 2xx carried this offer: the ACK brings its answer
    waited: float = 0.0  # seconds of retransmission so far (the sum of the timers' delays)

    @property
    def state(self) -> InviteState:
        return InviteState.ANSWER_AWAITED if self.offer is not None else (
            InviteState.ACK_AWAITED)


class InDialog:
    def __init__(self, *, lookup: Callable[[str], CallHandle | None], send: Send,
                 later: Later, new_tag: Callable[[], str],
                 contact_headers: Callable[[], list[tuple[str, str]]], local_ip: str,
                 refuse: Refuse, clock: Callable[[], float],
                 on_offer_answer: Callable[[CallHandle, Negotiated | None, str], None],
                 on_target: Callable[[CallHandle], None] | None = None,
                 finals: InviteFinals | None = None) -> None:
        self._lookup = lookup
        self._send = send
        # Our non-2xx finals to INVITEs and re-INVITEs, sent again until their ACK (the
        # admission's table, so that one table absorbs every such ACK).
        self.finals = finals or InviteFinals(send=send, later=later)
        self._later = later
        self._new_tag = new_tag
        self._contact_headers = contact_headers
        self.local_ip = local_ip
        self._refuse = refuse
        # What session timers are measured by (the front end's ``session_clock``).
        self._clock = clock
        # Calls whose 2xx to the INVITE or last re-INVITE waits for its ACK (the call's
        # ``InviteState`` is CONFIRMED when it has none here); when the request came
        # without SDP, our 2xx carried the offer and the ACK brings the answer (RFC 3261
        # 13.2.1, 14.2), found by its CSeq number.
        self._unacked: dict[str, _Unacked] = {}
        self._unacked_lock = threading.Lock()  # the receive and timer threads both move it
        # Calls whose INVITE our 2xx has answered (registered, then sent): only they take a
        # re-INVITE. ``CallHandle.answer()`` makes a call ANSWERED under its lock and sends
        # the 200 after it; a re-INVITE taken in between had its 2xx registered first, and
        # the INVITE's registration then raised InvalidTransition (RFC 3261 14.2, below).
        self._answered: set[str] = set()
        # Told how the answer to our offer to an INVITE without SDP came out: the media it
        # picked, or None when there was none we can use (the front end ends the call),
        # and the outcome to count (``count_offer``) if that settles the call: only its own
        # transition out of OFFERED may, the watchdog's no_ack being the other.
        self._on_offer_answer = on_offer_answer
        # Told when a target refresh moved a call's remote target (the front end's ledger).
        self._on_target = on_target
        self.offers: dict[str, int] = {}  # delayed offers, by how they ended (OFFERED...)
        self._offers_lock = threading.Lock()  # counted by the receive and timer threads

    def refuse_options(self, msg: SipMessage, send: Send | None = None) -> bool:
        """420 for a ``Require`` we do not implement (RFC 3261 8.2.2.3: INVITE, UPDATE,
        OPTIONS, INFO; before sip42 an OPTIONS or INFO requiring one was 200 and the INFO's
        key taken), 422 for a session interval below our minimum (RFC 4028 8.1: the
        requests that set one, INVITE and UPDATE); True when the request was refused. An
        INVITE's refusal waits for its ACK like any other (``Admission.refuse``). A BYE is
        taken whatever it requires: refused, the line is held for nobody until
        ``rtp_timeout``."""
        unsupported = session_timer.unsupported_options(msg)
        if unsupported:
            code, extra = 420, [("Unsupported", ", ".join(unsupported))]
        elif msg.method in ("INVITE", "UPDATE") and session_timer.too_brief(msg):
            code, extra = 422, [("Min-SE", str(session_timer.MIN_SE_SECONDS))]
        else:
            return False
        if msg.method == "INVITE" and not msg.to_tag:
            self._refuse(msg, code, extra=extra)
        else:
            (send or self._send)(build_response(msg, code, extra=extra), msg.source)
        return True

    def on_update(self, msg: SipMessage) -> None:
        """UPDATE (RFC 3311): carriers' session-timer refresh, with or without SDP; only
        inside a dialog of ours (481 otherwise, like BYE)."""
        call = self._lookup(msg.call_id)
        if call is None or not in_dialog(call, msg):
            self._send(build_response(msg, 481), msg.source)
            return
        self.on_refresh(call, msg)  # (481 too once the call has ended)

    def _order(self, call: CallHandle, msg: SipMessage) -> Order:
        """Where ``msg`` (a re-INVITE, UPDATE, INFO or BYE of the peer's) stands in the
        dialog's sequence, the one rule for all of them (RFC 3261 12.2.2: a dialog's CSeq
        only goes up): NEW comes after every request of the peer's already taken, its
        INVITE's included, and its CSeq is now the last taken; SAME has the last one's (a
        retransmission, our answer lost: answered again, taken once); OLD is lower
        (delivered late or replayed: 500, ``_out_of_order``). Taken again, a hold's
        retransmission arriving after the unhold put the call back on hold, and an old
        offer moved our RTP back to a port the peer had left."""
        cseq, last = msg.cseq[0], self._last_taken(call)
        if cseq < last:
            return Order.OLD
        if cseq == last:
            return Order.SAME
        call.remote_cseq = cseq
        return Order.NEW

    @staticmethod
    def _last_taken(call: CallHandle) -> int:
        """The CSeq number of the peer's last request taken in ``call``'s dialog, its
        INVITE's included (-1: none, an outbound call before the peer's first)."""
        first = call.invite.cseq[0] if call.invite is not None else -1
        return max(call.remote_cseq, first)

    def _out_of_order(self, msg: SipMessage) -> bytes:
        """The 500 to a request older than one already taken (RFC 3261 12.2.2)."""
        # (No Retry-After: the request is stale; tried again, it would undo what the peer
        # has asked for since.)
        return build_response(msg, 500, extra=[
            ("Warning", f'399 hotline12345 "CSeq {msg.cseq[0]} is out of order in '
                        'this dialog"')])

    def on_refresh(self, call: CallHandle, msg: SipMessage) -> None:
        """A re-INVITE or UPDATE in order (``_new_in_sequence``), answered and its answer
        kept; the retransmission of the last one gets the same answer again, and one out
        of order 500 (RFC 3261 12.2.2, 14.2), the call unchanged. An offer while our own
        in a 2xx awaits its answer (``InviteState.ANSWER_AWAITED``) gets 491; a re-INVITE
        before our 2xx to the INVITE has gone, 500 + Retry-After; a new request once the
        call has ended, 481."""
        last = call.last_refresh
        unacked = self._unacked_of(call)
        if unacked is not None and (unacked.cseq, unacked.branch) == (msg.cseq[0],
                                                                      msg.top_branch):
            # (Kept apart from ``last_refresh``: a 491 sent since must not replace it.)
            self._send(unacked.response, msg.source)
            return
        again = last is not None and (last[0], last[1]) == (msg.cseq[0], msg.top_branch)
        if call.ended and not again:
            # The BYE (either side's) ended the dialog (RFC 3261 15). Before, a re-INVITE
            # then got 491, which has the peer try it again in 2.1-4 s (RFC 3261 14.1),
            # for a call that is gone.
            self._answer(msg, build_response(msg, 481))
            return
        if self._order(call, msg) is not Order.NEW:
            if last is not None and again:
                self._send(last[2], msg.source)
            else:
                self._answer(msg, self._out_of_order(msg))
            return
        answered: list[bytes] = []

        def send(data: bytes, addr: tuple[str, int] | None) -> None:
            answered.append(data)
            self._answer(msg, data, addr)

        if self.refuse_options(msg, send):
            # A Require we lack is refused before anything else (RFC 3261 8.2.2.3), in
            # whatever state the call is: the early UPDATE's 200 once went out before this
            # check, so an UPDATE landing between our 200 and its registration was taken
            # with ``Require: foo`` (seen in CI under load).
            pass
        elif (early := self._early_update(call, msg)) is not None:
            send(early, msg.source)
        # (An outbound call's INVITE is ours: the peer's 2xx answered it before the call
        # was up.)
        elif (msg.method == "INVITE" and call.invite is not None
                and call.call_id not in self._answered):
            # RFC 3261 14.2: a re-INVITE before our final answer to the INVITE (ringing, or
            # answer() between its lock and its 200) gets 500 and a Retry-After of 0-10 s,
            # random so that peers do not come back together; the call is left as it was.
            send(build_response(msg, 500, extra=[
                ("Retry-After", str(random.randint(0, 10))),
                ("Warning", f'399 hotline12345 "our answer to the INVITE (CSeq '
                            f'{call.invite.cseq[0]}) has not been sent yet"')]), msg.source)
        elif call.our_offer_out and (msg.method == "INVITE" or msg.body_bytes):
            # Our re-INVITE refreshing the session (``telephony.sip.refresher``) awaits its
            # answer: an offer or re-INVITE of the peer's crossing it is glare (RFC 3261
            # 14.2, RFC 3311 5.2); the peer answers ours, then tries its own again.
            send(build_response(msg, 491, extra=[
                ("Warning", '399 hotline12345 "our re-INVITE awaits its answer"')]),
                msg.source)
        elif (unacked := self._unacked_of(call)) is not None and unacked.offer is not None and (
                msg.method == "INVITE" or msg.body_bytes):
            # (``unacked`` read again: our 2xx to the INVITE may have gone since the top.)
            # Both offers cannot be answered at once (RFC 3264 4): the peer answers ours in
            # the ACK our retransmitted 2xx asks for, then makes its offer again.
            send(build_response(msg, 491, extra=[
                ("Warning", f'399 hotline12345 "our offer in the 200 to CSeq {unacked.cseq} '
                            'awaits its answer in the ACK"')]), msg.source)
        else:
            # A newer re-INVITE: the peer had our 2xx (RFC 3261 14.1), its ACK was lost or
            # is late; sending the 2xx on would end the call at 64*T1 for nothing, and the
            # watchdog would end it at ack_timeout were it the first INVITE's.
            if (unacked is not None and msg.method == "INVITE"
                    and self._settle(call, unacked)):
                call.ack_received.set()
            self._refresh(call, msg, send)
        if answered:
            call.last_refresh = (msg.cseq[0], msg.top_branch, answered[-1])

    def _early_update(self, call: CallHandle, msg: SipMessage) -> bytes | None:
        """Our answer to an UPDATE in an early dialog (RFC 3311 5.1-5.2), or None when
        ``msg`` is no such thing. Inbound: before our 2xx to the INVITE has gone (ringing,
        or inside ``answer()``, as for a re-INVITE); outbound: our INVITE not answered yet.
        Without SDP (a session refresh, a target refresh): 200, nothing changed. With an
        offer: 500 + Retry-After when the INVITE's offer is still unanswered (we never
        answer it early: no SDP in our 180, no 100rel), 491 when our offer is (an outbound
        INVITE's, or an inbound delayed offer's whose 200 is about to go). An early offer
        once an offer/answer is complete, the case to answer or refuse 488, cannot arise:
        we complete none before the 2xx. Before 2026-12-04 every early UPDATE got 491,
        which has the peer send it again and again (RFC 3261 14.1) for a refresh that
        needed no more than a 200."""
        if msg.method != "UPDATE":
            return None
        if call.invite is not None and call.call_id not in self._answered:
            theirs_unanswered = call.media is not None  # the INVITE carried an offer
        elif call.invite is None and call.state in (CallState.DIALING, CallState.ALERTING):
            theirs_unanswered = False  # our INVITE's offer awaits the callee's answer
        elif call.state is CallState.OFFERED and not msg.body_bytes:
            # Our 200 with the offer has gone (the dialog is confirmed), its ACK not here:
            # a refresh is taken as in the early dialog (an offer: 491, below in on_refresh).
            theirs_unanswered = False
        else:
            return None
        if not msg.body_bytes:
            return build_response(msg, 200, extra=self._contact_headers())
        if theirs_unanswered:
            assert call.invite is not None
            return build_response(msg, 500, extra=[
                ("Retry-After", str(random.randint(0, 10))),
                ("Warning", f'399 hotline12345 "the offer in the INVITE (CSeq '
                            f'{call.invite.cseq[0]}) is not answered yet"')])
        return build_response(msg, 491, extra=[
            ("Warning", '399 hotline12345 "our offer awaits its answer"')])

    def _answer(self, msg: SipMessage, response: bytes,
                addr: tuple[str, int] | None = None) -> None:
        """Our answer to a request of the peer's in a dialog; a non-2xx final one to a
        re-INVITE is sent again until its ACK (RFC 3261 17.2.1), like every INVITE's."""
        addr = addr or msg.source
        if msg.method == "INVITE" and final_code(response) >= 300:
            self.finals.send(msg, response, addr)
        else:
            self._send(response, addr)

    def _refresh(self, call: CallHandle, msg: SipMessage, send: Send) -> None:
        """A re-INVITE or UPDATE: session refresh, hold or codec change. Our port stays;
        where we send RTP follows a new offer. The codec stays while the offer still has
        it, so a refresh keeps the call and its audio and gets the same SDP; an offer
        without it (PCMU -> PCMA only) switches our RTP to the codec offered, because an
        answer may only name what the offer did (RFC 3264 6.1) and the caller would hear
        the other law as noise. An offer we could not accept at the start of the call (no
        PCMU/PCMA on RTP/AVP) is refused with 488 and the call goes on as before.
        Hold (a=sendonly or inactive, or c=0.0.0.0, the RFC 2543 way) gets the mirrored
        direction in our answer (RFC 3264 6.1) and keeps the RTP watchdog from ending the
        call while the caller sends nothing; so does a=recvonly (a caller that only
        listens, answered sendonly: the prompts go on, the dialogue's own waits for speech
        and keys decide, not rtp_timeout). Refused at a call's start (``call_media``),
        none of these ends a call that is up."""
        media = call.media
        if call.state is not CallState.ANSWERED or media is None:
            send(build_response(msg, 491), msg.source)
            return
        new: Negotiated | None = None
        direction, held = call.sdp_direction, call.held
        listening = call.rtp is None or not call.rtp.muted
        # Our offer to a re-INVITE without SDP keeps the session's m= lines in their order
        # (RFC 3264 8.1): a call set up on an SRTP-then-RTP offer had its audio second.
        layout = media.layout
        try:
            body = message_sdp(msg)
        except UnsupportedBody as exc:
            send(build_response(msg, 415, extra=[
                *exc.accepts, ("Warning", f'399 hotline12345 "{exc}"')]), msg.source)
            return
        if body:
            try:
                offer = parse_sdp(body)
            except SdpError as exc:
                send(build_response(msg, 400, extra=[
                    ("Warning", f'399 hotline12345 "malformed SDP: {exc}"')]), msg.source)
                return
            try:
                new = negotiate(offer, (media.codec,)) or answer_offer(offer)
            except NotAcceptable as exc:
                if offer.connection_ip != "0.0.0.0":
                    send(build_response(msg, 488, extra=[
                        ("Warning", f'399 hotline12345 "{exc}"')]), msg.source)
                    return
            direction, held = answer_direction(offer.direction), on_hold(offer)
            listening = hears_us(offer)
            layout = offer.layout
        elif msg.method == "INVITE":
            # Asked for our offer (a PBX resuming a call it held, or re-anchoring media after
            # a transfer): it says what we want (RFC 6337 5.3), and we never hold a caller.
            # The mirror of their hold (recvonly) allowed only answers that kept them from
            # hearing the IVR. Their answer in the ACK decides whether they still hold.
            direction = "sendrecv"
        changed = direction != call.sdp_direction
        if new is not None and call.rtp is not None:
            # A new packet time too: sent from now on, and said in our answer.
            if (new.codec, new.audio_pt, new.event_pt, new.ptime) != (
                    media.codec, media.audio_pt, media.event_pt, media.ptime):
                call.rtp.configure(new)
                call.media, call.codec, media = new, new.codec, new
                changed = True
            call.rtp.set_remote(new.remote_ip, new.remote_port)
        if call.media is not None and call.media.layout != layout:
            call.media = replace(call.media, layout=layout)  # the session's lines from now on
        self._resumed(call, held=held, listening=listening)
        if changed:
            call.sdp_direction = direction
            call.sdp_version += 1
        # A re-INVITE without SDP wants our offer in the 200; an UPDATE without SDP none.
        sdp = b""
        if body or msg.method == "INVITE":
            sdp = build_sdp(ip=self.local_ip, port=call.rtp_port or 0,
                            session_id=call.session_id, version=call.sdp_version,
                            formats=[(media.audio_pt, media.codec)], event_pt=media.event_pt,
                            direction=call.sdp_direction, layout=layout, ptime=media.ptime)
        self._session_refreshed(call, msg)
        self._refresh_target(call, msg)
        ok = build_response(msg, 200, extra=[
            *self._contact_headers(), *session_timer.answer_headers(msg)], body=sdp)
        if msg.method == "INVITE":
            self._await_ack(call, _Unacked(
                msg.cseq[0], msg.top_branch, ok, msg.source,
                None if body else _Offer(msg.cseq[0], (media.codec,))))
        send(ok, msg.source)

    def _refresh_target(self, call: CallHandle, msg: SipMessage) -> None:
        """A re-INVITE or UPDATE taken is a target refresh (RFC 3261 12.2.2, RFC 3311): its
        Contact is the dialog's remote target from now on. Before, the INVITE's was kept,
        and our BYE (after a restart too, from the ledger) went to a target the phone had
        left. A Contact no request could reach (``first_hop``) leaves the old one."""
        contact = msg.first("Contact")
        target = uri_of(contact) if contact else ""
        if not target or target == call.remote_target:
            return
        try:
            first_hop(call.route_set, target, call.invite_source or msg.source)
        except ValueError as exc:
            log.warning("call %s: the target refresh's Contact is unusable (%s); the "
                        "remote target stays", call.call_id, exc)
            return
        call.remote_target = target
        if self._on_target is not None:
            self._on_target(call)

    def refresh_answered(self, call: CallHandle, msg: SipMessage) -> None:
        """The 2xx to our session refresh (``telephony.sip.refresher``): a target refresh,
        as a request of the peer's is (RFC 3261 12.2.1.2, RFC 3311 5.1: its Contact is the
        remote target from now on), and the SDP in it taken as the answer in an ACK is
        (``_take_answer``): a changed address or port is where our RTP goes from now on, a
        hold in it holds. Before, both were ignored: a peer that moved its media while
        answering our refresh heard nothing more, and our BYE went to the Contact it had
        left (review51). One path for our re-INVITE's 2xx (the answer to our offer) and our
        UPDATE's (no offer went, yet an SBC re-anchoring the media says where it went as it
        answers); before (loose26) the UPDATE's SDP was dropped."""
        self._refresh_target(call, msg)
        media = call.media
        if msg.body_bytes and media is not None:
            self._take_answer(call, msg, _Offer(msg.cseq[0], (media.codec,),
                                                sent=msg.cseq[1] != "UPDATE"))

    def _session_refreshed(self, call: CallHandle, msg: SipMessage) -> None:
        """Our 2xx to ``msg`` (the INVITE, or a refresh) sets the session timer going with
        the interval it grants (``session_timer.answer_headers`` says the same). The time
        first: the watchdog (the timer thread) may read the call between the two writes,
        and a shorter interval written first ran from the last refresh, long past: a
        call refreshed at half its 1800 s asking for 90 s was ended as it was refreshed.
        The new time read with the old interval is never due sooner than before (the
        watchdog reads the interval first)."""
        call.session_refreshed = self._clock()
        call.session_interval = session_timer.granted_interval(msg)
        # Who refreshes from now on, as this request chose (RFC 4028 9); and what our own
        # refresh may use: UPDATE if the peer allows it, the Min-SE it named (RFC 4028 7.4).
        call.we_refresh = session_timer.we_refresh(msg)
        allow = {m.strip(LWS).upper() for v in msg.all("Allow") for m in v.split(",")}
        if allow:
            call.peer_allows_update = "UPDATE" in allow
        named = session_timer.min_se(msg)
        if named is not None:
            call.min_se = max(call.min_se or 0, named)

    def send_invite_2xx(self, call: CallHandle) -> None:
        """Send our 200 OK to the call's INVITE, and again until its ACK (``_await_ack``);
        the watchdog ends the call for want of one (``ack_timeout``, which frees the line
        long before RFC 3261's 64*T1). An OFFERED call's 200 carries our offer."""
        invite = call.invite
        assert invite is not None and call.last_invite_response is not None
        self._session_refreshed(call, invite)
        offer = (_Offer(invite.cseq[0], SUPPORTED_CODECS)
                 if call.state is CallState.OFFERED else None)
        # Awaited before it is sent: the handler's thread sends it, and the receive thread
        # may have its ACK (on loopback, within a millisecond) before the next line here.
        self._await_ack(call, _Unacked(invite.cseq[0], invite.top_branch,
                                       call.last_invite_response, call.invite_source, offer))
        self._send(call.last_invite_response, call.invite_source)
        # Only now is a re-INVITE taken (``on_refresh``): its 2xx is registered after this
        # one, and a re-INVITE cannot stand for the ACK of a 200 that has not gone yet.
        self._answered.add(call.call_id)
        metrics.ANSWER_SECONDS.observe(max(0.0, time.time() - call.created_at))

    def invite_state(self, call_id: str) -> InviteState:
        unacked = self._unacked.get(call_id)
        return unacked.state if unacked is not None else InviteState.CONFIRMED

    def _unacked_of(self, call: CallHandle) -> _Unacked | None:
        return self._unacked.get(call.call_id)

    def _await_ack(self, call: CallHandle, unacked: _Unacked) -> None:
        """Our 2xx (``unacked.response``, sent now) goes again at T1, then at doubling
        intervals up to T2, until its ACK, the call's end, or 64*T1 (RFC 3261 13.3.1.4).
        Before 2026-12-04 only the 200 to the first INVITE was: a 200 to a re-INVITE lost
        on UDP, or its ACK lost, left the peer resending or its answer in the ACK unread."""
        with self._unacked_lock:
            self._move(call, InviteState.CONFIRMED, unacked.state)
            self._unacked[call.call_id] = unacked
        self._later(T1, self._again, call, unacked, T1)

    def _move(self, call: CallHandle, old: InviteState, new: InviteState) -> None:
        """(Under ``_unacked_lock``.) The call's ``InviteState`` goes from ``old`` to
        ``new`` as ``INVITE_TRANSITIONS`` allows; InvalidTransition for anything else."""
        now = self.invite_state(call.call_id)
        if now is not old or new not in INVITE_TRANSITIONS[old]:
            raise InvalidTransition(f"{call.call_id}: INVITE {now.value} -> {new.value}")
        if new is not old:
            log.debug("call %s INVITE: %s -> %s", call.call_id, old.value, new.value)

    def _settle(self, call: CallHandle, unacked: _Unacked) -> bool:
        """The 2xx ``unacked`` needs sending no more (its ACK came, or a newer re-INVITE
        confirmed it): CONFIRMED. False if it was no longer awaited (ACKed, forgotten)."""
        with self._unacked_lock:
            if self._unacked.get(call.call_id) is not unacked:
                return False
            self._move(call, unacked.state, InviteState.CONFIRMED)
            del self._unacked[call.call_id]
        return True

    def _again(self, call: CallHandle, unacked: _Unacked, delay: float) -> None:
        if self._unacked.get(call.call_id) is not unacked or call.ended:
            return
        unacked.waited += delay
        wait = next_retransmission(delay, unacked.waited)
        if wait is not None:
            self._send(unacked.response, unacked.dest)
            self._later(wait, self._again, call, unacked, wait)
            return
        if not self._settle(call, unacked):
            return
        if call.invite is not None and unacked.cseq == call.invite.cseq[0]:
            # The first INVITE's: the watchdog has ended the call at ack_timeout already,
            # and charges its source (``SipFrontEnd._watchdog``); nothing more to send.
            return
        # RFC 3261 13.3.1.4: the dialog is confirmed, and the session ended with BYE.
        log.warning("call %s: no ACK for our 200 to the re-INVITE (CSeq %d) in %.0f s, "
                    "hanging up", call.call_id, unacked.cseq, ACK_WAIT)
        call.end(EndReason.NO_ACK)

    def offer(self, call: CallHandle) -> None:
        """Answer an INVITE without SDP (a delayed offer, RFC 3261 13.2.1, RFC 3264): our
        offer in the 200 (every codec we speak, telephone-event), retransmitted until the
        ACK, which must carry the answer. The call waits in OFFERED meanwhile; the ACK is
        taken as the answer to a re-INVITE's offer is (``on_ack``)."""
        self.count_offer(OFFERED)
        call.offer(build_offer(ip=self.local_ip, port=call.rtp_port or 0,
                               session_id=call.session_id))

    def count_offer(self, outcome: str) -> None:
        with self._offers_lock:
            self.offers[outcome] = self.offers.get(outcome, 0) + 1
        metrics.DELAYED_OFFERS.labels(outcome).inc()

    def forget(self, call_id: str) -> None:
        """The call is gone: a 2xx (an offer) it never had ACKed is not kept for ever."""
        with self._unacked_lock:
            self._unacked.pop(call_id, None)
            self._answered.discard(call_id)

    def on_ack(self, msg: SipMessage) -> None:
        call = self._lookup(msg.call_id)
        if call is None or not in_dialog(call, msg):
            return
        unacked = self._unacked_of(call)
        if (unacked is not None and self._acks(unacked, msg.cseq[0])
                and self._settle(call, unacked)):
            call.ack_received.set()
            if unacked.offer is not None:
                self._take_answer(call, msg, unacked.offer)
        elif call.state is not CallState.OFFERED:
            # (An ACK with another CSeq is not the ACK of the 2xx we send again -- a late
            # ACK of an earlier one, or of a 491 -- and an OFFERED call keeps waiting for
            # that of our 200 with the offer.)
            call.ack_received.set()

    @staticmethod
    def _acks(unacked: _Unacked, cseq: int) -> bool:
        """Whether an ACK of CSeq ``cseq`` in the dialog acknowledges ``unacked``. Its own
        carries its CSeq (RFC 3261 13.2.2.4), and only that one answers our offer; a
        lower one is a late ACK of an earlier 2xx and confirms nothing newer (taken for
        this one, the peer's lost ACK would go unnoticed). A higher one, from a peer that
        numbers its ACKs on, is taken when no answer is due: ended at 64*T1 instead, a
        call that works would be lost."""
        return cseq == unacked.cseq or (unacked.offer is None and cseq > unacked.cseq)

    def _take_answer(self, call: CallHandle, ack: SipMessage, offer: _Offer) -> None:
        """The answer to the offer in our 200, in its ACK. To an INVITE without SDP: the
        call goes up in the codec the answer picked, or, with no answer we can use, is
        ended (the front end's ``on_offer_answer``). To a re-INVITE without SDP: an SBC
        re-anchoring the media (a transfer, a B2BUA moving the call) names where RTP now
        goes. Before, the ACK's SDP was ignored: we sent to the old port and dropped the
        caller's RTP from the new address, and the call died of rtp_timeout. An ACK
        without SDP, or with one we cannot use, leaves that call's media as it was."""
        answer: MediaOffer | None = None
        outcome, why = UNUSABLE_ANSWER, ""
        try:
            body = message_sdp(ack)
            answer = parse_sdp(body) if body else None
            if answer is None:
                outcome, why = ACK_WITHOUT_SDP, "ACK without the SDP answer to our offer"
        except (SdpError, UnsupportedBody) as exc:
            why = f"unreadable SDP answer in the ACK ({exc})"
        if call.state is CallState.OFFERED:
            self._answer_to_invite(call, answer, offer, outcome, why)
            return
        media = call.media
        if media is None or call.rtp is None or call.ended:
            return
        if answer is None:
            log.warning("call %s: %s; media unchanged", call.call_id, why)
            if offer.sent:
                self._resumed(call, held=False)
            return
        held = on_hold(answer)
        new = negotiate(answer, offer.codecs)
        if new is None and not held:
            log.warning("call %s: SDP answer in the ACK we cannot use; media unchanged",
                        call.call_id)
            if offer.sent:
                self._resumed(call, held=False)
            return
        if new is not None:
            # (Held a=sendonly/inactive, or a=recvonly: the address is still where our
            # RTP goes; c=0.0.0.0 names none and leaves it as it was.)
            call.rtp.set_remote(new.remote_ip, new.remote_port)
        self._resumed(call, held=held, listening=hears_us(answer))

    @staticmethod
    def _resumed(call: CallHandle, *, held: bool, listening: bool = True) -> None:
        """Whether the caller holds us now, the one place that sets it (a re-INVITE or
        UPDATE's offer, the answer in the ACK to our offer). After our sendrecv offer with
        no usable answer the caller is taken as back, not still holding: a stale ``held``
        drops every frame they send as a PBX's music (``CallHandle.rx_audio``), their
        words after a resume among them. Held, the caller sends no RTP and the RTP
        watchdog waits; taken off hold, it counts from now, not from the last packet
        before the hold. ``listening``: whether the peer's SDP takes our RTP
        (``hears_us``); held a=sendonly, a=inactive or c=0.0.0.0 it does not, and nothing
        is sent until it resumes (``Rtp16Stream.muted``, RFC 3264 6.1): before, our
        prompts and silence went on streaming at the caller who held us."""
        if call.rtp is not None:
            if held != call.held:
                call.rtp.last_rx = time.monotonic()
            if call.held and not held:
                # Its NAT entry may have expired while held (we sent nothing to keep it),
                # the caller coming back from another port: learn its source again.
                call.rtp.relearn()
            call.rtp.muted = not listening
        if held and not call.held:
            call.holds += 1
        call.held = held

    def _answer_to_invite(self, call: CallHandle, answer: MediaOffer | None, offer: _Offer,
                          outcome: str, why: str) -> None:
        """The ACK of a delayed offer: its answer must pick a codec we offered, name an
        address we can send RTP to and take our audio (``answered_media``, the rules of an
        INVITE's offer): a=inactive or a=sendonly there refuses the IVR's every word."""
        media: Negotiated | None = None
        if answer is not None:
            try:
                media = answered_media(answer, offer.codecs)
            except NotAcceptable as exc:
                why = f"SDP answer in the ACK we cannot use: {exc}"
        if media is None:
            log.warning("call %s: %s; ending the call", call.call_id, why)
        else:
            # Our next SDP (a re-INVITE's answer) names the one codec picked, not the two
            # offered: a changed SDP, a new o= version (RFC 3264 8).
            call.sdp_version += 1
        # Counted by the front end with the call's own transition out of OFFERED (under
        # its lock, the watchdog's no_ack being the other): counted here before it, an ACK
        # landing as the watchdog gave up on it counted the call twice, answered and no_ack.
        self._on_offer_answer(call, media, ANSWERED if media is not None else outcome)

    def on_bye(self, msg: SipMessage) -> None:
        call = self._lookup(msg.call_id)
        if call is None or not in_dialog(call, msg):
            self._send(build_response(msg, 481), msg.source)
            return
        if self._order(call, msg) is Order.OLD:
            # Older than a request already taken (a BYE delivered late, or forged from an
            # old capture): RFC 3261 12.2.2 says 500, the dialog left as it is. Before, it
            # ended the call. One with the last CSeq is the BYE sent again (our 200 lost).
            self._send(self._out_of_order(msg), msg.source)
            return
        self._send(build_response(msg, 200), msg.source)
        # BYE before our 2xx (a confused peer): end the INVITE too -- only if the call is
        # still unanswered when it ends, as for a CANCEL: checked apart, the handler's
        # answer() in between sent our 200 and then this 487 to the one INVITE.
        if call.invite is not None and call.transition(
                CallState.ENDED, EndReason.REMOTE_HANGUP, only_from=CallState.INCOMING):
            call.last_invite_response = build_response(call.invite, 487, to_tag=call.local_tag)
            self.finals.send(call.invite, call.last_invite_response, call.invite_source)
            return
        call.remote_ended(EndReason.REMOTE_HANGUP)

    def on_cancel(self, msg: SipMessage) -> None:  # F7
        call = self._lookup(msg.call_id)
        if call is None or not of_invite(call, msg):
            self._send(build_response(msg, 481), msg.source)
            return
        self._send(build_response(msg, 200, to_tag=call.local_tag), msg.source)
        if call.state is CallState.INCOMING:
            terminated = build_response(call.invite, 487, to_tag=call.local_tag)
            # Only while still unanswered: the handler's answer() may win between the
            # check above and here, and a 487 after our 200 would end a call the caller
            # was told is up, with no BYE (RFC 3261 9.2: a CANCEL after the 2xx changes
            # nothing; the caller hangs up with a BYE).
            if call.transition(CallState.ENDED, EndReason.CANCELLED,
                               only_from=CallState.INCOMING):
                call.last_invite_response = terminated
                self.finals.send(call.invite, terminated, call.invite_source)

    def on_options(self, msg: SipMessage) -> None:
        if self.refuse_options(msg):
            return
        self._send(build_response(msg, 200, to_tag=None if msg.to_tag else
                                     self._new_tag(),
                                     extra=[("Allow", ALLOW), ("Accept", "application/sdp"),
                                            session_timer.SUPPORTED_HEADER]),
                      msg.source)

    def on_info(self, msg: SipMessage) -> None:
        call = self._lookup(msg.call_id)
        if call is None or not in_dialog(call, msg):
            self._send(build_response(msg, 481), msg.source)
            return
        if self.refuse_options(msg):
            return
        # SIP INFO DTMF (application/dtmf-relay: "Signal=5"), sent by some trunks: one key
        # per INFO, as every gateway sends it. "Signal=123" is no key: keying its first
        # digit alone took a caller's "123" as "1"; keying all three would take a body no
        # gateway sends as three presses. 400 (RFC 6086: the dialog is not touched).
        m = _SIGNAL.search(msg.body_bytes)
        # application/dtmf, the other form trunks send: the body is the key alone.
        kind = media_type(msg.first("Content-Type"))
        raw = (m.group(1) if m else msg.body_bytes.strip() if kind == "application/dtmf"
               else None)
        key = signalled_key(raw.decode("latin-1")) if raw is not None else None
        if raw is not None and key is None:
            self._send(build_response(msg, 400, extra=[
                ("Warning", '399 hotline12345 "Signal is not one key"')]), msg.source)
            return
        order = self._order(call, msg)
        if order is Order.OLD:
            # Delivered late, after a newer request (RFC 3261 12.2.2): 500, so the peer
            # knows its key was not taken. Before, 200 and the key silently dropped.
            self._send(self._out_of_order(msg), msg.source)
            return
        self._send(build_response(msg, 200), msg.source)
        # A retransmission (our 200 was lost) carries the last CSeq: answered again, keyed
        # once.
        if order is Order.NEW and key is not None:
            call.rx_dtmf(key, KeySource.INFO)


__all__ = [
    "ACK_WITHOUT_SDP",
    "ANSWERED",
    "INVITE_TRANSITIONS",
    "NO_ACK",
    "OFFERED",
    "UNUSABLE_ANSWER",
    "InDialog",
    "InviteState",
]
