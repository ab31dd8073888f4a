"""Session refreshes we send (RFC 4028 10), for a call whose caller asked us to be the
refresher (``Session-Expires: N;refresher=uas``, kept as RFC 4028 9 says).

Before, such a caller was answered ``refresher=uac`` and nobody refreshed: a UAC that did
not follow our 2xx was cut at the interval less a third (the twenty-second round's trial).
Now, at half the interval (``session_timer.refresh_after``), an UPDATE without SDP when the
caller allows UPDATE (RFC 4028 10 recommends it: nothing of the media is touched), else a
re-INVITE offering our current SDP unchanged (the same ``o=`` version: nothing changed,
RFC 3264 8), so prompts, the recording and keys go on as they were. The answers:

* 2xx: the session runs again from now, with the interval and refresher it names (none:
  the timer is off, RFC 4028 7.2); a re-INVITE's is ACKed, and again for each copy. Its
  Contact refreshes the remote target and its SDP is applied (a moved address or port, a
  hold), to our re-INVITE or our UPDATE alike (loose26: the UPDATE's was dropped), as for
  the peer's own requests (``on_2xx``).
* 422: again at once with its ``Min-SE`` as interval and ``Min-SE`` (RFC 4028 7.4, 10),
  only when that is above the interval we sent, and at most ``MAX_RAISES`` times in a row.
  A 422 whose ``Min-SE`` is missing or does not go up cannot be met by asking again (a
  peer doing so had us re-send in a loop at once, review51): we stop refreshing, and the
  session runs out by the expiry rule (``session_timer.expired``, our BYE at the interval
  less a third) as RFC 4028 10 has it for a refresh that cannot be done.
* 491: glare with a request of the peer's; again after 0-2 s (RFC 3261 14.1: we do not own
  an inbound call's Call-ID), or 2.1-4 s on a call we placed.
* 405/501 to an UPDATE: the caller does not take it after all; a re-INVITE at once.
* 408, 481, or no answer at all: the dialog is gone (RFC 4028 10: "the UAC sends a BYE"):
  the call ends as the caller's hang-up, our BYE sent for the record.
* anything else: tried again in ``RETRY_SECONDS``; if nothing succeeds, the expiry rule
  (``session_timer.expired``) ends the call as before.
A refresh that cannot be sent at all (a remote target no socket of ours reaches, a
re-INVITE with no media to offer) is not tried again every watchdog turn (before: a
warning each 0.25 s, review51): one warning, and we stop refreshing that call; its session
runs out as above unless the peer refreshes it itself.
Before each request goes, ``on_cseq`` is told the call's CSeq moved (the front end writes
its dialog ledger again), so a BYE sent from the ledger after a crash carries a CSeq above
our last refresh's (RFC 3261 12.2.1.1).
A re-INVITE's non-2xx final is ACKed by its transaction (RFC 3261 17.1.1.3).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from telephony.call import CallHandle, Direction, EndReason
from telephony.sip import session_timer
from telephony.sip.dialog import dialog_request, in_dialog_dest
from telephony.sip.message import SipMessage
from telephony.sip.sdp import build_sdp
from telephony.sip.transaction import ClientTransactions

log = logging.getLogger("hotline.sip.refresher")

# A refresh refused for another reason (500, 488...) is tried again this much later; the
# session's own expiry (the interval less a third) still bounds the call.
RETRY_SECONDS = 10.0
# What says the dialog is gone (RFC 4028 10).
DIALOG_GONE = frozenset({408, 481})
# What says the peer does not take UPDATE after all.
NO_UPDATE = frozenset({405, 501})
# How many 422s in a row may each raise the interval and have the refresh sent again: a peer
# raising its Min-SE by a second each time would otherwise hold us in a loop as long.
MAX_RAISES = 3


class Refresher:
    """Sends the refreshes of the calls we refresh; the front end's watchdog asks it
    (``due``) every turn, its transactions hand it the answers."""

    def __init__(self, *, transactions: ClientTransactions,
                 send: Callable[[bytes, tuple[str, int] | None], None],
                 new_via: Callable[[], str], contact: Callable[[], str], local_ip: str,
                 clock: Callable[[], float],
                 later: Callable[..., object],
                 end: Callable[[CallHandle, EndReason], None],
                 on_cseq: Callable[[CallHandle], None] = lambda call: None,
                 on_2xx: Callable[[CallHandle, SipMessage], None] = (
                     lambda call, msg: None)) -> None:
        self._transactions = transactions
        self._send = send
        self._new_via = new_via
        self._contact = contact
        self._local_ip = local_ip
        self._clock = clock
        self._later = later
        self._end = end
        self._on_cseq = on_cseq
        self._on_2xx = on_2xx

    def due(self, call: CallHandle) -> bool:
        """Whether ``call``'s refresh is to go now: we refresh it, none is in flight, half
        its interval has passed since the answer or the last refresh, and a refused one's
        retry time has come."""
        interval = call.session_interval
        if not call.we_refresh or interval is None or call.refreshing:
            return False
        now = self._clock()
        return (now - call.session_refreshed >= session_timer.refresh_after(interval)
                and now >= call.refresh_retry_at)

    def refresh(self, call: CallHandle) -> None:
        """Send ``call``'s session refresh: UPDATE if the peer allows it, else re-INVITE."""
        interval = call.session_interval
        if interval is None or call.ended or not call.remote_target:
            return
        method = "UPDATE" if call.peer_allows_update else "INVITE"
        if method == "INVITE" and call.media is None:
            self._give_up(call, "no media to offer in a re-INVITE")
            return
        try:
            dest = in_dialog_dest(call, call.invite_source)
        except ValueError as exc:
            self._give_up(call, f"the remote target is unusable ({exc})")
            return
        # The interval in force, or the peer's Min-SE above it (a 422's, RFC 4028 7.4): only
        # a 2xx puts an interval in force, so one refused leaves the expiry where it was.
        asked = max(interval, call.min_se or 0)
        body = b""
        extra = [*session_timer.refresh_headers(asked, call.min_se)]
        if method == "INVITE" and (media := call.media) is not None:
            # Our current SDP, unchanged (the same o= version, RFC 3264 8): a refresh, not
            # a change; the call's one codec, direction and m= lines as last answered.
            body = build_sdp(ip=self._local_ip, port=call.rtp_port or 0,
                             session_id=call.session_id, version=call.sdp_version,
                             formats=[(media.audio_pt, media.codec)], event_pt=media.event_pt,
                             direction=call.sdp_direction, layout=media.layout,
                             ptime=media.ptime)
            call.our_offer_out = True
        call.local_cseq += 1
        cseq = call.local_cseq
        call.refreshing = cseq
        # The ledger first: a crash right after the send leaves a record whose BYE is above
        # this request's CSeq.
        self._on_cseq(call)
        via = self._new_via()
        data = dialog_request(call, method, cseq, via=via, contact=self._contact(),
                              extra=extra, body=body)
        answered: list[int] = []
        log.info("call %s: refreshing the session by %s (CSeq %d, %d s)", call.call_id,
                 method, cseq, asked)
        self._transactions.start(
            data, dest, call.call_id, method,
            on_response=lambda msg: self._answered(call, method, cseq, via, dest, msg,
                                                   answered))

    def _give_up(self, call: CallHandle, why: str) -> None:
        """Stop refreshing ``call`` (once, one warning): the expiry rule ends its session
        unless the peer refreshes it (``InDialog._session_refreshed`` decides anew)."""
        call.we_refresh, call.refresh_raises = False, 0
        log.warning("call %s: no session refresh, %s; the session ends at its expiry "
                    "unless the peer refreshes it", call.call_id, why)

    def _answered(self, call: CallHandle, method: str, cseq: int, via: str,
                  dest: tuple[str, int], msg: SipMessage | None, answered: list[int]) -> None:
        if msg is not None and msg.status_code < 200:
            return
        if msg is not None and msg.cseq[0] != cseq:
            return  # an earlier request's late answer
        code = msg.status_code if msg is not None else 408
        first = not answered
        if first:
            answered.append(code)
            if call.refreshing == cseq:
                call.refreshing = 0
            if method == "INVITE":
                call.our_offer_out = False
        if first and msg is not None and 200 <= code < 300 and not call.ended:
            # Its Contact and its SDP, UPDATE or re-INVITE (``InDialog.refresh_answered``),
            # before the ACK: the ACK goes to the remote target the 2xx names (RFC 3261
            # 13.2.2.4, 12.2.1.1).
            self._on_2xx(call, msg)
        if method == "INVITE" and msg is not None:
            if code >= 300:
                self._ack(call, cseq, via, dest, msg)
            else:
                try:
                    to = in_dialog_dest(call, call.invite_source)
                except ValueError:
                    to = dest
                self._ack(call, cseq, self._new_via(), to, msg)
        if not first:
            return  # a copy of the final already handled: ACKed again above, nothing else
        if call.ended:
            return
        if 200 <= code < 300 and msg is not None:
            # The session runs again from now, as the 2xx says (RFC 4028 7.2): its interval
            # (none: no timer) and who refreshes (its refresher is relative to our request:
            # uac is us). The time first, as for a request of the peer's
            # (``InDialog._session_refreshed``), the watchdog reading the interval first.
            call.session_refreshed = self._clock()
            call.session_interval = session_timer.session_expires(msg)
            call.we_refresh = (call.session_interval is not None
                               and session_timer.refresher(msg) != "uas")
            call.refresh_raises = 0
            return
        if code == 422 and msg is not None:
            # RFC 4028 10: the refresh again with the interval raised to the 422's Min-SE.
            # One that does not go up (or is missing) would be refused again as it was.
            least = session_timer.min_se(msg)
            sent = max(call.session_interval or 0, call.min_se or 0)
            if least is None or least <= sent:
                self._give_up(call, f"its 422 names no Min-SE above the {sent} s we sent")
                return
            if call.refresh_raises >= MAX_RAISES:
                self._give_up(call, f"{MAX_RAISES} 422s in a row")
                return
            call.refresh_raises += 1
            call.min_se = least
            self.refresh(call)
            return
        if code in NO_UPDATE and method == "UPDATE":
            call.peer_allows_update = False
            self.refresh(call)
            return
        if code in DIALOG_GONE:
            log.warning("call %s: our session refresh got %s; the dialog is gone, ending "
                        "the call", call.call_id, code if msg is not None else "no answer")
            self._end(call, EndReason.REMOTE_HANGUP)
            return
        if code == 491:
            # RFC 3261 14.1: 2.1-4 s for the Call-ID's owner (a call we placed), else 0-2 s.
            owner = call.direction is Direction.OUTBOUND
            wait = random.uniform(2.1, 4.0) if owner else random.uniform(0.0, 2.0)
        else:
            wait = RETRY_SECONDS
        log.warning("call %s: our session refresh got %s; trying again in %.1f s",
                    call.call_id, code, wait)
        call.refresh_retry_at = self._clock() + wait

    def _ack(self, call: CallHandle, cseq: int, via: str, dest: tuple[str, int],
             msg: SipMessage) -> None:
        """The ACK of our re-INVITE's final: a 2xx's is a request of its own (a new
        branch, to the dialog's target), a non-2xx's is the transaction's (its Via)."""
        self._send(dialog_request(call, "ACK", cseq, via=via, contact=self._contact()), dest)


__all__ = ["Refresher"]
