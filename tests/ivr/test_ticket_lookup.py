"""Key 1 status lookup: only what is safe to tell whoever sets the caller ID (and for tickets
closed in the last 30 days, the short answer). On SQLite
and PostgreSQL, at the function level (the calls that read it out are in
test_dialogue_operator.py and tests/twilio)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from ivr.ticket_lookup import StatusReport, TicketStatus, keyed_ticket_status, open_tickets
from telephony.call import CallerVouch
from telephony.sip.identity import caller_identity
from telephony.sip.message import SipMessage
from tests.support.city import City
from ticketing import merging, numbers, service
from ticketing.context import Domain
from ticketing.models import Ticket, TicketSequence
from ticketing.phones import call_number

CALLER = "13912340000"
# The 剔除 reasons a citizen may be told: the shipped list (settings.verification).
LISTED = Settings().verification.exclusion_reasons


def _told(sessions: sessionmaker[Session], caller: str, **kw: Any) -> StatusReport:
    """Key 1's look-up as the dialogues make it, with the shipped reasons."""
    return open_tickets(sessions, caller, reasons=LISTED, **kw)


def _file(sessions: sessionmaker[Session], domain: Domain, city: City, demand: str,
          caller: str = CALLER, caller_name: str = "王先生", **kw: object) -> Ticket:
    op = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="phone",
                                  caller_phone=caller, demand=demand, caller_name=caller_name,
                                  **kw)
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        s.refresh(t)
        s.expunge(t)
        return t


def test_reveals_only_counts_last_digits_and_coarse_steps(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    water = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水了")  # dispatched
    secret = _file(sessions, domain, city, "朝阳区安贞里物业乱收费，我要实名举报",
                   confidential=True)
    queued = _file(sessions, domain, city, "我想咨询一下公积金怎么提取",
                   category="other")  # no rule without a district: the manual queue
    done = _file(sessions, domain, city, "海淀区中关村大街路灯坏了", category="water")
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with sessions() as s:
        t = s.get(Ticket, done.id)
        assert t is not None and t.status == "dispatched"
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=operator)  # 核实
        s.commit()
    assert water.status == "dispatched" and queued.status == "accepted"

    # SIP's national form, Twilio's E.164, and the other ways a trunk spells it.
    for caller in (CALLER, "+86" + CALLER, "0086" + CALLER, "86-139-1234-0000"):
        report = _told(sessions, caller)
        assert report == StatusReport(2, [
            TicketStatus(queued.number[-4:], "已受理"),
            TicketStatus(water.number[-4:], "办理中"),
        ], closed=[TicketStatus(done.number[-4:], "已办结", "已解决：已修复")])
    told = repr(_told(sessions, CALLER))
    for withheld in (water.number, secret.number[-4:], "王先生", "孙强", "13900000030",
                     "bj-water", "停水", "望京"):
        assert withheld not in told, withheld


