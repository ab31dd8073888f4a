"""The bridge to an operator, socket-free: while it lasts it tells the call's journal the
call goes on (``alive``), so that the voice job's recovery does not settle a long talk
with the operator as a call whose process died (tests/intake/test_intake.py has the
recovery's side). The bridge against real peers is in test_dialogue_operator.py."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from ivr import transfer
from ivr.transfer import TransferResult, bridge_to_operator
from telephony.call import CallHandle, CallState, DialOutcome, Direction, EndReason, OutcomeKind
from telephony.sip.message import SipMessage, build_response
from tests.telephony.sipwire import PHONE, front_end


class Signalling:
    """What the two legs' handles ask of the SIP layer: nothing goes anywhere."""

    local_ip = "127.0.0.1"

    def __init__(self) -> None:
        self.byes: list[CallHandle] = []

    def contact_headers(self) -> list[tuple[str, str]]:
        return []

    def send_to(self, data: bytes, addr: tuple[str, int] | None) -> None: ...

    def send_invite_2xx(self, call: CallHandle) -> None: ...

    def send_invite_final(self, call: CallHandle, response: bytes) -> None: ...

    def send_bye(self, call: CallHandle) -> None:
        self.byes.append(call)

    def cancel_outbound(self, call: CallHandle) -> None: ...

    def call_ended(self, call: CallHandle) -> None: ...


def leg(signalling: Signalling, direction: Direction, call_id: str) -> CallHandle:
    call = CallHandle(signalling, direction=direction, call_id=call_id, local_tag="t",
                      caller="13811112222", callee="12345")
    # Heard: its phone has sent RTP (the bridge tells a leg that never did apart).
    call.rtp = SimpleNamespace(queue_pcm16=lambda _pcm: None, rx_packets=50, rx_bad=0,  # type: ignore[assignment]
                               tx_packets=50, max_send_gap=0.02)
    call.transition(CallState.ANSWERED)
    return call


def _operator_answers() -> tuple[Signalling, CallHandle, CallHandle, SimpleNamespace]:
    """A caller's leg, and a front end whose dial the operator answers at once."""
    signalling = Signalling()
    caller = leg(signalling, Direction.INBOUND, "caller")
    operator = leg(signalling, Direction.OUTBOUND, "operator")
    frontend = SimpleNamespace(call=lambda _uri, timeout, give_up_when, for_call: DialOutcome(
        OutcomeKind.ANSWERED, call=operator, status=200))
    return signalling, caller, operator, frontend


def test_a_bridge_tells_the_journal_the_call_goes_on_until_it_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    signalling, caller, operator, frontend = _operator_answers()
    monkeypatch.setattr(transfer, "ALIVE_SECONDS", 0.0)
    told: list[CallState] = []

    def alive() -> None:
        told.append(caller.state)
        if len(told) == 3:
            caller.remote_ended(EndReason.REMOTE_HANGUP)  # the citizen hangs up

    audio: Any = SimpleNamespace(forward=None)
    result = bridge_to_operator(frontend, caller, audio, "sip:op@127.0.0.1",  # type: ignore[arg-type]
                                ring_timeout=5, alive=alive)
    assert result is TransferResult.BRIDGED
    assert told == [CallState.ANSWERED] * 3  # told while it lasted, and not after
    assert operator.end_reason is EndReason.LOCAL_HANGUP and signalling.byes == [operator]


def test_the_operator_hanging_up_first_ends_the_callers_leg_with_a_bye() -> None:
    signalling = Signalling()
    caller = leg(signalling, Direction.INBOUND, "caller")
    operator = leg(signalling, Direction.OUTBOUND, "operator")
    operator.remote_ended(EndReason.REMOTE_HANGUP)  # the operator talked, then hung up
    frontend = SimpleNamespace(call=lambda _uri, timeout, give_up_when, for_call: DialOutcome(
        OutcomeKind.ANSWERED, call=operator, status=200))
    audio: Any = SimpleNamespace(forward=None)
    result = bridge_to_operator(frontend, caller, audio, "sip:op@127.0.0.1",  # type: ignore[arg-type]
                                ring_timeout=5)
    # Never a dead line: the caller's leg is ended by us, not left open on silence.
    assert result is TransferResult.BRIDGED and audio.forward is None
    assert caller.end_reason is EndReason.LOCAL_HANGUP and signalling.byes == [caller]


