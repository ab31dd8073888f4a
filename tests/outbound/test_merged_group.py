"""并单 through the real outbound worker: when the primary is closed every caller of the group
is texted the answer once (WebhookSms to the loopback SMS gateway stand-in), and the group
gets one survey call (the scripted dialer: who is called, and how often, is scheduling
logic). On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from outbound.citizen_sms import REPLY_CODES_TEXT, SIGNATURE
from outbound.inbound_sms import Handled, receive
from outbound.models import Kind
from outbound.planner import plan
from outbound.sms import WebhookSms
from outbound.survey import apply_answer, reply_code
from outbound.worker import Claim, OutboundWorker, claim_due
from tests.outbound.standins import LedgerServer, LedgerSms
from tests.outbound.support import (
    WATER_HANDLER_PHONE,
    Script,
    ScriptedDialer,
    close_ticket,
    drive,
    events,
    new_ticket,
    tasks,
    ticket,
)
from tests.support.city import City
from tests.support.nodes import SmsGateway
from ticketing import citizen, merging, service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import SurveyResult, Ticket
from ticketing.phones import normalise

PRIMARY, SECOND, THIRD = "13811110001", "13811110002", "13811110003"
SECRET = "gateway-shared-secret"
WATER = "朝阳区望京西园三区{n}号楼停水了，一直没来水"


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    g = SmsGateway()
    yield g
    g.close()


def _closing_notice(text: str) -> bool:
    """The citizen SMS of a closure (citizen_sms.closed_text). The survey's SMS, once its
    calls went unanswered, says 已办结 too; with retries a second apart (``fast``) a slow
    run reaches it within a test, and it is not a second closing notice."""
    return text.startswith(f"{SIGNATURE}您的工单") and "已办结" in text


def _closed_texts(gateway: SmsGateway, phone: str) -> list[str]:
    return [m["text"] for m in gateway.to(normalise(phone) or phone)
            if _closing_notice(m["text"])]


def _group(sessions: sessionmaker[Session], domain: Domain, city: City,
           primary_kw: dict[str, object]) -> tuple[str, str, str]:
    numbers = (new_ticket(sessions, domain, city, demand=WATER.format(n=5), phone=PRIMARY,
                          **primary_kw),  # type: ignore[arg-type]
               new_ticket(sessions, domain, city, demand=WATER.format(n=6), phone=SECOND),
               new_ticket(sessions, domain, city, demand=WATER.format(n=7), phone=THIRD))
    supervisor = city.actor("supervisor")
    with sessions() as s:
        primary, *others = (service.get_ticket(session=s, actor=supervisor, ref=n)
                            for n in numbers)
        merging.merge(session=s, domain=domain, primary=primary, others=others,
                      actor=supervisor, reason="同一小区停水")
        s.commit()
    return numbers


def _survey_calls(dialer: ScriptedDialer) -> list[str]:
    citizens = {PRIMARY, SECOND, THIRD}
    return [phone for phone, _ in dialer.calls if phone in citizens]


def test_each_caller_is_texted_the_answer_once_and_the_group_surveyed_once(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    numbers = _group(ob_sessions, ob_domain, ob_city, {})
    close_ticket(ob_sessions, ob_domain, ob_city, numbers[0])  # "已修复", resolved
    dialer = ScriptedDialer({PRIMARY: Script(["11"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=WebhookSms(gateway.url), name="test-worker")
    drive(worker, lambda: ticket(ob_sessions, numbers[0]).status == "surveyed"
          and all(_closed_texts(gateway, p) for p in (PRIMARY, SECOND, THIRD)))
    worker.plan_now()
    worker.plan_now()
    drive(worker, lambda: True)

    for phone, number in zip((PRIMARY, SECOND, THIRD), numbers, strict=True):
        (text,) = _closed_texts(gateway, phone)
        assert number in text and "已修复" in text
        # Only the surveyed caller is offered the reply codes.
        assert (REPLY_CODES_TEXT in text) is (phone == PRIMARY)
    assert _survey_calls(dialer) == [PRIMARY]
    for member in numbers[1:]:
        assert tasks(ob_sessions, member, Kind.SURVEY_CALL) == []
        assert ticket(ob_sessions, member).status == "closed"
    primary_id = ticket(ob_sessions, numbers[0]).id
    with ob_sessions() as s:
        results = s.scalars(select(SurveyResult)).all()
        assert [(r.ticket_id, r.keys) for r in results] == [(primary_id, "11")]
        # A merged caller answering by SMS anyway finds no survey of theirs awaiting it.
        assert receive(session=s, domain=ob_domain, sender=SECOND, text="22",
                       ref="sms-1") == Handled.SURVEY_NOT_AWAITED
        s.commit()
        assert len(s.scalars(select(SurveyResult)).all()) == 1


def test_the_survey_calls_a_merged_caller_when_the_primary_asked_for_no_callback(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    numbers = _group(ob_sessions, ob_domain, ob_city, {"no_contact": True})
    close_ticket(ob_sessions, ob_domain, ob_city, numbers[0])
    dialer = ScriptedDialer({SECOND: Script(["12"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=WebhookSms(gateway.url), name="test-worker")
    drive(worker, lambda: ticket(ob_sessions, numbers[0]).status == "surveyed"
          and all(_closed_texts(gateway, p) for p in (SECOND, THIRD)))
    assert _survey_calls(dialer) == [SECOND]
    assert _closed_texts(gateway, PRIMARY) == []  # no callback means no SMS either
    primary_id = ticket(ob_sessions, numbers[0]).id
    with ob_sessions() as s:
        (result,) = s.scalars(select(SurveyResult)).all()
        assert result.ticket_id == primary_id
        assert (result.resolved, result.satisfied) == (True, False)


def test_only_the_merged_caller_who_is_surveyed_is_texted_the_reply_codes(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The primary's caller asked for no callback, so the group's survey is SECOND's: their
    close SMS offers the reply codes, THIRD's does not, and SECOND's reply by the codes is
    the primary's answer (loopback SMS ledger)."""
    numbers = _group(ob_sessions, ob_domain, ob_city, {"no_contact": True})
    close_ticket(ob_sessions, ob_domain, ob_city, numbers[0])
    with LedgerServer() as ledger:
        worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain,
                                dialer=ScriptedDialer({}), sms=LedgerSms(ledger.url),
                                name="test-worker")

        def closed() -> dict[str, list[str]]:
            found: dict[str, list[str]] = {}
            for e in ledger.ledger.sms():
                if _closing_notice(e.text):
                    found.setdefault(e.to, []).append(e.text)
            return found

        try:
            drive(worker, lambda: {normalise(SECOND), normalise(THIRD)} <= closed().keys())
            worker.plan_now()
            drive(worker, lambda: True)
        finally:
            worker.shutdown(wait=True)
        texts = closed()
    assert normalise(PRIMARY) not in texts  # no callback means no SMS either
    (second,) = texts[normalise(SECOND)]
    (third,) = texts[normalise(THIRD)]
    assert numbers[1] in second and numbers[2] in third
    assert REPLY_CODES_TEXT in second and REPLY_CODES_TEXT not in third
    with ob_sessions() as s:
        assert receive(session=s, domain=ob_domain, sender=THIRD, text="11",
                       ref="c-1") == Handled.SURVEY_NOT_AWAITED
        assert receive(session=s, domain=ob_domain, sender=SECOND, text="12",
                       ref="c-2") == Handled.SURVEY
        s.commit()
    assert _answers(ob_sessions) == [(ticket(ob_sessions, numbers[0]).id, "12", True, False)]


