"""Who is let in: the flood guard applied to what arrives, the trust list kept fresh, the
line limits, and the final refusals of INVITEs (sent again until their ACK by the INVITE
server transactions, ``server_transaction.InviteFinals``, which it owns).

What each request costs is the flood guard's table (``telephony.sip.floodguard``); this
module decides which requests are charged at all. Requests of a call we have pass
untouched, so a ban never cuts a call in progress; so does the ACK of a final answer we
sent (it carries the To tag only that answer had: a blind scanner cannot make it up), which
for a capacity refusal also gives the INVITE's token back.

It owns no socket: it is given a ``send(data, addr)`` callable, a tag generator and a timer
factory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from config.settings import SipSettings
from telephony.call import CallHandle
from telephony.sip import metrics
from telephony.sip.floodguard import (
    COST_WRONG_NUMBER,
    FloodGuard,
    OurNumbers,
    ReadNumber,
    is_address,
    resolve_trusted,
    source_call_limit,
    trusted_entries,
)
from telephony.sip.message import SipMessage, build_response
from telephony.sip.server_transaction import InviteFinal, InviteFinals
from telephony.sip.transaction import Later
from telephony.sip.uri import uri_number, uri_scheme

log = logging.getLogger("telephony.sip")

Send = Callable[[bytes, tuple[str, int] | None], None]
Resolve = Callable[[Iterable[str]], list[str]]
Spawn = Callable[[Callable[[], None]], None]

# How often trusted host names are resolved again (see Admission._refresh_trusted).
TRUSTED_REFRESH_SECONDS = 30.0
# Sent with every busy refusal: a phone or SBC that redials automatically should wait a
# little, not hammer; 486 (not 503) so that an SBC does not take the whole node out of
# its route set for that long (RFC 3261 21.5.4).
BUSY_RETRY_AFTER_SECONDS = 10
# Sent with the 503 to an in-dialog request past its dialog's budget: a second refills
# five requests' worth at the shipped rate.
DIALOG_RETRY_AFTER_SECONDS = 1
def _thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="sip-trusted-dns", daemon=True).start()


class Admission:
    def __init__(self, sip: SipSettings, *, send: Send, new_tag: Callable[[], str],
                 later: Later, read_number: ReadNumber,
                 clock: Callable[[], float] = time.monotonic,
                 resolve: Resolve = resolve_trusted, spawn: Spawn = _thread) -> None:
        """``read_number``: the core's reader of a call's number (``floodguard.ReadNumber``),
        by which the Request-URI's number is read as a caller's is."""
        self.sip = sip
        self.ours = OurNumbers(sip, read_number)
        self._send = send
        self._new_tag = new_tag
        self._later = later
        self._clock = clock
        self._resolve = resolve
        self._spawn = spawn
        self._entries = trusted_entries(sip)
        self.flood = FloodGuard(rate=sip.flood_rate_per_second, burst=sip.flood_burst,
                                ban_seconds=sip.flood_ban_seconds,
                                trusted=resolve(self._entries), clock=clock)
        # Requests inside one dialog, by Call-ID: a bucket like a source's, no ban.
        self.dialog_flood = FloodGuard(rate=sip.flood_rate_per_second, burst=sip.flood_burst,
                                       ban_seconds=0.0, clock=clock)
        # Unreadable responses from where a call of ours went (``admit_malformed``), by
        # source: logged at the flood guard's rate, never banned.
        self.response_flood = FloodGuard(rate=sip.flood_rate_per_second, burst=sip.flood_burst,
                                         ban_seconds=0.0, clock=clock)
        self.dialog_limited = 0  # in-dialog requests refused 503 for that, counted
        self.rejected: dict[int, int] = {}  # final codes sent to refused INVITEs, counted
        # Every non-2xx final to an INVITE, ours here or a call's, until its ACK.
        self.finals = InviteFinals(send=send, later=later, on_ack=self._refusal_acked,
                                   silenced=self.flood.banned)
        # Whether a call we placed went to an address (``Dialer.dials_to``; the front end
        # sets it once its dialer exists): none does until then.
        self.dials_to: Callable[[str], bool] = lambda _ip: False
        self._lock = threading.Lock()
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        if not all(is_address(e) for e in self._entries):
            self._later(TRUSTED_REFRESH_SECONDS, self._refresh_trusted)

    def stop(self) -> None:
        self._running = False

    def _refresh_trusted(self) -> None:
        """Trusted host names (``kamailio`` in compose) are resolved again now and then: a
        proxy restarted on a new address must not find itself banned by its own nodes."""
        if not self._running:
            return
        # DNS can take seconds: never on the timer thread, which also retransmits for calls.
        self._spawn(self._resolve_trusted)
        self._later(TRUSTED_REFRESH_SECONDS, self._refresh_trusted)

    def _resolve_trusted(self) -> None:
        self.flood.set_trusted(self._resolve(self._entries))

    # -- decisions ---------------------------------------------------------------------
    def is_trusted(self, source_ip: str) -> bool:
        return self.flood.is_trusted(source_ip)

    def admit(self, msg: SipMessage, *, in_dialog: bool) -> bool:
        """Whether to handle a request (False: drop it unanswered). ``in_dialog``: it
        belongs to a call we have (in-dialog request, ACK, CANCEL, retransmitted INVITE).
        Everything else is charged to its source, a To tag or not. (What belongs to one of
        our non-2xx answers -- its INVITE again, its ACK, a CANCEL -- the front end has
        given to ``finals`` before: it is free.)"""
        if msg.source is None or in_dialog:
            return True
        return self._charge(msg.source[0], f"{msg.method} {msg.call_id[:24]}")

    def admit_in_dialog(self, msg: SipMessage) -> bool:
        """Whether a request of a call we have, from its peer, is taken (False: 503 +
        Retry-After; the call goes on). Each dialog has a bucket of its own at the flood
        guard's rate and depth, whoever sends (a trusted proxy relays a caller's requests
        too): re-INVITEs, UPDATEs, INFOs and OPTIONS past it are refused, so one caller
        cannot keep the receive thread renegotiating its media or keying digits at line
        rate. ACK, BYE and CANCEL are never refused: a call always ends when its caller
        says. Nothing is charged to the source: a PBX's many calls are many dialogs, and
        a ban would stop its next calls."""
        if msg.method in ("ACK", "BYE", "CANCEL"):
            return True
        if self.dialog_flood.admit(msg.call_id):
            return True
        with self._lock:
            self.dialog_limited += 1
        return False

    def _refusal_acked(self, final: InviteFinal) -> None:
        """The ACK of a capacity refusal (within Timer H, while it was still sent again):
        the INVITE's token back, as the refusal was ours to answer for."""
        if final.refund:
            self.flood.refund(final.source_ip)

    def admit_malformed(self, source_ip: str, response: bool = False) -> bool:
        """Whether a datagram that does not parse is answered (or logged) at all. A
        ``response`` (its first line a status line) from where a call of ours went is
        logged and never charged: an untrusted trunk's broken 200s (two Call-IDs) to our
        callbacks had its address banned, and then every call it brought was dropped
        (sip43). From anyone else it is charged like any garbage: a scanner writing
        "SIP/2.0" first gains nothing. Past the flood guard's rate they are dropped unlogged
        (a source address is forged at will on UDP: one writing the trunk's wrote a warning
        per datagram for as long as a call lasted, review117), still never a ban."""
        if response and self.dials_to(source_ip):
            return self.response_flood.admit(source_ip)
        return self._charge(source_ip, "malformed datagrams")

    def refund(self, source_ip: str) -> None:
        """A call proved real (ACKed, RTP received): its INVITE's token back."""
        self.flood.refund(source_ip)

    def penalize(self, source_ip: str, tokens: float, what: str) -> None:
        if self.flood.penalize(source_ip, tokens):
            self._banned(source_ip, what)

    def refuse_scheme(self, msg: SipMessage) -> bool:
        """416 for an INVITE whose Request-URI is not ``sip:``; True when refused. We take
        SIP over UDP only: a ``sips:`` one asks for TLS on every hop (RFC 3261 26.2.2), which
        answering it over UDP would falsely grant; ``tel:`` and the rest we do not route.
        RFC 3261 8.2.2.1: a scheme the UAS does not support is 416."""
        scheme = uri_scheme(msg.request_uri)
        if scheme == "sip":
            return False
        self.refuse(msg, 416, warning=f"{scheme or 'no'} scheme: sip over UDP only")
        return True

    def refuse_no_hops(self, msg: SipMessage) -> bool:
        """483 for a new call whose INVITE arrives with ``Max-Forwards: 0``; True when
        refused. RFC 3261 asks the check of proxies (16.3) and lets a UAS take such a
        request; we refuse it: no carrier's path to a hotline is 70 hops long, so the hops
        were spent by a loop in front of us (a trunk and our Kamailio routing to each
        other), and a call taken from it would hold a line and play to nobody."""
        if msg.max_forwards != 0:
            return False
        self.refuse(msg, 483, warning="Max-Forwards 0: a routing loop before this service")
        return True

    def refuse_other_number(self, msg: SipMessage) -> bool:
        """404 for an INVITE to a number that is not ours, charged as extension guessing
        (svwar); True when refused."""
        if uri_number(msg.request_uri) in self.ours:
            return False
        if msg.source is not None:  # admit() charged one token already
            self.penalize(msg.source[0], COST_WRONG_NUMBER - 1, "INVITE to other numbers")
        self.refuse(msg, 404, warning="not a number of this service")
        return True

    def line_refusal(self, live: Sequence[CallHandle], source_ip: str) -> str | None:
        """Why a new inbound call from ``source_ip`` gets no line while ``live`` (the
        inbound calls up) are, or None when it gets one: every line busy, or an untrusted
        address already holding its share."""
        if len(live) >= self.sip.max_calls:
            return f"all {self.sip.max_calls} lines busy"
        limit = source_call_limit(self.sip)
        if not self.is_trusted(source_ip) and sum(
                1 for c in live if c.invite_source and c.invite_source[0] == source_ip
        ) >= limit:
            return f"{limit} lines busy from this address"
        return None

    # -- refusals ----------------------------------------------------------------------
    def refuse(self, msg: SipMessage, code: int, reason: str | None = None,
               warning: str = "", extra: list[tuple[str, str]] | None = None,
               capacity: bool = False) -> None:
        """A final non-2xx to an INVITE. ``capacity``: refused for want of a line (ours to
        answer for, not the caller's fault), so it says when to retry and its ACK refunds."""
        headers = list(extra or [])
        if capacity:
            headers.append(("Retry-After", str(BUSY_RETRY_AFTER_SECONDS)))
        if warning:
            headers.append(("Warning", f'399 hotline12345 "{warning}"'))
        log.info("INVITE %s from %s refused: %s %s", msg.call_id, msg.source, code, warning)
        self.count_refusal(code)
        # (A retransmission of the INVITE that reaches this gets its first answer again.)
        self.finals.send(msg, build_response(msg, code, reason, to_tag=self._new_tag(),
                                             extra=headers), msg.source, refund=capacity)

    def count_refusal(self, code: int) -> None:
        """One INVITE answered with a final refusal ``code``: every one is counted here, ours
        (``refuse``) and a ringing call's (``CallHandle.reject``: the 480 of our hang-up
        before the answer, which no figure counted, review65). Two views of the one count:
        ``rejected`` is this front end's (tests, bench/surge, scale-out read it per node in
        one process), /metrics' counter the process's, kept when a front end stops (a
        counter read from the live front ends, as ``hotline_calls_active`` is, would go
        down with one); so not one read from the other."""
        with self._lock:
            self.rejected[code] = self.rejected.get(code, 0) + 1
        metrics.INVITES_REFUSED.labels(code=str(code)).inc()

    # -- charging ----------------------------------------------------------------------
    def _charge(self, source_ip: str, what: str) -> bool:
        bans = self.flood.bans
        if self.flood.admit(source_ip):
            return True
        metrics.FLOOD_DROPPED.inc()
        if self.flood.bans != bans:
            self._banned(source_ip, what)
        return False

    def _banned(self, source_ip: str, what: str) -> None:
        metrics.FLOOD_BANS.inc()
        log.warning("SIP flood from %s (%s...): its new requests are dropped for %.0f s",
                    source_ip, what, self.flood.ban_seconds)


__all__ = ["BUSY_RETRY_AFTER_SECONDS", "DIALOG_RETRY_AFTER_SECONDS", "TRUSTED_REFRESH_SECONDS",
           "Admission"]
