"""Session refreshes we send (RFC 4028 9, 10), against a real front end at the shipped
settings and a raw UDP caller on loopback: a caller asking ``refresher=uas`` was answered
``refresher=uac`` and never refreshed (the twenty-second round's trial). Now it is answered
``refresher=uas`` and gets our UPDATE (when it allows UPDATE) or re-INVITE at half the
interval; each answer (200, 422, 491, 481) does what RFC 4028 10 says, and the call's
audio and keys go on through the refreshes. The front end's session clock is moved past
the interval instead of waiting it out (``SipFrontEnd.session_clock``)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.call import CallHandle, CallState, EndReason
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.message import SipMessage
from telephony.sip.session_timer import MIN_SE_SECONDS
from tests.support import harness
from tests.support.lines import AnsweringLines as Lines
from tests.support.lines import answered, shipped_front_end
from tests.support.rawsip import RawPeer, header
from tests.support.waiting import SessionClock

pytestmark = pytest.mark.sip

CALLER = "127.0.0.83"
ALLOW_UPDATE = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE\r\n"
ALLOW_NO_UPDATE = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"
RELAY = "application/dtmf-relay"


@pytest.fixture
def front() -> Iterator[tuple[SipFrontEnd, Lines, SessionClock]]:
    lines, clock = Lines(), SessionClock()
    fe = shipped_front_end(lines)
    fe.session_clock = clock  # type: ignore[method-assign]
    yield fe, lines, clock
    fe.stop()


@pytest.fixture
def caller(front: tuple[SipFrontEnd, Lines, SessionClock]) -> Iterator[RawPeer]:
    peer = RawPeer(CALLER, front[0].local_port)
    yield peer
    peer.close()


def _timer(allow: str, refresher: str = "uas") -> str:
    return (f"Supported: timer\r\nSession-Expires: {MIN_SE_SECONDS};refresher={refresher}\r\n"
            + allow)


def _answered(lines: Lines, caller: RawPeer, call_id: str, extra: str
              ) -> tuple[bytes, CallHandle]:
    return answered(lines, caller, call_id, extra=extra)


def _request(peer: RawPeer, method: str, timeout: float = 5.0) -> SipMessage:
    """The next request of ``method`` we send the caller (our 200's copies skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peer.sock.settimeout(max(0.05, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            data = peer.sock.recv(65535)
            if data.startswith(method.encode() + b" "):
                return SipMessage(data)
    raise AssertionError(f"no {method} from us within {timeout} s")


def _reply(peer: RawPeer, request: SipMessage, code: int, extra: str = "",
           body: str = "") -> None:
    """Our caller's answer to a request of ours, its headers copied (RFC 3261 8.2.6.2)."""
    reason = {200: "OK", 422: "Session Interval Too Small", 481: "Call Does Not Exist",
              491: "Request Pending"}[code]
    head = "".join(f"{name}: {request.first(name)}\r\n"
                   for name in ("Via", "From", "To", "Call-ID", "CSeq"))
    content = "Content-Type: application/sdp\r\n" if body else ""
    peer.sock.sendto((f"SIP/2.0 {code} {reason}\r\n{head}{extra}{content}"
                      f"Content-Length: {len(body)}\r\n\r\n{body}").encode(),
                     peer.target)


def _due(clock: SessionClock) -> None:
    """The session clock moved to just past half the interval since the last refresh."""
    clock.skip(MIN_SE_SECONDS / 2 + 1)


def test_a_caller_asking_us_to_refresh_gets_our_updates_and_keeps_its_call(
        front: tuple[SipFrontEnd, Lines, SessionClock], caller: RawPeer) -> None:
    """``refresher=uas`` with UPDATE allowed: answered ``refresher=uas``; at half the
    interval our UPDATE (no SDP, ourselves the refresher); answered 200, the session runs
    again from then, so the call outlives the interval counted from the answer, and
    another UPDATE follows at the next half. A key keyed between them is heard."""
    _, lines, clock = front
    answer, call = _answered(lines, caller, "ours-update", _timer(ALLOW_UPDATE))
    assert header(answer, "Session-Expires") == f"{MIN_SE_SECONDS};refresher=uas"
    assert header(answer, "Require") == "timer"
    assert call.we_refresh and call.session_interval == MIN_SE_SECONDS
    _due(clock)
    update = _request(caller, "UPDATE")
    assert update.first("Session-Expires") == f"{MIN_SE_SECONDS};refresher=uac"
    assert "timer" in update.first("Supported") and not update.body_bytes
    assert update.cseq[0] > 1 and update.first("Call-ID") == "ours-update"
    before = call.session_refreshed
    _reply(caller, update, 200, f"Session-Expires: {MIN_SE_SECONDS};refresher=uac\r\n"
                                "Require: timer\r\n")
    deadline = time.monotonic() + 5
    while call.session_refreshed == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert call.session_refreshed > before and call.refreshing == 0
    # 46 + 46 s from the answer: past the 60 s at which an unrefreshed session ends.
    _due(clock)
    second = _request(caller, "UPDATE")
    assert second.cseq[0] == update.cseq[0] + 1
    assert call.state is CallState.ANSWERED
    to = header(answer, "To")
    caller.send(caller.request("INFO", "ours-update", to=to, from_tag="fours-update", cseq=2,
                               body="Signal=7\r\n", content_type=RELAY))
    assert call.get_dtmf(timeout=2) == "7"
    _reply(caller, second, 200, f"Session-Expires: {MIN_SE_SECONDS};refresher=uac\r\n")
    caller.send(caller.ack(answer, method="BYE", cseq=3))


def test_without_update_a_reinvite_with_our_sdp_unchanged_and_its_ack(
        front: tuple[SipFrontEnd, Lines, SessionClock], caller: RawPeer) -> None:
    """A caller that does not allow UPDATE gets a re-INVITE offering our SDP as answered
    (the same o= line: nothing changed), its 200 ACKed; its 491 (glare) ACKed and the
    re-INVITE sent again within 2 s; our RTP goes on throughout."""
    _, lines, clock = front
    answer, call = _answered(lines, caller, "ours-invite", _timer(ALLOW_NO_UPDATE))
    our_sdp = answer.split(b"\r\n\r\n", 1)[1]
    _due(clock)
    invite = _request(caller, "INVITE")
    assert invite.body_bytes == our_sdp
    assert invite.first("Session-Expires") == f"{MIN_SE_SECONDS};refresher=uac"
    _reply(caller, invite, 491)
    ack = _request(caller, "ACK")
    assert ack.cseq == (invite.cseq[0], "ACK")
    again = _request(caller, "INVITE", timeout=4)
    assert again.cseq[0] == invite.cseq[0] + 1 and again.body_bytes == our_sdp
    _reply(caller, again, 200, f"Session-Expires: {MIN_SE_SECONDS};refresher=uac\r\n",
           body=caller.sdp())
    ack = _request(caller, "ACK")
    assert ack.cseq == (again.cseq[0], "ACK")
    assert call.we_refresh and call.our_offer_out is False and call.refreshing == 0
    # Our audio reaches the caller still, where it was going.
    caller.media.settimeout(1)
    got = caller.media.recv(2048)
    assert len(got) == 12 + 160
    assert call.state is CallState.ANSWERED
    caller.send(caller.ack(answer, method="BYE", cseq=3))



@pytest.mark.parametrize(("method", "allow"), [("INVITE", ALLOW_NO_UPDATE),
                                               ("UPDATE", ALLOW_UPDATE)])
def test_the_2xx_to_our_reinvite_moves_the_target_and_the_media(
        front: tuple[SipFrontEnd, Lines, SessionClock], caller: RawPeer, method: str,
        allow: str) -> None:
    """The 200 to our re-INVITE names another Contact and another media port (an SBC
    re-anchoring the call as it answers): our ACK goes to that Contact (RFC 3261 13.2.2.4,
    12.2.1.2) and our RTP to that port, as for a re-INVITE of the caller's. Before, both
    were ignored: the ACK and later requests went to the old Contact and the audio to the
    old port (review51). The 200 to our UPDATE (no offer in it, yet an SBC may name where
    the media went) is taken the same way, one path: before (loose26) only its Contact."""
    _, lines, clock = front
    _, call = _answered(lines, caller, f"ours-moved-{method}", _timer(allow))
    moved = RawPeer(CALLER, front[0].local_port)
    try:
        _due(clock)
        request = _request(caller, method)
        contact = f"Contact: <sip:caller@{CALLER}:{moved.port}>\r\n"
        _reply(caller, request, 200,
               f"Session-Expires: {MIN_SE_SECONDS};refresher=uac\r\n{contact}",
               body=moved.sdp())
        if method == "INVITE":
            ack = _request(moved, "ACK")
            assert ack.cseq == (request.cseq[0], "ACK")
        moved.media.settimeout(2)
        assert len(moved.media.recv(2048)) == 12 + 160
        # (After the audio: no ACK to wait for on an UPDATE, and the target goes first.)
        assert call.remote_target == f"sip:caller@{CALLER}:{moved.port}"
    finally:
        moved.close()
    assert call.state is CallState.ANSWERED


def test_a_422_is_tried_again_with_its_min_se_and_a_481_ends_the_call(
        front: tuple[SipFrontEnd, Lines, SessionClock], caller: RawPeer) -> None:
    """422 with ``Min-SE: 120``: our UPDATE again at once with 120 s and ``Min-SE: 120``
    (RFC 4028 7.4); then 481 to it: the dialog is gone, the call ends as the caller's
    hang-up and our BYE goes (RFC 4028 10)."""
    _, lines, clock = front
    _, call = _answered(lines, caller, "ours-422", _timer(ALLOW_UPDATE))
    _due(clock)
    first = _request(caller, "UPDATE")
    _reply(caller, first, 422, "Min-SE: 120\r\n")
    second = _request(caller, "UPDATE")
    assert second.first("Session-Expires") == "120;refresher=uac"
    assert second.first("Min-SE") == "120" and second.cseq[0] == first.cseq[0] + 1
    _reply(caller, second, 481)
    bye = _request(caller, "BYE")
    assert bye.first("Call-ID") == "ours-422"
    assert call.wait_ended(5) and call.end_reason is EndReason.REMOTE_HANGUP


def test_a_caller_that_refreshes_itself_is_never_refreshed_by_us(
        front: tuple[SipFrontEnd, Lines, SessionClock], caller: RawPeer) -> None:
    """``refresher=uac``, or no refresher named: answered ``refresher=uac`` as before, and
    we send nothing at half the interval (the caller refreshes)."""
    _, lines, clock = front
    answer, call = _answered(lines, caller, "theirs", _timer(ALLOW_UPDATE, "uac"))
    assert header(answer, "Session-Expires") == f"{MIN_SE_SECONDS};refresher=uac"
    assert not call.we_refresh
    _due(clock)
    with pytest.raises(AssertionError):
        _request(caller, "UPDATE", timeout=1)
    caller.send(caller.ack(answer, method="BYE", cseq=3))


def test_the_ledger_keeps_the_cseq_of_our_refresh(tmp_path: Path) -> None:
    """Our refresh raises our CSeq after the answer: the dialog ledger is written again
    before it goes, so the BYE a restarted process sends from it (CSeq one above the
    record's) is above our last request's (RFC 3261 12.2.1.1). Before, the record kept the
    answer's CSeq 1 and the recovery BYE reused our refresh's CSeq 2 (review51)."""
    lines, clock = Lines(), SessionClock()
    fe = shipped_front_end(lines, dialogs_dir=tmp_path)
    fe.session_clock = clock  # type: ignore[method-assign]
    peer = RawPeer(CALLER, fe.local_port)
    try:
        answer, call = _answered(lines, peer, "ours-ledger", _timer(ALLOW_UPDATE))
        ledger = tmp_path / f"{harness.LOOPBACK}-{fe.local_port}"
        deadline = time.monotonic() + 5
        while not list(ledger.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        _due(clock)
        update = _request(peer, "UPDATE")
        (record,) = ledger.glob("*.json")
        assert json.loads(record.read_text())["local_cseq"] >= update.cseq[0]
        _reply(peer, update, 200, f"Session-Expires: {MIN_SE_SECONDS};refresher=uac\r\n")
        peer.send(peer.ack(answer, method="BYE", cseq=3))
        assert call.wait_ended(5)
    finally:
        peer.close()
        fe.stop()
