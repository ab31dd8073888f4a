"""The dialer's handling of what comes back to its INVITE, socket-free: a far end scripted
per request (the responses real SIP stacks give), the requests the dialer sends read back
as SIP. Busy, declined, ring timeout with CANCEL and 487, no answer at all (Timer B), a 2xx
we cannot use, a 2xx retransmitted. The same against SIPp and baresip is in
tests/telephony/test_sip_outbound.py and test_sip_baresip.py."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from config.settings import Settings
from telephony.call import CallHandle, CallState, DialOutcome, EndReason, OutcomeKind
from telephony.rtp import Rtp16Stream
from telephony.sip.dialer import Dialer
from telephony.sip.message import SipMessage, build_response
from telephony.sip.sdp import build_sdp
from telephony.sip.transaction import ClientTxn, udp_via

LOCAL_IP = "127.0.0.1"
PEER = ("192.0.2.20", 5062)
TARGET = f"sip:1001@{PEER[0]}:{PEER[1]}"
OnResponse = Callable[[SipMessage | None], None]


class Link:
    """The front end as the dialer sees it: records what is sent, binds no RTP."""

    local_ip = LOCAL_IP
    contact_uri = f"sip:12345@{LOCAL_IP}:5060"

    def __init__(self) -> None:
        self.sent: list[tuple[SipMessage, tuple[str, int] | None]] = []
        self.byes: list[CallHandle] = []
        self.opened: list[CallHandle] = []
        self.no_ports = False
        self.dialer: Dialer | None = None
        self._n = 0

    def contact_headers(self) -> list[tuple[str, str]]:
        return [("Contact", f"<{self.contact_uri}>")]

    def send_to(self, data: bytes, addr: tuple[str, int] | None) -> None:
        self.sent.append((SipMessage(data), addr))

    def send_invite_2xx(self, call: CallHandle) -> None:
        raise AssertionError("an outbound call sends no 2xx")

    def send_invite_final(self, call: CallHandle, response: bytes) -> None:
        raise AssertionError("an outbound call answers no INVITE")

    def send_bye(self, call: CallHandle) -> None:
        self.byes.append(call)

    def cancel_outbound(self, call: CallHandle) -> None:
        assert self.dialer is not None
        self.dialer.cancel(call)

    def call_ended(self, call: CallHandle) -> None: ...

    def new_tag(self) -> str:
        self._n += 1
        return f"tag{self._n}"

    def new_via(self) -> str:
        self._n += 1
        return udp_via(LOCAL_IP, 5060, f"z9hG4bKdial{self._n}")

    def open_outbound(self, call: CallHandle, send_invite: Callable[[], None]) -> None:
        if self.no_ports:
            raise RuntimeError("no free RTP port")
        self.opened.append(call)
        send_invite()


class FarEnd:
    """Client transactions whose responses come from ``script(method, request)``: a list
    of (code, body) answered at once, in order. ``None`` in place of the list: silence."""

    def __init__(self, script: Callable[[str, SipMessage], list[tuple[int, bytes]] | None]):
        self.script = script
        self.requests: list[tuple[SipMessage, tuple[str, int]]] = []
        self.txns: dict[str, ClientTxn] = {}
        self.invite_response: OnResponse | None = None

    def start(self, data: bytes, dest: tuple[str, int], call_id: str, method: str,
              on_response: OnResponse | None = None) -> ClientTxn:
        request = SipMessage(data)
        self.requests.append((request, dest))
        txn = ClientTxn.of(data, dest, call_id, method, on_response)
        self.txns[method] = txn
        if method == "INVITE":
            self.invite_response = on_response
            self.invite = request
        for code, body in self.script(method, request) or []:
            self.answer(method, code, body)
        return txn

    def answer(self, method: str, code: int, body: bytes = b"",
               extra: list[tuple[str, str]] | None = None) -> None:
        """``code`` to the last ``method`` request; CANCEL's final also ends the INVITE."""
        request = next(r for r, _ in reversed(self.requests) if r.method == method)
        headers = [("Contact", f"<sip:1001@{PEER[0]}:{PEER[1]}>"), *(extra or [])]
        response = SipMessage(build_response(request, code, to_tag="far1", extra=headers,
                                             body=body, content_type="application/sdp"
                                             if body else None))
        txn = self.txns[method]
        if code < 200:
            txn.provisional = True
        else:
            txn.final = response
            txn.done.set()
        if txn.on_response is not None:
            txn.on_response(response)
        if method == "CANCEL" and code == 200:
            self.answer("INVITE", 487)


