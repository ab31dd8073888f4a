"""A citizen's signed survey SMS replayed later. The gateway's HMAC and Twilio's
signature carry no time, so whoever saw one request (gateway logs, a proxy) can send it
again: after a 驳回重办 the ticket awaits a new survey, and the old "11" answered it. A
message id already used for a survey answer is a duplicate, whichever round awaits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from outbound.inbound_sms import Handled, receive
from tests.outbound.support import close_ticket, new_ticket, redo_and_close, ticket
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import SurveyResult

CITIZEN = "+8613811112222"


def _sms(sessions: sessionmaker[Session], domain: Domain, text: str, ref: str) -> Handled:
    with sessions() as s:
        handled = receive(session=s, domain=domain, sender=CITIZEN, text=text, ref=ref)
        s.commit()
        return handled


def test_a_replayed_survey_sms_does_not_answer_the_next_round(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, number)
    assert _sms(sessions, domain, "11", "gw-1") == Handled.SURVEY
    redo_and_close(sessions, domain, city, number, reason="抽查发现未修复")
    assert ticket(sessions, number).status == "closed"

    assert _sms(sessions, domain, "11", "gw-1") == Handled.DUPLICATE
    t = ticket(sessions, number)
    assert t.status == "closed" and t.redo_count == 1
    with sessions() as s:
        rounds = s.scalars(select(SurveyResult.closure_round)
                           .where(SurveyResult.ticket_id == t.id)).all()
    assert rounds == [0]
    # The citizen's own new answer (a new message) still counts.
    assert _sms(sessions, domain, "12", "gw-2") == Handled.SURVEY
    assert ticket(sessions, number).status == "surveyed"


def test_a_replayed_survey_sms_does_not_answer_their_next_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    first = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, first)
    assert _sms(sessions, domain, "11", "gw-7") == Handled.SURVEY
    second = new_ticket(sessions, domain, city, phone=CITIZEN, demand="海淀区安宁里停水了")
    close_ticket(sessions, domain, city, second)
    assert _sms(sessions, domain, "11", "gw-7") == Handled.DUPLICATE
    assert ticket(sessions, second).status == "closed"
