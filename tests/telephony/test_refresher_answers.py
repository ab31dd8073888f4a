"""Our session refreshes' answers and the refreshes that cannot be sent, socket-free: a
``Refresher`` on client transactions whose sends are kept in a list (review51):

* a 422 whose ``Min-SE`` does not go above the interval we sent had the refresh sent again
  at once, refused again, for as long as the peer answered (a loop on the receive thread);
  one that went up by a second each time, as long. Now: only a Min-SE above what we sent
  is tried, ``MAX_RAISES`` times in a row at most; then we stop refreshing and the session
  runs out by its expiry rule (RFC 4028 10).
* a refresh that cannot be sent (a remote target no socket reaches, a re-INVITE with no
  media) was tried again every watchdog turn, a warning each 0.25 s. Now: one warning, and
  the call is no longer refreshed by us.
* on a call we placed, our re-INVITE took the place of the call's INVITE among the client
  transactions (keyed by Call-ID and method): a late copy of the INVITE's 200 reached the
  refresh and went unACKed. Now each is matched by its CSeq number too."""

from __future__ import annotations

import logging

import pytest

from telephony.call import CallHandle, Direction, EndReason
from telephony.sip.dialog import dialog_request
from telephony.sip.message import SipMessage, build_response
from telephony.sip.refresher import MAX_RAISES, Refresher
from telephony.sip.sdp import Negotiated
from telephony.sip.session_timer import MIN_SE_SECONDS
from telephony.sip.transaction import ClientTransactions


class _NoTimer:
    def cancel(self) -> None:
        return None


class Wire:
    """What the refresher sent (requests and ACKs alike), in order; timers never fire."""

    def __init__(self) -> None:
        self.sent: list[SipMessage] = []
        self.ended: list[EndReason] = []
        self.txns = ClientTransactions(send=self.send, later=self.later)
        self.refresher = Refresher(
            transactions=self.txns, send=self.send, new_via=self.new_via,
            contact=lambda: "sip:12345@127.0.0.1:5060", local_ip="127.0.0.1",
            clock=lambda: 1000.0, later=self.later,
            end=lambda call, reason: self.ended.append(reason))
        self._branch = 0

    def send(self, data: bytes, dest: tuple[str, int] | None) -> None:
        self.sent.append(SipMessage(data))

    def later(self, *args: object, **kwargs: object) -> _NoTimer:
        return _NoTimer()

    def new_via(self) -> str:
        self._branch += 1
        return f"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKr{self._branch}"

    def requests(self, method: str) -> list[SipMessage]:
        return [m for m in self.sent if m.method == method]

    def answer(self, request: SipMessage, code: int, extra: list[tuple[str, str]]) -> None:
        self.txns.on_response(SipMessage(build_response(request, code, extra=extra)))


def _call(*, target: str = "sip:caller@127.0.0.83:5060") -> CallHandle:
    call = CallHandle(None, direction=Direction.INBOUND,  # type: ignore[arg-type]
                      call_id="refreshed", local_tag="ours", caller="caller", callee="12345")
    call.remote_tag, call.remote_target = "theirs", target
    call.local_uri, call.remote_uri = "<sip:12345@127.0.0.1>", "<sip:caller@127.0.0.83>"
    call.invite_source = ("127.0.0.83", 5060)
    call.session_interval, call.we_refresh, call.peer_allows_update = (
        MIN_SE_SECONDS, True, True)
    return call


@pytest.mark.parametrize("min_se", [None, MIN_SE_SECONDS, MIN_SE_SECONDS - 10])
def test_a_422_that_does_not_raise_the_interval_is_not_asked_again(
        min_se: int | None) -> None:
    """422 with a Min-SE equal to, below, or without one beside the 90 s we sent: before,
    the UPDATE went again at once (and again for each such 422). Now nothing is sent, we
    stop refreshing, the call goes on until its session runs out."""
    wire, call = Wire(), _call()
    wire.refresher.refresh(call)
    (update,) = wire.requests("UPDATE")
    wire.answer(update, 422, [("Min-SE", str(min_se))] if min_se is not None else [])
    assert wire.requests("UPDATE") == [update]
    assert not call.we_refresh and not wire.ended and call.refreshing == 0
    assert call.session_interval == MIN_SE_SECONDS