def make_dialer(script: Callable[[str, SipMessage], list[tuple[int, bytes]] | None],
                ) -> tuple[Dialer, Link, FarEnd]:
    link, far = Link(), FarEnd(script)
    dialer = Dialer(link, far, username=Settings().sip.username, registrar=None)
    link.dialer = dialer
    return dialer, link, far


def acks(link: Link) -> list[tuple[SipMessage, tuple[str, int] | None]]:
    return [(m, a) for m, a in link.sent if m.method == "ACK"]


@pytest.mark.parametrize(("code", "kind", "reason"), [
    (486, OutcomeKind.BUSY, EndReason.BUSY),
    (600, OutcomeKind.BUSY, EndReason.BUSY),
    (603, OutcomeKind.DECLINED, EndReason.DECLINED),
    (480, OutcomeKind.NO_ANSWER, EndReason.NO_ANSWER),
    (404, OutcomeKind.FAILED, EndReason.FAILED),
])
def test_a_final_refusal_is_acked_on_the_invite_branch_and_ends_the_call(
        code: int, kind: OutcomeKind, reason: EndReason) -> None:
    dialer, link, far = make_dialer(
        lambda method, _r: [(100, b""), (180, b""), (code, b"")] if method == "INVITE" else [])
    outcome = dialer.dial(TARGET, timeout=5)
    assert outcome.kind is kind and outcome.status == code and outcome.call is None
    assert outcome.detail == reason.value
    [(ack, addr)] = acks(link)
    assert addr == PEER  # RFC 3261 17.1.1.3: where the INVITE went, same branch
    assert ack.top_branch == far.invite.top_branch
    assert ack.to_tag == "far1" and ack.cseq == (1, "ACK")
    assert link.opened[0].end_reason is reason


def test_ring_timeout_after_ringing_cancels_and_the_487_ends_it_as_no_answer() -> None:
    dialer, link, far = make_dialer(
        lambda method, _r: {"INVITE": [(180, b"")], "CANCEL": [(200, b"")]}[method])
    outcome = dialer.dial(TARGET, timeout=0.05)
    assert outcome.kind is OutcomeKind.NO_ANSWER and outcome.status == 487
    [(cancel, dest)] = [(r, d) for r, d in far.requests if r.method == "CANCEL"]
    # RFC 3261 9.1: the INVITE's Request-URI, branch, From, Call-ID and CSeq number.
    assert dest == PEER and cancel.request_uri == far.invite.request_uri
    assert cancel.top_branch == far.invite.top_branch and cancel.cseq == (1, "CANCEL")
    assert cancel.from_tag == far.invite.from_tag and cancel.call_id == far.invite.call_id
    [(ack, _)] = acks(link)  # the 487 is ACKed too
    assert ack.to_tag == "far1"


def test_ring_timeout_without_even_a_trying_sends_no_cancel_and_fails() -> None:
    dialer, _link, far = make_dialer(lambda _m, _r: None)
    outcome = dialer.dial(TARGET, timeout=0.05)
    assert outcome.kind is OutcomeKind.FAILED and outcome.status is None
    assert [r.method for r, _ in far.requests] == ["INVITE"]
    assert far.txns["INVITE"].done.is_set()  # retransmissions stop


def test_timer_b_without_any_answer_fails_the_call() -> None:
    dialer, link, far = make_dialer(lambda _m, _r: None)
    calls: list[CallHandle] = []

    def script(method: str, _r: SipMessage) -> None:
        assert far.invite_response is not None
        calls.extend(link.opened)
        far.invite_response(None)  # the transaction layer gave up

    far.script = script
    outcome = dialer.dial(TARGET, timeout=5)
    assert outcome.kind is OutcomeKind.FAILED and calls[0].end_reason is EndReason.FAILED