def test_a_merged_callers_sms_answer_to_the_groups_survey_is_the_primarys_once(
        ob_settings: Settings, ob_sessions: sessionmaker[Session], ob_domain: Domain,
        ob_city: City) -> None:
    """The primary's caller asked for no callback, so the survey goes to SECOND, who does
    not pick up: the survey SMS (with the primary's reply code) goes to SECOND, and their
    reply through the gateway's webhook is the primary's answer, taken once."""
    numbers = _group(ob_sessions, ob_domain, ob_city, {"no_contact": True})
    close_ticket(ob_sessions, ob_domain, ob_city, numbers[0])
    dialer = ScriptedDialer({})  # nobody answers: retries, then the survey SMS
    with LedgerServer() as ledger:
        worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                                sms=LedgerSms(ledger.url), name="test-worker")
        try:
            drive(worker, lambda: any("回访电话未能接通" in e.text for e in ledger.ledger.sms()))
        finally:
            worker.shutdown(wait=True)
        survey_sms = [e for e in ledger.ledger.sms() if "回访电话未能接通" in e.text]
    assert [e.to for e in survey_sms] == [normalise(SECOND)]
    assert {phone for phone, _ in dialer.calls} == {SECOND}
    primary = ticket(ob_sessions, numbers[0])
    code = reply_code(primary)
    assert f"工单{numbers[0]}" in survey_sms[0].text and f"“{code}”" in survey_sms[0].text

    settings = ob_settings.model_copy(update={
        "outbound": ob_settings.outbound.model_copy(update={"sms_inbound_secret": SECRET})})
    client = TestClient(create_app(settings))
    # THIRD is in the group too, but the survey is not theirs: their answer finds nothing.
    assert _sms(client, THIRD, f"{code}11", "r-0").status_code == 200
    assert _answers(ob_sessions) == []
    assert _sms(client, SECOND, f"{code} 1 2", "r-1").status_code == 200
    assert _sms(client, SECOND, f"{code}22", "r-2").status_code == 200  # a second answer
    assert _sms(client, SECOND, "21", "r-3").status_code == 200  # and one without the code
    assert _answers(ob_sessions) == [(primary.id, "12", True, False)]
    assert ticket(ob_sessions, numbers[0]).status == "surveyed"
    for member in numbers[1:]:
        assert ticket(ob_sessions, member).status == "closed"
    with ob_sessions() as s:
        assert receive(session=s, domain=ob_domain, sender=SECOND, text=f"{code}11",
                       ref="r-4") == Handled.SURVEY_NOT_AWAITED


