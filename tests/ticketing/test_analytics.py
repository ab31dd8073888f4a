"""The analytics side of the closed loop on SQLite and PostgreSQL, shipped settings:
places stored on tickets, 多诉督办 (3 within 7 days), 一诉多办, hot spots by place,
未诉先办 trends and 红黑榜 — through the service functions and the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.support.city import City, settle
from ticketing import analytics, service, supervision
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import SupervisionCase, SupervisionLink, Ticket, TicketEvent
from ticketing.points import period_bounds
from ticketing.reports import figures
from ticketing.states import Role

WATER = "朝阳区望京西园三区{n}号楼停水了，一直没来水"


def _file(s: Session, domain: Domain, op: Actor, phone: str, demand: str,
          received: datetime | None = None, category: str | None = None,
          confidential: bool = False) -> Ticket:
    t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                              caller_phone=phone, demand=demand, received_at=received,
                              category=category, confidential=confidential)
    service.accept(session=s, domain=domain, ticket=t, actor=op)
    return t


@pytest.fixture
def client(settings: Settings, city: City) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _auth(city: City, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {city.tokens[user]}"}


def test_place_is_stored_and_shown(client: TestClient, city: City) -> None:
    r = client.post("/api/v1/tickets", headers=_auth(city, "operator"),
                    json={"caller_phone": "13811112222", "demand": WATER.format(n=5)})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["district"], body["street"], body["community"]) == (
        "朝阳区", "望京街道", "望京西园三区社区")


def test_repeat_complaints_open_one_supervision_record(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City, settings: Settings) -> None:
    assert domain.settings.analytics.supervise_after == 3  # the shipped threshold
    now = domain.now()
    op = city.actor("operator")
    with sessions() as s:
        # Two in the window, one too old to count, and one of another category there.
        _file(s, domain, op, "13811110000", WATER.format(n=1), now - timedelta(days=9))
        a = _file(s, domain, op, "13811110001", WATER.format(n=2), now - timedelta(days=3))
        b = _file(s, domain, op, "13811110002", WATER.format(n=3), now - timedelta(days=1))
        _file(s, domain, op, "13811110003", "朝阳区望京西园三区楼道里的路灯坏了")
        s.commit()
        assert s.scalar(select(SupervisionCase.id)) is None  # 2 in 7 days: no record yet
        c = _file(s, domain, op, "13811110004", WATER.format(n=4))
        d = _file(s, domain, op, "13811110005", WATER.format(n=6))  # joins, opens nothing
        s.commit()
        cases = s.scalars(select(SupervisionCase)).all()
        assert len(cases) == 1
        case = cases[0]
        assert (case.category, case.community, case.status, case.tickets) == (
            "water", "望京西园三区社区", "open", 4)
        linked = set(s.scalars(select(SupervisionLink.ticket_id)))
        assert linked == {a.id, b.id, c.id, d.id}
        notes = dict(s.execute(select(TicketEvent.ticket_id, TicketEvent.note)
                               .where(TicketEvent.action == supervision.SUPERVISE_EVENT)).all())
        assert notes[a.id] == "多诉督办：朝阳区望京街道望京西园三区社区7天内3件供水诉求，已立督办件"
        assert notes[d.id] == "多诉督办：朝阳区望京街道望京西园三区社区供水问题，并入督办件（共4件）"
        # Filing is idempotent per ticket: asking again links nothing twice.
        supervision.on_ticket(session=s, domain=domain, ticket=d, actor=Actor.system("t"))
        s.commit()
        assert s.get(SupervisionCase, case.id).tickets == 4
        case_id, numbers = case.id, [a.number, b.number, c.number, d.number]

    r = client.get("/api/v1/supervision", headers=_auth(city, "supervisor"))
    assert r.status_code == 200 and [x["tickets"] for x in r.json()] == [numbers]
    # The handler of another unit's tickets reads no figures; a handler never closes it.
    assert client.get("/api/v1/supervision", headers=_auth(city, "water-handler")
                      ).status_code == 403
    assert client.post(f"/api/v1/supervision/{case_id}/close",
                       headers=_auth(city, "operator"), json={"reason": "x"}).status_code == 403
    r = client.post(f"/api/v1/supervision/{case_id}/close", headers=_auth(city, "supervisor"),
                    json={"reason": "管网已更换，供水恢复"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    # Closed: the next complaint there (still 3+ in 7 days) opens a new record.
    op = city.actor("operator")
    with sessions() as s:
        _file(s, domain, op, "13811110006", WATER.format(n=7))
        s.commit()
        assert [c.status for c in s.scalars(select(SupervisionCase).order_by(
            SupervisionCase.id))] == ["closed", "open"]
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as local:
        families = {f.name: f for f in text_string_to_metric_families(
            local.get("/metrics").text)}
    assert {x.labels["status"]: x.value for x in
            families["hotline_supervision_cases"].samples} == {"open": 1.0, "closed": 1.0}
    # 6 water tickets in one community within 30 days: over the shipped warning line (5).
    assert families["hotline_community_warnings"].samples[0].value == 1.0
    assert {x.labels["district"]: x.value for x in
            families["hotline_tickets_30d_by_district"].samples} == {"朝阳区": 7.0}


def test_related_tickets_and_community_warning(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        env = "environment"  # as an operator would type it: the rules differ on these
        first = _file(s, domain, op, "13822220001", "朝阳区望京街道花家地北里垃圾堆了好几天没人清",
                      category=env)
        _file(s, domain, op, "13822220002", "朝阳区花家地西里垃圾没人清运", category=env)
        _file(s, domain, op, "13822220003", "朝阳区南湖东园垃圾满了没人清运",
              category=env)  # the same street
        _file(s, domain, op, "13822220004", "海淀区安宁里垃圾没人清运", category=env)
        s.commit()
        number, category = first.number, first.category
        assert first.community == "花家地社区"
    r = client.get(f"/api/v1/tickets/{number}/related", headers=_auth(city, "operator"))
    assert r.status_code == 200, r.text
    assert [x["same"] for x in r.json()] == ["street", "community"]  # newest first
    op = city.actor("operator")
    with sessions() as s:
        warn = analytics.community_warnings(
            session=s, actor=Actor.system("t"), now=domain.now(),
            days=domain.settings.analytics.related_window_days, threshold=2)
        assert [(w.community, w.category, w.tickets) for w in warn] == [
            ("花家地社区", category, 2)]


def test_related_confidential_ticket_only_for_whom_may_see_its_caller(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        plain = _file(s, domain, op, "13855550001", WATER.format(n=1))
        other = _file(s, domain, op, "13855550002", WATER.format(n=2))
        secret = _file(s, domain, op, "13855550003", WATER.format(n=3), confidential=True)
        s.commit()
    def seen(user: str) -> list[str]:
        r = client.get(f"/api/v1/tickets/{plain.number}/related", headers=_auth(city, user))
        assert r.status_code == 200, r.text
        return [x["number"] for x in r.json()]

    # Beside a plain ticket at the same place, a confidential one would point at who called.
    assert seen("water-handler") == [other.number]
    assert seen("operator") == [secret.number, other.number]
    # And on the confidential ticket itself, a handler gets no list at all.
    r = client.get(f"/api/v1/tickets/{secret.number}/related",
                   headers=_auth(city, "water-handler"))
    assert r.status_code == 200 and r.json() == []


def test_hot_spots_by_place(client: TestClient, sessions: sessionmaker[Session],
                            domain: Domain, city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        for i, text in enumerate(["朝阳区望京西园三区停水了", "望京西园三区3号楼没有水",
                                  "朝阳区望京西园四区停水了", "海淀区安宁里停水"]):
            _file(s, domain, op, f"1383333000{i}", text)
        s.commit()
    h = _auth(city, "supervisor")
    by = {level: client.get("/api/v1/hotspots/places", headers=h,
                            params={"level": level, "min_tickets": 1}).json()
          for level in ("district", "street", "community")}
    assert [(x["place"], x["tickets"]) for x in by["district"]] == [("朝阳区", 3), ("海淀区", 1)]
    assert by["street"][0]["place"] == "朝阳区望京街道" and by["street"][0]["tickets"] == 3
    # Two wordings of one estate are one hot spot; the exact-address list splits them.
    assert (by["community"][0]["place"], by["community"][0]["tickets"]) == (
        "朝阳区望京街道望京西园三区社区", 2)


def test_trends_against_previous_period_and_last_year(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    month_start, _ = period_bounds("2026-10", domain.tz)
    at = {"2026-10": month_start + timedelta(days=3),
          "2026-09": month_start - timedelta(days=10),
          "2025-10": period_bounds("2025-10", domain.tz)[0] + timedelta(days=5)}
    counts = {("供暖", "2026-10"): 4, ("供暖", "2026-09"): 1, ("供暖", "2025-10"): 2,
              ("燃气", "2026-10"): 2, ("燃气", "2026-09"): 2, ("燃气", "2025-10"): 0}
    texts = {"供暖": "朝阳区安贞里暖气不热", "燃气": "海淀区安宁里燃气灶打不着火"}
    n = 0
    op = city.actor("operator")
    with sessions() as s:
        for (label, period), k in counts.items():
            for _ in range(k):
                n += 1
                _file(s, domain, op, f"139444{n:05d}", texts[label], at[period])
        s.commit()
    r = client.get("/api/v1/trends", params={"period": "2026-10"},
                   headers=_auth(city, "supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["previous"], body["last_year"]) == ("2026-09", "2025-10")
    rising = [(t["category"], t["current"], t["previous"], t["last_year"], t["vs_previous"])
              for t in body["rising"]]
    assert rising == [("heating", 4, 1, 2, 3.0), ("gas", 2, 2, 0, 0.0)]
    assert {(t["category"], t["district"]) for t in body["by_district"]} == {
        ("heating", "朝阳区"), ("gas", "海淀区")}
    assert client.get("/api/v1/trends", params={"period": "2026-Q4"},
                      headers=_auth(city, "supervisor")).json()["previous"] == "2026-Q3"


def test_rankings_red_and_black(client: TestClient, sessions: sessionmaker[Session],
                                domain: Domain, city: City) -> None:
    # water: closed on time, satisfied; power: closed, dissatisfied; gas: not replied yet.
    plan = [("朝阳区望京西园三区停水了", (True, True)), ("朝阳区安贞里停电了", (False, False)),
            ("海淀区安宁里燃气泄漏的味道", None), ("朝阳区安贞里暖气不热", (True, False))]
    op = city.actor("operator")
    with sessions() as s:
        for i, (text, verdict) in enumerate(plan):
            t = _file(s, domain, op, f"1375555000{i}", text)
            if verdict is None:
                continue
            settle(s, domain, t, op, verdict)
        s.commit()
    period = domain.now().astimezone(domain.tz).strftime("%Y-%m")
    r = client.get("/api/v1/rankings", params={"period": period},
                   headers=_auth(city, "supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    order = [u["code"] for u in body["units"]]
    # water 100 (all five rates 1); heating 80 (satisfaction 0); power 40 (resolution,
    # satisfaction and match 0); gas has no rate yet (not due, no survey): last.
    assert order == ["bj-water", "bj-heating", "bj-power", "bj-gas"]
    assert [u["score"] for u in body["units"]] == [100.0, 80.0, 40.0, None]
    # Three scored units: one on each list; gas (no rate yet) on neither.
    assert body["red"] == ["bj-water"] and body["black"] == ["bj-power"]
    for p in (period[:4], f"{period[:4]}-Q{(int(period[5:]) - 1) // 3 + 1}"):
        assert client.get("/api/v1/rankings", params={"period": p},
                          headers=_auth(city, "supervisor")).json()["units"][0]["code"] == (
            "bj-water")


def test_two_nodes_filing_the_third_complaint_open_one_record(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str) -> None:
    """Node 1 opens the record and has not committed; node 2 files its own third complaint
    at that moment. On PostgreSQL node 2 sees no open record, tries to open one, waits on
    the unique key and, once node 1 commits, joins node 1's record instead; on SQLite it
    waits for the write lock and then finds the record. Either way: one record, 4 tickets."""
    op = city.actor("operator")
    with sessions() as s:
        for i in range(2):
            _file(s, domain, op, f"1380000000{i}", WATER.format(n=i + 1),
                  domain.now() - timedelta(days=2))
        s.commit()
    node1 = sessions()
    third = _file(node1, domain, op, "13800000002", WATER.format(n=3))
    assert node1.scalars(select(SupervisionCase)).one().tickets == 3  # flushed, uncommitted
    errors: list[BaseException] = []

    def node2() -> None:
        try:
            with sessions() as s:
                # A call from yesterday (a late transcript, another node's clock): its
                # number comes from another day's counter, so nothing else serialises the
                # two nodes before the 督办 record.
                _file(s, domain, op, "13800000003", WATER.format(n=4),
                      domain.now() - timedelta(days=1))
                s.commit()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=node2)
    thread.start()
    if db_url.startswith("postgresql"):
        # Commit only once node 2 is blocked inserting its own record (the unique key).
        deadline = time.monotonic() + 30
        with sessions() as watcher:
            while not (waiting := watcher.scalar(text(
                    "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"))):
                assert time.monotonic() < deadline and thread.is_alive(), errors
                time.sleep(0.05)
                watcher.rollback()
        assert waiting.startswith("INSERT INTO supervision_cases")
    node1.commit()
    node1.close()
    thread.join(60)
    assert not errors and not thread.is_alive()
    with sessions() as s:
        (case,) = s.scalars(select(SupervisionCase)).all()
        assert case.tickets == 4 and case.status == "open"
        assert len(s.scalars(select(SupervisionLink.id)).all()) == 4
        assert third.id in set(s.scalars(select(SupervisionLink.ticket_id)))


def test_ranking_counts_by_unit_match_hand_counts_and_figures(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """红黑榜 from one grouped query per period: every unit's counts and rates as counted by
    hand, and as figures() gives for that unit alone (the definition they share)."""
    start = datetime(2026, 3, 2, 10, tzinfo=domain.tz)  # a Monday; 24-hour deadlines
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op, sup, bot = city.actor("operator"), city.actor("supervisor"), Actor.system("outbound")
    # Looked up before our session: SQLite has one writer.
    staff = {u: city.actor(u) for u in ("water-handler", "power-handler", "gas-handler")}

    def at(hours: float) -> None:
        clock[0] = start + timedelta(hours=hours)

    def filed(s: Session, i: int, category: str, demand: str, handler: str,
              hours: float = 0) -> Ticket:
        at(hours)
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone=f"1382222{i:04d}", category=category,
                                  urgency="livelihood", demand=demand)
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.sign(session=s, domain=domain, ticket=t, actor=staff[handler])
        return t

    def answered(s: Session, t: Ticket, handler: str, outcome: str, hours: float) -> None:
        at(hours)
        service.reply(session=s, domain=domain, ticket=t, actor=staff[handler],
                      text="已处理", outcome=outcome,
                      reason=None if outcome == "resolved" else "产权自管")
        service.close(session=s, domain=domain, ticket=t, actor=op)

    def surveyed(s: Session, t: Ticket, resolved: bool, satisfied: bool) -> None:
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                              resolved=resolved, satisfied=satisfied)

    with sessions() as s:
        w = "water-handler"
        w1 = filed(s, 1, "water", "朝阳区望京西园一区停水了", w)
        answered(s, w1, w, "resolved", 2)
        surveyed(s, w1, True, True)
        # The handler said it cannot be solved; the citizen says it was: no match.
        w2 = filed(s, 2, "water", "朝阳区望京西园二区停水了", w)
        answered(s, w2, w, "unresolvable", 2)
        surveyed(s, w2, True, False)
        filed(s, 3, "water", "朝阳区望京西园三区停水了", w)  # open past its deadline
        w4 = filed(s, 4, "water", "朝阳区望京西园四区停水了", w)
        service.exclude(session=s, domain=domain, ticket=w4, actor=sup, reason="重复恶意来电")
        # 驳回重办: the first closure's answer is replaced by the second's.
        w5 = filed(s, 5, "water", "朝阳区望京西园五区停水了", w)
        answered(s, w5, w, "resolved", 2)
        surveyed(s, w5, False, False)
        at(3)
        service.reject_redo(session=s, domain=domain, ticket=w5, actor=sup, reason="未修好")
        service.sign(session=s, domain=domain, ticket=w5, actor=staff[w])
        answered(s, w5, w, "resolved", 5)
        surveyed(s, w5, True, True)
        # Power: replied and closed after its deadline; the citizen never answered.
        p1 = filed(s, 6, "power", "朝阳区安贞里停电了", "power-handler")
        answered(s, p1, "power-handler", "resolved", 30)
        service.record_unreachable(session=s, domain=domain, ticket=p1, actor=bot)
        # The month before: not in this month's ranking.
        clock[0] = start - timedelta(days=5)
        before = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                       caller_phone="13822229999", category="power",
                                       demand="朝阳区安贞里又停电了")
        service.accept(session=s, domain=domain, ticket=before, actor=op)
        # Gas: not due yet, nothing to rate.
        filed(s, 7, "gas", "海淀区安宁里燃气泄漏的味道", "gas-handler", hours=60)
        s.commit()

    now = start + timedelta(days=3)
    with sessions() as s:
        r = analytics.ranking(session=s, actor=op, period="2026-03", tz=domain.tz, now=now)
        fields = ("tickets", "due", "closed_on_time", "replied_on_time", "surveyed",
                  "resolved", "satisfied", "compared", "matched")
        got = {u.code: tuple(getattr(u.figures, k) for k in fields) for u in r.units}
        assert got == {"bj-water": (4, 4, 3, 3, 3, 3, 2, 3, 2),
                       "bj-power": (1, 1, 0, 0, 0, 0, 0, 0, 0),
                       "bj-gas": (1, 0, 0, 0, 0, 0, 0, 0, 0)}
        water = r.units[0]
        assert [u.code for u in r.units] == ["bj-water", "bj-power", "bj-gas"]
        assert [getattr(water.figures, k) for k in analytics.RANKED_RATES] == [
            0.75, 0.75, 1.0, 0.6667, 0.6667]
        assert [u.score for u in r.units] == [76.67, 0.0, None]
        assert [u.code for u in r.red] == ["bj-water"]
        assert [u.code for u in r.black] == ["bj-power"]
        # Each unit alone through figures(), the per-unit computation this replaced.
        for u in r.units:
            unit_id = s.scalars(select(Ticket.unit_id).join(Ticket.unit)
                                .where(Ticket.unit.has(code=u.code))).first()
            exact = Actor(id=None, name=u.code, role=Role.HANDLER, unit_id=unit_id)
            f = figures(session=s, actor=exact, now=now, since=start - timedelta(days=1),
                        until=now, utility_window=domain.utility_window)
            assert tuple(getattr(f, k) for k in fields) == got[u.code]
            assert all(getattr(f, k) == getattr(u.figures, k) for k in analytics.RANKED_RATES)
