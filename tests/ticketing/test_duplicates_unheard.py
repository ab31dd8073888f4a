"""A call filed before its words are known is no 重复诉求 of anything, and nothing is one
of it: its category ("other") and place (none) are the placeholder's, not a judgement.

judge40 called the shipped service with no speech model (every call "（录音待转写）"): a
caller's second call, about whatever it was, was linked to their first as
"重复诉求，关联工单 …" and counted on it, and the link stayed when the words came
(``service.attach_transcript`` never looks again)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket

CALLER = "13811115555"


def _filed(sessions: sessionmaker[Session], domain: Domain, city: City, demand: str,
           channel: str = "phone") -> Ticket:
    with transaction(sessions) as s:
        return service.create_ticket(session=s, domain=domain, actor=city.actor("operator"),
                                     channel=channel, caller_phone=CALLER, demand=demand,
                                     accept_now=True)


def test_two_calls_of_one_caller_whose_words_are_pending_are_not_linked(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    first = _filed(sessions, domain, city, service.TRANSCRIPT_PENDING)
    second = _filed(sessions, domain, city, service.TRANSCRIPT_PENDING)
    with sessions() as s:
        assert s.get_one(Ticket, second.id).duplicate_of_id is None
        assert s.get_one(Ticket, first.id).duplicate_count == 0


def test_a_complaint_is_not_linked_to_a_call_whose_words_are_pending(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    pending = _filed(sessions, domain, city, service.TRANSCRIPT_PENDING)
    told = _filed(sessions, domain, city, "我想反映个事情，就是那个，怎么说呢", channel="api")
    with sessions() as s:
        assert s.get_one(Ticket, pending.id).category == s.get_one(Ticket, told.id).category
        assert s.get_one(Ticket, told.id).duplicate_of_id is None
