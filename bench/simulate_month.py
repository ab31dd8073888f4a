"""Simulate a month of the hotline in a fresh city, then produce its figures and 通报.

    .venv/bin/python bench/simulate_month.py                      # 2026-11, fresh SQLite
    .venv/bin/python bench/simulate_month.py --month 2026-11 --per-day 40 \
        --db postgresql+psycopg://u:pw@127.0.0.1/hotline \
        --screenshot docs/screenshots/monthly-report.png

Seeds the demo city (`hotline demo`'s units and users) into an empty database and files
tickets through the service functions with a controllable clock (``Domain.now``): the
month itself, lighter traffic the month before and the same month a year before (so
未诉先办 has something to compare), a realistic mix of categories, districts, streets and
communities from config/gazetteer.toml, a few communities with a standing problem (which
trigger 多诉督办), handlers who sign, reply and close on time or late (each unit with its
own habits), citizens' survey answers and unreachable ones, and a few supervisors'
penalties. Then prints 三率两度, the 红黑榜, the 督办 records and the rising categories,
writes the monthly report and, with --screenshot, photographs it in headless chromium.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# Run as a script: the repository, not bench/ (bench/ticketing.py would shadow the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline import dbadmin
from hotline.demo import seed
from hotline.monthly_report import generate
from ticketing import merging, service, supervision
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.directory import add_user
from ticketing.models import Ticket, Unit, User
from ticketing.monthly import monthly_report
from ticketing.points import flag_penalty, period_bounds, previous_period, year_before
from ticketing.states import AWAITING_DISPATCH_STATUSES, Role, Status

# category → (weight, what citizens say about it)
PROBLEMS: dict[str, tuple[int, list[str]]] = {
    "water": (10, ["停水了，一直没来水", "自来水发黄有异味", "水压太低，楼上没水"]),
    "power": (7, ["停电了，家里没电", "电压不稳，灯一直闪"]),
    "heating": (9, ["暖气不热，家里才十几度", "暖气片漏水"]),
    "municipal": (9, ["路灯坏了，晚上很黑", "井盖松动，走路危险", "人行道砖翘起来了"]),
    "environment": (8, ["垃圾堆了好几天没人清运", "饭店油烟扰民"]),
    "property": (10, ["物业不作为，电梯坏了一周", "楼道灯坏了物业不修"]),
    "traffic": (6, ["公交车晚点严重", "路口红绿灯坏了"]),
    "market": (5, ["超市卖过期食品", "商家拒绝退货"]),
    "labor": (4, ["公司拖欠工资三个月", "单位不给交社保"]),
    "housing": (4, ["房屋漏雨没人管", "老旧小区改造拖延"]),
    "other": (3, ["咨询居住证办理需要什么材料"]),
}
# unit code → (P(sign in time), P(reply before the deadline), P(resolved), P(satisfied | resolved))
HABITS: dict[str, tuple[float, float, float, float]] = {
    "bj-water": (0.97, 0.95, 0.92, 0.93), "bj-power": (0.95, 0.93, 0.9, 0.9),
    "bj-heating": (0.8, 0.7, 0.7, 0.75), "bj-gas": (0.95, 0.95, 0.9, 0.9),
    "bj-traffic": (0.85, 0.8, 0.75, 0.8), "bj-market": (0.9, 0.85, 0.8, 0.85),
    "bj-hrss": (0.75, 0.6, 0.55, 0.6), "bj-housing": (0.7, 0.55, 0.5, 0.6),
    "bj-ecology": (0.9, 0.88, 0.82, 0.85), "cy-housing": (0.65, 0.5, 0.5, 0.55),
}
DEFAULT_HABIT = (0.85, 0.8, 0.75, 0.8)
ROADS = ["建国路", "长安街", "学院路", "京开高速辅路", "西四环", "通惠河北路", "回龙观西大街",
         "科创街", "两广路", "阜成路"]
# Districts with a unit in the demo city (others go to the district's rule or the queue).
WEIGHTED_DISTRICTS = {"朝阳区": 8, "海淀区": 7, "丰台区": 4, "昌平区": 4, "东城区": 3,
                      "西城区": 3, "通州区": 3, "大兴区": 3}


@dataclass
class Spot:
    district: str
    street: str
    community: str
    names: list[str]  # community name and its estates, as callers say them


def spots(domain: Domain) -> list[Spot]:
    import tomllib

    from ticketing.places import GAZETTEER_FILE

    with GAZETTEER_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    return [Spot(d, s, c, [c, *estates]) for d, streets in data.items()
            for s, communities in streets.items() for c, estates in communities.items()]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def _actor(s: Session, username: str) -> Actor:
    return Actor.of(s.scalars(select(User).where(User.username == username)).one())


def _district_unit(s: Session, district: str) -> Unit | None:
    # What a dispatcher does with a ticket no rule places: its district government.
    codes = {"朝阳区": "cy", "海淀区": "hd", "东城区": "dc", "西城区": "xc", "丰台区": "ft",
             "昌平区": "cp", "通州区": "tz", "大兴区": "dx"}
    code = codes.get(district, "bj")
    return s.scalars(select(Unit).where(Unit.code == code)).first()


def file_one(s: Session, domain: Domain, clock: Clock, rng: random.Random, *, at: datetime,
             spot: Spot, category: str, phone: str, end: datetime,
             same_problem: list[str] | None = None) -> Ticket:
    """One call and what follows it, each step at its simulated time; steps that would
    fall after ``end`` (when the report is made) do not happen. ``same_problem``: numbers
    of neighbours who call about the same thing within the hour; the operator merges their
    tickets into this one (并单), so one answer and one survey cover them all."""
    op = _actor(s, "operator")
    words = rng.choice(PROBLEMS[category][1])
    # Many calls name a road or a landmark, not a community: those count by district only.
    name = (rng.choice(spot.names) if rng.random() < 0.6
            else rng.choice(ROADS) + rng.choice(["路口", "附近", "公交站旁", "地铁站旁"]))
    building = f"{rng.randint(1, 30)}号楼" if rng.random() < 0.6 and name in spot.names else ""
    district = spot.district if rng.random() < 0.8 else ""
    clock.at = at
    t = service.create_ticket(session=s, domain=domain, actor=op, channel="phone",
                              caller_phone=phone, demand=f"{district}{name}{building}{words}",
                              category=category, no_contact=rng.random() < 0.05)
    if category == "other" and rng.random() < 0.6:
        # A question the knowledge base answers on the spot (直接答复): no unit involved.
        clock.at = at + timedelta(minutes=rng.uniform(1, 3))
        return service.answer(session=s, domain=domain, ticket=t, actor=op,
                              text="已根据知识库答复来电人", data={"source": "simulation"})
    clock.at = at + timedelta(minutes=rng.uniform(1, 4))
    service.accept(session=s, domain=domain, ticket=t, actor=op)
    for neighbour in same_problem or []:
        clock.at += timedelta(minutes=rng.uniform(5, 50))
        dup = service.create_ticket(session=s, domain=domain, actor=op, channel="phone",
                                    caller_phone=neighbour, category=category,
                                    demand=f"{district}{name}也是{words}")
        merging.merge(session=s, domain=domain, primary=t, others=[dup], actor=op,
                      reason="同一问题，并单处理")
    if Status(t.status) in AWAITING_DISPATCH_STATUSES:
        unit = _district_unit(s, spot.district)
        clock.at += timedelta(minutes=rng.uniform(2, 30))
        service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=unit.id)
    if t.handler is None or t.dispatched_at is None:
        return t
    sign_p, reply_p, resolved_p, satisfied_p = HABITS.get(t.unit.code, DEFAULT_HABIT)
    handler = Actor.of(t.handler)
    window = t.sign_due_at - t.dispatched_at
    clock.at = t.dispatched_at + (window * rng.uniform(0.1, 0.9) if rng.random() < sign_p
                                  else window * rng.uniform(1.5, 20))
    service.sign(session=s, domain=domain, ticket=t, actor=handler)
    allowed = t.due_at - t.received_at
    done_at = t.received_at + (allowed * rng.uniform(0.2, 0.9) if rng.random() < reply_p
                               else allowed * rng.uniform(1.05, 1.6))
    if done_at > end:  # still open when the month's report is made
        return t
    clock.at = max(clock.at + timedelta(minutes=5), done_at)
    resolved = rng.random() < resolved_p
    service.reply(session=s, domain=domain, ticket=t, actor=handler,
                  text="已到现场处理完毕" if resolved else "已协调，部分问题需进一步处理",
                  outcome="resolved" if resolved else "partly",
                  reason=None if resolved else "需协调多个部门")
    clock.at += timedelta(minutes=rng.uniform(10, 120))
    if t.status == Status.REPLIED.value:
        service.close(session=s, domain=domain, ticket=t, actor=op)
    if t.no_contact:
        return t
    clock.at += timedelta(hours=rng.uniform(2, 30))
    if rng.random() < 0.08:
        service.record_unreachable(session=s, domain=domain, ticket=t,
                                   actor=Actor.system("outbound"))
        return t
    heard = resolved if rng.random() < 0.9 else not resolved  # 契合度 is not always 100 %
    service.record_survey(session=s, domain=domain, ticket=t, actor=Actor.system("outbound"),
                          resolved=heard, satisfied=heard and rng.random() < satisfied_p)
    return t


def simulate(sessions: sessionmaker[Session], domain: Domain, clock: Clock, *, month: str,
             per_day: int, seed_: int) -> dict[str, int]:
    rng = random.Random(seed_)
    places = spots(domain)
    by_district: dict[str, list[Spot]] = {}
    for p in places:
        by_district.setdefault(p.district, []).append(p)
    districts = list(by_district)
    weights = [WEIGHTED_DISTRICTS.get(d, 1) for d in districts]
    categories = list(PROBLEMS)
    cat_weights = [PROBLEMS[c][0] for c in categories]
    # Standing problems: a few communities with one problem citizens keep calling about.
    standing = [(rng.choice(by_district[d]), c) for d, c in
                (("朝阳区", "heating"), ("海淀区", "water"), ("昌平区", "property"),
                 ("丰台区", "municipal"), ("通州区", "environment"))]
    counts = {"tickets": 0}
    end = period_bounds(month, domain.tz)[1]
    phone_seq = iter(range(10_000_000))
    # The month itself, then lighter months to compare with (rising categories differ).
    runs = [(month, per_day, None), (previous_period(month), per_day * 3 // 4, "heating"),
            (year_before(month), per_day // 2, "property")]
    for period, daily, damped in runs:
        since, until = period_bounds(period, domain.tz)
        days = (until - since).days
        for day in range(days):
            for _ in range(max(1, int(rng.gauss(daily, daily / 5)))):
                at = since + timedelta(days=day, seconds=rng.uniform(7 * 3600, 22 * 3600))
                neighbours: list[str] = []
                if period == month and rng.random() < 0.06:
                    spot, category = rng.choice(standing)
                    if rng.random() < 0.4:
                        neighbours = [f"139{next(phone_seq):08d}"]
                else:
                    spot = rng.choice(by_district[rng.choices(districts, weights)[0]])
                    category = rng.choices(categories, cat_weights)[0]
                    if category == damped and rng.random() < 0.6:
                        category = "other"
                with sessions() as s:
                    file_one(s, domain, clock, rng, at=at, spot=spot, category=category,
                             phone=f"138{next(phone_seq):08d}", end=end,
                             same_problem=neighbours)
                    s.commit()
                counts["tickets"] += 1 + len(neighbours)
    since, until = period_bounds(month, domain.tz)
    with sessions() as s:
        boss = _actor(s, "supervisor")
        clock.at = until - timedelta(hours=6)
        month_tickets = list(s.scalars(select(Ticket).where(
            Ticket.received_at >= since, Ticket.received_at < until,
            Ticket.unit_id.is_not(None)).order_by(Ticket.id)))
        for t in rng.sample(month_tickets, min(6, len(month_tickets))):
            flag_penalty(session=s, domain=domain, ticket=t, actor=boss,
                         kind=rng.choice(["incomplete", "incomplete", "negative_opinion"]),
                         reason="抽查发现办理材料不全")
        # Some 督办 records are settled before the month ends.
        for case in supervision.cases(session=s, actor=boss, open_only=True)[::2]:
            supervision.close_case(session=s, domain=domain, case=case, actor=boss,
                                   note="已现场督办，问题解决")
        s.commit()
    return counts


def screenshot(report: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
            viewport={"width": 1024, "height": 1400}, locale="zh-CN",
            timezone_id="Asia/Shanghai")
        try:
            page = ctx.new_page()
            page.goto(report.resolve().as_uri())
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", default="2026-11")
    ap.add_argument("--per-day", type=int, default=30, help="tickets per day in the month")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--db", help="an EMPTY database URL; default a fresh SQLite file")
    ap.add_argument("--data-dir", type=Path, help="where the report goes; default a temp dir")
    ap.add_argument("--screenshot", type=Path, help="PNG of the report (headless chromium)")
    args = ap.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="hotline-month-"))
    url = args.db or f"sqlite:///{data_dir / 'hotline.db'}"
    dbadmin.upgrade(url)
    settings = Settings(database_url=url, data_dir=data_dir)
    domain = Domain.load(settings)
    since, _ = period_bounds(args.month, domain.tz)
    clock = Clock(since)
    domain.now = clock  # type: ignore[method-assign]  # the simulated clock
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        if s.scalars(select(User).where(User.role == Role.OPERATOR.value)).first():
            raise SystemExit(f"{url} already has users: give an empty database")
        seed(session=s, domain=domain, samples=False)
        # Every unit the rules or the dispatcher send tickets to has a handler on duty.
        staffed = set(s.scalars(select(User.unit_id).where(User.role == Role.HANDLER.value)))
        for unit in s.scalars(select(Unit).where(Unit.id.not_in(staffed)).order_by(Unit.id)):
            add_user(session=s, username=f"{unit.code}-handler",
                     display_name=f"{unit.name.removesuffix('人民政府')}承办人",
                     role=Role.HANDLER, unit_code=unit.code, phone=None)
        s.commit()
    started = time.monotonic()
    counts = simulate(sessions, domain, clock, month=args.month, per_day=args.per_day,
                      seed_=args.seed)
    elapsed = time.monotonic() - started
    # The report is made as the scheduler makes it: early on the 1st of the next month.
    clock.at = period_bounds(args.month, domain.tz)[1] + timedelta(hours=1, minutes=30)
    with sessions() as s:
        started = time.monotonic()
        r = monthly_report(session=s, domain=domain, month=args.month)
        gathered = time.monotonic() - started
    path = generate(sessions, domain, args.month)
    print(json.dumps({
        "database": url, "simulated_tickets": counts["tickets"],
        "simulate_seconds": round(elapsed, 1),
        "report_gather_seconds": round(gathered, 2),  # every SQL figure of the month
        "month": args.month, "overall": r.overall.as_dict(),
        "ranking": [(u.rank, u.code, u.score, u.points) for u in r.ranking.units],
        "red": [u.code for u in r.ranking.red], "black": [u.code for u in r.ranking.black],
        "supervision_cases": [(c.case.id, c.case.community, c.case.category, c.case.tickets,
                               c.case.status) for c in r.cases],
        "rising": [t.as_dict() for t in r.trends.rising(5)],
        "report": str(path),
    }, ensure_ascii=False, indent=1, default=str))
    if args.screenshot:
        screenshot(path, args.screenshot)
        print(f"screenshot: {args.screenshot}")


if __name__ == "__main__":
    main()
