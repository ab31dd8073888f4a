"""A real ``SipFrontEnd`` at the shipped settings with its socket and timer thread replaced
by hand: every datagram it would send is recorded, every timer it sets waits to be fired.
What arrives is real SIP text given to its receive path, from any address a test names,
so that proxies, direct peers and forgers can be told apart without a socket."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from config.settings import Settings, SipSettings
from telephony.call import CallHandle, CallState
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.message import SipMessage
from telephony.sip.sdp import Negotiated, build_sdp, offer_formats
from telephony.sip.timers import Timer
from telephony.sip.transaction import MAX_FORWARDS, new_request, udp_via
from tests.telephony.test_sip_delayed_offer import UnstartedRtp
from ticketing.phones import call_number

LOCAL = ("127.0.0.1", 5080)
PHONE = ("192.0.2.40", 5060)
PROXY = ("192.0.2.50", 5060)
STRANGER = ("198.51.100.9", 5060)


class Clockwork:
    """The front end's socket and timer thread: ``sent`` and ``timers``, fired by hand."""

    def __init__(self) -> None:
        self.sent: list[tuple[SipMessage, tuple[str, int]]] = []
        self.timers: list[Timer] = []

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((SipMessage(data), addr))

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(delay, fn, args)  # ``when``: the delay it was set with
        self.timers.append(timer)
        return timer

    def fire(self) -> float:
        """The earliest timer set (by its delay; ties in the order set), run now."""
        timer = min(self.timers, key=lambda t: t.when)
        self.timers.remove(timer)
        if not timer.cancelled:
            timer.fn(*timer.args)
        return timer.when

    def codes(self) -> list[int]:
        return [m.status_code for m, _ in self.sent if m.type == 0]

    def methods(self) -> list[str]:
        return [m.method for m, _ in self.sent if m.type != 0]

    def stop(self) -> None: ...

    def first_sent(self, method: str) -> SipMessage:
        """The first ``method`` request sent, waited for (another thread, a dial's or a
        bridge's, sends it); fails when none comes."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [m for m, _ in list(self.sent) if m.type != 0 and m.method == method]
            if found:
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"no {method} sent: {self.methods()}")


def front_end(sip: SipSettings | None = None) -> tuple[SipFrontEnd, Clockwork]:
    """A started-looking front end at ``sip`` (shipped: ``Settings().sip``), no socket."""
    wire = Clockwork()
    fe = SipFrontEnd(sip or Settings().sip, lambda call: None, read_number=call_number)
    fe._transport.send = wire.send  # type: ignore[method-assign]
    fe._transactions._send = wire.send  # (bound before: our BYEs and their retransmissions)
    fe._timers = wire  # type: ignore[assignment]
    fe._running = True

    def bind_rtp(call: CallHandle, media: Negotiated | None) -> None:
        # The call's RTP stream, configured as the front end would, with no socket.
        call.rtp_port = 30000
        call.rtp = UnstartedRtp(
            local=(LOCAL[0], 30000),
            remote=(media.remote_ip, media.remote_port) if media else ("0.0.0.0", 0),
            codec=media.codec if media else "PCMU", audio_pt=media.audio_pt if media else 0,
            event_pt=media.event_pt if media else None, on_audio=call.rx_audio,
            on_dtmf=call.rx_dtmf)

    fe._bind_rtp = bind_rtp  # type: ignore[method-assign]
    fe._start_handler = lambda call: None  # type: ignore[method-assign]  # the test answers
    return fe, wire


def our_number() -> str:
    return Settings().sip.numbers[0]


_BRANCHES = itertools.count(1)


def request(method: str, *, call_id: str = "c1", source: tuple[str, int] = PHONE,
            cseq: int = 1, to_tag: str = "", from_tag: str | None = "them",
            branch: str | None = None, body: bytes = b"",
            content_type: str = "application/sdp",
            record_route: str | None = None,
            extra: list[tuple[str, str]] | None = None,
            max_forwards: int | None = MAX_FORWARDS) -> SipMessage:
    """A request as a phone (or a proxy in front of it) sends it to us from ``source``;
    the Contact is always the phone's. ``from_tag`` None: a From without a tag (RFC 2543);
    ``max_forwards`` None: no Max-Forwards (RFC 2543 had it optional)."""
    to = f"<sip:{our_number()}@{LOCAL[0]}>" + (f";tag={to_tag}" if to_tag else "")
    extra = list(extra or []) + ([("Record-Route", record_route)] if record_route else [])
    if body:
        extra.append(("Content-Type", content_type))
    data = new_request(method, f"sip:{our_number()}@{LOCAL[0]}:{LOCAL[1]}",
                       via=udp_via(source[0], source[1],
                                   branch or f"z9hG4bK{method.lower()}{next(_BRANCHES)}"),
                       from_=f"<sip:13800000000@{PHONE[0]}>"
                       + (f";tag={from_tag}" if from_tag is not None else ""), to=to,
                       call_id=call_id, cseq=cseq, contact=f"sip:13800000000@{PHONE[0]}:"
                       f"{PHONE[1]}", extra=extra, body=body,
                       max_forwards=max_forwards if max_forwards is not None else 0)
    if max_forwards is None:
        data = data.replace(b"Max-Forwards: 0\r\n", b"", 1)
    return SipMessage(data, source)


def offer(port: int = 40000) -> bytes:
    return build_sdp(ip=PHONE[0], port=port, session_id=7, formats=offer_formats(),
                     event_pt=101)


def ack_of(invite: SipMessage, response: SipMessage) -> SipMessage:
    """The ACK of a non-2xx final: the INVITE's branch and CSeq number, the answer's To
    tag (RFC 3261 17.1.1.3)."""
    assert invite.source is not None
    return request("ACK", call_id=invite.call_id, source=invite.source,
                   cseq=invite.cseq[0], to_tag=response.to_tag, from_tag=invite.from_tag,
                   branch=invite.top_branch)


def ringing_call(fe: SipFrontEnd, invite: SipMessage) -> CallHandle:
    """The call the front end makes of ``invite`` (with SDP), taken through its receive
    path and not answered yet: the handler's ``answer()`` is next."""
    fe._on_message(invite)
    call = fe._lookup(invite.call_id)
    assert call is not None and call.state is CallState.INCOMING
    return call
