"""The SIP front end: one UDP socket, registration, inbound admission, outbound dialing.

``SipFrontEnd(settings, on_call)`` answers INVITEs (each accepted call runs ``on_call``
in its own thread) and places calls with ``call(target)``. Modes (``settings.sip.mode``):
"register" keeps a registration at ``registrar_ip:registrar_port`` and sends outbound
INVITEs through it; "direct" never registers and takes INVITEs sent straight to
``bind_ip:port`` (outbound targets must then be full SIP URIs).

Defined outcomes for what arrives (docs/sip.md has the table):
malformed SIP → 400 when answerable, else dropped; INVITE whose SDP is unreadable → 400;
no SDP → 488; SDP without PCMU/PCMA on RTP/AVP, or a c= that is not a unicast IPv4 address
→ 488; Request-URI user not one of ours → 404; more than ``max_calls`` inbound calls, or
more than ``source_call_limit`` from one untrusted address → 486 + Retry-After (calls in
progress untouched); CANCEL before answer → 200 + 487, handler sees ENDED; BYE → 200, call
ENDED; 200 not ACKed within ``ack_timeout``, no first RTP within ``first_rtp_timeout``, no
RTP for ``rtp_timeout`` s → BYE, call ENDED; a session timer agreed and not refreshed → BYE
at the interval less min(32 s, interval/3) (RFC 4028 10), call ENDED (session_expired), a
refresh setting the timer going again. ``Require`` of an option we lack → 420 +
Unsupported; ``Session-Expires`` below 90 s → 422; re-INVITE/UPDATE in a call (session
refresh) → 200 with our SDP unchanged, 488 for an offer we could not serve; UPDATE outside a
dialog → 481. P-Asserted-Identity / Remote-Party-ID name the caller only from a trusted
source (the flood guard's trust list).
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.settings import Settings, SipSettings
from telephony.call import (
    CallHandle,
    CallState,
    DialOutcome,
    Direction,
    EndReason,
    OutcomeKind,
    outcome_for_status,
)
from telephony.rtp import PortPool, Rtp16Stream
from telephony.sip import metrics, session_timer
from telephony.sip.floodguard import (
    COST_ABANDONED_CALL,
    COST_WRONG_NUMBER,
    FloodGuard,
    is_address,
    is_our_number,
    resolve_trusted,
    source_call_limit,
    trusted_entries,
)
from telephony.sip.identity import asserted_caller
from telephony.sip.message import SipMessage, build_response
from telephony.sip.sdp import (
    DEFAULT_EVENT_PT,
    Negotiated,
    NotAcceptable,
    SdpError,
    answer_offer,
    build_sdp,
    negotiate,
    offer_formats,
    parse_sdp,
)
from telephony.sip.timers import T1, T2, TIMER_B, Timer, Timers, stall_reason
from telephony.sip.transaction import (
    ClientTransactions,
    OutboundLeg,
    new_request,
    udp_via,
)
from telephony.sip.transport import SipTransport
from telephony.sip.uri import dial_target, sip_uri, strip_tag, uri_hostport, uri_of, uri_user

log = logging.getLogger("telephony.sip")

# How often trusted host names are resolved again (see _refresh_trusted).
TRUSTED_REFRESH_SECONDS = 30.0

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"
# Sent with every busy refusal: a phone or SBC that redials automatically should wait a
# little, not hammer; 486 (not 503) so that an SBC does not take the whole node out of
# its route set for that long (RFC 3261 21.5.4).
BUSY_RETRY_AFTER_SECONDS = 10
# Refused INVITEs remembered so their ACK is known as part of our transaction (Timer H).
MAX_REFUSALS = 4096


class PhoneStatus(enum.Enum):
    STOPPED = "stopped"
    REGISTERING = "registering"
    READY = "ready"  # registered (register mode) or listening (direct mode)
    REGISTRATION_FAILED = "registration_failed"  # still listening; refresh retried


class SipRegistrationError(RuntimeError):
    """The first REGISTER got no 2xx: start() fails loudly (pyVoIP fault F5)."""


@dataclass
class _Refusal:
    """A final non-2xx answer we sent to an INVITE, waiting for its ACK."""

    to_tag: str
    source_ip: str
    expires: float
    refund: bool  # capacity refusal: its ACK gives the INVITE's token back


# ---------------------------------------------------------------------------------------
# the front end
# ---------------------------------------------------------------------------------------


class SipFrontEnd:
    def __init__(
        self,
        settings: Settings | SipSettings,
        on_call: Callable[[CallHandle], None] | None = None,
        *,
        rtp_timeout: float = 10.0,
        register_expires: int = 300,
        register_timeout: float = 4.0,
        ring_timeout: float = 30.0,
        linger: float = 8.0,
        session_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        sip = settings.sip if isinstance(settings, Settings) else settings
        if sip.mode not in ("register", "direct"):
            raise ValueError(f"sip.mode must be 'register' or 'direct', not {sip.mode!r}")
        self.sip = sip
        self.mode = sip.mode
        self.on_call = on_call
        self.rtp_timeout = rtp_timeout
        self.register_expires = register_expires
        self.register_timeout = register_timeout
        self.ring_timeout = ring_timeout
        self.linger = linger
        # What session timers are measured by: a minute and more (RFC 4028's 90 s minimum),
        # which a test drives instead of waiting it out.
        self.session_clock = session_clock
        self.local_ip = sip.bind_ip
        self.registrar = (sip.registrar_ip, sip.registrar_port)
        self.status = PhoneStatus.STOPPED
        self._transport = SipTransport(
            registrar=self.registrar, username=sip.username, password=sip.password,
            bind=(sip.bind_ip, sip.port), on_message=self._on_message,
        )
        self._ports = PortPool(sip.rtp_port_low, sip.rtp_port_high)
        self._calls: dict[str, CallHandle] = {}
        self._legs: dict[str, OutboundLeg] = {}  # outbound calls' INVITE client side
        self._transactions = ClientTransactions(send=self._transport.send, later=self._later)
        self._lock = threading.RLock()
        self._timers: Timers | None = None
        self._handlers: set[threading.Thread] = set()
        self._register_timer: Timer | None = None
        self.rejected: dict[int, int] = {}  # final codes sent to refused INVITEs, counted
        self._refusals: OrderedDict[str, _Refusal] = OrderedDict()  # by Call-ID
        self._trusted_entries = trusted_entries(sip)
        self.flood = FloodGuard(rate=sip.flood_rate_per_second, burst=sip.flood_burst,
                                ban_seconds=sip.flood_ban_seconds,
                                trusted=resolve_trusted(self._trusted_entries))
        self._transport.admit_malformed = self._admit_malformed

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def local_port(self) -> int:
        return self._transport.myPort

    @property
    def contact_uri(self) -> str:
        return sip_uri(self.sip.username, self.local_ip, self.local_port)

    def contact_headers(self) -> list[tuple[str, str]]:
        return [("Contact", f"<{self.contact_uri}>"), ("Allow", ALLOW),
                session_timer.SUPPORTED_HEADER]

    def start(self) -> None:
        self._transport.start()
        metrics.track(self)
        self._timers = Timers()
        self._timers.call_later(0.25, self._watchdog)
        if not all(is_address(e) for e in self._trusted_entries):
            self._timers.call_later(TRUSTED_REFRESH_SECONDS, self._refresh_trusted)
        if self.mode == "direct":
            self.status = PhoneStatus.READY
            log.info("SIP front end listening on %s:%s (direct)", self.local_ip, self.local_port)
            return
        self.status = PhoneStatus.REGISTERING
        if not self._register(self.register_expires):
            self.stop()
            raise SipRegistrationError(
                f"REGISTER to {self.registrar[0]}:{self.registrar[1]} as "
                f"{self.sip.username!r} got no 2xx within {self.register_timeout} s"
            )
        self.status = PhoneStatus.READY
        self._schedule_refresh(self.register_expires / 2)
        log.info("SIP front end on %s:%s registered to %s:%s", self.local_ip, self.local_port,
                 *self.registrar)

    def stop(self) -> None:
        if self.status is PhoneStatus.STOPPED and self._timers is None:
            return
        was_registered = self.mode == "register" and self.status is PhoneStatus.READY
        self.status = PhoneStatus.STOPPED
        metrics.untrack(self)
        if self._register_timer is not None:
            self._register_timer.cancel()
        for call in self.active_calls():
            try:
                if call.state is CallState.ANSWERED:
                    if call.transition(CallState.ENDED, EndReason.SHUTDOWN):
                        self.send_bye(call)
                else:
                    call.hangup()
            except Exception:
                log.exception("hanging up %s on stop", call.call_id)
        if was_registered:
            self._register(0, timeout=1.0)
        for thread in list(self._handlers):
            thread.join(timeout=2)
        if self._timers is not None:
            self._timers.stop()
            self._timers = None
        self._transport.stop()

    def __enter__(self) -> SipFrontEnd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def active_calls(self) -> list[CallHandle]:
        with self._lock:
            return [c for c in self._calls.values() if not c.ended]

    # -- sending -----------------------------------------------------------------------
    def send_to(self, data: bytes, addr: tuple[str, int] | None) -> None:
        if addr is not None:
            self._transport.send(data, addr)

    def _later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer | None:
        timers = self._timers
        return timers.call_later(delay, fn, *args) if timers is not None else None

    def _via(self) -> str:
        return udp_via(self.local_ip, self.local_port, self._transport.gen_branch())

    # -- registration (F5) -------------------------------------------------------------
    def _register(self, expires: int, timeout: float | None = None) -> bool:
        timeout = self.register_timeout if timeout is None else timeout
        challenge: SipMessage | None = None
        for _ in range(2):  # plain, then digest-answered if challenged
            data = self._transport.register_request(expires=expires, challenge=challenge)
            call_id = SipMessage(data).call_id
            txn = self._transactions.start(data, self.registrar, call_id, "REGISTER")
            txn.done.wait(timeout)
            if not txn.done.is_set():
                self._transactions.end(txn)
            response = txn.final
            if response is None:
                log.error("REGISTER to %s:%s: no answer", *self.registrar)
                return False
            if response.status_code in (401, 407) and self.sip.password and challenge is None:
                challenge = response
                continue
            ok = 200 <= response.status_code < 300
            if not ok:
                log.error("REGISTER to %s:%s refused: %s %s", *self.registrar,
                          response.status_code, response.reason)
            return ok
        return False

    def _schedule_refresh(self, delay: float) -> None:
        self._register_timer = self._later(delay, self._refresh_registration)

    def _refresh_registration(self) -> None:
        if self.status is PhoneStatus.STOPPED:
            return
        threading.Thread(target=self._refresh_worker, name="sip-register", daemon=True).start()

    def _refresh_worker(self) -> None:
        ok = self._register(self.register_expires)
        if self.status is PhoneStatus.STOPPED:
            return
        if ok:
            self.status = PhoneStatus.READY
            self._schedule_refresh(self.register_expires / 2)
        else:
            # Keep listening (calls in progress and direct INVITEs still work); retry soon.
            self.status = PhoneStatus.REGISTRATION_FAILED
            self._schedule_refresh(min(30.0, self.register_expires / 4))

    # -- receiving ---------------------------------------------------------------------
    def _on_message(self, msg: SipMessage) -> None:
        if msg.type == 0:  # response
            if (not self._transactions.on_response(msg) and msg.cseq[1] == "INVITE"
                    and 200 <= msg.status_code < 300):
                self._stray_invite_2xx(msg)
            return
        if not self._admit(msg):
            return
        handler = {
            "INVITE": self._on_invite, "ACK": self._on_ack, "BYE": self._on_bye,
            "CANCEL": self._on_cancel, "OPTIONS": self._on_options, "INFO": self._on_info,
            "UPDATE": self._on_update,
        }.get(msg.method)
        if handler is None:
            code = 405 if msg.method in ("REGISTER", "SUBSCRIBE", "PUBLISH") else 501
            self.send_to(build_response(msg, code, extra=[("Allow", ALLOW)]), msg.source)
            return
        handler(msg)

    def _admit(self, msg: SipMessage) -> bool:
        """Flood guard. Requests of a call we have (in-dialog requests, ACK, CANCEL, a
        retransmitted INVITE) pass untouched, so a ban never cuts a call in progress; so
        does the ACK of a final answer we sent (it carries the To tag only that answer
        had: a blind scanner cannot make it up), which for a busy refusal also gives the
        INVITE's token back. Everything else is charged to its source, a To tag or not."""
        if msg.source is None:
            return True
        with self._lock:
            if msg.call_id in self._calls:
                return True
            refusal = self._refusals.get(msg.call_id) if msg.method == "ACK" else None
            if (refusal is not None and msg.to_tag == refusal.to_tag
                    and refusal.source_ip == msg.source[0]):
                del self._refusals[msg.call_id]
            else:
                refusal = None
        if refusal is not None:
            if refusal.refund and time.monotonic() < refusal.expires:
                self.flood.refund(refusal.source_ip)
            return True
        return self._charge(msg.source[0], f"{msg.method} {msg.call_id[:24]}")

    def _refresh_trusted(self) -> None:
        """Trusted host names (``kamailio`` in compose) are resolved again now and then: a
        proxy restarted on a new address must not find itself banned by its own nodes."""
        if self.status is PhoneStatus.STOPPED:
            return
        # DNS can take seconds: never on the timer thread, which also retransmits for calls.
        threading.Thread(target=self._resolve_trusted, name="sip-trusted-dns",
                         daemon=True).start()
        self._later(TRUSTED_REFRESH_SECONDS, self._refresh_trusted)

    def _resolve_trusted(self) -> None:
        self.flood.set_trusted(resolve_trusted(self._trusted_entries))

    def _admit_malformed(self, source: str) -> bool:
        return self._charge(source, "malformed datagrams")

    def _charge(self, source: str, what: str) -> bool:
        bans = self.flood.bans
        if self.flood.admit(source):
            return True
        metrics.FLOOD_DROPPED.inc()
        if self.flood.bans != bans:
            self._banned(source, what)
        return False

    def _penalize(self, source: str, tokens: float, what: str) -> None:
        if self.flood.penalize(source, tokens):
            self._banned(source, what)

    def _banned(self, source: str, what: str) -> None:
        metrics.FLOOD_BANS.inc()
        log.warning("SIP flood from %s (%s...): its new requests are dropped for %.0f s",
                    source, what, self.flood.ban_seconds)

    def _refuse(self, msg: SipMessage, code: int, reason: str | None = None,
                warning: str = "", extra: list[tuple[str, str]] | None = None,
                capacity: bool = False) -> None:
        """A final non-2xx to an INVITE. ``capacity``: refused for want of a line (ours to
        answer for, not the caller's fault), so it says when to retry and its ACK refunds."""
        headers = list(extra or [])
        if capacity:
            headers.append(("Retry-After", str(BUSY_RETRY_AFTER_SECONDS)))
        if warning:
            headers.append(("Warning", f'399 hotline12345 "{warning}"'))
        self.rejected[code] = self.rejected.get(code, 0) + 1
        log.info("INVITE %s from %s refused: %s %s", msg.call_id, msg.source, code, warning)
        to_tag = self._transport.gen_tag()
        if msg.source is not None:
            with self._lock:
                earlier = self._refusals.get(msg.call_id)
                if earlier is not None and earlier.source_ip == msg.source[0]:
                    to_tag = earlier.to_tag  # a retransmitted INVITE: the same answer
                self._refusals[msg.call_id] = _Refusal(
                    to_tag=to_tag, source_ip=msg.source[0],
                    expires=time.monotonic() + TIMER_B, refund=capacity)
                while len(self._refusals) > MAX_REFUSALS:
                    self._refusals.popitem(last=False)
        self.send_to(build_response(msg, code, reason, to_tag=to_tag, extra=headers),
                      msg.source)

    def _on_invite(self, msg: SipMessage) -> None:
        with self._lock:
            call = self._calls.get(msg.call_id)
        if call is not None:
            if msg.to_tag and msg.to_tag == call.local_tag:
                self._on_reinvite(call, msg)
            elif call.invite is not None and msg.top_branch == call.invite.top_branch:
                if call.last_invite_response is not None:  # retransmitted INVITE
                    self.send_to(call.last_invite_response, msg.source)
            else:
                self.send_to(build_response(msg, 482, to_tag=self._transport.gen_tag()),
                              msg.source)
            return
        if msg.to_tag:
            self.send_to(build_response(msg, 481), msg.source)
            return
        if not is_our_number(self.sip, uri_user(msg.request_uri)):
            # Extension guessing (svwar): costs more than a plain request.
            if msg.source is not None:
                self._penalize(msg.source[0], COST_WRONG_NUMBER - 1, "INVITE to other numbers")
            self._refuse(msg, 404, warning="not a number of this service")
            return
        if self._refuse_options(msg):
            return
        self.send_to(build_response(msg, 100), msg.source)
        content_type = msg.first("Content-Type").split(";")[0].strip().lower()
        if not msg.body_bytes:
            self._refuse(msg, 488, warning="INVITE without an SDP offer is not supported")
            return
        if content_type != "application/sdp":
            self._refuse(msg, 415, extra=[("Accept", "application/sdp")])
            return
        from_value = msg.first("From")
        remote_target = uri_of(msg.first("Contact")) or uri_of(from_value)
        route_set = msg.route_list("Record-Route")
        try:
            offer = parse_sdp(msg.body_bytes)
        except SdpError as exc:
            self._refuse(msg, 400, "Bad Request", warning=f"malformed SDP: {exc}")
            return
        try:  # where our BYE would go: fail now, not on the timer thread at hang-up
            uri_hostport(uri_of(route_set[0]) if route_set else remote_target)
        except ValueError as exc:
            self._refuse(msg, 400, "Bad Request", warning=f"malformed Contact: {exc}")
            return
        try:
            media = answer_offer(offer)
        except NotAcceptable as exc:
            self._refuse(msg, 488, warning=str(exc))
            return
        if self.on_call is None or self.status is PhoneStatus.STOPPED:
            self._refuse(msg, 480, capacity=True)
            return
        source_ip = msg.source[0] if msg.source is not None else ""
        with self._lock:
            live = [c for c in self._calls.values()
                    if c.direction is Direction.INBOUND and not c.ended]
            if len(live) >= self.sip.max_calls:
                self._refuse(msg, 486, warning=f"all {self.sip.max_calls} lines busy",
                             capacity=True)
                return
            limit = source_call_limit(self.sip)
            if not self.flood.is_trusted(source_ip) and sum(
                    1 for c in live if c.invite_source and c.invite_source[0] == source_ip
            ) >= limit:
                self._refuse(msg, 486, warning=f"{limit} lines busy from this address",
                             capacity=True)
                return
            call = CallHandle(self, direction=Direction.INBOUND, call_id=msg.call_id,
                              local_tag=self._transport.gen_tag(),
                              caller=asserted_caller(
                                  msg, trusted=self.flood.is_trusted(source_ip))
                              or uri_user(uri_of(from_value)),
                              callee=uri_user(uri_of(msg.first("To"))))
            call.invite, call.invite_source, call.media = msg, msg.source, media
            call.local_uri = strip_tag(msg.first("To"))
            call.remote_uri = strip_tag(from_value)
            call.remote_tag = msg.from_tag
            call.remote_target = remote_target
            call.route_set = route_set
            self._calls[call.call_id] = call
        try:
            self._bind_rtp(call, media)
        except RuntimeError:
            with self._lock:
                self._calls.pop(call.call_id, None)
            self._refuse(msg, 503, warning="no free RTP port", capacity=True)
            return
        call.codec = media.codec
        ringing = build_response(msg, 180, to_tag=call.local_tag, extra=self.contact_headers())
        call.last_invite_response = ringing
        self.send_to(ringing, msg.source)
        thread = threading.Thread(target=self._run_handler, args=(call,),
                                  name=f"call-{call.call_id[:12]}", daemon=True)
        with self._lock:
            self._handlers.add(thread)
        thread.start()

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
                local=(self.local_ip, port),
                remote=(media.remote_ip, media.remote_port) if media else ("0.0.0.0", 0),
                codec=media.codec if media else "PCMU",
                audio_pt=media.audio_pt if media else 0,
                event_pt=media.event_pt if media else None,
                on_audio=call.rx_audio, on_dtmf=call.rx_dtmf,
            )
            stream.bind()
            holder.append(stream)

        call.rtp_port = self._ports.acquire(bind)
        call.rtp = holder[-1]

    def _refuse_options(self, msg: SipMessage) -> bool:
        """420 for a ``Require`` we do not implement, 422 for a session interval below our
        minimum (RFC 3261 8.2.2.3, RFC 4028 8.1); True when the request was refused. An
        INVITE's refusal waits for its ACK like any other (``_refuse``)."""
        unsupported = session_timer.unsupported_options(msg)
        if unsupported:
            code, extra = 420, [("Unsupported", ", ".join(unsupported))]
        elif session_timer.too_brief(msg):
            code, extra = 422, [("Min-SE", str(session_timer.MIN_SE_SECONDS))]
        else:
            return False
        if msg.method == "INVITE" and not msg.to_tag:
            self._refuse(msg, code, extra=extra)
        else:
            self.send_to(build_response(msg, code, extra=extra), msg.source)
        return True

    def _on_reinvite(self, call: CallHandle, msg: SipMessage) -> None:
        self._on_refresh(call, msg)

    def _on_update(self, msg: SipMessage) -> None:
        """UPDATE (RFC 3311): carriers' session-timer refresh, with or without SDP; only
        inside a dialog of ours (481 otherwise, like BYE)."""
        with self._lock:
            call = self._calls.get(msg.call_id)
        if (call is None or call.ended or msg.to_tag != call.local_tag
                or (call.remote_tag and msg.from_tag != call.remote_tag)):
            self.send_to(build_response(msg, 481), msg.source)
            return
        self._on_refresh(call, msg)

    def _on_refresh(self, call: CallHandle, msg: SipMessage) -> None:
        """A re-INVITE or UPDATE: session refresh or hold. Our media stays as it is (same
        codec, same port; only where we send RTP follows a new offer) and the answer
        carries the same SDP, so a refresh keeps the call and its audio. An offer we could
        not accept at the start of the call (no PCMU/PCMA on RTP/AVP) is refused with 488
        and the call goes on as before; c=0.0.0.0 is the old way to hold (RFC 2543)."""
        media = call.media
        if call.state is not CallState.ANSWERED or media is None:
            self.send_to(build_response(msg, 491), msg.source)
            return
        if self._refuse_options(msg):
            return
        new: Negotiated | None = None
        if msg.body_bytes:
            try:
                offer = parse_sdp(msg.body_bytes)
            except SdpError as exc:
                self.send_to(build_response(msg, 400, extra=[
                    ("Warning", f'399 hotline12345 "malformed SDP: {exc}"')]), msg.source)
                return
            try:
                new = answer_offer(offer)
            except NotAcceptable as exc:
                if offer.connection_ip != "0.0.0.0":
                    self.send_to(build_response(msg, 488, extra=[
                        ("Warning", f'399 hotline12345 "{exc}"')]), msg.source)
                    return
        if new is not None and call.rtp is not None:
            call.rtp.outIP, call.rtp.outPort = new.remote_ip, new.remote_port
        # A re-INVITE without SDP wants our offer in the 200; an UPDATE without SDP none.
        sdp = b""
        if msg.body_bytes or msg.method == "INVITE":
            sdp = build_sdp(ip=self.local_ip, port=call.rtp_port or 0,
                            session_id=call.session_id,
                            formats=[(media.audio_pt, media.codec)], event_pt=media.event_pt)
        self._session_refreshed(call, msg)
        self.send_to(build_response(msg, 200, extra=[
            *self.contact_headers(), *session_timer.answer_headers(msg)], body=sdp),
            msg.source)

    def _session_refreshed(self, call: CallHandle, msg: SipMessage) -> None:
        """Our 2xx to ``msg`` (the INVITE, or a refresh) sets the session timer going with
        the interval it grants (``session_timer.answer_headers`` says the same)."""
        call.session_interval = session_timer.granted_interval(msg)
        call.session_refreshed = self.session_clock()

    def send_invite_2xx(self, call: CallHandle) -> None:
        """Send our 200 OK and retransmit it until the ACK (RFC 3261 13.3.1.4), or until
        the watchdog ends the call for want of one (``ack_timeout``, which frees the line
        long before RFC 3261's 64*T1)."""
        assert call.invite is not None
        self._session_refreshed(call, call.invite)
        self.send_to(call.last_invite_response, call.invite_source)
        metrics.ANSWER_SECONDS.observe(max(0.0, time.time() - call.created_at))
        started = time.monotonic()

        def again(interval: float) -> None:
            if call.ack_received.is_set() or call.state is not CallState.ANSWERED:
                return
            if time.monotonic() - started >= TIMER_B:
                return
            self.send_to(call.last_invite_response, call.invite_source)
            self._later(min(interval * 2, T2), again, min(interval * 2, T2))

        self._later(T1, again, T1)

    def _on_ack(self, msg: SipMessage) -> None:
        with self._lock:
            call = self._calls.get(msg.call_id)
        if call is not None:
            call.ack_received.set()

    def _on_bye(self, msg: SipMessage) -> None:
        with self._lock:
            call = self._calls.get(msg.call_id)
        if call is None or (call.remote_tag and msg.from_tag != call.remote_tag):
            self.send_to(build_response(msg, 481), msg.source)
            return
        self.send_to(build_response(msg, 200), msg.source)
        if call.state is CallState.INCOMING and call.invite is not None:
            # BYE before our 2xx (a confused peer): end the INVITE too.
            call.last_invite_response = build_response(call.invite, 487, to_tag=call.local_tag)
            self.send_to(call.last_invite_response, call.invite_source)
        call.remote_ended(EndReason.REMOTE_HANGUP)

    def _on_cancel(self, msg: SipMessage) -> None:  # F7
        with self._lock:
            call = self._calls.get(msg.call_id)
        if (call is None or call.invite is None
                or msg.top_branch != call.invite.top_branch):
            self.send_to(build_response(msg, 481), msg.source)
            return
        self.send_to(build_response(msg, 200, to_tag=call.local_tag), msg.source)
        if call.state is CallState.INCOMING:
            terminated = build_response(call.invite, 487, to_tag=call.local_tag)
            if call.transition(CallState.ENDED, EndReason.CANCELLED):
                call.last_invite_response = terminated
                self.send_to(terminated, call.invite_source)

    def _on_options(self, msg: SipMessage) -> None:
        self.send_to(build_response(msg, 200, to_tag=None if msg.to_tag else
                                     self._transport.gen_tag(),
                                     extra=[("Allow", ALLOW), ("Accept", "application/sdp"),
                                            session_timer.SUPPORTED_HEADER]),
                      msg.source)

    def _on_info(self, msg: SipMessage) -> None:
        with self._lock:
            call = self._calls.get(msg.call_id)
        if call is None:
            self.send_to(build_response(msg, 481), msg.source)
            return
        self.send_to(build_response(msg, 200), msg.source)
        # SIP INFO DTMF (application/dtmf-relay: "Signal=5"), sent by some trunks.
        m = re.search(rb"Signal\s*=\s*([0-9*#A-Da-d])", msg.body_bytes)
        if m:
            call.rx_dtmf(m.group(1).decode().upper())

    # -- ending ------------------------------------------------------------------------
    def call_ended(self, call: CallHandle) -> None:
        if call.rtp is not None:
            call.rtp.stop()
        if call.rtp_port is not None:
            self._ports.release(call.rtp_port)
            call.rtp_port = None
        # Keep the dialog a little longer to answer retransmitted BYE/INVITE/ACK.
        self._later(self.linger, self._forget, call)

    def _forget(self, call: CallHandle) -> None:
        with self._lock:
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]
                self._legs.pop(call.call_id, None)
        self._transactions.forget(call.call_id)

    def _in_dialog_dest(self, call: CallHandle) -> tuple[str, int]:
        if call.route_set:
            return uri_hostport(uri_of(call.route_set[0]))
        return uri_hostport(call.remote_target)

    def _dialog_request(self, call: CallHandle, method: str, cseq: int,
                        branch_via: str | None = None) -> bytes:
        route = call.route_set if call.direction is Direction.INBOUND else list(
            reversed(call.route_set))
        return new_request(method, call.remote_target, via=branch_via or self._via(),
                           routes=route, from_=f"{call.local_uri};tag={call.local_tag}",
                           to=f"{call.remote_uri};tag={call.remote_tag}",
                           call_id=call.call_id, cseq=cseq, contact=self.contact_uri)

    def send_bye(self, call: CallHandle) -> None:
        if not call.remote_target:
            return
        call.local_cseq += 1
        data = self._dialog_request(call, "BYE", call.local_cseq)
        self._transactions.start(data, self._in_dialog_dest(call), call.call_id, "BYE")

    def _watchdog(self) -> None:
        now = time.monotonic()
        for call in self.active_calls():
            rtp = call.rtp
            if call.state is not CallState.ANSWERED or rtp is None or not rtp.NSD:
                continue
            inbound = call.direction is Direction.INBOUND
            source = call.invite_source[0] if inbound and call.invite_source else ""
            acked = call.ack_received.is_set() or not inbound
            if inbound and not call.proven and acked and rtp.rx_packets:
                call.proven = True  # a real call: its INVITE's token back
                self.flood.refund(source)
            reason = stall_reason(
                now=now, answered=rtp.started, acked=acked,
                # Outbound: the callee's phone may stay silent; only the mid-call watchdog.
                rx_packets=rtp.rx_packets if inbound else 1, last_rx=rtp.last_rx,
                ack_timeout=self.sip.ack_timeout, first_rtp_timeout=self.sip.first_rtp_timeout,
                rtp_timeout=self.rtp_timeout)
            if reason is None and session_timer.expired(
                    now=self.session_clock(), refreshed=call.session_refreshed,
                    interval=call.session_interval):
                reason = EndReason.SESSION_EXPIRED
            if reason is None:
                continue
            log.warning("call %s: %s after %.1f s, hanging up", call.call_id, reason.value,
                        now - rtp.started)
            if call.transition(CallState.ENDED, reason):
                self.send_bye(call)
                if source and reason in (EndReason.NO_ACK, EndReason.NO_RTP):
                    self._penalize(source, COST_ABANDONED_CALL, f"calls abandoned: {reason.value}")
        self._later(0.25, self._watchdog)

    # -- outbound (F6) -----------------------------------------------------------------
    def resolve_target(self, target: str) -> tuple[str, tuple[str, int]]:
        """Request-URI and where to send the INVITE. Register mode sends everything to the
        registrar as outbound proxy; a bare number becomes number@registrar."""
        return dial_target(target, registrar=self.registrar if self.mode == "register" else None)

    def call(self, target: str, *, timeout: float | None = None) -> DialOutcome:
        """Place a call; returns when it is answered, refused, or ``timeout`` (ring time,
        default ``ring_timeout``) has passed. An ANSWERED outcome carries the CallHandle."""
        if self.status is PhoneStatus.STOPPED:
            raise RuntimeError("front end not started")
        uri, dest = self.resolve_target(target)
        domain = self.registrar[0] if self.mode == "register" else self.local_ip
        call = CallHandle(self, direction=Direction.OUTBOUND,
                          call_id=f"{uuid.uuid4().hex}@{self.local_ip}",
                          local_tag=self._transport.gen_tag(), caller=self.sip.username,
                          callee=uri_user(uri))
        call.local_uri = f"<{sip_uri(self.sip.username, domain)}>"
        call.remote_uri = f"<{uri}>"
        try:
            self._bind_rtp(call, None)
        except RuntimeError as exc:
            return DialOutcome(OutcomeKind.FAILED, detail=str(exc))
        leg = OutboundLeg(request_uri=uri, dest=dest, invite_via=self._via())
        with self._lock:
            self._calls[call.call_id] = call
            self._legs[call.call_id] = leg
        sdp = build_sdp(ip=self.local_ip, port=call.rtp_port or 0, session_id=call.session_id,
                        formats=offer_formats(), event_pt=DEFAULT_EVENT_PT)
        invite = new_request("INVITE", uri, via=leg.invite_via,
                             from_=f"{call.local_uri};tag={call.local_tag}", to=call.remote_uri,
                             call_id=call.call_id, cseq=1, contact=self.contact_uri,
                             extra=[("Allow", ALLOW)], body=sdp)
        leg.invite_txn = self._transactions.start(
            invite, dest, call.call_id, "INVITE",
            on_response=lambda m: self._on_invite_response(call, leg, m))
        ring = self.ring_timeout if timeout is None else timeout
        if not call.wait_answered_or_final(ring):
            self.cancel_outbound(call)
            call.wait_answered_or_final(5.0)
            if not call.ended and call.state is not CallState.ANSWERED:
                call.transition(CallState.ENDED, EndReason.NO_ANSWER)
        if call.state is CallState.ANSWERED:
            return DialOutcome(OutcomeKind.ANSWERED, call=call, status=call.final_status)
        kind = {
            EndReason.BUSY: OutcomeKind.BUSY,
            EndReason.DECLINED: OutcomeKind.DECLINED,
            EndReason.NO_ANSWER: OutcomeKind.NO_ANSWER,
            EndReason.CANCELLED: OutcomeKind.NO_ANSWER,
        }.get(call.end_reason or EndReason.FAILED, OutcomeKind.FAILED)
        return DialOutcome(kind, status=call.final_status,
                           detail=(call.end_reason.value if call.end_reason else ""))

    def _on_invite_response(self, call: CallHandle, leg: OutboundLeg,
                            msg: SipMessage | None) -> None:
        if msg is None:  # Timer B: nobody answered the INVITE at all
            if not call.ended and call.state is not CallState.ANSWERED:
                call.transition(CallState.ENDED, EndReason.FAILED)
            return
        code = msg.status_code
        if code < 200:
            if code > 100 and call.state is CallState.DIALING:
                call.transition(CallState.ALERTING)
            leg.provisional = True
            return
        if code >= 300:
            self._ack_non_2xx(call, leg, msg)
            if not call.ended:
                call.final_status = code
                reason = {
                    OutcomeKind.BUSY: EndReason.BUSY,
                    OutcomeKind.DECLINED: EndReason.DECLINED,
                    OutcomeKind.NO_ANSWER: EndReason.NO_ANSWER,
                }.get(outcome_for_status(code), EndReason.FAILED)
                call.transition(CallState.ENDED, reason)
            return
        # 2xx: first one sets up the dialog; retransmissions get the same ACK again.
        if call.state is CallState.ANSWERED or leg.ack is not None:
            if leg.ack is not None:
                self.send_to(leg.ack, self._in_dialog_dest(call))
            return
        call.remote_tag = msg.to_tag
        call.remote_target = uri_of(msg.first("Contact")) or leg.request_uri
        call.route_set = msg.route_list("Record-Route")
        call.final_status = code
        leg.ack = self._dialog_request(call, "ACK", 1)
        self.send_to(leg.ack, self._in_dialog_dest(call))  # F4: right To-tag and R-URI
        media: Negotiated | None = None
        try:
            media = negotiate(parse_sdp(msg.body_bytes)) if msg.body_bytes else None
        except SdpError:
            media = None
        if media is None or call.ended:
            # 2xx after we gave up (CANCEL race) or an answer we cannot use: end it.
            if not call.ended:
                call.transition(CallState.ENDED, EndReason.FAILED)
            self.send_bye(call)
            return
        call.media, call.codec = media, media.codec
        assert call.rtp is not None
        call.rtp.configure(media)
        call.rtp.start()
        call.transition(CallState.ANSWERED)

    def _ack_non_2xx(self, call: CallHandle, leg: OutboundLeg, msg: SipMessage) -> None:
        # RFC 3261 17.1.1.3: the INVITE's Via (same branch) and the response's To.
        self.send_to(new_request("ACK", leg.request_uri, via=leg.invite_via,
                                 from_=f"{call.local_uri};tag={call.local_tag}",
                                 to=msg.first("To"), call_id=call.call_id, cseq=1), leg.dest)

    def cancel_outbound(self, call: CallHandle) -> None:
        with self._lock:
            leg = self._legs.get(call.call_id)
        txn = leg.invite_txn if leg is not None else None
        if leg is None or txn is None or call.ended or call.state is CallState.ANSWERED:
            return
        if not txn.provisional:
            # RFC 3261 9.1: no CANCEL before a provisional; just stop retransmitting.
            # Not even a 100 Trying: the peer is unreachable, which is a failure.
            txn.done.set()
            call.transition(CallState.ENDED, EndReason.FAILED)
            return
        # RFC 3261 9.1: the INVITE's Request-URI, Via branch, From, To and CSeq number.
        cancel = new_request("CANCEL", leg.request_uri, via=leg.invite_via,
                             from_=f"{call.local_uri};tag={call.local_tag}",
                             to=call.remote_uri, call_id=call.call_id, cseq=1)
        self._transactions.start(cancel, leg.dest, call.call_id, "CANCEL")

    def _stray_invite_2xx(self, msg: SipMessage) -> None:
        """A 2xx for an INVITE we no longer track (e.g. after stop): ACK and BYE it so the
        far end does not keep a half-open call."""
        with self._lock:
            call = self._calls.get(msg.call_id)
            leg = self._legs.get(msg.call_id)
        if call is not None and leg is not None and leg.ack is not None:
            self.send_to(leg.ack, self._in_dialog_dest(call))
