"""The IVR's knowledge-base decision without a call: a question an imported entry answers
goes to ANSWER, a complaint sharing its words does not; key 1 files the 直接答复 through the
console's function (closed at intake, counted in 直办率), and an entry retired before the
filing leaves an ordinary ticket. Shipped settings and the shipped threshold."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.call_flow import State, after_understanding
from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake, Spool
from ivr.kb_answer import find_answer
from knowledge import service as kb
from knowledge.models import EntryStatus
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent
from ticketing.reports import figures
from ticketing.states import Status

QUESTION = "想问下失业金在哪里申请"  # kb026, worded unlike the entry
# Shares 派出所/户口 with kb007 (上户口) but reports a problem: a ticket, never an answer.
COMPLAINT = "派出所办户口的窗口态度太差了"


def decide(sessions: sessionmaker[Session], domain: Domain, text: str) -> tuple[State, str | None]:
    understanding = domain.understand(text)
    with sessions() as s:
        answer = find_answer(session=s, domain=domain, text=text, understanding=understanding)
    return (after_understanding(understanding, ask_again=False, answer=answer),
            answer.entry_id if answer else None)


def test_question_an_entry_answers_goes_to_answer(sessions: sessionmaker[Session],
                                                  domain: Domain, faq: None) -> None:
    assert decide(sessions, domain, QUESTION) == (State.ANSWER, "kb026")


def test_complaint_sharing_words_with_an_entry_is_read_back(sessions: sessionmaker[Session],
                                                            domain: Domain, faq: None) -> None:
    assert decide(sessions, domain, COMPLAINT) == (State.READBACK, None)


def test_unsure_words_are_asked_again_before_any_answer(sessions: sessionmaker[Session],
                                                        domain: Domain, faq: None) -> None:
    understanding = domain.understand(QUESTION)
    with sessions() as s:
        answer = find_answer(session=s, domain=domain, text=QUESTION, understanding=understanding)
    assert answer is not None
    assert after_understanding(understanding, ask_again=True, answer=answer) is State.ASK_AGAIN


def test_retired_entry_is_not_offered(sessions: sessionmaker[Session], domain: Domain,
                                      faq: None) -> None:
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id="kb026")
        kb.set_status(session=s, actor=Actor.system("test"), entry=entry,
                      status=EntryStatus.RETIRED)
        s.commit()
    assert decide(sessions, domain, QUESTION)[1] != "kb026"


def _file(sessions: sessionmaker[Session], domain: Domain, tmp_path: Path,
          entry_id: str) -> Ticket:
    intake = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                        call_id="kb-call-1", caller="13800138000")
    intake.answered()
    intake.understood(QUESTION)
    intake.answered_from(entry_id)
    filed = intake.file_ticket(CallOutcome.TICKET)
    assert filed is not None
    assert intake.end(CallOutcome.TICKET)
    with sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == filed.number)).one()
        s.expunge(ticket)
    return ticket


def test_key_1_files_a_direct_answer_counted_in_the_figures(
        sessions: sessionmaker[Session], domain: Domain, faq: None, tmp_path: Path) -> None:
    ticket = _file(sessions, domain, tmp_path, "kb026")
    assert ticket.status == Status.CLOSED.value and ticket.unit_id is None
    assert ticket.channel == "phone" and ticket.call_id == "kb-call-1"
    assert ticket.caller_phone == "+8613800138000" and ticket.transcript == QUESTION
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id="kb026")
        assert ticket.reply_text == entry.answer
        events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                     TicketEvent.action == "answer")).all()
        assert [e.data for e in events] == [{"kb_entry": "kb026", "kb_version": entry.version}]
        f = figures(session=s, actor=Actor.system("test"), now=domain.now(),
                    utility_window=domain.utility_window)
    assert f.answered_directly == 1 and f.direct_answer_rate == 1.0


def test_entry_retired_before_filing_leaves_an_ordinary_ticket(
        sessions: sessionmaker[Session], domain: Domain, faq: None, tmp_path: Path) -> None:
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id="kb026")
        kb.set_status(session=s, actor=Actor.system("test"), entry=entry,
                      status=EntryStatus.RETIRED)
        s.commit()
    ticket = _file(sessions, domain, tmp_path, "kb026")
    assert ticket.status != Status.CLOSED.value and ticket.closed_at is None
    assert ticket.demand == QUESTION