def test_422s_raising_the_interval_are_followed_a_bounded_number_of_times() -> None:
    """Each 422 names a Min-SE a second above the last: each is tried, ``MAX_RAISES`` in a
    row at most (before: one UPDATE per 422, without end); a 2xx starts the count again."""
    wire, call = Wire(), _call()
    wire.refresher.refresh(call)
    for n in range(MAX_RAISES + 3):
        last = wire.requests("UPDATE")[-1]
        wire.answer(last, 422, [("Min-SE", str(MIN_SE_SECONDS + 1 + n))])
    updates = wire.requests("UPDATE")
    assert len(updates) == 1 + MAX_RAISES
    assert updates[-1].first("Session-Expires") == f"{MIN_SE_SECONDS + MAX_RAISES};refresher=uac"
    assert updates[-1].first("Min-SE") == str(MIN_SE_SECONDS + MAX_RAISES)
    # Refused, a raised interval never was in force: the expiry still counts the 90 s.
    assert not call.we_refresh and not wire.ended and call.session_interval == MIN_SE_SECONDS
    # A 2xx to a later refresh (the peer's own refresh made us the refresher again) starts
    # the count from nothing.
    call.we_refresh = True
    wire.refresher.refresh(call)
    wire.answer(wire.requests("UPDATE")[-1], 422, [("Min-SE", "200")])
    wire.answer(wire.requests("UPDATE")[-1], 200, [("Session-Expires", "200;refresher=uac")])
    assert call.we_refresh and call.refresh_raises == 0 and call.session_interval == 200


def test_a_raised_interval_is_sent_with_its_min_se() -> None:
    """The ordinary 422 (RFC 4028 7.4): again at once with its Min-SE as the interval."""
    wire, call = Wire(), _call()
    wire.refresher.refresh(call)
    wire.answer(wire.requests("UPDATE")[0], 422, [("Min-SE", "120")])
    again = wire.requests("UPDATE")[1]
    assert again.first("Session-Expires") == "120;refresher=uac"
    assert again.first("Min-SE") == "120"
    assert again.cseq[0] == wire.requests("UPDATE")[0].cseq[0] + 1


@pytest.mark.parametrize("unusable", ["target", "media"])
def test_a_refresh_that_cannot_be_sent_warns_once_and_stops(
        unusable: str, caplog: pytest.LogCaptureFixture) -> None:
    """A remote target no IPv4 socket reaches, or a re-INVITE with no media to offer: the
    watchdog asked again every 0.25 s (``due`` stayed true), each time a warning. Now one
    warning, ``due`` false from then on, nothing sent and our CSeq not moved."""
    wire = Wire()
    call = _call(target="sip:caller@[2001:db8::1]:5060" if unusable == "target" else
                 "sip:caller@127.0.0.83:5060")
    if unusable == "media":
        call.peer_allows_update = False  # a re-INVITE, and call.media is None
    call.invite_source = None
    with caplog.at_level(logging.WARNING, logger="hotline.sip.refresher"):
        for _ in range(5):
            if wire.refresher.due(call):
                wire.refresher.refresh(call)
    assert not wire.sent and call.local_cseq == 1
    assert not call.we_refresh and call.refreshing == 0 and not call.our_offer_out
    assert len([r for r in caplog.records if "no session refresh" in r.message]) == 1


def test_a_late_2xx_to_our_invite_reaches_it_after_our_reinvite_refresh() -> None:
    """A call we placed (CSeq 1 INVITE, its 200 ACKed by the dialer's handler), refreshed
    by our re-INVITE (CSeq 2): a copy of the first 200 that comes after reaches the
    INVITE's handler, which ACKs it again (RFC 3261 13.2.2.4), and the refresh's answer
    its own. Before, the re-INVITE's transaction had replaced the INVITE's: the copy went
    to the refresh, which let it pass as an earlier request's, unACKed."""
    wire, call = Wire(), _call()
    call.direction, call.peer_allows_update = Direction.OUTBOUND, False
    call.media = Negotiated(codec="PCMU", audio_pt=0, event_pt=None,
                            remote_ip="127.0.0.83", remote_port=40000)
    heard: list[int] = []
    invite = dialog_request(call, "INVITE", 1, via=wire.new_via(), contact="sip:us@127.0.0.1")
    wire.txns.start(invite, ("127.0.0.83", 5060), call.call_id, "INVITE",
                    on_response=lambda msg: heard.append(msg.cseq[0] if msg else 0))
    wire.answer(SipMessage(invite), 200, [])
    wire.refresher.refresh(call)
    reinvite = wire.requests("INVITE")[-1]
    assert reinvite.cseq[0] == 2
    wire.answer(SipMessage(invite), 200, [])  # the late copy
    assert heard == [1, 1]
    assert not wire.requests("ACK")  # the refresh's handler ACKed nothing of the INVITE's
    wire.answer(reinvite, 200, [("Session-Expires", f"{MIN_SE_SECONDS};refresher=uac")])
    assert [a.cseq for a in wire.requests("ACK")] == [(2, "ACK")]
    assert heard == [1, 1] and call.we_refresh
