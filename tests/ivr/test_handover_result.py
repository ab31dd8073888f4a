"""A hand-over to a line that is configured: the ticket's trail says the attempt and then how
it ended (review121). Before, the event was journaled before the bridge and read "转接119"
whether 119 answered, refused or rang out, the caller told to dial 119 themselves.
Socket-free: the dialogue's own state handlers (the scripted line of test_kb_confirm), the
bridge replaced by its result, and ``bridge_to_operator`` on a front end that gives one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from ivr import call_flow
from ivr import prompts as P
from ivr.call_flow import IvrServices, State
from ivr.intake import Spool
from ivr.transfer import TransferResult, bridge_to_operator
from telephony.call import DialOutcome, OutcomeKind, PlayResult
from tests.ivr import test_kb_confirm as scripted
from tests.ivr.test_emergency_decline import duty_then_line, with_operator
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import TicketEvent

FIRE = "我们楼道里着火了，浓烟很大，快来人啊"  # the rules name 119: handed over at once


@pytest.fixture
def services(settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
             tmp_path: Path) -> IvrServices:
    return IvrServices(settings=settings, sessions=sessions, domain=domain,
                       prompts=P.PromptLibrary(settings), spool=Spool(tmp_path / "spool"),
                       engine=None)


def _trail(sessions: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with sessions() as s:
        return [(e.action, e.note) for e in s.scalars(
            select(TicketEvent).where(TicketEvent.action.like("emergency_handover%"))
            .order_by(TicketEvent.id))]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's words
@pytest.mark.parametrize(("result", "ends", "said"), [
    (TransferResult.BRIDGED, State.DONE, "已接通119"),
    (TransferResult.REFUSED, State.DONE, "未接通119：线路占线或拒绝呼叫，已告知来电人直接拨打119"),
    (TransferResult.NO_ANSWER, State.DONE, "未接通119：无人应答，已告知来电人直接拨打119"),
    (TransferResult.CALLER_GONE, State.HANGUP, "未接通119：来电人在接通前挂机"),
], ids=["answered", "refused", "unanswered", "caller-gone"])
def test_the_trail_says_how_the_hand_over_ended(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch, result: TransferResult,
        ends: State, said: str) -> None:
    monkeypatch.setattr(call_flow, "bridge_to_operator",
                        lambda *a, **k: result)
    monkeypatch.setattr(call_flow, "emergency_target",
                        lambda settings, number: (f"sip:{number}@127.0.0.2", "uri"))
    line_up = replace(services, frontend=object())  # type: ignore[arg-type]
    d, line, path = scripted.converse(line_up, FIRE, [], frozenset({State.DONE}))
    assert path[:2] == [State.UNDERSTAND, State.EMERGENCY] and ends in path
    told = services.prompts.pcm("emergency_failed_119") in line.played
    assert told is (result in (TransferResult.REFUSED, TransferResult.NO_ANSWER))
    d.intake.end(d.outcome)
    assert _trail(services.sessions) == [("emergency_handover", "发起转接119"),
                                         ("emergency_handover_result", said)]


class Refuses:
    """A front end whose call gives ``kind`` at once."""

    def __init__(self, kind: OutcomeKind) -> None:
        self.kind = kind

    def call(self, uri: str, *, timeout: float, give_up_when: Any,
             for_call: Any = None) -> DialOutcome:
        return DialOutcome(self.kind, None, {OutcomeKind.BUSY: 486, OutcomeKind.DECLINED: 603,
                                             OutcomeKind.NO_ANSWER: 408}.get(self.kind, 503))


class Caller:
    call_id, ended, waits_ended = "c1", False, False


@pytest.mark.parametrize(("kind", "result"), [
    (OutcomeKind.BUSY, TransferResult.REFUSED),
    (OutcomeKind.DECLINED, TransferResult.REFUSED),
    (OutcomeKind.FAILED, TransferResult.REFUSED),
    (OutcomeKind.NO_ANSWER, TransferResult.NO_ANSWER),
])
def test_a_refusal_is_told_from_no_answer(kind: OutcomeKind, result: TransferResult) -> None:
    assert bridge_to_operator(Refuses(kind), Caller(), None,  # type: ignore[arg-type]
                              "sip:119@127.0.0.2", ring_timeout=20) is result


class KeysZeroAtTheTransfer(scripted.ScriptedLine):
    """The caller presses 0 during "正在为您转接119" (the key is the script's)."""

    def __init__(self, transfer: bytes) -> None:
        super().__init__(["0"])
        self.transfer = transfer

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        self.played.append(pcm16)
        if pcm16 == self.transfer and interrupt_on_dtmf:
            return PlayResult.INTERRUPTED
        return PlayResult.COMPLETED


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's words
@pytest.mark.parametrize(("operator", "rung", "said"), [
    (TransferResult.BRIDGED, ["sip:duty@127.0.0.3"], "已接通值班员（未拨打119）"),
    (TransferResult.CALLER_GONE, ["sip:duty@127.0.0.3"], "未接通值班员：来电人在接通前挂机"),
    # Unanswered, the operator leaves the caller to 119's line: its result is the trail's.
    (TransferResult.NO_ANSWER, ["sip:duty@127.0.0.3", "sip:119@127.0.0.2"], "已接通119"),
], ids=["operator-answers", "caller-gone", "operator-unanswered"])
def test_key_0_at_the_transfer_says_the_operator_was_rung(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch, operator: TransferResult,
        rung: list[str], said: str) -> None:
    """handover47: 0 during "正在为您转接119" put the caller through to the duty operator and
    the trail kept "发起转接119" alone, read as 119 rung with no end known."""
    tried = duty_then_line(monkeypatch, operator)
    line = KeysZeroAtTheTransfer(services.prompts.pcm("emergency_transfer_119"))
    d, _, path = scripted.converse(with_operator(services), FIRE, [],
                                   frozenset({State.DONE}), line=line)
    assert path[:2] == [State.UNDERSTAND, State.EMERGENCY] and tried == rung
    d.intake.end(d.outcome)
    assert _trail(services.sessions) == [("emergency_handover", "发起转接119"),
                                         ("emergency_handover_result", said)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's words
@pytest.mark.parametrize(("result", "said"), [
    (TransferResult.BRIDGED, "已接通值班员（未拨打119）"),
    (TransferResult.NO_ANSWER, "未接通值班员：无人应答，已告知来电人直接拨打119"),
], ids=["answered", "unanswered"])
def test_a_hand_over_to_the_duty_operator_names_the_operator(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch, result: TransferResult,
        said: str) -> None:
    """handover47: no line for 119, the duty operator is the hand-over's target; the trail
    said "已接通119" when the operator answered, as if 119 had the call."""
    monkeypatch.setattr(call_flow, "bridge_to_operator", lambda *a, **k: result)
    d, _, _ = scripted.converse(with_operator(services), FIRE, [], frozenset({State.DONE}))
    assert d.intake.journal.handover == {"service": "119", "target": "operator"}
    d.intake.end(d.outcome)
    assert _trail(services.sessions) == [("emergency_handover", "发起转接119"),
                                         ("emergency_handover_result", said)]
