"""Our stop (SIGTERM) reaching callers in the middle of an emergency, a transfer or a
complaint, without sockets: the SIP dialogue's own state handlers on a scripted line (the
rule of ``Dialogue.run`` applied between steps: a turn that ends once the caller is gone or
our stop began goes to HANGUP), the real intake, prompts and ``bridge_to_operator`` over a
front end that records what it was asked to ring. review64's findings:

- an emergency caller heard "您的诉求已记录…请稍后再拨12345" instead of being told to dial
  119/110/120 themselves, and the ask-first hand-over rang 110 during the drain;
- a transfer ringing gave up only on the caller's hang-up, past the drain;
- the stop's notice played before the last turn's decoding began, and the caller's reply to
  the notice went into their complaint.
(The caller's side over a real SIPp line: tests/ivr/test_stop_mid_complaint.py.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from ivr import call_flow
from ivr import prompts as P
from ivr.audio import TurnResult
from ivr.call_flow import TRANSITIONS, Dialogue, IvrServices, State
from ivr.transfer import TransferResult, bridge_to_operator
from telephony.call import DialOutcome, EndReason, OutcomeKind, PlayResult
from tests.ivr import test_kb_confirm as scripted
from tests.ivr.test_emergency_decline import FIRE, NOISE, services  # noqa: F401 (fixture)
from ticketing.models import TicketEvent

COMPLAINT = "我家楼下的餐馆每天晚上油烟很大，窗户都不敢开"


class Line(scripted.ScriptedLine):
    """A CallHandle as our stop leaves it: once ``stop_at`` starts playing the stop begins
    (``IvrServices.stopping``, then ``end_waits``); every prompt after it but the ``last``
    returns at once, as ``CallHandle.play_pcm16`` does."""

    def __init__(self, svc: IvrServices, keys: list[str], stop_at: bytes | None) -> None:
        super().__init__(keys)
        self.svc, self.stop_at = svc, stop_at
        self.log: list[str] = []
        self.waits_ended = False

    def stop(self) -> None:
        self.svc.stopping.set()
        self.waits_ended = True

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        if self.waits_ended and not last:
            return PlayResult.INTERRUPTED
        self.played.append(pcm16)
        self.log.append("notice" if last else "prompt")
        if pcm16 == self.stop_at:
            self.stop()
            return PlayResult.COMPLETED if last else PlayResult.INTERRUPTED  # last: whole
        return PlayResult.COMPLETED

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        return None if self.waits_ended else super().get_dtmf(timeout)

    def end(self, reason: EndReason) -> bool:
        self.ended, self.end_reason = True, reason
        return True


class Spoke(scripted.SaidTurn):
    """The caller spoke (the words given); the turn is listening until closed, and what
    is done to it goes on the line's log beside the prompts."""

    def __init__(self, text: str, log: list[str]) -> None:
        super().__init__(text)
        self.log = log
        self.spoke = self.speech_started = True
        self.listening = True
        self.closed_turn = False
        self.fax_heard = False
        self.waits: dict[str, float] = {}  # the bound each wait was given

    def catch_up(self, timeout: float) -> None:
        self.waits["catch_up"] = timeout

    def hurry(self) -> None: ...

    def wait_drained(self, timeout: float = 3.0) -> None:
        self.waits["wait_drained"] = timeout

    def close_turn(self) -> None:
        self.log.append("close_turn")
        self.listening, self.closed_turn = False, True

    def drop_turn(self) -> None:
        self.log.append("drop_turn")
        self.listening = False

    def finish_turn(self, timeout: float) -> TurnResult:
        self.waits["finish_turn"] = timeout
        self.log.append("finish_turn")
        self.listening = self.closed_turn = False
        return super().finish_turn(timeout)


class FrontEnd:
    """What ``bridge_to_operator`` asks of the front end: the calls it was asked to place;
    each rings until ``give_up_when`` (then NO_ANSWER) or, never given up, times out."""

    def __init__(self, on_ring: Callable[[], None] = lambda: None) -> None:
        self.rang: list[str] = []
        self.gave_up: list[bool] = []
        self.on_ring = on_ring  # while it rings (our stop beginning)

    def call(self, uri: str, *, timeout: float, give_up_when: Any,
             for_call: Any = None) -> DialOutcome:
        self.rang.append(uri)
        self.on_ring()
        self.gave_up.append(bool(give_up_when()))
        return DialOutcome(OutcomeKind.NO_ANSWER, None, 487 if self.gave_up[-1] else 408)


def _run(d: Dialogue, state: State) -> list[State]:
    """``Dialogue.run``'s steps from ``state``, with its rule for a caller gone."""
    path = [state]
    while state is not State.DONE:
        nxt = d.handlers[state]()
        if d._gone and nxt not in (State.HANGUP, State.DONE):
            nxt = State.HANGUP if state is not State.HANGUP else State.DONE
        assert nxt in TRANSITIONS[state], f"{state} -> {nxt}"
        state = nxt
        path.append(state)
    return path


