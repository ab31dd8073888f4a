"""The caller's keypad choices after the confirm key (1 保密, 2 不要回访, # to file) and key 1
reading the answer of a recently closed ticket: SIPp caller → our IVR (start_ivr) with real
Vosk, on the shipped dialogue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr import prompts as P
from ivr.call_flow import TRANSITIONS, State
from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake
from ivr.prompts import PromptLibrary
from ivr.runtime import spool_for
from telephony.media import g711
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, assert_ok, carrier_asserts, detached
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.city import City
from ticketing import service
from ticketing.models import Ticket, TicketEvent

WATER = PHRASES[0]


def through_line(pcm16: bytes) -> bytes:
    return g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm16))


def test_choices_come_only_after_the_confirm_key() -> None:
    assert State.PREFERENCES in TRANSITIONS[State.CONFIRM]
    assert TRANSITIONS[State.PREFERENCES] == {State.FILE, State.OPERATOR, State.CALLBACK_NUMBER,
                                              State.HANGUP}
    assert State.PREFERENCES not in TRANSITIONS[State.EMERGENCY]  # never delays a fire


@pytest.mark.sip
def test_keypad_confidential_and_no_callback(ivr_factory, vosk_engine, korean_speech,
                                             tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path / "caller").wait(0.8)
              .say(korean_speech[WATER], then_wait=0.3)
              .key("#", then_wait=1.5)
              .key("1", then_wait=1.5)  # confirm the read-back
              # Each choice is said back in full before the next key.
              .key("1", then_wait=3.0, timestamp=16000 * 50)  # 保密
              .key("2", then_wait=3.0)  # 不要回访
              .key("#", then_wait=0, timestamp=16000 * 60))
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=90).run()
        time.sleep(0.3)
    finally:
        sink.close()
    assert_ok(result)

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    assert ticket.confidential and ticket.no_contact
    (ev,) = detached(ivr.sessions, select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.action == "citizen_preferences"))
    assert ev.data == {"confidential": True, "no_contact": True, "via": "ivr_keypad"}
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    prompts = PromptLibrary(ivr.settings)
    for key in ("preference_confidential", "preference_no_contact"):
        assert through_line(prompts.pcm(key)) in heard, key


@pytest.mark.sip
def test_no_key_files_the_ticket_as_it_is(ivr_factory, vosk_engine, korean_speech,
                                          tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    script = (CallerScript(tmp_path / "caller").wait(0.8)
              .say(korean_speech[WATER], then_wait=0.3)
              .key("#", then_wait=1.5)
              .key("1", then_wait=0))  # then silence: the choices time out
    assert_ok(ivr.caller(script, timeout_s=90).run())
    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert ticket is not None and not ticket.confidential and not ticket.no_contact
    assert "1" in (rec.keys or "")


@pytest.mark.sip
def test_one_reads_a_closed_tickets_answer(ivr_factory, vosk_engine, tmp_path: Path) -> None:
    # The number a source we trust asserts (key 1 reads its tickets).
    ivr = ivr_factory(engine=vosk_engine, trusted_sources=["127.0.0.1"])
    earlier = CallIntake(sessions=ivr.sessions, domain=ivr.domain,
                         spool=spool_for(ivr.settings), call_id="earlier", caller=CALLER)
    earlier.understood("朝阳区望京西园三区5号楼停水了")
    filed = earlier.file_ticket()
    assert filed is not None
    earlier.end()
    city = City(tokens={}, sessions=ivr.sessions)
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with ivr.sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == filed.number)).one()
        assert t.status == "dispatched"
        service.sign(session=s, domain=ivr.domain, ticket=t, actor=handler)
        service.reply(session=s, domain=ivr.domain, ticket=t, actor=handler,
                      text="已抢修，恢复供水", outcome="resolved")
        service.close(session=s, domain=ivr.domain, ticket=t, actor=operator)
        s.commit()
    sink = harness.RtpSink()
    script = CallerScript(tmp_path).wait(0.5).key("1", then_wait=0)
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=60,
                            headers=(carrier_asserts(),)).run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)

    rec = ivr.wait_record(count=2)[-1]
    assert rec.outcome == CallOutcome.STATUS_QUERY
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    prompts = PromptLibrary(ivr.settings)
    none_open = through_line(prompts.pcm("status_none"))
    intro = through_line(prompts.pcm("status_closed_intro"))
    tail = through_line(prompts.number(filed.number[-4:]))
    answer = through_line(prompts.said(
        P.text("status_closed_tail", answer="已解决：已抢修，恢复供水")))
    for part in (none_open, intro, tail, answer):
        assert part in heard
    assert heard.index(none_open) < heard.index(intro) < heard.index(tail) \
        < heard.index(answer)
    assert through_line(prompts.number(filed.number)) not in heard
