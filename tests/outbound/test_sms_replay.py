"""A citizen's signed survey SMS replayed later. The gateway's HMAC and Twilio's
signature carry no time, so whoever saw one request (gateway logs, a proxy) can send it
again: after a 驳回重办 the ticket awaits a new survey, and the old "11" answered it. A
message id already used for a survey answer is a duplicate, whichever round awaits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from outbound.inbound_sms import Handled, receive
from outbound.models import Kind, OutboundTask
from tests.outbound.support import (
    close_ticket,
    events,
    merge_into,
    new_ticket,
    redo_and_close,
    ticket,
)
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import SurveyResult, Ticket

CITIZEN = "+8613811112222"


def _sms(sessions: sessionmaker[Session], domain: Domain, text: str, ref: str, *,
         sender: str = CITIZEN) -> Handled:
    with sessions() as s:
        handled = receive(session=s, domain=domain, sender=sender, text=text, ref=ref)
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


def test_a_follow_up_redelivered_after_its_ticket_was_merged_is_not_added_again(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """The first delivery went on the citizen's own ticket; a 并单 since made another the
    answering one, and the same message again (the gateway's redelivery, or a replay of the
    signed request) was looked for on that one's trail only: added there and texted to its
    handler a second time (sec57)."""
    primary = new_ticket(sessions, domain, city, phone="13700001111")
    mine = new_ticket(sessions, domain, city, phone=CITIZEN,
                      demand="朝阳区望京西园三区5号楼停水一天了")
    words = "补充一下：是4单元，从昨晚八点开始停水"
    assert _sms(sessions, domain, words, "gw-9") == Handled.FOLLOW_UP
    merge_into(sessions, domain, city, primary, mine)

    assert _sms(sessions, domain, words, "gw-9") == Handled.DUPLICATE
    follow_ups = [e for n in (primary, mine) for e in events(sessions, n)
                  if e.action == "citizen_follow_up"]
    assert len(follow_ups) == 1
    with sessions() as s:
        told = s.scalars(select(OutboundTask.id).join(Ticket, OutboundTask.ticket_id == Ticket.id)
                         .where(Ticket.number.in_([primary, mine]),
                                OutboundTask.kind == Kind.FOLLOW_UP_SMS.value)).all()
    assert len(told) == 1


def test_a_follow_up_redelivered_after_the_citizens_next_ticket_is_not_added_to_it(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """Replayed once the citizen has filed again, the old message went on the new ticket
    (their latest open one), as words about it, and to its handler (sec57)."""
    first = new_ticket(sessions, domain, city, phone=CITIZEN)
    words = "补充一下：是4单元，从昨晚八点开始停水"
    assert _sms(sessions, domain, words, "gw-11") == Handled.FOLLOW_UP
    second = new_ticket(sessions, domain, city, phone=CITIZEN, demand="海淀区安宁里停水了")
    assert _sms(sessions, domain, words, "gw-11") == Handled.DUPLICATE
    assert "citizen_follow_up" not in [e.action for e in events(sessions, second)]
    assert [e.action for e in events(sessions, first)].count("citizen_follow_up") == 1
    # A new message of theirs still goes on the newer ticket.
    assert _sms(sessions, domain, "还是没有水", "gw-12") == Handled.FOLLOW_UP
    assert "citizen_follow_up" in [e.action for e in events(sessions, second)]


NEIGHBOUR = "+8613922223333"


def test_another_citizens_message_under_a_reused_id_is_no_duplicate(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """A message id is the gateway's, and nothing says it is unique across senders (a
    per-number sequence, a counter reset): "the same message again" is the same id from
    the same number. Looked for on every follow-up of a merged group's trail, or of any
    ticket filed from the number (a primary holds its merged callers' words), a
    neighbour's new words under an id once used by another caller were dropped as a
    duplicate, the gateway told 200 (review144)."""
    primary = new_ticket(sessions, domain, city, phone="13700001111")
    mine = new_ticket(sessions, domain, city, phone=CITIZEN,
                      demand="朝阳区望京西园三区5号楼停水一天了")
    theirs = new_ticket(sessions, domain, city, phone=NEIGHBOUR,
                        demand="朝阳区望京西园三区6号楼也停水了")
    merge_into(sessions, domain, city, primary, mine)
    merge_into(sessions, domain, city, primary, theirs)
    assert _sms(sessions, domain, "补充一下：是4单元", "gw-5") == Handled.FOLLOW_UP
    assert _sms(sessions, domain, "6号楼2单元也没水", "gw-5",
                sender=NEIGHBOUR) == Handled.FOLLOW_UP
    # Their own message delivered again is still one.
    assert _sms(sessions, domain, "6号楼2单元也没水", "gw-5",
                sender=NEIGHBOUR) == Handled.DUPLICATE
    notes = [e.note or "" for e in events(sessions, primary) if e.action == "citizen_follow_up"]
    assert len(notes) == 2 and any("6号楼2单元也没水" in n for n in notes)


def test_a_reused_id_on_the_callers_own_merge_primary_is_no_duplicate(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """The neighbour's ticket is the primary a citizen's was merged into: the citizen's
    words went on it. The neighbour's next ticket, and a message of theirs under the
    same id, is theirs (sec57 looked on every ticket filed from the number, this primary
    too: review144)."""
    primary = new_ticket(sessions, domain, city, phone=NEIGHBOUR)
    mine = new_ticket(sessions, domain, city, phone=CITIZEN,
                      demand="朝阳区望京西园三区5号楼停水一天了")
    merge_into(sessions, domain, city, primary, mine)
    assert _sms(sessions, domain, "补充一下：是4单元", "gw-8") == Handled.FOLLOW_UP
    later = new_ticket(sessions, domain, city, phone=NEIGHBOUR, demand="海淀区安宁里停水了")
    assert _sms(sessions, domain, "安宁里3号楼", "gw-8", sender=NEIGHBOUR) == Handled.FOLLOW_UP
    assert "citizen_follow_up" in [e.action for e in events(sessions, later)]