def test_nothing_for_an_unknown_or_missing_number(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    _file(sessions, domain, city, "朝阳区安贞里物业乱收费", confidential=True)
    assert _told(sessions, CALLER) == StatusReport(0, [])
    assert _told(sessions, "13700000000") == StatusReport(0, [])
    for withheld in ("", "anonymous", "unknown", "Anonymous", "0"):
        assert _told(sessions, withheld) == StatusReport(0, [], no_number=True)


def test_a_keyed_in_number_tells_nothing(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """A caller who withheld their number keyed CALLER in to be called back: anyone can key
    any number, so whoever calls from CALLER does not hear about that ticket."""
    op = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="phone",
                                  caller_phone=CALLER, caller_phone_keyed=True,
                                  demand="朝阳区望京西园三区5号楼停水了")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        assert t.caller_phone == "+86" + CALLER and t.status == "dispatched"
    assert _told(sessions, CALLER) == StatusReport(0, [])


def test_closed_answers_without_names_numbers_or_secrets(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    shown = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水了")
    secret = _file(sessions, domain, city, "朝阳区望京西园四区2号楼停水了", confidential=True)
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with sessions() as s:
        for done, text in ((shown, "孙强已到现场抢修，恢复供水。有问题请打13900000030"),
                           (secret, "已约谈物业")):
            t = s.get_one(Ticket, done.id)
            service.sign(session=s, domain=domain, ticket=t, actor=handler)
            service.reply(session=s, domain=domain, ticket=t, actor=handler, text=text,
                          outcome="resolved")
            service.close(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
    report = _told(sessions, CALLER)
    assert report.open_count == 0 and report.tickets == []
    (closed,) = report.closed  # never the confidential one
    assert closed.tail == shown.number[-4:] and closed.label == "已办结"
    assert closed.answer.startswith("已解决：承办人已到现场抢修，恢复供水。")
    for withheld in ("孙强", "13900000030", secret.number[-4:], "约谈"):
        assert withheld not in repr(report), withheld
    # Only the last 30 days.
    later = _told(sessions, CALLER, now=domain.now() + timedelta(days=31))
    assert later == StatusReport(0, [], [])


def test_a_keyed_ticket_number_tells_that_tickets_step_alone(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """Key 1 from a number nobody vouched for (ivr.call_flow): the ticket keyed in, its
    step and last digits only; a confidential one, an unknown number and what is no
    number at all are "not found" alike (review51)."""
    water = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水了")
    secret = _file(sessions, domain, city, "朝阳区安贞里物业乱收费，我要实名举报",
                   confidential=True)
    assert keyed_ticket_status(sessions, water.number) == TicketStatus(
        water.number[-4:], "办理中")
    for keyed in (secret.number, water.number[:-1], "", "2" * 40, "１２３"):
        assert keyed_ticket_status(sessions, keyed) is None, keyed


def test_a_ticket_merged_into_anothers_open_one_is_still_being_handled(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """并单 (judge27): the citizen's ticket merged into another caller's open primary waits
    for that one's answer; key 1 said "没有查到您这个号码正在办理的工单" (the status page said
    办理中). Counted and told as 办理中, nothing of the primary's caller; once the primary is
    closed, the citizen's own ticket is closed with its answer."""
    mine = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水了")
    op, handler = city.actor("operator"), city.actor("water-handler")
    primary = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水一天了",
                    caller="13700001111", caller_name="李女士")
    primary_id, primary_number = primary.id, primary.number
    with sessions() as s:
        merging.merge(session=s, domain=domain, primary=s.get_one(Ticket, primary_id),
                      others=[s.get_one(Ticket, mine.id)], actor=op)
        s.commit()
    report = _told(sessions, CALLER)
    assert report == StatusReport(1, [TicketStatus(mine.number[-4:], "办理中")])
    for withheld in (primary_number[-4:], "李女士", "13700001111"):
        assert withheld not in repr(report), withheld
    with sessions() as s:
        t = s.get_one(Ticket, primary_id)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已恢复供水",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
    assert _told(sessions, CALLER) == StatusReport(0, [], closed=[
        TicketStatus(mine.number[-4:], "已办结", "已解决：已恢复供水")])


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_call_of_yesterday_filed_late_is_told_by_a_tail_of_its_own(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """A call spooled past midnight and filed late is numbered on the day it is filed
    (mend68): ten digits, the next of today's, so the caller's tickets are told apart by
    their last four. Before, it took yesterday's base plus every number handed out since
    (review69): ``26120610001`` beside today's ``2612070001``, both read as 0001."""
    now = domain.now()
    yesterday = now - timedelta(days=1)
    with sessions() as s:  # yesterday: its base set at 0, then 9999 numbers handed out
        s.add(TicketSequence(day=numbers.day_of(yesterday, domain.tz),
                             last=0, base=0))
        s.execute(text("SELECT setval('ticket_numbers', 9999)"))
        s.commit()
    today = _file(sessions, domain, city, "海淀区中关村大街路灯坏了")
    late = _file(sessions, domain, city, "朝阳区安贞里小区门口垃圾没人清", received_at=yesterday)
    day = numbers.day_of(now, domain.tz)
    assert (today.number, late.number) == (f"{day}0001", f"{day}0002")
    tails = [told.tail for told in _told(sessions, CALLER).tickets]
    assert sorted(tails) == ["0001", "0002"]


def _invite_from(from_: str, asserted: str = "") -> SipMessage:
    pai = f"P-Asserted-Identity: {asserted}\r\n" if asserted else ""
    return SipMessage((
        "INVITE sip:12345@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKa\r\n"
        f"From: {from_};tag=a\r\nTo: <sip:12345@192.0.2.1>\r\n{pai}Call-ID: c1@x\r\n"
        "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode(), ("192.0.2.5", 5060))


@pytest.mark.parametrize(("filed", "from_", "asserted"), [
    (CALLER, "<sip:anonymous@x>", f"<tel:{CALLER};phone-context=+86-10>"),  # NETWORK PAI
    (CALLER, f"<sip:{CALLER};phone-context=+86-10@ims.bj.example;user=phone>", ""),
    (CALLER, f"<tel:86{CALLER};phone-context=+86>", ""),
    ("02162345678", "<tel:02162345678;phone-context=+86-10>", ""),  # its own trunk 0
    ("02162345678", "<tel:62345678;phone-context=+86-21>", ""),  # a Shanghai subscriber
    ("01062345678", "<tel:6234-5678;phone-context=+86-10>", ""),
])
def test_a_caller_in_a_phone_context_hears_their_own_tickets(
        sessions: sessionmaker[Session], domain: Domain, city: City, filed: str,
        from_: str, asserted: str) -> None:
    """review74: the SIP front end glued a ``phone-context`` before every local number, so
    a mobile in a Beijing IMS context (even one a carrier asserted) was +861013912340000,
    no number: key 1 said there was none to look up, a complaint was filed with no phone.
    From the INVITE to the look-up, the number is the one it was filed under."""
    ticket = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水了", caller=filed)
    caller, vouch = caller_identity(_invite_from(from_, asserted), trusted=bool(asserted))
    assert vouch is (CallerVouch.NETWORK if asserted else CallerVouch.NONE)
    assert call_number(caller) == ticket.caller_phone
    report = _told(sessions, caller)
    assert not report.no_number and report.open_count == 1


@pytest.mark.parametrize(("caller", "phone", "name"), [
    ("65123456;phone-context=+86-21", "+862165123456", None),
    ("65123456;phone-context=+1-212", None, "SIP 651*3456"),  # no number: shown masked
    ("anonymous", None, "SIP anonymous"),
])
def test_a_call_s_number_is_filed_by_its_context_and_shown_masked_when_none(
        caller: str, phone: str | None, name: str | None) -> None:
    """review77: a number in a foreign context reads as none and was put whole into the
    ticket's ``caller_name``, shown to staff; it is masked as every number shown is."""
    from ivr.intake import CallJournal, _call_fields

    fields = _call_fields(CallJournal(call_id="c", caller=caller))
    assert (fields["caller_phone"], fields["caller_name"]) == (phone, name)


def _set_aside(sessions: sessionmaker[Session], domain: Domain, city: City,
               filed: dict[str, Ticket]) -> None:
    """剔除 three ways: the centre's reason beginning with a listed one (then archived),
    the handler's listed 申请剔除 the centre agreed to, and the centre's free text; as
    mend84's SMS test sets them aside."""
    boss, handler = city.actor("supervisor"), city.actor("water-handler")
    with sessions() as s:
        t = s.get_one(Ticket, filed["centre"].id)
        service.exclude(session=s, domain=domain, ticket=t, actor=boss,
                        reason="非本市事项：反映的是河北省廊坊市的道路")
        service.archive(session=s, domain=domain, ticket=t, actor=boss)
        t = s.get_one(Ticket, filed["requested"].id)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                  reason="重复诉求", text="与上周工单同一事项，已答复")
        service.exclude(session=s, domain=domain, ticket=t, actor=boss, reason="同意")
        service.exclude(session=s, domain=domain, ticket=s.get_one(Ticket, filed["free"].id),
                        actor=boss, reason="来电人多次骚扰座席")
        s.commit()


def test_a_ticket_set_aside_is_told_as_not_handled_never_as_closed(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """mend85: a ticket set aside (剔除), and archived after it, was told 已办结 to a keyed
    number (states' table put 剔除 with the closures), and key 1 by the caller's number told
    nothing of it. Now it reads 不予办理, as its SMS says, by the caller's number with the
    reason its SMS gave (a listed one, never the words staff wrote), for 30 days; a
    keyed number hears the step alone. An archived closure is still 已办结."""
    filed = {key: _file(sessions, domain, city, demand) for key, demand in (
        ("centre", "朝阳区望京西园三区5号楼停水了"), ("requested", "朝阳区望京西园四区停水了"),
        ("free", "朝阳区望京西园六区停水了"), ("closed", "朝阳区望京西园七区停水了"))}
    _set_aside(sessions, domain, city, filed)
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with sessions() as s:
        t = s.get_one(Ticket, filed["closed"].id)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已恢复供水",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=operator)
        service.archive(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        assert {k: s.get_one(Ticket, t.id).status for k, t in filed.items()} == {
            "centre": "archived", "requested": "excluded", "free": "excluded",
            "closed": "archived"}

    report = _told(sessions, CALLER, closed_limit=3)
    assert report.open_count == 0 and report.tickets == []
    tail = {k: t.number[-4:] for k, t in filed.items()}
    assert report.closed == [TicketStatus(tail["closed"], "已办结", "已解决：已恢复供水")]
    assert sorted(report.set_aside, key=lambda t: t.tail) == sorted([
        TicketStatus(tail["centre"], "不予办理", "非本市事项"),
        TicketStatus(tail["requested"], "不予办理", "重复诉求"),
        TicketStatus(tail["free"], "不予办理", "")], key=lambda t: t.tail)
    for withheld in ("廊坊", "同意", "已答复", "骚扰"):
        assert withheld not in repr(report), withheld
    for key in ("centre", "requested", "free"):
        assert keyed_ticket_status(sessions, filed[key].number) == TicketStatus(
            tail[key], "不予办理")
    assert keyed_ticket_status(sessions, filed["closed"].number) == TicketStatus(
        tail["closed"], "已办结")
    later = _told(sessions, CALLER, closed_limit=3, now=domain.now() + timedelta(days=31))
    assert later.set_aside == [] and later.closed == []


def test_an_archived_ticket_is_told_as_its_last_round_ended(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """review87: an archived ticket reads 已办结 or 不予办理 by ``closed_at``
    (``states.set_aside``): every closure sets it (核实办结, 直接答复, 随主单办结) and every
    reopening clears it (驳回重办, 随主单重办). A ticket closed, sent back and then set
    aside is set aside; a merged ticket closed with its primary is closed; one reopened
    with its primary, split off (拆单) and set aside is set aside. Each archived."""
    op, boss = city.actor("operator"), city.actor("supervisor")
    handler = city.actor("water-handler")

    def closed(s: Session, t: Ticket) -> None:
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已恢复供水",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=op)

    redone = _file(sessions, domain, city, "朝阳区望京西园三区5号楼停水了")
    merged = _file(sessions, domain, city, "朝阳区望京西园四区停水了")
    split = _file(sessions, domain, city, "朝阳区望京西园六区停水了")
    primaries = [_file(sessions, domain, city, f"朝阳区望京西园{n}区停水一天了",
                       caller="13700001111") for n in ("七", "八")]
    with sessions() as s:
        t = s.get_one(Ticket, redone.id)
        closed(s, t)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=boss, reason="未修好")
        service.exclude(session=s, domain=domain, ticket=t, actor=boss,
                        reason="非本市事项：河北省的小区")
        service.archive(session=s, domain=domain, ticket=t, actor=boss)
        for member, primary in zip((merged, split), primaries, strict=True):
            p = s.get_one(Ticket, primary.id)
            merging.merge(session=s, domain=domain, primary=p,
                          others=[s.get_one(Ticket, member.id)], actor=op)
            closed(s, p)
        service.archive(session=s, domain=domain, ticket=s.get_one(Ticket, merged.id),
                        actor=op)
        service.reject_redo(session=s, domain=domain, ticket=s.get_one(Ticket, primaries[1].id),
                            actor=boss, reason="未修好")
        t = s.get_one(Ticket, split.id)
        assert t.status == "merged" and t.closed_at is None
        merging.unmerge(session=s, domain=domain, ticket=t, actor=op, reason="不是同一事项")
        service.exclude(session=s, domain=domain, ticket=t, actor=boss, reason="重复诉求：同上")
        service.archive(session=s, domain=domain, ticket=t, actor=boss)
        s.commit()
        assert {s.get_one(Ticket, t.id).status for t in (redone, merged, split)} == {
            "archived"}

    assert [keyed_ticket_status(sessions, t.number) for t in (redone, merged, split)] == [
        TicketStatus(redone.number[-4:], "不予办理"), TicketStatus(merged.number[-4:], "已办结"),
        TicketStatus(split.number[-4:], "不予办理")]
    report = _told(sessions, CALLER, closed_limit=3)
    assert [t.tail for t in report.closed] == [merged.number[-4:]]
    assert sorted((t.tail, t.answer) for t in report.set_aside) == sorted([
        (redone.number[-4:], "非本市事项"), (split.number[-4:], "重复诉求")])
