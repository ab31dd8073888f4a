"""Outbound legs (pyVoIP fault F6 fixed): the INVITE we send, what its responses do to the
call, the ACK of a non-2xx and of a 2xx (again for each retransmission), the CANCEL when
nobody answers in time, and the BYE for a 2xx we can no longer use.

The dialer owns no socket: it asks a ``DialerLink`` (the front end) to send, to name tags
and Vias, and to open the call's media and dialog, and a ``Transactions`` to run the INVITE
and CANCEL client transactions.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from telephony.call import (
    CallHandle,
    CallState,
    DialOutcome,
    Direction,
    EndReason,
    OutcomeKind,
    Signalling,
    outcome_for_status,
)
from telephony.sip.dialog import (
    ALLOW,
    dialog_peers,
    dialog_request,
    first_hop,
    in_dialog_dest,
)
from telephony.sip.floodguard import is_address
from telephony.sip.message import SipMessage
from telephony.sip.sdp import (
    Negotiated,
    NotAcceptable,
    SdpError,
    UnsupportedBody,
    answered_media,
    build_offer,
    message_sdp,
    parse_sdp,
)
from telephony.sip.transaction import ClientTxn, OutboundLeg, new_request, onward_hops
from telephony.sip.uri import dial_target, sip_uri, uri_number, uri_of

# How long a call waits for the final answer to its CANCEL (a 487, or a 2xx that crossed).
CANCEL_WAIT_SECONDS = 5.0
# How often a ringing call asks its ``give_up_when`` whether to stop ringing.
GIVE_UP_POLL_SECONDS = 0.1
log = logging.getLogger("telephony.sip")

# Early dialogs kept per call we place (a forking proxy's branches each make one): a callee
# naming a new tag in every 1xx holds no more than this.
MAX_EARLY_DIALOGS = 16

# A final answer's code, as the reason the call ended.
_END_REASONS = {
    OutcomeKind.BUSY: EndReason.BUSY,
    OutcomeKind.DECLINED: EndReason.DECLINED,
    OutcomeKind.NO_ANSWER: EndReason.NO_ANSWER,
}
# How the call ended, as the outcome of dialing.
_OUTCOMES = {
    EndReason.BUSY: OutcomeKind.BUSY,
    EndReason.DECLINED: OutcomeKind.DECLINED,
    EndReason.NO_ANSWER: OutcomeKind.NO_ANSWER,
    EndReason.CANCELLED: OutcomeKind.NO_ANSWER,
}


class DialerLink(Signalling, Protocol):
    """What the dialer asks of the front end beyond a call handle's ``Signalling``."""

    @property
    def contact_uri(self) -> str: ...

    def new_tag(self) -> str: ...

    def new_via(self) -> str: ...

    def open_outbound(self, call: CallHandle, send_invite: Callable[[], None]) -> None:
        """Bind the call's RTP, route its in-dialog requests to it and run ``send_invite``,
        all at once as far as ``stop()`` is concerned: its sweep then finds the call with
        its INVITE out (and CANCELs or ends it), or the dial is refused. RuntimeError when
        the front end is stopping or no RTP port is free (nothing sent)."""
        ...


class Transactions(Protocol):
    def start(self, data: bytes, dest: tuple[str, int], call_id: str, method: str,
              on_response: Callable[[SipMessage | None], None] | None = None) -> ClientTxn: ...