def test_a_2xx_without_usable_sdp_is_acked_then_hung_up() -> None:
    dialer, link, far = make_dialer(lambda _m, _r: [(200, b"")])
    outcome = dialer.dial(TARGET, timeout=5)
    # Failed, and saying why: an answer we could not use (was "failed", 2026-12-06).
    assert outcome.kind is OutcomeKind.FAILED and outcome.detail == "bad_answer"
    [call] = link.opened
    assert link.byes == [call] and call.end_reason is EndReason.BAD_ANSWER
    [(ack, addr)] = acks(link)
    # F4: the ACK of a 2xx is a new request to the Contact, with the far end's To tag.
    assert addr == PEER and ack.request_uri == f"sip:1001@{PEER[0]}:{PEER[1]}"
    assert ack.to_tag == "far1" and ack.top_branch != far.invite.top_branch
    # A retransmitted 2xx gets the same ACK again, in its transaction or after.
    far.answer("INVITE", 200)
    dialer.on_stray_2xx(far.txns["INVITE"].final or far.invite)
    assert [m.top_branch for m, _ in acks(link)] == [ack.top_branch] * 3


def test_a_2xx_with_unreadable_sdp_is_refused_the_same_way() -> None:
    dialer, link, _far = make_dialer(lambda _m, _r: [(200, b"v=0\r\nthis is not sdp\r\n")])
    assert dialer.dial(TARGET, timeout=5).kind is OutcomeKind.FAILED
    assert len(link.byes) == 1


class MediaLink(Link):
    """A link that gives each call an RTP stream, configured for real but never started
    (no socket, no threads): what the dialer does with a usable answer shows."""

    def open_outbound(self, call: CallHandle, send_invite: Callable[[], None]) -> None:
        super().open_outbound(call, lambda: None)
        call.rtp = UnstartedRtp(local=(LOCAL_IP, 30000), remote=("0.0.0.0", 0), codec="PCMU",
                                audio_pt=0, event_pt=None, on_audio=lambda _: None,
                                on_dtmf=call.rx_dtmf)
        call.rtp_port = 30000
        send_invite()


class UnstartedRtp(Rtp16Stream):
    def start(self) -> None:
        self.NSD = True


@pytest.mark.parametrize(("direction", "answered"), [
    ("sendrecv", True), ("recvonly", False), ("inactive", False), ("sendonly", False)])
def test_a_2xx_whose_answer_refuses_our_audio_is_hung_up(direction: str,
                                                         answered: bool) -> None:
    """The answer to our offer starts the call by the rule an inbound call's SDP is read
    by (sdp.call_media): on hold from the start, the citizen would hear nothing; only
    listening (a=recvonly), they could key no answer (every outbound conversation waits
    for keys) -- failed, and retried as any failed call is."""
    answer = build_sdp(ip=PEER[0], port=41000, session_id=3, formats=[(0, "PCMU")],
                       event_pt=None, direction=direction)
    link, far = MediaLink(), FarEnd(lambda _m, _r: [(200, answer)])
    dialer = Dialer(link, far, username=Settings().sip.username, registrar=None)
    link.dialer = dialer
    outcome = dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert len(acks(link)) == 1
    if answered:
        assert outcome.kind is OutcomeKind.ANSWERED and call.state is CallState.ANSWERED
        assert not link.byes
    else:
        assert outcome.kind is OutcomeKind.FAILED and call.end_reason is EndReason.BAD_ANSWER
        assert link.byes == [call]


