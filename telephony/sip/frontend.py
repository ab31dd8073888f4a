"""The SIP front end: one UDP socket, and the router of what arrives on it.

``SipFrontEnd(settings, on_call)`` answers INVITEs (each accepted call runs ``on_call``
in its own thread) and places calls with ``call(target)``. Modes (``settings.sip.mode``):
"register" keeps a registration at ``registrar_ip:registrar_port`` and sends outbound
INVITEs through it; "direct" never registers and takes INVITEs sent straight to
``bind_ip:port`` (outbound targets must then be full SIP URIs).

The front end owns the socket, the timer thread, the client transactions and the table of
calls, takes new INVITEs (a call handle, its RTP port, its handler thread), watches the
calls up, and routes the rest to its parts: ``registration`` (REGISTER and its
refreshes), ``admission`` (flood guard, trust, line limits, refusals), ``indialog``
(requests inside our dialogs, our 2xx until its ACK) and ``dialer`` (outbound legs).

Defined outcomes for what arrives (docs/sip.md has the table):
malformed SIP → 400 when answerable, else dropped; INVITE whose SDP is unreadable → 400;
no SDP (a delayed offer) → 200 with our offer, the call OFFERED and its handler started
only once the ACK brings a usable answer, else BYE (bad_answer; no ACK: no_ack); SDP without
PCMU/PCMA on RTP/AVP, or a c= that is not a unicast IPv4 address → 488; Request-URI user not
one of ours → 404; more than ``max_calls`` inbound calls, or
more than ``source_call_limit`` from one untrusted address → 486 + Retry-After (calls in
progress untouched); once ``stop()`` has begun → 503 + Retry-After, no call, no handler;
CANCEL before answer → 200 + 487, handler sees ENDED; BYE → 200, call
ENDED; 200 not ACKed within ``ack_timeout``, no first RTP within ``first_rtp_timeout``, no
RTP for ``rtp_timeout`` s → BYE, call ENDED; a session timer agreed and not refreshed → BYE
at the interval less min(32 s, interval/3) (RFC 4028 10), call ENDED (session_expired), a
refresh setting the timer going again. ``Require`` of an option we lack → 420 +
Unsupported; ``Session-Expires`` below 90 s → 422; re-INVITE/UPDATE in a call (session
refresh) → 200 with our SDP unchanged, 488 for an offer we could not serve, 491 for an offer
while ours in a 2xx awaits its answer, our 2xx to a re-INVITE sent again until its ACK (BYE
after 64*T1 without one); UPDATE outside a dialog → 481; UPDATE before our 200 → 200
without SDP, 500 + Retry-After with an offer. Every non-2xx final to an INVITE or
re-INVITE is sent again until its ACK, and its INVITE again, ACK and CANCEL are absorbed by
its transaction (``server_transaction``). A request of a call from a host that is not
the dialog's peer (``dialog.from_peer``) → 403, charged, the call untouched; past the
dialog's budget → 503 + Retry-After (never ACK, BYE, CANCEL). P-Asserted-Identity /
Remote-Party-ID name the caller only from a trusted source (the flood guard's trust list).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.settings import Settings, SipSettings
from telephony.call import CallHandle, CallState, DialOutcome, Direction, EndReason
from telephony.rtp import PortPool, Rtp16Stream
from telephony.sip import metrics, session_timer
from telephony.sip.admission import DIALOG_RETRY_AFTER_SECONDS, Admission
from telephony.sip.advertise import advertised_ip
from telephony.sip.dialer import Dialer
from telephony.sip.dialog import (
    ALLOW,
    dialog_peers,
    dialog_request,
    first_hop,
    from_peer,
    in_dialog,
    in_dialog_dest,
    of_call,
    of_invite,
    refusal_code,
)
from telephony.sip.floodguard import COST_ABANDONED_CALL, FloodGuard, ReadNumber
from telephony.sip.identity import caller_address, caller_identity
from telephony.sip.indialog import NO_ACK, InDialog
from telephony.sip.ledger import DialogLedger, prune_stale
from telephony.sip.message import SipMessage, build_response
from telephony.sip.refresher import Refresher
from telephony.sip.registration import Registration, RegistrationState, SipRegistrationError
from telephony.sip.sdp import (
    DEFAULT_PTIME,
    Negotiated,
    NotAcceptable,
    SdpError,
    UnsupportedBody,
    call_media,
    message_sdp,
    parse_sdp,
)
from telephony.sip.timers import TIMER_B, Timer, Timers, stall_reason
from telephony.sip.transaction import ClientTransactions, ClientTxn, new_branch, udp_via
from telephony.sip.transport import SipTransport
from telephony.sip.uri import dialled_number, parse_name_addr, sip_uri, uri_of

log = logging.getLogger("telephony.sip")


class PhoneStatus(enum.Enum):
    STOPPED = "stopped"
    REGISTERING = "registering"
    READY = "ready"  # registered (register mode) or listening (direct mode)
    REGISTRATION_FAILED = "registration_failed"  # still listening; refresh retried


_STATUS_OF_REGISTRATION = {
    RegistrationState.UNREGISTERED: PhoneStatus.REGISTERING,
    RegistrationState.REGISTERING: PhoneStatus.REGISTERING,
    RegistrationState.REGISTERED: PhoneStatus.READY,
    RegistrationState.RETRYING: PhoneStatus.REGISTRATION_FAILED,
    RegistrationState.STOPPED: PhoneStatus.STOPPED,
}


class SipFrontEnd:
    def __init__(
        self,
        settings: Settings | SipSettings,
        on_call: Callable[[CallHandle], None] | None = None,
        *,
        read_number: ReadNumber,
        rtp_timeout: float = 10.0,
        register_expires: int = 300,
        register_timeout: float = 4.0,
        ring_timeout: float = 30.0,
        linger: float = 8.0,
        session_clock: Callable[[], float] = time.monotonic,
        dialogs_dir: Path | None = None,
    ) -> None:
        """``read_number``: the core's reader of a call's number (``ticketing.phones.
        call_number``), by which an INVITE's Request-URI is found ours or not, as its From
        is read (``floodguard.OurNumbers``). ``dialogs_dir``: where the dialogs that are up
        are written (``DialogLedger``, under ``<ip>-<port>``), so that the next process on
        this address ends with a BYE those a killed one left; None: not kept."""
        sip = settings.sip if isinstance(settings, Settings) else settings
        self.sip = sip
        self.mode = sip.mode
        self.on_call = on_call
        self.rtp_timeout = rtp_timeout
        self.linger = linger
        self._dialogs_dir = dialogs_dir
        self.ledger: DialogLedger | None = None
        self._kept: set[str] = set()  # Call-IDs written to the ledger, not yet dropped
        # Call-IDs of the dialogs a process that died here left up, ended by our BYE at
        # start (``_end_left_dialogs``): known over, so their outbound tasks are settled at
        # once (``outbound.worker.end_leases``), not a lease later.
        self.left_ended: list[str] = []
        # What session timers are measured by: a minute and more (RFC 4028's 90 s minimum),
        # which a test drives instead of waiting it out.
        self.session_clock = session_clock
        # What we name ourselves by (Contact, Via, REGISTER, SDP c=/o=): never the wildcard
        # a node may bind (``advertise``); raises AdvertiseError when there is none.
        self.local_ip = advertised_ip(sip)
        self.registrar = (sip.registrar_ip, sip.registrar_port)
        self._running = False
        # Cleared by ``refuse_calls`` (our stop's first step): INVITEs are refused 503 while
        # the calls up are told and finish.
        self._taking = True
        self._transport = SipTransport(
            registrar=self.registrar, username=sip.username, password=sip.password,
            bind=(sip.bind_ip, sip.port), advertise=self.local_ip, on_message=self._on_message,
        )
        self._ports = PortPool(sip.rtp_port_low, sip.rtp_port_high)
        self._calls: dict[str, CallHandle] = {}
        self._transactions = ClientTransactions(send=self._transport.send, later=self._later)
        self._lock = threading.RLock()
        self._timers: Timers | None = None
        self._handlers: set[threading.Thread] = set()
        self.admission = Admission(sip, send=self.send_to, new_tag=self.new_tag,
                                   later=self._later, read_number=read_number)
        self._transport.admit_malformed = self.admission.admit_malformed
        self.registration: Registration | None = None
        if self.mode == "register":
            self.registration = Registration(
                registrar=self.registrar, username=sip.username,
                can_authenticate=bool(sip.password),
                build=lambda expires, challenge: self._transport.register_request(
                    expires=expires, challenge=challenge),
                exchange=self._exchange, later=self._later,
                expires=register_expires, timeout=register_timeout)
        self.dialogs = InDialog(lookup=self._lookup, send=self.send_to, later=self._later,
                                new_tag=self.new_tag, contact_headers=self.contact_headers,
                                local_ip=self.local_ip, refuse=self.admission.refuse,
                                # Late-bound: a test replaces session_clock on a live node.
                                clock=lambda: self.session_clock(),
                                on_offer_answer=self._offer_answered,
                                on_target=self._rekeep,
                                finals=self.admission.finals)
        # Our session refreshes, for callers that asked us to refresh (RFC 4028 9, 10).
        self.refresher = Refresher(transactions=self._transactions, send=self.send_to,
                                   new_via=self.new_via, contact=lambda: self.contact_uri,
                                   local_ip=self.local_ip,
                                   clock=lambda: self.session_clock(), later=self._later,
                                   end=self._end_dialog_gone, on_cseq=self._rekeep,
                                   on_2xx=self.dialogs.refresh_answered)
        self.dialer = Dialer(self, self._transactions, username=sip.username,
                             registrar=self.registrar if self.mode == "register" else None,
                             ring_timeout=ring_timeout)
        self.admission.dials_to = self.dialer.dials_to

    # -- state -------------------------------------------------------------------------
    @property
    def status(self) -> PhoneStatus:
        if not self._running:
            return PhoneStatus.STOPPED
        if self.registration is None:
            return PhoneStatus.READY
        return _STATUS_OF_REGISTRATION[self.registration.state]

    @property
    def flood(self) -> FloodGuard:
        return self.admission.flood

    @property
    def rejected(self) -> dict[int, int]:
        """Final codes sent to refused INVITEs, counted."""
        return self.admission.rejected

    @property
    def delayed_offers(self) -> dict[str, int]:
        """INVITEs without SDP answered with our offer ("offered"), and how the wait for
        the answer in their ACK ended ("answered", "no_ack", "ack_without_sdp",
        "unusable_answer"), counted."""
        return self.dialogs.offers

    @property
    def local_port(self) -> int:
        return self._transport.myPort

    @property
    def contact_uri(self) -> str:
        return sip_uri(self.sip.username, self.local_ip, self.local_port)

    def contact_headers(self) -> list[tuple[str, str]]:
        return [("Contact", f"<{self.contact_uri}>"), ("Allow", ALLOW),
                session_timer.SUPPORTED_HEADER]

    def active_calls(self) -> list[CallHandle]:
        with self._lock:
            return [c for c in self._calls.values() if not c.ended]

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._transport.start()
        if self._dialogs_dir is not None:
            # Every address's records past their age go (a caller's URI kept for nothing);
            # bound now, the address is ours, and so are the dialogs left under it. Named
            # by the bind (the ledger's lock), not the advertised address: a route's or a
            # NAT's moves, and the next process would not find the calls left up.
            prune_stale(self._dialogs_dir)
            self.ledger = DialogLedger(
                self._dialogs_dir / f"{self.sip.bind_ip}-{self.local_port}")
        metrics.track(self)
        self._timers = Timers()
        self._running = True
        self._timers.call_later(0.25, self._watchdog)
        self.admission.start()
        self._end_left_dialogs()
        if self.registration is None:
            log.info("SIP front end listening on %s:%s (direct)", self.local_ip, self.local_port)
            return
        try:
            self.registration.start()
        except SipRegistrationError:
            self.stop()
            raise
        log.info("SIP front end on %s:%s registered to %s:%s", self.local_ip, self.local_port,
                 *self.registrar)

    def refuse_calls(self) -> None:
        """From now on refuse every INVITE 503 + Retry-After ("shutting down": another node
        of the pool takes the retry), while the calls up go on: a stop's first step, before
        its callers are told and their dialogues finish (``ivr.runtime``)."""
        with self._lock:  # (an INVITE being taken registers its call first, or is refused)
            self._taking = False

    def stop_taking(self) -> None:
        """``refuse_calls`` without the lock, for the stop's signal handler: it runs on the
        event loop's thread between two bytecodes, maybe while that thread holds ``_lock``
        (a deadlock if it waited), and the drain thread that takes the lock may be scheduled
        a hundred milliseconds later under load, time in which an INVITE was answered (a
        clean-clone CI run, thirty-fifth round). A bool written under the GIL is seen by the
        next INVITE; one already past the check registers its call first, and the drain's
        ``refuse_and_tell`` (under the lock) tells it as a call up."""
        self._taking = False

    def _refused_stopping(self, msg: SipMessage) -> bool:
        """Refuse an INVITE 503 + Retry-After ("shutting down") when the front end stops or
        a stop is draining (``refuse_calls``); whether it did. Called under ``_lock``."""
        if self._running and self._taking:
            return False
        self.admission.refuse(msg, 503, warning="shutting down", capacity=True)
        return True

    def wait_handlers(self, deadline: float) -> bool:
        """Wait until every call's handler has returned, or the monotonic ``deadline``;
        whether all had."""
        while True:
            with self._lock:
                left = list(self._handlers)
            if not left:
                return True
            for thread in left:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._handlers

    def stop(self) -> None:
        if not self._running and self._timers is None:
            return
        with self._lock:  # (an INVITE being taken registers its call first, or is refused)
            self._running = False
        was_registered = self.registration is not None and self.registration.stop()
        self.admission.stop()
        metrics.untrack(self)
        unheard: list[ClientTxn] = []  # INVITEs of ours with no response yet
        for call in self.active_calls():
            try:
                if call.state in (CallState.ANSWERED, CallState.OFFERED):
                    if call.transition(CallState.ENDED, EndReason.SHUTDOWN):
                        self.send_bye(call)
                elif call.direction is Direction.OUTBOUND:
                    txn = self.dialer.end_on_stop(call)
                    if txn is not None:
                        unheard.append(txn)
                else:
                    call.hangup()
            except Exception:
                log.exception("hanging up %s on stop", call.call_id)
        if was_registered and self.registration is not None:
            self.registration.unregister()
        for thread in list(self._handlers):
            thread.join(timeout=2)
        # Last, and bounded by the grace, not by Timer B (32 s): waited out first, the
        # unregistering and the joins came after Docker's 10 s and its SIGKILL.
        self._settle_unheard(unheard, time.monotonic() + self.sip.stop_grace_seconds)
        if self._timers is not None:
            self._timers.stop()
            self._timers = None
        self._transport.stop()

    def _settle_unheard(self, unheard: list[ClientTxn], deadline: float) -> None:
        """Keep the socket and timers for INVITEs ``stop()`` could not end (no response
        yet: ``Dialer.end_on_stop``) until ``deadline``: each is heard (a 1xx gets the
        CANCEL, a 2xx its ACK and a BYE) or reaches its Timer B, and what that started has
        its final answer -- the CANCEL and BYE retransmitted meanwhile (Timers E/F), the
        INVITE's 487 ACKed. What is still open at the deadline is given up."""
        for txn in unheard:
            left = min(deadline, txn.started + TIMER_B) - time.monotonic()
            if not txn.heard.wait(max(0.0, left)):
                self._transactions.end(txn)
        for txn in unheard:
            # Again after each round: a final may start a transaction (a 2xx crossing our
            # CANCEL gets a BYE); each wait either settles its transaction or ends it.
            while pending := self._transactions.pending(txn.call_id):
                for other in pending:
                    if not other.settled.wait(max(0.0, deadline - time.monotonic())):
                        self._transactions.end(other)

    def __enter__(self) -> SipFrontEnd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the parts are given --------------------------------------------------------
    def send_to(self, data: bytes, addr: tuple[str, int] | None) -> None:
        if addr is not None:
            self._transport.send(data, addr)

    def new_tag(self) -> str:
        return self._transport.gen_tag()

    def new_via(self) -> str:
        return udp_via(self.local_ip, self.local_port, new_branch())

    def _later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer | None:
        timers = self._timers
        return timers.call_later(delay, fn, *args) if timers is not None else None

    def _exchange(self, data: bytes, dest: tuple[str, int],
                  timeout: float) -> SipMessage | None:
        """Send a request and wait up to ``timeout`` for its final response."""
        request = SipMessage(data)
        txn = self._transactions.start(data, dest, request.call_id, request.method)
        txn.done.wait(timeout)
        if not txn.done.is_set():
            self._transactions.end(txn)
        return txn.final

    def _lookup(self, call_id: str) -> CallHandle | None:
        with self._lock:
            return self._calls.get(call_id)

    # -- receiving ---------------------------------------------------------------------
    def _on_message(self, msg: SipMessage) -> None:
        if msg.type == 0:  # response
            if (not self._transactions.on_response(msg) and msg.cseq[1] == "INVITE"
                    and 200 <= msg.status_code < 300):
                self.dialer.on_stray_2xx(msg)
            return
        # The INVITE again, its ACK or its CANCEL, for a non-2xx answer of ours: the
        # transaction's, whatever call or dialog there is, and free.
        if self.admission.finals.take(msg):
            return
        with self._lock:
            call = self._calls.get(msg.call_id)
        ours = call is not None and of_call(call, msg)
        if call is not None and ours and not self._from_peer(call, msg):
            return
        if not self.admission.admit(msg, in_dialog=ours):
            return
        if ours and not self.admission.admit_in_dialog(msg):
            busy = build_response(msg, 503, extra=[
                ("Retry-After", str(DIALOG_RETRY_AFTER_SECONDS)),
                ("Warning", '399 hotline12345 "too many requests in this dialog"')])
            if msg.method == "INVITE":  # (a re-INVITE's, sent again until its ACK)
                self.admission.finals.send(msg, busy, msg.source)
            else:
                self.send_to(busy, msg.source)
            return
        handler = {
            "INVITE": self._on_invite, "ACK": self.dialogs.on_ack, "BYE": self.dialogs.on_bye,
            "CANCEL": self.dialogs.on_cancel, "OPTIONS": self.dialogs.on_options,
            "INFO": self.dialogs.on_info, "UPDATE": self.dialogs.on_update,
        }.get(msg.method)
        if handler is None:
            self.send_to(build_response(msg, refusal_code(msg.method), extra=[("Allow", ALLOW)]),
                         msg.source)
            return
        handler(msg)

    def _from_peer(self, call: CallHandle, msg: SipMessage) -> bool:
        """Whether a request of ``call``'s dialog comes from one of its peers
        (``dialog.from_peer``). One that does not is a stranger's that knows the Call-ID
        and tags: not taken, charged as a new request, 403 when the flood guard lets it be
        answered (the call untouched)."""
        source_ip = msg.source[0] if msg.source is not None else ""
        if msg.source is None or from_peer(call, source_ip,
                                           trusted=self.admission.is_trusted(source_ip)):
            return True
        if not self.admission.admit(msg, in_dialog=False):
            return False  # dropped like any banned source's: no line per datagram
        log.warning("call %s: %s from %s, not from the dialog's peer (%s): refused",
                    call.call_id, msg.method, source_ip, ", ".join(sorted(call.peers)))
        if msg.method != "ACK":
            self.send_to(build_response(msg, 403, extra=[
                ("Warning", '399 hotline12345 "not from this dialog\'s peer"')]), msg.source)
        return False

    def _on_invite(self, msg: SipMessage) -> None:
        call = self._lookup(msg.call_id)
        if call is not None:
            if msg.to_tag:  # re-INVITE, if it is in the call's dialog
                if in_dialog(call, msg):
                    self.dialogs.on_refresh(call, msg)
                else:
                    self.admission.finals.send(msg, build_response(msg, 481), msg.source)
            elif of_invite(call, msg):
                if call.last_invite_response is not None:  # retransmitted INVITE
                    self.send_to(call.last_invite_response, msg.source)
            else:
                self.admission.finals.send(
                    msg, build_response(msg, 482, to_tag=self.new_tag()), msg.source)
            return
        if msg.to_tag:
            self.admission.finals.send(msg, build_response(msg, 481), msg.source)
            return
        if (self.admission.refuse_no_hops(msg) or self.admission.refuse_scheme(msg)
                or self.admission.refuse_other_number(msg)
                or self.dialogs.refuse_options(msg)):
            return
        self.send_to(build_response(msg, 100), msg.source)
        try:
            body = message_sdp(msg)
        except UnsupportedBody as exc:
            self.admission.refuse(msg, 415, warning=str(exc), extra=exc.accepts)
            return
        from_value = msg.first("From")
        remote_target = uri_of(msg.first("Contact")) or uri_of(from_value)
        route_set = msg.route_list("Record-Route")
        try:
            offer = parse_sdp(body) if body else None  # None: a delayed offer
        except SdpError as exc:
            self.admission.refuse(msg, 400, "Bad Request", warning=f"malformed SDP: {exc}")
            return
        try:  # where our BYE would go: fail now, not on the timer thread at hang-up
            first_hop(route_set, remote_target, msg.source)
        except ValueError as exc:
            self.admission.refuse(msg, 400, "Bad Request", warning=f"malformed Contact: {exc}")
            return
        try:
            media = call_media(offer) if offer is not None else None
        except NotAcceptable as exc:
            self.admission.refuse(msg, 488, warning=str(exc))
            return
        source_ip = msg.source[0] if msg.source is not None else ""
        with self._lock:
            live = [c for c in self._calls.values()
                    if c.direction is Direction.INBOUND and not c.ended]
            # A stop's 503 + Retry-After first: a busy 486 during the drain told the caller
            # to give up rather than to try another node of the pool (review64).
            if self._refused_stopping(msg):
                return
            busy = self.admission.line_refusal(live, source_ip)
            if busy is not None:
                self.admission.refuse(msg, 486, warning=busy, capacity=True)
                return
            if self.on_call is None:  # (a front end that only places calls)
                self.admission.refuse(msg, 480, capacity=True)
                return
            # Under the lock ``stop()`` clears ``_running`` under, and the call registered,
            # its port bound, its 180 (or 200 with our offer) sent and its handler started
            # under it too: either ``stop()``'s sweep finds the call whole and ends it, or
            # the INVITE finds the front end stopping and is refused 503 + Retry-After
            # (another node of the pool takes the retry). Checked before the lock, a call
            # taken just after the sweep was never ended, its RTP port never released; with
            # the 180 and the handler after the lock, the sweep's 480 was followed by our
            # 180 and a handler started on a stopped front end.
            if self._refused_stopping(msg):
                return
            trusted = self.admission.is_trusted(source_ip)
            caller, vouch = caller_identity(msg, trusted=trusted)
            call = CallHandle(self, direction=Direction.INBOUND, call_id=msg.call_id,
                              local_tag=self.new_tag(), caller=caller,
                              callee=dialled_number(msg.first("To")))
            call.caller_vouch = vouch
            call.caller_address = caller_address(msg, trusted=trusted)
            call.invite, call.invite_source, call.media = msg, msg.source, media
            # From the parse's own boundaries: a regex over the text (before mend70) ate a
            # display name's closing quote when it held ";tag=", and a URI's own ;tag=.
            call.local_uri = parse_name_addr(msg.first("To")).without_tag()
            call.remote_uri = parse_name_addr(from_value).without_tag()
            call.remote_tag = msg.from_tag
            call.remote_target = remote_target
            call.route_set = route_set
            call.peers = dialog_peers(call, msg.source)
            try:
                self._bind_rtp(call, media)
            except RuntimeError:
                self.admission.refuse(msg, 503, warning="no free RTP port", capacity=True)
                return
            self._calls[call.call_id] = call
            if media is None:
                # Our offer in the 200 now; the call is the handler's (prompts, recording,
                # the call journal) only once its ACK brings the answer (_offer_answered).
                # Meanwhile it holds its line like any call, and the watchdog ends it if
                # no ACK comes.
                self.dialogs.offer(call)
                return
            call.codec = media.codec
            ringing = build_response(msg, 180, to_tag=call.local_tag,
                                     extra=self.contact_headers())
            call.last_invite_response = ringing
            self.send_to(ringing, msg.source)
            self._start_handler(call)

    def _start_handler(self, call: CallHandle) -> None:
        thread = threading.Thread(target=self._run_handler, args=(call,),
                                  name=f"call-{call.call_id[:12]}", daemon=True)
        with self._lock:
            self._handlers.add(thread)
        thread.start()

    def _offer_answered(self, call: CallHandle, media: Negotiated | None,
                        outcome: str) -> None:
        """The ACK of our 200 with an offer (the INVITE had no SDP) came: with a usable
        answer the call is up in the codec it picked and runs like any other; without
        one it is ended by BYE and its source charged like an answered call abandoned.
        ``outcome`` is counted only when this takes the call out of OFFERED: not when
        ``_end_if_unacked`` (the same instant), a BYE or ``stop()`` had, each of which
        counts its own or nothing. Counted before the BYE goes, as the watchdog's is."""
        if media is not None:
            if call.take_answer(media):
                self.dialogs.count_offer(outcome)
                self._start_handler(call)
            return
        if call.transition(CallState.ENDED, EndReason.BAD_ANSWER, only_from=CallState.OFFERED):
            self.dialogs.count_offer(outcome)
            self.send_bye(call)
            self._abandoned(call, EndReason.BAD_ANSWER)

    def _abandoned(self, call: CallHandle, reason: EndReason) -> None:
        """An answered call that never became one: its source pays for the line it held."""
        source = call.invite_source[0] if call.invite_source else ""
        if source:
            self.admission.penalize(source, COST_ABANDONED_CALL,
                                    f"calls abandoned: {reason.value}")

    def _run_handler(self, call: CallHandle) -> None:
        try:
            assert self.on_call is not None
            self.on_call(call)
        except Exception:
            log.exception("call handler for %s failed", call.call_id)
        finally:
            if not call.ended:
                call.hangup()
            with self._lock:
                self._handlers.discard(threading.current_thread())

    def _bind_rtp(self, call: CallHandle, media: Negotiated | None) -> None:
        holder: list[Rtp16Stream] = []

        def bind(port: int) -> None:
            stream = Rtp16Stream(
                # Bound where the SIP socket is (an advertised NAT address is no local one).
                local=(self.sip.bind_ip, port),
                remote=(media.remote_ip, media.remote_port) if media else ("0.0.0.0", 0),
                codec=media.codec if media else "PCMU",
                audio_pt=media.audio_pt if media else 0,
                event_pt=media.event_pt if media else None,
                on_audio=call.rx_audio, on_dtmf=call.rx_dtmf,
                ptime=media.ptime if media else DEFAULT_PTIME,
            )
            stream.bind()
            holder.append(stream)

        call.rtp_port = self._ports.acquire(bind)
        call.rtp = holder[-1]

    def send_invite_2xx(self, call: CallHandle) -> None:
        self.dialogs.send_invite_2xx(call)

    def send_invite_final(self, call: CallHandle, response: bytes) -> None:
        assert call.invite is not None
        if call.final_status is not None:  # (set by ``reject`` before it sends)
            self.admission.count_refusal(call.final_status)
        self.admission.finals.send(call.invite, response, call.invite_source)

    # -- ending ------------------------------------------------------------------------
    def call_ended(self, call: CallHandle) -> None:
        if call.call_id in self._kept:
            self._drop_dialog(call)
        if call.rtp is not None:
            call.rtp.stop()
        if call.rtp_port is not None:
            self._ports.release(call.rtp_port)
            call.rtp_port = None
        # Keep the dialog a little longer to answer retransmitted BYE/INVITE/ACK.
        self._later(self.linger, self._forget, call)

    def _forget(self, call: CallHandle) -> None:
        if not self._running:
            # Stopping: kept to the end, the front end's maps going with it. A call ended
            # by ``stop()`` may have its INVITE still waiting for a first response, which
            # must find the call to be CANCELled or ACKed and hung up (``stop``).
            return
        with self._lock:
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]
        self.dialer.forget(call.call_id)
        self.dialogs.forget(call.call_id)
        self._transactions.forget(call.call_id)

    def send_bye(self, call: CallHandle) -> None:
        if not call.remote_target:
            return
        call.local_cseq += 1
        data = dialog_request(call, "BYE", call.local_cseq, via=self.new_via(),
                              contact=self.contact_uri)
        self._transactions.start(data, in_dialog_dest(call, call.invite_source),
                                call.call_id, "BYE")

    def _keep_dialog(self, call: CallHandle) -> None:
        """An answered call's dialog written once to the ledger (inbound and outbound: the
        watchdog finds it within 0.25 s of the answer); ``call_ended`` removes it."""
        if self.ledger is None or call.call_id in self._kept or not call.remote_target:
            return
        self._kept.add(call.call_id)
        self.ledger.keep(call)
        if call.ended:  # ended as it was written: ``call_ended`` may have looked first
            self._drop_dialog(call)

    def _rekeep(self, call: CallHandle) -> None:
        """A target refresh (a re-INVITE's or UPDATE's Contact) moved the call's remote
        target, or our session refresh raised its CSeq: its ledger record says so too, so
        the BYE after a crash goes there, with a CSeq above our last request's (RFC 3261
        12.2.1.1; before, the record kept the answer's CSeq, review51)."""
        if self.ledger is None or call.call_id not in self._kept:
            return  # not written yet: the watchdog writes the new target
        self.ledger.keep(call)
        if call.ended:  # ended as it was written
            self._drop_dialog(call)

    def _drop_dialog(self, call: CallHandle) -> None:
        if self.ledger is not None:
            self._kept.discard(call.call_id)
            self.ledger.drop(call.call_id)

    def _end_left_dialogs(self) -> None:
        """One BYE to each dialog a process that died on this address left up (its peer
        heard silence until its own timers), sent again by its client transaction until
        a final answer or Timer F; a peer that ended it already answers 481."""
        if self.ledger is None:
            return
        for left in self.ledger.left():
            call = CallHandle(self, direction=Direction(left.direction), call_id=left.call_id,
                              local_tag=left.local_tag, caller="", callee="")
            call.remote_tag, call.remote_target = left.remote_tag, left.remote_target
            call.local_uri, call.remote_uri = left.local_uri, left.remote_uri
            call.route_set, call.local_cseq = list(left.route_set), left.local_cseq
            if left.came_from is not None:
                call.invite_source = (str(left.came_from[0]), int(left.came_from[1]))
            try:
                self.send_bye(call)
            except ValueError as exc:  # a remote target no IPv4 socket reaches
                log.warning("call %s left up by the last process: no BYE (%s)",
                            left.call_id, exc)
                continue
            if not call.remote_target:  # (``send_bye`` sends nothing without one)
                continue
            self.left_ended.append(left.call_id)
            log.info("call %s left up by the last process: BYE sent", left.call_id)

    def _watchdog(self) -> None:
        now = time.monotonic()
        for call in self.active_calls():
            if call.state is CallState.OFFERED:
                self._end_if_unacked(call, now)
                continue
            if call.state is CallState.ANSWERED:
                self._keep_dialog(call)
            rtp = call.rtp
            if call.state is not CallState.ANSWERED or rtp is None or not rtp.NSD:
                continue
            inbound = call.direction is Direction.INBOUND
            source = call.invite_source[0] if inbound and call.invite_source else ""
            acked = call.ack_received.is_set() or not inbound
            if inbound and not call.proven and acked and rtp.rx_packets:
                call.proven = True  # a real call: its INVITE's token back
                self.admission.refund(source)
            reason = stall_reason(
                now=now, answered=rtp.started, acked=acked,
                # Outbound: the callee's phone may stay silent; only the mid-call watchdog.
                # Inbound: a key by SIP INFO counts as a packet (``keyed_by_signalling``).
                rx_packets=rtp.signs_of_life if inbound else 1, last_rx=rtp.last_rx,
                ack_timeout=self.sip.ack_timeout, first_rtp_timeout=self.sip.first_rtp_timeout,
                rtp_timeout=self.rtp_timeout, held=call.held)
            # The interval before its time, the reverse of a refresh's writes of them
            # (``InDialog._session_refreshed``): a refresh landing between the two reads
            # pairs the old interval with either time, never the old time with its new,
            # shorter interval (a call cut as it was refreshed).
            interval = call.session_interval
            if reason is None and session_timer.expired(
                    now=self.session_clock(), refreshed=call.session_refreshed,
                    interval=interval):
                reason = EndReason.SESSION_EXPIRED
            if reason is None:
                if self.refresher.due(call):
                    self.refresher.refresh(call)
                continue
            log.warning("call %s: %s after %.1f s, hanging up", call.call_id, reason.value,
                        now - rtp.started)
            if call.transition(CallState.ENDED, reason):
                self.send_bye(call)
                if inbound and reason in (EndReason.NO_ACK, EndReason.NO_RTP):
                    self._abandoned(call, reason)
        self._later(0.25, self._watchdog)

    def _end_dialog_gone(self, call: CallHandle, reason: EndReason) -> None:
        """Our session refresh found the dialog gone (408, 481, no answer: RFC 4028 10):
        the call ends as the caller's hang-up would, and our BYE goes for the record."""
        if call.transition(CallState.ENDED, reason):
            self.send_bye(call)

    def _end_if_unacked(self, call: CallHandle, now: float) -> None:
        """A delayed offer whose 200 no ACK has answered within ``ack_timeout`` (no media
        yet: only the ACK is waited for) ends as any unacknowledged 200 does."""
        reason = stall_reason(now=now, answered=call.offer_sent_at, acked=False,
                              rx_packets=0, last_rx=now, ack_timeout=self.sip.ack_timeout,
                              first_rtp_timeout=self.sip.first_rtp_timeout,
                              rtp_timeout=self.rtp_timeout, media=False)
        if reason is None:
            return
        log.warning("call %s: %s after %.1f s (our 200 carried the SDP offer), hanging up",
                    call.call_id, reason.value, now - call.offer_sent_at)
        if call.transition(CallState.ENDED, reason, only_from=CallState.OFFERED):
            self.dialogs.count_offer(NO_ACK)
            self.send_bye(call)
            self._abandoned(call, reason)


    # -- outbound (F6) -----------------------------------------------------------------
    def resolve_target(self, target: str) -> tuple[str, tuple[str, int]]:
        """Request-URI and where to send the INVITE (``Dialer.resolve_target``)."""
        return self.dialer.resolve_target(target)

    def call(self, target: str, *, timeout: float | None = None,
             give_up_when: Callable[[], bool] | None = None,
             for_call: CallHandle | None = None) -> DialOutcome:
        """Place a call; returns when it is answered, refused, or ``timeout`` (ring time,
        default ``ring_timeout``) has passed, or is cancelled once ``give_up_when`` is true
        (``Dialer.dial``). An ANSWERED outcome carries the CallHandle. ``for_call``: the
        caller's call a bridge or hand-over leg is for (its hops carried on)."""
        if self.status is PhoneStatus.STOPPED:
            raise RuntimeError("front end not started")
        return self.dialer.dial(target, timeout=timeout, give_up_when=give_up_when,
                                for_call=for_call)

    def open_outbound(self, call: CallHandle, send_invite: Callable[[], None]) -> None:
        """The dialer's new call: its RTP bound, its in-dialog requests routed to it, its
        INVITE sent (``send_invite``), under the lock ``stop()`` stops under, as an INVITE
        we take is: either ``stop()``'s sweep finds the call with its INVITE out, or the
        dial finds the front end stopping and is refused (RuntimeError, nothing sent).
        Checked only by ``call()`` before, a dial begun as the front end stopped sent its
        INVITE after the sweep: a citizen's or a handler's phone rang for a stopped node."""
        with self._lock:
            if not self._running:
                raise RuntimeError("front end stopped")
            self._bind_rtp(call, None)
            self._calls[call.call_id] = call
            send_invite()

    def cancel_outbound(self, call: CallHandle) -> None:
        self.dialer.cancel(call)


__all__ = ["PhoneStatus", "SipFrontEnd", "SipRegistrationError"]