class Dialer:
    def __init__(self, link: DialerLink, transactions: Transactions, *, username: str,
                 registrar: tuple[str, int] | None, ring_timeout: float = 30.0) -> None:
        self.link = link
        self.transactions = transactions
        self.username = username
        self.registrar = registrar  # None: direct mode
        self.ring_timeout = ring_timeout
        self._legs: dict[str, tuple[CallHandle, OutboundLeg]] = {}  # by Call-ID
        self._lock = threading.Lock()

    def resolve_target(self, target: str) -> tuple[str, tuple[str, int]]:
        """Request-URI and where to send the INVITE. Register mode sends everything to the
        registrar as outbound proxy; a bare number becomes number@registrar."""
        return dial_target(target, registrar=self.registrar)

    def dial(self, target: str, *, timeout: float | None = None,
             give_up_when: Callable[[], bool] | None = None,
             for_call: CallHandle | None = None) -> DialOutcome:
        """Place a call; returns when it is answered, refused, or ``timeout`` (ring time,
        default ``ring_timeout``) has passed. An ANSWERED outcome carries the CallHandle.
        ``give_up_when`` true while it rings cancels it then, not at the ring timeout (the
        caller waiting for an operator hung up: the operator's phone stops ringing).
        ``for_call``: the caller's call this leg is started for, whose hops it carries
        (``onward_hops``); none left, nothing is sent (FAILED)."""
        uri, dest = self.resolve_target(target)
        hops = onward_hops(for_call.invite if for_call is not None else None)
        if hops < 1:
            log.warning("call %s: no leg to %s: its INVITE had no hops left to pass on "
                        "(a loop through this service)",
                        for_call.call_id if for_call is not None else "-", uri)
            return DialOutcome(OutcomeKind.FAILED, detail="max_forwards_exhausted")
        domain = self.registrar[0] if self.registrar is not None else self.link.local_ip
        call = CallHandle(self.link, direction=Direction.OUTBOUND,
                          call_id=f"{uuid.uuid4().hex}@{self.link.local_ip}",
                          local_tag=self.link.new_tag(), caller=self.username,
                          callee=uri_number(uri))
        call.local_uri = f"<{sip_uri(self.username, domain)}>"
        call.remote_uri = f"<{uri}>"
        # From the INVITE on, not from the 2xx: whoever saw it (Call-ID, our tag) could
        # otherwise end the call with a BYE while it rings (``dialog.from_peer``).
        call.peers = dialog_peers(call, dest)
        leg = OutboundLeg(request_uri=uri, dest=dest, invite_via=self.link.new_via())

        def send_invite() -> None:
            with self._lock:
                self._legs[call.call_id] = (call, leg)
            sdp = build_offer(ip=self.link.local_ip, port=call.rtp_port or 0,
                              session_id=call.session_id)
            invite = new_request("INVITE", uri, via=leg.invite_via,
                                 from_=f"{call.local_uri};tag={call.local_tag}",
                                 to=call.remote_uri, call_id=call.call_id, cseq=1,
                                 contact=self.link.contact_uri, extra=[("Allow", ALLOW)],
                                 body=sdp, max_forwards=hops)
            leg.invite_txn = self.transactions.start(
                invite, dest, call.call_id, "INVITE",
                on_response=lambda m: self.on_invite_response(call, leg, m))

        try:
            # (With the call and its INVITE, not after: a dial that began as the front end
            # stopped sent its INVITE after stop()'s sweep, and the callee's phone rang on
            # for a node that had stopped, no CANCEL to come.)
            self.link.open_outbound(call, send_invite)
        except RuntimeError as exc:
            return DialOutcome(OutcomeKind.FAILED, detail=str(exc))
        ring = self.ring_timeout if timeout is None else timeout
        if not self._ring(call, ring, give_up_when):
            self.cancel(call)
            call.wait_answered_or_final(CANCEL_WAIT_SECONDS)
            self._give_up(call, EndReason.NO_ANSWER)
        # Answered is a fact of the call's past, not its state now: a callee who picks up
        # and hangs up at once has ENDED the call before this thread wakes (trial54), and
        # reading the state made that "failed", as if the phone had never answered.
        if call.answered_at is not None:
            return DialOutcome(OutcomeKind.ANSWERED, call=call, status=call.final_status)
        kind = _OUTCOMES.get(call.end_reason or EndReason.FAILED, OutcomeKind.FAILED)
        return DialOutcome(kind, status=call.final_status,
                           detail=(call.end_reason.value if call.end_reason else ""))

    @staticmethod
    def _ring(call: CallHandle, ring: float, give_up_when: Callable[[], bool] | None) -> bool:
        """Whether ``call`` was answered or had its final answer within ``ring`` seconds
        and before ``give_up_when`` said to stop."""
        if give_up_when is None:
            return call.wait_answered_or_final(ring)
        deadline = time.monotonic() + ring
        while not give_up_when():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if call.wait_answered_or_final(min(left, GIVE_UP_POLL_SECONDS)):
                return True
        return False

    def on_invite_response(self, call: CallHandle, leg: OutboundLeg,
                           msg: SipMessage | None) -> None:
        if msg is None:  # Timer B: nobody answered the INVITE at all
            self._give_up(call, EndReason.FAILED)
            return
        if msg.source is not None and not leg.answered_from and not is_address(leg.dest[0]):
            # A trunk named by host is the first address that answered: responses match by
            # the INVITE's branch from any address, and whoever saw the INVITE (a callee behind a
            # proxying trunk) could otherwise add its own or forged addresses, each then
            # spared the flood guard and kept for the leg's life (review117).
            leg.answered_from.add(msg.source[0])
        code = msg.status_code
        if code < 200:
            if code > 100 and msg.to_tag and len(call.early_tags) < MAX_EARLY_DIALOGS:
                # An early dialog (RFC 3261 12.1.2): its requests (an UPDATE) are taken.
                call.early_tags = call.early_tags | {msg.to_tag}
            if code > 100 and call.state is CallState.DIALING:
                call.transition(CallState.ALERTING)
            leg.provisional = True
            if call.ended:  # given up as this came (``cancel``): the callee rings, cancel it
                self._send_cancel(call, leg)
            return
        if code >= 300:
            self._ack_non_2xx(call, leg, msg)
            if call.state in (CallState.DIALING, CallState.ALERTING):
                call.final_status = code  # before the end wakes the dial thread to read it
            self._give_up(call, _END_REASONS.get(outcome_for_status(code), EndReason.FAILED))
            return
        # 2xx: first one sets up the dialog; retransmissions get the same ACK again.
        if self._other_fork(call, leg, msg):
            return
        if call.state is CallState.ANSWERED or leg.ack is not None:
            if leg.ack is not None:
                self.link.send_to(leg.ack, in_dialog_dest(call, leg.dest))
            return
        call.remote_tag = msg.to_tag
        call.remote_target = uri_of(msg.first("Contact")) or leg.request_uri
        call.route_set = msg.route_list("Record-Route")
        # And where the answer came from: a trunk named by host (sip_uri_template) is no
        # address, and no datagram of the dialog would come from its name.
        call.peers = call.peers | dialog_peers(call, msg.source or leg.dest)
        call.final_status = code
        leg.ack = dialog_request(call, "ACK", 1, via=self.link.new_via(),
                                 contact=self.link.contact_uri)
        self.link.send_to(leg.ack, in_dialog_dest(call, leg.dest))  # F4: right To-tag and R-URI
        media: Negotiated | None = None
        unusable = ""
        try:
            # The answer to our offer starts the call: the rules of an inbound call's
            # (answered_media; an answer on hold leaves the citizen hearing nothing), its
            # body read as theirs (message_sdp: a SIP-I trunk's multipart/mixed 200 was
            # "bad_answer" read raw, review114).
            body = message_sdp(msg)
            media = answered_media(parse_sdp(body)) if body else None
            unusable = "" if body else "no SDP in the 200"
        except (SdpError, NotAcceptable, UnsupportedBody) as exc:
            media, unusable = None, str(exc)
        if media is None or call.rtp is None or not call.take_answer(media):
            # 2xx after we gave up (CANCEL race) or an answer we cannot use: end it. The
            # latter said so: a phone answering G.729 alone (or on hold) was "200 failed"
            # on every reminder, with no line saying why (2026-12-06).
            reason = EndReason.BAD_ANSWER if media is None else EndReason.FAILED
            if self._give_up(call, reason) and media is None:
                log.warning("call %s: the answer in the callee's 200 cannot be used (%s); "
                            "ending it", call.call_id, unusable)
            self.link.send_bye(call)

    def _ack_non_2xx(self, call: CallHandle, leg: OutboundLeg, msg: SipMessage) -> None:
        # RFC 3261 17.1.1.3: the INVITE's Via (same branch) and the response's To.
        self.link.send_to(new_request("ACK", leg.request_uri, via=leg.invite_via,
                                      from_=f"{call.local_uri};tag={call.local_tag}",
                                      to=msg.first("To"), call_id=call.call_id, cseq=1),
                          leg.dest)

    def cancel(self, call: CallHandle) -> None:
        """Give up ringing: CANCEL after a provisional, else stop the INVITE (a failure)."""
        with self._lock:
            entry = self._legs.get(call.call_id)
        leg = entry[1] if entry is not None else None
        txn = leg.invite_txn if leg is not None else None
        if leg is None or txn is None or call.ended or call.state is CallState.ANSWERED:
            return
        if not txn.provisional:
            # RFC 3261 9.1: no CANCEL before a provisional; just stop retransmitting.
            # Not even a 100 Trying: the peer is unreachable, which is a failure.
            txn.done.set()
            self._give_up(call, EndReason.FAILED)
            # Looked at again once the call has ended: a 1xx in between (the receive
            # thread's) had the callee ringing for a call we gave up, and no CANCEL
            # (the 1xx itself cancels one that finds the call ended).
            if not txn.provisional:
                return
        self._send_cancel(call, leg)

    def end_on_stop(self, call: CallHandle) -> ClientTxn | None:
        """The front end stopping: ``call``, if it still rings, CANCELled (``cancel``) and
        ended now, so its ``dial`` returns at once: no 487 will be read after the stop, and
        the dial thread (an operator transfer, a callback) would wait out its ring time.

        An INVITE that has had no response yet cannot be CANCELled (RFC 3261 9.1): its
        transaction goes on, and is returned for the front end to keep its socket until it
        hears (``ClientTxn.heard``): a 1xx gets our CANCEL, a 2xx its ACK and a BYE, a
        non-2xx its ACK (``on_invite_response``, the call ended); nothing, until Timer B.
        Before, the INVITE was dropped and the socket closed: the callee's phone, reached
        late, rang on for a node that had stopped, or answered a call nobody ACKed."""
        with self._lock:
            entry = self._legs.get(call.call_id)
        leg = entry[1] if entry is not None else None
        txn = leg.invite_txn if leg is not None else None
        if leg is None or txn is None or txn.provisional or txn.done.is_set():
            self.cancel(call)
            self._give_up(call, EndReason.SHUTDOWN)
            return None
        if not self._give_up(call, EndReason.SHUTDOWN):
            # A 2xx came as the sweep looked: the call is up, and the front end going.
            if call.transition(CallState.ENDED, EndReason.SHUTDOWN,
                               only_from=CallState.ANSWERED):
                self.link.send_bye(call)
            return None
        if txn.provisional:
            # Its 1xx came in between and found the call still ringing: no CANCEL yet. Sent
            # now, and the transaction still returned: the front end keeps its socket for
            # the CANCEL's answer and the 487's ACK, as for a 1xx heard after this. Before,
            # None closed the socket at once: the CANCEL went once, never again, and the
            # INVITE's 487 was never ACKed (a clean-clone CI run, test_sip_stop_unheard).
            self._send_cancel(call, leg)
        return txn

    def _send_cancel(self, call: CallHandle, leg: OutboundLeg) -> None:
        """Our CANCEL of the call's INVITE, once."""
        with self._lock:
            if leg.cancelled:
                return
            leg.cancelled = True
        # RFC 3261 9.1: the INVITE's Request-URI, Via branch, From, To and CSeq number.
        cancel = new_request("CANCEL", leg.request_uri, via=leg.invite_via,
                             from_=f"{call.local_uri};tag={call.local_tag}",
                             to=call.remote_uri, call_id=call.call_id, cseq=1)
        self.transactions.start(cancel, leg.dest, call.call_id, "CANCEL")

    @staticmethod
    def _give_up(call: CallHandle, reason: EndReason) -> bool:
        """End ``call`` for ``reason`` if it is still ringing (DIALING or ALERTING); False
        when it was answered or has ended. The ring timeout, the CANCEL's wait and Timer B
        run on other threads than the callee's 2xx (``CallHandle.take_answer``): checked
        and then ended, a call answered in between was ended with no BYE, the callee left
        talking to nobody and the dial reported no answer (an operator, or a citizen
        called back again for a call that was taken). Each state is tried under the call's
        lock, in the order a call goes through them, so none is missed."""
        return any(call.transition(CallState.ENDED, reason, only_from=state)
                   for state in (CallState.DIALING, CallState.ALERTING))

    def on_stray_2xx(self, msg: SipMessage) -> None:
        """A 2xx for an INVITE whose transaction is over (a retransmission after it ended):
        the same ACK again, so the far end does not keep retransmitting. Only one that
        the INVITE's transaction would have taken (its branch: ``ClientTxn.answers``);
        by the Call-ID alone, a forged 2xx with a new To tag had us ACK and BYE where its
        Contact said."""
        with self._lock:
            entry = self._legs.get(msg.call_id)
        txn = entry[1].invite_txn if entry is not None else None
        if entry is None or txn is None or not txn.answers(msg):
            return
        if not self._other_fork(*entry, msg) and entry[1].ack is not None:
            self.link.send_to(entry[1].ack, in_dialog_dest(entry[0], entry[1].dest))

    def _other_fork(self, call: CallHandle, leg: OutboundLeg, msg: SipMessage) -> bool:
        """A 2xx from a second phone a forking proxy rang (another To tag) once the call
        has its dialog: ACKed in that phone's own dialog and hung up (RFC 3261 13.2.2.4),
        for each of its retransmissions; the BYE once. The call stays with the first."""
        if leg.ack is None or not msg.to_tag or msg.to_tag == call.remote_tag:
            return False
        if msg.source is not None and msg.source[0] != leg.dest[0]:
            # Forks answer through the proxy our INVITE went to: anyone else's 2xx is not
            # one of them, and must not have us send requests where its Contact says.
            return True
        with self._lock:
            new = msg.to_tag not in leg.forks_hung_up
            if new and len(leg.forks_hung_up) >= MAX_EARLY_DIALOGS:
                return True  # a peer naming a new tag in every 2xx gets no more of us
            leg.forks_hung_up.add(msg.to_tag)
        target = uri_of(msg.first("Contact")) or leg.request_uri
        routes = list(reversed(msg.route_list("Record-Route")))
        try:
            dest = first_hop(routes, target, msg.source or leg.dest)
        except ValueError:
            return True  # nowhere to send its ACK: it times out on its own (Timer H)
        to = msg.first("To") or ""
        from_ = f"{call.local_uri};tag={call.local_tag}"
        self.link.send_to(new_request("ACK", target, via=self.link.new_via(), routes=routes,
                                      from_=from_, to=to, call_id=call.call_id, cseq=1),
                          dest)
        if not new:
            return True
        bye = new_request("BYE", target, via=self.link.new_via(), routes=routes, from_=from_,
                          to=to, call_id=call.call_id, cseq=2,
                          contact=self.link.contact_uri)
        self.transactions.start(bye, dest, call.call_id, "BYE")
        return True

    def forget(self, call_id: str) -> None:
        with self._lock:
            self._legs.pop(call_id, None)

    def dials_to(self, source_ip: str) -> bool:
        """Whether a call we placed and have not forgotten went to ``source_ip``: where its
        INVITE was sent (the trunk, operator or emergency desk the settings name), where
        its first response came from (a host name's), or a peer of its dialog. Their
        unreadable responses are not a stranger's garbage (``Admission.admit_malformed``)."""
        with self._lock:
            return any(source_ip == leg.dest[0] or source_ip in leg.answered_from
                       or source_ip in call.peers for call, leg in self._legs.values())


__all__ = ["CANCEL_WAIT_SECONDS", "GIVE_UP_POLL_SECONDS", "MAX_EARLY_DIALOGS", "Dialer",
           "DialerLink", "Transactions"]
