"""A recogniser's transcript nobody should trust -- its words' mean confidence very low
(0.18), or no Mandarin at all (Hangul, Latin from a wrong model) -- is held for an operator
(待确认, not dispatched), as words that say too little are; an emergency in it still goes at
once. Typed demands and good transcripts are untouched. The service, on SQLite and
PostgreSQL (``city`` is both), on the shipped settings."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from tests.support.city import City
from ticketing import hearing, queries, service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket, TicketEvent

WATER = "我家小区从昨天开始一直停水到现在还没有来水"


def _meta(text: str, conf: float) -> dict[str, Any]:
    """What asr.backlog.transcript_meta records: each word with its confidence."""
    return {"low_confidence": [], "words": [{"w": w, "c": conf} for w in text.split()]}


def _file(sessions: sessionmaker[Session], domain: Domain, city: City, text: str,
          meta: dict[str, Any] | None, phone: str = "13811112222") -> int:
    """A call's ticket as the IVR files it: the transcript is the demand, accepted now."""
    understood = service.understand_demand(domain=domain, demand=text, transcript=text)
    operator = city.actor("operator")
    with transaction(sessions) as s:
        return service.create_ticket(
            session=s, domain=domain, actor=operator, channel="phone",
            caller_phone=phone, demand=text, transcript=text, transcript_meta=meta,
            understood=understood, accept_now=True).id


def _trail(sessions: sessionmaker[Session], ticket_id: int) -> list[tuple[str, str | None]]:
    with sessions() as s:
        return list(s.execute(select(TicketEvent.action, TicketEvent.note).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)).all())  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "meta", "reason"), [
    (WATER, _meta(WATER, 0.18), hearing.LOW_CONFIDENCE),
    ("물이 나오지 않습니다", _meta("물이 나오지 않습니다", 0.95), hearing.NOT_CHINESE),
    ("the water is not coming out", _meta("the water is not coming out", 0.9),
     hearing.NOT_CHINESE),
])
def test_an_untrusted_transcript_is_held_for_an_operator(
        text: str, meta: dict[str, Any], reason: str, sessions: sessionmaker[Session],
        domain: Domain, city: City) -> None:
    tid = _file(sessions, domain, city, text, meta)
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert t.status == "accepted" and t.unit_id is None and t.needs_confirmation
        assert queries.is_held(t) and queries.held_reason(t) == reason
        assert t.transcript == text and t.number  # nothing lost
        assert s.scalar(select(Ticket.id).where(queries.held())) == tid  # the SQL agrees
    action, note = _trail(sessions, tid)[-1]
    assert action == service.HOLD_EVENT and hearing.REASON_LABELS[reason] in (note or "")