def test_a_2xx_answering_a_codec_we_did_not_offer_says_why_it_is_hung_up(
        caplog: pytest.LogCaptureFixture) -> None:
    """A handler's phone answering our PCMU/PCMA offer with G.729 alone (the trial's
    scripted phone, 2026-12-06): acked and hung up as before, but the attempt read "200
    failed" and no line said why; now the end is ``bad_answer`` and the log names the
    reason, so whoever reads it can fix the phone or the trunk."""
    answer = build_sdp(ip=PEER[0], port=41000, session_id=3, formats=[(18, "G729")],
                       event_pt=None)
    link, far = MediaLink(), FarEnd(lambda _m, _r: [(200, answer)])
    dialer = Dialer(link, far, username=Settings().sip.username, registrar=None)
    link.dialer = dialer
    with caplog.at_level("WARNING", logger="telephony.sip"):
        outcome = dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert outcome.kind is OutcomeKind.FAILED and outcome.detail == "bad_answer"
    assert call.end_reason is EndReason.BAD_ANSWER and link.byes == [call]
    assert len(acks(link)) == 1
    assert any("no common codec" in r.getMessage() and call.call_id in r.getMessage()
               for r in caplog.records)


def test_a_forgotten_call_gets_no_ack_for_a_late_2xx() -> None:
    dialer, link, far = make_dialer(lambda _m, _r: [(200, b"")])
    dialer.dial(TARGET, timeout=5)
    dialer.forget(link.opened[0].call_id)
    sent = len(link.sent)
    dialer.on_stray_2xx(far.txns["INVITE"].final or far.invite)
    assert len(link.sent) == sent


def test_no_rtp_port_fails_before_any_invite() -> None:
    dialer, link, far = make_dialer(lambda _m, _r: [])
    link.no_ports = True
    outcome = dialer.dial(TARGET, timeout=5)
    assert outcome.kind is OutcomeKind.FAILED and "RTP port" in outcome.detail
    assert not far.requests


def test_cancel_after_the_answer_or_the_end_does_nothing() -> None:
    dialer, link, far = make_dialer(
        lambda method, _r: [(180, b""), (486, b"")] if method == "INVITE" else [])
    dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert call.state is CallState.ENDED
    dialer.cancel(call)
    assert [r.method for r, _ in far.requests] == ["INVITE"]


def test_targets_go_to_the_registrar_in_register_mode_only() -> None:
    sip = Settings().sip
    registrar = (sip.registrar_ip, sip.registrar_port)
    via_registrar = Dialer(Link(), FarEnd(lambda _m, _r: None), username=sip.username,
                           registrar=registrar)
    assert via_registrar.resolve_target("1001") == (
        f"sip:1001@{registrar[0]}:{registrar[1]}", registrar)
    assert via_registrar.resolve_target(TARGET)[1] == registrar
    dialer, _link, _far = make_dialer(lambda _m, _r: None)
    assert dialer.resolve_target(TARGET) == (TARGET, PEER)
    with pytest.raises(ValueError):
        dialer.resolve_target("1001")  # direct mode: a bare number goes nowhere


ANSWER = build_sdp(ip=PEER[0], port=41000, session_id=3, formats=[(0, "PCMU")],
                   event_pt=None)


class StoppingLink(MediaLink):
    """A ``MediaLink`` whose ended calls have their RTP stopped, as the front end's do."""

    def call_ended(self, call: CallHandle) -> None:
        if call.rtp is not None:
            call.rtp.stop()


def media_dialer(script: Callable[[str, SipMessage], list[tuple[int, bytes]] | None],
                 ) -> tuple[Dialer, StoppingLink, FarEnd]:
    link, far = StoppingLink(), FarEnd(script)
    dialer = Dialer(link, far, username=Settings().sip.username, registrar=None)
    link.dialer = dialer
    return dialer, link, far


