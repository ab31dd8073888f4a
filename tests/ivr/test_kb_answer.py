"""The IVR's knowledge-base decision without a call: a question an imported entry answers
goes to ANSWER, a complaint sharing its words does not; key 1 files the 直接答复 through the
console's function (closed at intake, counted in 直办率), and an entry retired before the
filing leaves an ordinary ticket. Shipped settings and the shipped threshold."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
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
# kb030 in the sample is valid until 2026-12-31, the hotline's (Beijing) date.
SEASONAL = "城乡居民医保每年什么时候交"
# 2026-12-31 15:30 and 16:30 UTC: 23:30 on the last valid day and 00:30 the day after, in
# Beijing (UTC still reads the 31st at both: the hotline's date decides).
LAST_VALID_EVENING = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
DAY_AFTER = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
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


# Names much of kb016 (用公积金贷款买房怎么申请) and asks another matter of the loan:
# repaying it, which the entry never speaks of (docs/knowledge.md, step 12).
ANOTHER_MATTER = "公积金贷款买房的钱能提前还款吗，去哪申请"


@pytest.mark.parametrize("may_confirm", [False, True])
def test_another_matter_of_an_entrys_thing_is_neither_answered_nor_offered(
        sessions: sessionmaker[Session], domain: Domain, faq: None, may_confirm: bool) -> None:
    understanding = domain.understand(ANOTHER_MATTER)
    with sessions() as s:
        answer = find_answer(session=s, domain=domain, text=ANOTHER_MATTER,
                             understanding=understanding, may_confirm=may_confirm)
        assert kb.search(session=s, text=ANOTHER_MATTER, today=kb.today(domain),
                         limit=1).hits[0].id == "kb016"
    assert answer is None
    assert after_understanding(understanding, ask_again=False, answer=answer) is State.READBACK


def test_retired_entry_is_not_offered(sessions: sessionmaker[Session], domain: Domain,
                                      faq: None) -> None:
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id="kb026")
        kb.set_status(session=s, actor=Actor.system("test"), entry=entry,
                      status=EntryStatus.RETIRED)
        s.commit()
    assert decide(sessions, domain, QUESTION)[1] != "kb026"


def _pin(domain: Domain, at: datetime) -> None:
    """The project's clock, not the calendar the suite happens to run on."""
    domain.now = lambda: at  # type: ignore[method-assign]


def test_an_entry_past_its_validity_is_neither_answered_nor_offered(
        sessions: sessionmaker[Session], domain: Domain, faq: None) -> None:
    _pin(domain, LAST_VALID_EVENING)
    assert decide(sessions, domain, SEASONAL) == (State.ANSWER, "kb030")
    _pin(domain, DAY_AFTER)
    assert decide(sessions, domain, SEASONAL) == (State.READBACK, None)
    with sessions() as s:
        assert find_answer(session=s, domain=domain, text=SEASONAL,
                           understanding=domain.understand(SEASONAL), may_confirm=True) is None


def _file(sessions: sessionmaker[Session], domain: Domain, tmp_path: Path,
          entry_id: str, question: str = QUESTION) -> Ticket:
    intake = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                        call_id="kb-call-1", caller="13800138000")
    intake.answered()
    intake.understood(question)
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


def test_entry_expired_before_filing_leaves_an_ordinary_ticket(
        sessions: sessionmaker[Session], domain: Domain, faq: None, tmp_path: Path) -> None:
    """Read on the last valid evening, key 1 after midnight: the answer is no longer the
    centre's word, so the question is filed as any other (and nothing fails)."""
    _pin(domain, DAY_AFTER)
    ticket = _file(sessions, domain, tmp_path, "kb030", SEASONAL)
    assert ticket.status != Status.CLOSED.value and ticket.closed_at is None
    assert ticket.demand == SEASONAL


def test_entry_filed_on_its_last_valid_day_is_a_direct_answer(
        sessions: sessionmaker[Session], domain: Domain, faq: None, tmp_path: Path) -> None:
    _pin(domain, LAST_VALID_EVENING)
    ticket = _file(sessions, domain, tmp_path, "kb030", SEASONAL)
    assert ticket.status == Status.CLOSED.value and ticket.unit_id is None


def test_start_up_warns_when_no_entry_can_answer(sessions: sessionmaker[Session],
                                                 domain: Domain,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A fresh install has an empty knowledge base: the IVR says so at start-up instead of
    filing every question as a ticket without a word of why."""
    from ivr.kb_answer import warm

    with caplog.at_level(logging.WARNING, logger="hotline.ivr.kb_answer"):
        warm(sessions=sessions, domain=domain)
    assert kb.IMPORT_HINT in caplog.text and kb.NO_ENTRIES in caplog.text


def test_start_up_is_quiet_with_the_sample_entries(sessions: sessionmaker[Session],
                                                   domain: Domain, faq: None,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from ivr.kb_answer import warm

    with caplog.at_level(logging.WARNING, logger="hotline.ivr.kb_answer"):
        warm(sessions=sessions, domain=domain)
    assert kb.NO_ENTRIES not in caplog.text