def test_the_operators_confirmation_releases_it(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    tid = _file(sessions, domain, city, WATER, _meta(WATER, 0.18))
    operator = city.actor("operator")  # read on a connection of its own, before
    with transaction(sessions) as s:
        service.confirm_classification(session=s, domain=domain, ticket=s.get_one(Ticket, tid),
                                       actor=operator, category="water")
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert not queries.is_held(t) and t.status == "dispatched" and t.unit_id is not None


@pytest.mark.parametrize(("text", "conf"), [
    (WATER, 0.92),  # heard well
    ("隔壁KTV又开始唱了吵得睡不着", 0.9),  # a Latin word in Mandarin is one unit, not three
])
def test_a_good_transcript_is_dispatched(text: str, conf: float,
                                         sessions: sessionmaker[Session], domain: Domain,
                                         city: City) -> None:
    tid = _file(sessions, domain, city, text, _meta(text, conf))
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert not queries.is_held(t) and queries.held_reason(t) is None
    assert service.HOLD_EVENT not in [a for a, _ in _trail(sessions, tid)]


def test_an_emergency_in_a_poor_transcript_still_goes_at_once(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """A false alarm costs a transfer; a held emergency could cost a life."""
    text = "着火了 楼里 有人 被困"
    tid = _file(sessions, domain, city, text, _meta(text, 0.18))
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert t.emergency == "119" and t.urgency == "urgent" and not queries.is_held(t)
        assert t.needs_confirmation  # someone still looks at the words afterwards
    assert service.HOLD_EVENT not in [a for a, _ in _trail(sessions, tid)]


@pytest.mark.parametrize("text", ["燃气 泄漏 了", "井盖 丢了 有人 掉下去", "高压线 掉下来 了"])
def test_a_rules_urgent_cue_in_a_poor_transcript_still_goes_at_once(
        sessions: sessionmaker[Session], domain: Domain, city: City, text: str) -> None:
    """review82: urgent by a rule's cue (a gas leak, an open manhole someone fell into) but
    no emergency service named: it was held for an operator, while the too-little hold never
    holds one (intake_model.understand). It goes, flagged 待确认."""
    tid = _file(sessions, domain, city, text, _meta(text, 0.3))
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert t.urgency == "urgent" and t.emergency == "none" and not queries.is_held(t)
        assert t.needs_confirmation
    assert service.HOLD_EVENT not in [a for a, _ in _trail(sessions, tid)]


def test_a_typed_demand_is_not_judged_as_a_transcript(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """An operator's own words (typed, the call's transcript beside them) are not the
    recogniser's: the rule reads only what the recogniser wrote."""
    text = "物业不管楼道里的垃圾已经堆了一个星期"
    operator = city.actor("operator")
    with transaction(sessions) as s:
        tid = service.create_ticket(
            session=s, domain=domain, actor=operator, channel="phone",
            caller_phone="13811112222", demand=text, transcript="물이 나오지",
            transcript_meta=_meta("물이 나오지", 0.1), accept_now=True).id
    with sessions() as s:
        assert not queries.is_held(s.get_one(Ticket, tid))


def test_a_late_transcript_nobody_should_trust_is_held(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    system = city.actor("operator")
    with transaction(sessions) as s:
        poor, good = (service.create_ticket(
            session=s, domain=domain, actor=system, channel="phone", caller_phone=phone,
            demand=service.TRANSCRIPT_PENDING, accept_now=True).id
            for phone in ("13811112222", "13811113333"))
    with transaction(sessions) as s:
        for tid, conf in ((poor, 0.18), (good, 0.95)):
            service.attach_transcript(session=s, domain=domain, ticket=s.get_one(Ticket, tid),
                                      actor=system, text=WATER, meta=_meta(WATER, conf))
    with sessions() as s:
        assert queries.held_reason(s.get_one(Ticket, poor)) == hearing.LOW_CONFIDENCE
        assert not queries.is_held(s.get_one(Ticket, good))


@pytest.mark.parametrize(("text", "meta", "reason"), [
    ("", None, None),
    ("123 456", None, None),  # no letters: the too-little rule's business
    (WATER, None, None),  # no recogniser words to judge by
    (WATER, {"words": "garbage"}, None),
    (WATER, {"words": [{"w": "x", "c": "0.1"}, {"w": "y", "c": True}, {"w": "z", "c": 7}]},
     None),  # malformed confidences are no evidence
    (WATER, {"words": [{"w": "a", "c": 0.2}, {"w": "b", "c": 0.9}]}, None),  # mean 0.55
    (WATER, {"words": [{"w": "a", "c": 0.1}, {"w": "b", "c": 0.8}]}, hearing.LOW_CONFIDENCE),
    ("asdf qwer", None, hearing.NOT_CHINESE),
    ("WiFi坏了", None, None),
    # review82: a citizen's Latin words and digits in Mandarin are not "not Chinese": a
    # Latin run weighs one word, digits none.
    ("楼下KTV每天唱到半夜", None, None),
    ("4S店不给退定金", None, None),
    ("3号楼2单元电梯坏了", None, None),
    ("小区门口的ATM机吞卡了", None, None),
    ("U盘", None, None),  # one Latin run, one Han: half, not fewer
    ("the noise is too loud", None, hearing.NOT_CHINESE),
    ("水が出ない", None, hearing.NOT_CHINESE),
])
def test_the_rule(text: str, meta: dict[str, Any] | None, reason: str | None) -> None:
    trust_below = Settings().transcript_trust_below
    assert hearing.unheard(text, meta, trust_below=trust_below) == reason