@pytest.mark.parametrize("giving_up", ["cancel_wait_over", "no_provisional", "timer_b"])
def test_a_2xx_landing_as_the_dial_gives_up_leaves_the_call_answered(
        giving_up: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The callee answers in the instant the dial gives up -- its CANCEL's wait over, no
    provisional at the ring timeout, Timer B -- each on another thread than the 2xx. The
    give-up checked the call unanswered, the 2xx made it ANSWERED, and the give-up then
    ended it: no BYE, the callee left talking to nobody, the dial reporting no answer."""
    scripts = {
        "cancel_wait_over": lambda m, _r: [(180, b"")] if m == "INVITE" else None,
        "no_provisional": lambda _m, _r: None,
        "timer_b": lambda _m, _r: None,
    }
    dialer, link, far = media_dialer(scripts[giving_up])
    if giving_up == "timer_b":
        far.script = lambda _m, _r: far.invite_response(None)
    monkeypatch.setattr("telephony.sip.dialer.CANCEL_WAIT_SECONDS", 0.05)
    real = CallHandle.transition
    crossed: list[CallState] = []

    def transition(call: CallHandle, new: CallState, reason: EndReason | None = None,
                   **kw: CallState | None) -> bool:
        if new is CallState.ENDED and not crossed:
            crossed.append(call.state)  # the 2xx lands first, on the receive thread
            far.answer("INVITE", 200, ANSWER)
        return real(call, new, reason, **kw)

    monkeypatch.setattr(CallHandle, "transition", transition)
    outcome = dialer.dial(TARGET, timeout=0.05)
    [call] = link.opened
    assert crossed and crossed[0] is not CallState.ENDED
    assert outcome.kind is OutcomeKind.ANSWERED and outcome.call is call
    assert call.state is CallState.ANSWERED and call.rtp is not None and call.rtp.NSD
    assert not link.byes and len(acks(link)) == 1


def test_a_2xx_racing_the_give_up_ends_up_answered_or_hung_up_never_between() -> None:
    """The give-up (here Timer B: the 2xx comes as it fires) on its own thread while
    the 2xx is being taken: either the call is up, or it ended and the callee got a BYE
    and our RTP stays stopped. Checked before the media started, a call given up in
    between had its RTP started again after it was stopped (on the closed socket: a
    receive thread spinning for ever) and no BYE."""
    dialer, link, far = media_dialer(lambda _m, _r: None)
    given_up: list[threading.Thread] = []

    class GivenUpRtp(UnstartedRtp):
        def configure(self, media: object) -> None:
            if not given_up:
                assert far.invite_response is not None
                thread = threading.Thread(target=far.invite_response, args=(None,))
                given_up.append(thread)
                thread.start()
                thread.join(timeout=0.5)  # done at once unless the call's lock holds it
            super().configure(media)

    def open_outbound(call: CallHandle, send_invite: Callable[[], None]) -> None:
        StoppingLink.open_outbound(link, call, lambda: None)
        assert call.rtp is not None
        call.rtp.__class__ = GivenUpRtp
        send_invite()

    link.open_outbound = open_outbound  # type: ignore[method-assign]
    far.script = lambda m, _r: [(200, ANSWER)] if m == "INVITE" else None
    dialer.dial(TARGET, timeout=5)
    given_up[0].join()
    [call] = link.opened
    assert call.rtp is not None
    if call.state is CallState.ANSWERED:
        assert call.rtp.NSD and not link.byes
    else:
        assert not call.rtp.NSD and link.byes == [call]


def test_a_1xx_landing_as_the_ring_timeout_gives_up_gets_the_callee_a_cancel(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing heard by the ring timeout: no CANCEL (RFC 3261 9.1), the call failed. A
    180 landing between that check and the call's end had the callee ringing for a call
    we had given up, and nobody cancelled it. Forced by the 180 arriving from the
    give-up's transition."""
    dialer, link, far = make_dialer(lambda _m, _r: None)
    monkeypatch.setattr("telephony.sip.dialer.CANCEL_WAIT_SECONDS", 0.05)
    real = CallHandle.transition
    rang: list[bool] = []

    def transition(call: CallHandle, new: CallState, reason: EndReason | None = None,
                   **kw: CallState | None) -> bool:
        if new is CallState.ENDED and not rang:
            rang.append(True)
            far.answer("INVITE", 180)  # the receive thread, just after the check
        return real(call, new, reason, **kw)

    monkeypatch.setattr(CallHandle, "transition", transition)
    outcome = dialer.dial(TARGET, timeout=0.05)
    assert rang and outcome.kind is not OutcomeKind.ANSWERED
    cancels = [r for r, _ in far.requests if r.method == "CANCEL"]
    assert len(cancels) == 1 and cancels[0].top_branch == far.invite.top_branch
    # A 1xx again (a retransmission) cancels nothing more.
    far.answer("INVITE", 180)
    assert len([r for r, _ in far.requests if r.method == "CANCEL"]) == 1
    assert not link.byes


def test_the_final_code_is_known_when_the_dial_thread_wakes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The callee's 486 ends the call on the receive thread, which wakes the dial thread to
    read the outcome: the code must be on the call by then (it was set after the end once,
    and SIPp's test_refused saw a busy call with no status)."""
    invited = threading.Event()

    def script(method: str, _r: SipMessage) -> list[tuple[int, bytes]] | None:
        invited.set()
        return [(180, b"")] if method == "INVITE" else None

    dialer, _link, far = make_dialer(script)
    outcomes: list[DialOutcome] = []
    dialing = threading.Thread(target=lambda: outcomes.append(dialer.dial(TARGET, timeout=5)))
    real = CallHandle.transition

    def transition(call: CallHandle, new: CallState, reason: EndReason | None = None,
                   **kw: CallState | None) -> bool:
        done = real(call, new, reason, **kw)
        if new is CallState.ENDED:
            dialing.join(timeout=2)  # the dial thread reads its outcome before we go on
        return done

    monkeypatch.setattr(CallHandle, "transition", transition)
    dialing.start()
    assert invited.wait(timeout=5)
    far.answer("INVITE", 486)
    dialing.join()
    assert [(o.kind, o.status) for o in outcomes] == [(OutcomeKind.BUSY, 486)]


SECOND_PHONE = ("192.0.2.21", 5064)


def test_a_second_fork_answering_is_acked_and_hung_up_in_its_own_dialog() -> None:
    """A forking proxy rings the handler's (or the citizen's) two phones and both pick up
    (RFC 3261 13.2.2.4): the call stays with the first, and the second answered phone gets
    its own ACK (its To tag) and a BYE -- not the first dialog's ACK, which it cannot match,
    leaving it to retransmit its 2xx and its user to talk to nobody."""
    dialer, link, far = media_dialer(lambda _m, _r: [(200, ANSWER)])
    outcome = dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert outcome.kind is OutcomeKind.ANSWERED and call.remote_tag == "far1"
    [(first_ack, _)] = acks(link)
    fork = SipMessage(build_response(
        far.invite, 200, to_tag="far2", body=ANSWER, content_type="application/sdp",
        extra=[("Contact", f"<sip:1001@{SECOND_PHONE[0]}:{SECOND_PHONE[1]}>")]))
    assert far.invite_response is not None
    fork.source = ("192.0.2.99", PEER[1])  # not where our INVITE went: no fork of ours
    far.invite_response(fork)
    assert [m.to_tag for m, _ in acks(link)] == ["far1"] and len(far.requests) == 1
    fork.source = PEER  # through the proxy, as a fork's 2xx comes
    far.invite_response(fork)  # within the INVITE transaction
    dialer.on_stray_2xx(fork)  # and retransmitted after it
    fork_acks = [(m, a) for m, a in acks(link) if m.to_tag == "far2"]
    assert len(fork_acks) == 2
    assert all(a == SECOND_PHONE and m.request_uri == f"sip:1001@{SECOND_PHONE[0]}:"
               f"{SECOND_PHONE[1]}" for m, a in fork_acks)
    [(bye, bye_dest)] = [(r, d) for r, d in far.requests if r.method == "BYE"]
    assert bye.to_tag == "far2" and bye_dest == SECOND_PHONE
    assert bye.call_id == call.call_id and bye.from_tag == call.local_tag
    # The first dialog is untouched: still answered, its ACK sent once, no BYE for it.
    assert call.state is CallState.ANSWERED and not link.byes
    assert [m.to_tag for m, _ in acks(link)].count("far1") == 1 == len([first_ack])


@pytest.mark.parametrize(("content_type", "coding", "answered"), [
    ("multipart/mixed;boundary=", "", True), ("application/sdp", "gzip", False)])
def test_a_2xx_body_is_read_by_the_one_body_reader(content_type: str, coding: str,
                                                     answered: bool) -> None:
    """The callee's answer by the one body reader (``sdp.message_sdp``), as an inbound
    INVITE's: a SIP-I gateway answers with the SDP beside the ISUP message (RFC 3204), and
    a body in a coding we do not read is no answer. Read raw, the first was "bad_answer"
    on every call through such a trunk, the second parsed as if plain (review114)."""
    from tests.telephony.test_sip_isup import BOUNDARY, multipart

    sdp = build_sdp(ip=PEER[0], port=41000, session_id=3, formats=[(0, "PCMU")], event_pt=None)
    body = multipart(sdp) if content_type.startswith("multipart") else sdp
    if content_type.startswith("multipart"):
        content_type += BOUNDARY
    headers = [("Content-Type", content_type), *([("Content-Encoding", coding)] if coding else [])]

    class Trunk(FarEnd):
        def answer(self, method: str, code: int, body: bytes = b"",
                   extra: list[tuple[str, str]] | None = None) -> None:
            super().answer(method, code, body, extra or (headers if code == 200 else None))

    link, far = MediaLink(), Trunk(lambda _m, _r: [(200, body)])
    dialer = Dialer(link, far, username=Settings().sip.username, registrar=None)
    link.dialer = dialer
    outcome = dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert far.txns["INVITE"].final is not None
    assert far.txns["INVITE"].final.first("Content-Type") == content_type
    if answered:
        assert outcome.kind is OutcomeKind.ANSWERED and call.state is CallState.ANSWERED
    else:
        assert outcome.kind is OutcomeKind.FAILED and call.end_reason is EndReason.BAD_ANSWER


def test_a_callee_hanging_up_before_the_dial_reads_the_answer_was_still_answered() -> None:
    """The phone answers and its BYE lands before the dialling thread wakes to read the
    2xx (trial54: a handler picking up and hanging up at once, SIPp's BYE 0.3 ms after our
    ACK). The dial read the call's state, ENDED by then, and reported FAILED: the trail said
    "呼叫失败" for a call the handler had picked up, and the attempt had no answered time."""
    dialer, link, far = media_dialer(lambda _m, _r: None)

    def answer_then_hang_up(method: str, _request: SipMessage) -> None:
        if method == "INVITE":
            far.answer("INVITE", 200, ANSWER)
            link.opened[-1].transition(CallState.ENDED, EndReason.REMOTE_HANGUP)

    far.script = answer_then_hang_up
    outcome = dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert call.answered_at is not None and call.end_reason is EndReason.REMOTE_HANGUP
    assert outcome.kind is OutcomeKind.ANSWERED and outcome.call is call
    assert outcome.status == 200


def test_an_answer_we_could_not_use_is_still_failed_not_answered() -> None:
    """The other side of the rule above: a 2xx hung up by us for its unusable SDP was never
    answered (no answered time), and stays FAILED."""
    dialer, link, _far = media_dialer(
        lambda method, _r: [(200, b"")] if method == "INVITE" else None)
    outcome = dialer.dial(TARGET, timeout=5)
    [call] = link.opened
    assert call.answered_at is None and outcome.kind is OutcomeKind.FAILED


def test_a_2xx_after_the_dial_gave_up_is_hung_up_and_never_answered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The other race of trial54's rule: our CANCEL went, its wait ran out and the dial gave
    up (no answer); the callee's 200 lands after. It is acked and hung up, and the call
    gets no answered time: the attempt stays 无人接听, not 接通无声."""
    dialer, link, far = media_dialer(lambda m, _r: [(180, b"")] if m == "INVITE" else None)
    monkeypatch.setattr("telephony.sip.dialer.CANCEL_WAIT_SECONDS", 0.05)
    outcome = dialer.dial(TARGET, timeout=0.05)
    far.answer("INVITE", 200, ANSWER)
    [call] = link.opened
    assert outcome.kind is OutcomeKind.NO_ANSWER and outcome.call is None
    assert call.answered_at is None and call.end_reason is EndReason.NO_ANSWER
    assert link.byes == [call] and len(acks(link)) == 1