def _sms(client: TestClient, sender: str, text: str, ref: str) -> Any:
    body = json.dumps({"id": ref, "from": sender, "text": text}, ensure_ascii=False).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/api/v1/outbound/sms/inbound", content=body,
                        headers={"Content-Type": "application/json",
                                 "X-Hotline-Signature": signature})


def _answers(sessions: sessionmaker[Session]) -> list[tuple[int, str, bool, bool]]:
    with sessions() as s:
        return [(r.ticket_id, r.keys, r.resolved, r.satisfied)
                for r in s.scalars(select(SurveyResult).where(SurveyResult.outcome == "answered")
                                   .order_by(SurveyResult.id))]


def test_a_merged_callers_follow_up_sms_reaches_the_primarys_handler(
        ob_settings: Settings, ob_sessions: sessionmaker[Session], ob_domain: Domain,
        ob_city: City) -> None:
    """SECOND's ticket is merged, so off every queue: their 补充信息 goes to the primary,
    whose handler writes the group's answer, saying whose it is, and the handler is texted
    once (a redelivery adds nothing)."""
    numbers = _group(ob_sessions, ob_domain, ob_city, {})
    settings = ob_settings.model_copy(update={
        "outbound": ob_settings.outbound.model_copy(update={"sms_inbound_secret": SECRET})})
    client = TestClient(create_app(settings))
    words = "补充：6号楼2单元也停水了，从早上七点开始"
    for ref in ("f-1", "f-1"):  # delivered twice
        assert _sms(client, SECOND, words, ref).status_code == 200
    (follow_up,) = [e for e in events(ob_sessions, numbers[0])
                    if e.action == "citizen_follow_up"]
    assert follow_up.note == f"（并入本单的工单{numbers[1]}来电人）{words}"
    assert (follow_up.data or {})["merged"] == numbers[1]
    assert not [e for n in numbers[1:] for e in events(ob_sessions, n)
                if e.action == "citizen_follow_up"]
    with LedgerServer() as ledger:
        worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain,
                                dialer=ScriptedDialer({}), sms=LedgerSms(ledger.url),
                                name="test-worker")
        try:
            drive(worker, lambda: any("市民补充信息" in e.text for e in ledger.ledger.sms()))
            worker.plan_now()
            drive(worker, lambda: True)
        finally:
            worker.shutdown(wait=True)
        texted = [e for e in ledger.ledger.sms() if "市民补充信息" in e.text]
    assert [(e.to, numbers[0] in e.text, words in e.text) for e in texted] == [
        (normalise(WATER_HANDLER_PHONE), True, True)]


# --- a ticket written by the claim pass and by someone else at the same moment -----------
# The claim pass (claim_due) loads each due item's ticket and, texting a citizen, makes the
# ticket's status-page token on first use; the survey answer of a call in flight (another
# worker thread), an SMS reply or a handler in the console writes the same ticket row. On
# PostgreSQL each is its own transaction: one loads the row, the other commits an update,
# then the first writes. On SQLite one writer at a time (ticketing.db's writer queue) runs
# the two transactions one after the other: the same end state is asserted on both.


def _one_writer(sessions: sessionmaker[Session]) -> bool:
    return sessions.kw["bind"].dialect.name == "sqlite"


@contextmanager
def _when_loaded(ticket_id: int, session: Session, then: Callable[[], None]) -> Iterator[None]:
    """Run ``then`` (another session's transaction) once ``session`` has loaded ticket
    ``ticket_id``, before it writes: the interleaving a loaded machine produced at random.
    The ticket stays as loaded in ``session`` (a session keeps an unchanged object only
    while someone holds it), as in one claim step between loading the ticket and writing."""
    held: list[Ticket] = []

    def loaded(target: Ticket, context: Any) -> None:
        if target.id == ticket_id and context.session is session and not held:
            held.append(target)
            then()

    event.listen(Ticket, "load", loaded)
    try:
        yield
    finally:
        event.remove(Ticket, "load", loaded)
    assert held, "the ticket was never loaded"