def test_an_operator_leg_answered_and_ended_before_a_sound_never_put_the_caller_through(
) -> None:
    """The operator's (or a 119 desk's) phone picks up and hangs up at once, nothing heard
    from it: the dial reports it answered (``answered_at``, trial54), and the bridge ended
    at once and hung up the citizen, the trail saying 已接通119. Nobody took the call: the
    caller stays with the dialogue, which offers the callback or says to dial 119."""
    signalling = Signalling()
    caller = leg(signalling, Direction.INBOUND, "caller")
    operator = leg(signalling, Direction.OUTBOUND, "operator")
    operator.rtp.rx_packets = 0  # type: ignore[union-attr]
    operator.remote_ended(EndReason.REMOTE_HANGUP)
    frontend = SimpleNamespace(call=lambda _uri, timeout, give_up_when, for_call: DialOutcome(
        OutcomeKind.ANSWERED, call=operator, status=200))
    audio: Any = SimpleNamespace(forward=None)
    result = bridge_to_operator(frontend, caller, audio, "sip:op@127.0.0.1",  # type: ignore[arg-type]
                                ring_timeout=5, emergency=True)
    assert result is TransferResult.REFUSED and audio.forward is None
    assert caller.state is CallState.ANSWERED and signalling.byes == []


def test_the_caller_hanging_up_while_the_operator_rings_cancels_the_operator_at_once(
) -> None:
    fe, wire = front_end()
    caller = leg(Signalling(), Direction.INBOUND, "caller")
    audio: Any = SimpleNamespace(forward=None)
    results: list[TransferResult] = []
    # A ring time no test waits out: only the caller's hang-up can end the ringing.
    bridge = threading.Thread(target=lambda: results.append(bridge_to_operator(
        fe, caller, audio, f"sip:operator@{PHONE[0]}:{PHONE[1]}", ring_timeout=3600)), daemon=True)
    bridge.start()
    invite = wire.first_sent("INVITE")
    fe._on_message(SipMessage(build_response(invite, 180, to_tag="op1"), PHONE))
    caller.remote_ended(EndReason.REMOTE_HANGUP)  # the citizen gives up waiting
    cancel = wire.first_sent("CANCEL")
    assert cancel.top_branch == invite.top_branch and cancel.call_id == invite.call_id
    fe._on_message(SipMessage(build_response(cancel, 200), PHONE))
    fe._on_message(SipMessage(build_response(invite, 487, to_tag="op1"), PHONE))
    bridge.join(timeout=30)
    assert not bridge.is_alive() and results == [TransferResult.CALLER_GONE]
    operator = fe._lookup(invite.call_id)
    assert operator is not None and operator.ended and operator.final_status == 487



def test_a_journal_that_cannot_be_written_never_cuts_the_talk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal is for recovery; the talk with the operator is the citizen's. Its write
    failing (a full disk, the spool directory gone) once ended the bridge: both legs hung
    up mid-sentence by us."""
    signalling, caller, operator, frontend = _operator_answers()
    monkeypatch.setattr(transfer, "ALIVE_SECONDS", 0.0)
    tries: list[CallState] = []

    def alive() -> None:
        tries.append(operator.state)
        if len(tries) == 3:
            operator.remote_ended(EndReason.REMOTE_HANGUP)  # the operator is done
        raise OSError(28, "No space left on device")

    audio: Any = SimpleNamespace(forward=None)
    result = bridge_to_operator(frontend, caller, audio, "sip:op@127.0.0.1",  # type: ignore[arg-type]
                                ring_timeout=5, alive=alive)
    assert result is TransferResult.BRIDGED
    assert tries == [CallState.ANSWERED] * 3  # the talk went on through each failure
    assert operator.end_reason is EndReason.REMOTE_HANGUP and signalling.byes == [caller]
