"""A call filed before its words are known is no 重复诉求 of anything, and nothing is one
of it: its category ("other") and place (none) are the placeholder's, not a judgement.

judge40 called the shipped service with no speech model (every call "（录音待转写）"): a
caller's second call, about whatever it was, was linked to their first as
"重复诉求，关联工单 …" and counted on it. Once its words come (``service.attach_transcript``)
it is judged as a call with words is (review99: judge40 left it linked to nothing for good,
so a caller's second call about the same burst pipe was never linked)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket, TicketEvent
from ticketing.queries import LINK_EVENT

CALLER = "13811115555"


def _filed(sessions: sessionmaker[Session], domain: Domain, city: City, demand: str,
           channel: str = "phone", caller: str = CALLER) -> Ticket:
    with transaction(sessions) as s:
        return service.create_ticket(session=s, domain=domain, actor=city.actor("operator"),
                                     channel=channel, caller_phone=caller, demand=demand,
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


# Read by the rules alone (``rules_domain``): water, 朝阳区, the building's address.
BURST = "我家楼下的自来水管爆了，水流了一地，在朝阳区望京西园三区5号楼"
BURST_AGAIN = "朝阳区望京西园三区5号楼自来水管爆裂，到现在还在漏水，麻烦快来修"
ELSEWHERE = "海淀区中关村南大街8号院水管爆了，一直漏水"
NOWHERE = "自来水管爆了，水流了一地"  # water, no place named


def _heard(sessions: sessionmaker[Session], domain: Domain, city: City, ticket: Ticket,
           text: str) -> None:
    """The transcription backlog's step: the recording's words arrive."""
    actor = city.actor("operator")  # before the write: it reads the city's own session
    with transaction(sessions) as s:
        service.attach_transcript(session=s, domain=domain, ticket=s.get_one(Ticket, ticket.id),
                                  actor=actor, text=text)


def _links(s: Session, ticket: Ticket) -> list[str | None]:
    return list(s.scalars(select(TicketEvent.note).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.action == LINK_EVENT)))


def test_a_callers_second_call_is_linked_once_its_words_come_and_only_once(
        sessions: sessionmaker[Session], rules_domain: Domain, city: City) -> None:
    first = _filed(sessions, rules_domain, city, BURST)
    second = _filed(sessions, rules_domain, city, service.TRANSCRIPT_PENDING)
    _heard(sessions, rules_domain, city, second, BURST_AGAIN)
    # The backlog retried (a lease ran out after the commit): nothing is linked or counted
    # twice.
    _heard(sessions, rules_domain, city, second, BURST_AGAIN)
    with sessions() as s:
        assert s.get_one(Ticket, second.id).duplicate_of_id == first.id
        assert s.get_one(Ticket, first.id).duplicate_count == 1
        assert _links(s, second) == [f"重复诉求，关联工单 {first.number}"]


def test_words_heard_late_are_linked_only_as_the_duplicate_rule_allows(
        sessions: sessionmaker[Session], rules_domain: Domain, city: City) -> None:
    """The same caller's earlier call about another place is a complaint of its own;
    another caller's is the same problem only at the same stated address."""
    mine = _filed(sessions, rules_domain, city, ELSEWHERE)
    theirs = _filed(sessions, rules_domain, city, BURST, caller="13922224444")
    late = _filed(sessions, rules_domain, city, service.TRANSCRIPT_PENDING)
    _heard(sessions, rules_domain, city, late, BURST_AGAIN)
    with sessions() as s:
        assert s.get_one(Ticket, late.id).category == "water"
        assert s.get_one(Ticket, late.id).duplicate_of_id == theirs.id  # the same address
        assert s.get_one(Ticket, mine.id).duplicate_count == 0
    other = _filed(sessions, rules_domain, city, service.TRANSCRIPT_PENDING,
                   caller="13933336666")
    _heard(sessions, rules_domain, city, other, NOWHERE)
    with sessions() as s:
        assert s.get_one(Ticket, other.id).category == "water"
        assert s.get_one(Ticket, other.id).duplicate_of_id is None  # no address of theirs
        assert _links(s, other) == []


def test_a_linked_call_said_again_is_not_linked_or_counted_twice(
        sessions: sessionmaker[Session], rules_domain: Domain, city: City) -> None:
    """A caller who pressed 2 to say it again gives the words back (``ivr.intake``: the
    demand is a placeholder again) on a ticket already linked: the new words link nothing
    more."""
    first = _filed(sessions, rules_domain, city, BURST)
    operator = city.actor("operator")
    with transaction(sessions) as s:  # a draft: still waiting for its unit when heard
        again = service.create_ticket(session=s, domain=rules_domain,
                                      actor=operator, channel="phone",
                                      caller_phone=CALLER, demand=BURST_AGAIN)
        assert again.duplicate_of_id == first.id
        again.demand = service.TRANSCRIPT_PENDING
    _heard(sessions, rules_domain, city, again, BURST)
    with sessions() as s:
        assert s.get_one(Ticket, again.id).duplicate_of_id == first.id
        assert s.get_one(Ticket, first.id).duplicate_count == 1
        assert len(_links(s, again)) == 1