def _load_while(sessions: sessionmaker[Session], session: Session, ticket_id: int,
                other: Callable[[], None]) -> Ticket:
    """Ticket ``ticket_id`` as ``session`` (nothing run in it yet) loads it, with ``other``
    committed after the load, before ``session`` writes. On SQLite ``other`` runs first:
    one writer at a time, and ``session`` takes the write lock when it begins."""
    if _one_writer(sessions):
        other()
        return session.get_one(Ticket, ticket_id)
    with _when_loaded(ticket_id, session, other):
        return session.get_one(Ticket, ticket_id)


def _claim(sessions: sessionmaker[Session], domain: Domain, session: Session) -> list[Claim]:
    return claim_due(session=session, domain=domain, worker="test-worker", now=domain.now(),
                     limit=100, carrier="test", sms_carrier="test")


def test_the_survey_answer_saved_while_the_claim_texts_the_primary_both_stand(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The claim pass has loaded the closed primary to text its answer when the group's
    survey answer (11) of the primary commits; then the claim makes the primary's status
    link. Both stand: the SMS is claimed with the link, the ticket is surveyed."""
    numbers = _group(ob_sessions, ob_domain, ob_city, {})
    close_ticket(ob_sessions, ob_domain, ob_city, numbers[0])
    primary = ticket(ob_sessions, numbers[0])
    with transaction(ob_sessions) as s:
        plan(session=s, domain=ob_domain, now=ob_domain.now())

    def answer() -> None:
        with transaction(ob_sessions) as s:
            t = s.get_one(Ticket, primary.id)
            apply_answer(session=s, domain=ob_domain, ticket=t, keys="11", call_ref="race-1")

    with transaction(ob_sessions) as s:
        if _one_writer(ob_sessions):
            claims = _claim(ob_sessions, ob_domain, s)
        else:
            with _when_loaded(primary.id, s, answer):
                claims = _claim(ob_sessions, ob_domain, s)
    if _one_writer(ob_sessions):
        answer()

    after = ticket(ob_sessions, numbers[0])
    assert after.status == "surveyed" and after.status_token
    texts = [c.target.text or "" for c in claims
             if c.kind == Kind.CITIZEN_SMS.value and c.target.phone == normalise(PRIMARY)]
    assert any(_closing_notice(t) and after.status_token in t for t in texts), texts
    with ob_sessions() as s:
        (result,) = s.scalars(select(SurveyResult)).all()
        assert (result.ticket_id, result.keys) == (primary.id, "11")


def test_a_handler_signing_while_the_claim_texts_the_citizen_is_not_refused(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The other way round: the handler's sign (a console request) has loaded the ticket
    when the claim pass texts its caller the acceptance with the status link and commits.
    Making the link is no edit of the ticket: the sign is saved, not refused as a
    conflicting change (StaleDataError → 409)."""
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone=PRIMARY)
    t0 = ticket(ob_sessions, number)
    with transaction(ob_sessions) as s:
        plan(session=s, domain=ob_domain, now=ob_domain.now())
    claims: list[Claim] = []

    def claim() -> None:
        with transaction(ob_sessions) as s:
            claims.extend(_claim(ob_sessions, ob_domain, s))

    handler = ob_city.actor("water-handler")
    with transaction(ob_sessions) as s:
        t = _load_while(ob_sessions, s, t0.id, claim)
        service.sign(session=s, domain=ob_domain, ticket=t, actor=handler, via="web")

    after = ticket(ob_sessions, number)
    assert after.status == "signed" and after.status_token
    assert [c.target.text for c in claims if c.kind == Kind.CITIZEN_SMS.value
            and after.status_token in (c.target.text or "") and "已受理" in (c.target.text or "")]


def test_two_first_uses_of_the_status_link_at_once_give_the_citizen_one_link(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """Two workers' claim passes text the same citizen at once (say its acceptance and its
    closure): the one that loaded the ticket first finds the link made by the other when
    it comes to make it, and texts that one -- never a second link for one ticket."""
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone=PRIMARY)
    t0 = ticket(ob_sessions, number)
    made: list[str] = []

    def other_worker() -> None:
        with transaction(ob_sessions) as s:
            made.append(citizen.status_token(session=s, ticket=s.get_one(Ticket, t0.id)))

    with transaction(ob_sessions) as s:
        t = _load_while(ob_sessions, s, t0.id, other_worker)
        # As loaded, before the other worker's commit (on PostgreSQL; SQLite ran it first).
        assert t.status_token is None or _one_writer(ob_sessions)
        token = citizen.status_token(session=s, ticket=t)

    assert made == [token] and ticket(ob_sessions, number).status_token == token
    assert ticket(ob_sessions, number).version == t0.version  # the link is no edit