def _dialogue(svc: IvrServices, text: str, keys: list[str], stop_at: str | None,
              ) -> tuple[Dialogue, Line]:
    line = Line(svc, keys, svc.prompts.pcm(stop_at) if stop_at else None)
    d = Dialogue(line, svc)  # type: ignore[arg-type]
    d.audio = Spoke(text, line.log)  # type: ignore[assignment]
    d.intake.answered()
    return d, line


def _with_operator_and_119(svc: IvrServices, monkeypatch: pytest.MonkeyPatch,
                           ) -> tuple[IvrServices, FrontEnd]:
    fe = FrontEnd()
    monkeypatch.setattr(call_flow, "emergency_target",
                        lambda settings, number: (f"sip:{number}@127.0.0.2", "uri"))
    settings = svc.settings.model_copy(update={"sip": svc.settings.sip.model_copy(
        update={"operator_uri": "sip:duty@127.0.0.3"})})
    return replace(svc, settings=settings, frontend=fe), fe  # type: ignore[arg-type]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the dialogue's path
def test_a_stop_while_a_fire_is_understood_tells_the_caller_to_dial_119(
        services: IvrServices) -> None:  # noqa: F811
    """review64's trial: the stop lands while the caller's words are classified as a
    fire. The caller heard "您的诉求已记录…请稍后再拨12345"; now the rule of every hand-over
    that could not be made: "请挂机后直接拨打119"."""
    d, line = _dialogue(services, FIRE, [], None)
    services.stopping.set()
    path = _run(d, State.UNDERSTAND)
    assert path == [State.UNDERSTAND, State.HANGUP, State.DONE]
    assert line.played == [services.prompts.pcm("emergency_failed_119")]
    assert line.end_reason is EndReason.SHUTDOWN


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("text", "cut", "number", "target"), [
    # The model's hand-over, asked first: the stop cut the question, no key came, and no
    # key means "hand over": 110 was rung during the drain, which then cut it. review70:
    # the ticket then said "转接110" to its line; now "stopped" (no call placed).
    (NOISE, "emergency_offer_110", "110", "stopped"),
    # A rule's hand-over, announced ("正在为您转接119"): the stop cut the announcement and
    # the caller was told their words were kept and to call 12345 again. (Journaled before
    # the announcement, so before the stop: the target it was to go to.)
    (FIRE, "emergency_transfer_119", "119", "uri"),
])
def test_a_stop_during_the_hand_over_rings_nobody_and_says_dial_it_yourself(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        text: str, cut: str, number: str, target: str) -> None:
    """Now no call is placed (the hand-over is journaled, as for a caller who hung up
    there) and the caller hears "请挂机后直接拨打<number>"."""
    svc, fe = _with_operator_and_119(services, monkeypatch)
    d, line = _dialogue(svc, text, [], cut)
    path = _run(d, State.UNDERSTAND)
    assert path == [State.UNDERSTAND, State.EMERGENCY, State.HANGUP, State.DONE]
    assert fe.rang == []
    assert line.played[-1] == svc.prompts.pcm(f"emergency_failed_{number}")
    assert line.end_reason is EndReason.SHUTDOWN
    assert d.intake.journal.handover == {"service": number, "target": target}
    d.intake.end(d.outcome)  # the urgent ticket and its events (review121: the result)
    with svc.sessions() as s:
        notes = list(s.scalars(select(TicketEvent.note).where(
            TicketEvent.action.like("emergency_handover%")).order_by(TicketEvent.id)))
    stopped = f"未转接{number}：服务停止，已告知来电人直接拨打{number}"
    assert notes == ([stopped] if target == "stopped" else
                     [f"发起转接{number}", f"未接通{number}：服务停止，已告知来电人直接拨打{number}"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_transfer_ringing_when_the_stop_begins_gives_up_and_the_caller_hears_the_notice(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Key 0 while the stop begins: the operator's phone rang for the ring time (20 s),
    past the drain (15 s), the caller heard ringback and then our BYE. Now the ringing
    gives up at once (``give_up_when``) and the caller hears the notice."""
    svc, fe = _with_operator_and_119(services, monkeypatch)
    d, line = _dialogue(svc, COMPLAINT, [], None)
    fe.on_ring = line.stop
    path = _run(d, State.OPERATOR)
    assert path == [State.OPERATOR, State.HANGUP, State.DONE]
    assert fe.gave_up == [True]  # not left ringing for the ring time
    assert line.played == [svc.prompts.pcm("transfer"), svc.prompts.pcm("stopping_kept")]


def test_no_transfer_is_placed_once_the_stop_began() -> None:
    """``bridge_to_operator`` itself: a stop that began before the call is placed places
    none; one that begins while it rings cancels it (``give_up_when``)."""
    class Call:
        call_id, ended, waits_ended = "c1", False, True

    fe = FrontEnd()
    assert bridge_to_operator(fe, Call(), None, "sip:duty@127.0.0.3",  # type: ignore[arg-type]
                              ring_timeout=20) is TransferResult.NO_ANSWER
    assert fe.rang == []

    caller = Call()
    caller.waits_ended = False
    ringing = FrontEnd(on_ring=lambda: setattr(caller, "waits_ended", True))
    assert bridge_to_operator(ringing, caller, None, "sip:duty@127.0.0.3",  # type: ignore[arg-type]
                              ring_timeout=20) is TransferResult.NO_ANSWER
    assert ringing.gave_up == [True]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_last_turn_is_closed_and_decoding_before_the_notice_plays(
        services: IvrServices) -> None:  # noqa: F811
    """The stop mid-complaint: the turn's decoding began only after the notice (~10 s), so
    notice + ``transcript_wait_seconds`` outlasted ``sip.stop_drain_seconds``, and the
    caller's reply to the notice went into their complaint. Now the turn is closed (its
    decoding queued) first, the notice plays meanwhile, and the words are collected after
    it; the notice no longer promises "我们会尽快办理" (untrue after a 直接答复)."""
    d, line = _dialogue(services, COMPLAINT, [], None)
    services.stopping.set()
    path = _run(d, State.RECORD)
    assert path == [State.RECORD, State.HANGUP, State.DONE]
    assert line.log == ["close_turn", "notice", "finish_turn"]
    assert line.played == [services.prompts.pcm("stopping_kept")]
    assert "尽快办理" not in P.PROMPTS["stopping_kept"]
    assert d.intake.journal.transcript == COMPLAINT and d.intake.journal.stopped


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_stop_while_dial_it_yourself_plays_lets_it_play_whole(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """review70: the hand-over failed (nobody answered) and "请挂机后直接拨打119" was
    playing when the stop landed: it was cut, then the call hung up with no notice and
    not as our stop. An emergency prompt is heard whole: the last words, then our BYE."""
    svc, fe = _with_operator_and_119(services, monkeypatch)
    d, line = _dialogue(svc, FIRE, [], "emergency_failed_119")
    path = _run(d, State.UNDERSTAND)
    assert fe.rang == ["sip:119@127.0.0.2"]
    assert path[-1] is State.DONE
    assert line.played.count(svc.prompts.pcm("emergency_failed_119")) == 1
    assert line.played[-1] == svc.prompts.pcm("emergency_failed_119")
    assert line.log[-1] == "notice"  # played as the last words: a stop does not cut them
    assert line.end_reason is EndReason.SHUTDOWN


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_turn_with_no_speech_is_dropped_before_the_notice(
        services: IvrServices) -> None:  # noqa: F811
    """review70: the stop found a turn open and the caller silent so far; the turn stayed
    open, the caller's reply to the notice ("喂 怎么回事 啊") was heard in it and filed as
    a 服务停止 ticket. Now a turn without speech ends unread before the notice."""
    d, line = _dialogue(services, "喂 怎么回事 啊", [], None)
    d.audio.spoke = d.audio.speech_started = False  # type: ignore[union-attr]
    played = line.play_pcm16

    def reply(pcm16: bytes, *, interrupt_on_dtmf: bool = False,
              last: bool = False) -> PlayResult:
        result = played(pcm16, interrupt_on_dtmf=interrupt_on_dtmf, last=last)
        if last and d.audio is not None and d.audio.listening:
            d.audio.spoke = True  # heard only by a turn still open, as by CallAudio
        return result

    line.play_pcm16 = reply  # type: ignore[method-assign]
    services.stopping.set()
    path = _run(d, State.RECORD)
    assert path == [State.RECORD, State.HANGUP, State.DONE]
    assert line.log == ["drop_turn", "notice"]
    assert line.played == [services.prompts.pcm("stopping")]
    assert d.outcome is None and d.intake.journal.transcript is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_stop_path_waits_no_longer_than_the_drain(
        services: IvrServices) -> None:  # noqa: F811
    """review70: the stop's waits (the speech gate's catch-up up to 5 s, the notice
    ~10.7 s, the turn's decoding up to ``transcript_wait_seconds``) added up past
    ``sip.stop_drain_seconds``. Each wait is now cut to end by the drain's deadline (the
    catch-up leaving the notice its time); what is not done stays for recovery."""
    d, line = _dialogue(services, COMPLAINT, [], None)
    services.stop_deadline = call_flow.time.monotonic() + 2.0  # less than the notice
    services.stopping.set()
    _run(d, State.RECORD)
    waits = d.audio.waits  # type: ignore[union-attr]
    assert waits["catch_up"] == 0.0  # no time left for it once the notice is counted
    assert 0.0 <= waits["finish_turn"] <= 2.0
    assert 0.0 <= waits["wait_drained"] <= 2.0
    assert line.log == ["close_turn", "notice", "finish_turn"]
    assert d.intake.journal.stopped
