"""`hotline demo`: a believable small city to try the service with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.directory import add_unit, add_user, issue_token
from ticketing.models import Unit, User
from ticketing.states import Role

# (code, name, kind, parent)
UNITS: tuple[tuple[str, str, str, str | None], ...] = (
    ("bj", "北京市12345市民服务热线", "city", None),
    ("cy", "朝阳区人民政府", "district", "bj"),
    ("cy-wangjing", "朝阳区望京街道办事处", "street", "cy"),
    ("cy-housing", "朝阳区住房和城乡建设委员会", "agency", "cy"),
    ("hd", "海淀区人民政府", "district", "bj"),
    ("hd-zgc", "海淀区中关村街道办事处", "street", "hd"),
    ("dc", "东城区人民政府", "district", "bj"),
    ("xc", "西城区人民政府", "district", "bj"),
    ("ft", "丰台区人民政府", "district", "bj"),
    ("cp", "昌平区人民政府", "district", "bj"),
    ("tz", "通州区人民政府", "district", "bj"),
    ("dx", "大兴区人民政府", "district", "bj"),
    ("bj-water", "北京市自来水集团", "utility", "bj"),
    ("bj-power", "国网北京市电力公司", "utility", "bj"),
    ("bj-gas", "北京市燃气集团", "utility", "bj"),
    ("bj-heating", "北京市热力集团", "utility", "bj"),
    ("bj-traffic", "北京市交通委员会", "agency", "bj"),
    ("bj-market", "北京市市场监督管理局", "agency", "bj"),
    ("bj-hrss", "北京市人力资源和社会保障局", "agency", "bj"),
    ("bj-health", "北京市卫生健康委员会", "agency", "bj"),
    ("bj-education", "北京市教育委员会", "agency", "bj"),
    ("bj-ecology", "北京市生态环境局", "agency", "bj"),
    ("bj-housing", "北京市住房和城乡建设委员会", "agency", "bj"),
)

# (username, name, role, unit, phone)
USERS: tuple[tuple[str, str, Role, str | None, str | None], ...] = (
    ("admin", "系统管理员", Role.ADMIN, None, None),
    ("operator", "话务员小李", Role.OPERATOR, None, "13900000001"),
    ("supervisor", "督办科王科长", Role.SUPERVISOR, "bj", "13900000002"),
    ("cy-supervisor", "朝阳区督办员", Role.SUPERVISOR, "cy", "13900000003"),
    ("cy-handler", "朝阳区承办人张伟", Role.HANDLER, "cy", "13900000010"),
    ("wangjing-handler", "望京街道承办人刘洋", Role.HANDLER, "cy-wangjing", "13900000011"),
    ("cy-housing-handler", "朝阳住建承办人陈静", Role.HANDLER, "cy-housing", "13900000012"),
    ("hd-handler", "海淀区承办人赵磊", Role.HANDLER, "hd", "13900000020"),
    ("water-handler", "自来水集团承办人孙强", Role.HANDLER, "bj-water", "13900000030"),
    ("power-handler", "电力公司承办人周敏", Role.HANDLER, "bj-power", "13900000031"),
    ("gas-handler", "燃气集团承办人吴刚", Role.HANDLER, "bj-gas", "13900000032"),
    ("heating-handler", "热力集团承办人郑华", Role.HANDLER, "bj-heating", "13900000033"),
    ("traffic-handler", "交通委承办人冯超", Role.HANDLER, "bj-traffic", "13900000034"),
    ("market-handler", "市场监管承办人何丽", Role.HANDLER, "bj-market", "13900000035"),
)

SAMPLE_COMPLAINTS: tuple[tuple[str, str], ...] = (
    ("13811112222", "朝阳区望京西园三区5号楼从今天早上开始停水，到现在还没来水，家里有老人。"),
    ("13633334444", "海淀区中关村大街的人行道上有个井盖丢了，晚上很危险，请尽快处理。"),
    ("13755556666", "我家小区朝阳区安贞里的物业不作为，楼道灯坏了一个月也不修。"),
)


@dataclass
class DemoResult:
    tokens: dict[str, str]
    tickets: list[str]
    created: bool


def seed(*, session: Session, domain: Domain, samples: bool = True) -> DemoResult:
    """Create the demo city once; later runs only issue fresh tokens for the demo users."""
    created = session.scalars(select(Unit).where(Unit.code == "bj")).first() is None
    tokens: dict[str, str] = {}
    tickets: list[str] = []
    if created:
        for code, name, kind, parent in UNITS:
            add_unit(session=session, code=code, name=name, kind=kind, parent_code=parent)
        for username, name, role, unit, phone in USERS:
            _, tokens[username] = add_user(
                session=session, username=username, display_name=name, role=role,
                unit_code=unit, phone=phone,
            )
        operator = Actor.of(session.scalars(select(User).where(User.username == "operator")).one())
        for phone, text in SAMPLE_COMPLAINTS if samples else ():
            t = service.create_ticket(
                session=session, domain=domain, actor=operator, channel="api",
                caller_phone=phone, demand=text,
            )
            service.accept(session=session, domain=domain, ticket=t, actor=operator)
            tickets.append(t.number)
    else:
        for user in session.scalars(
            select(User).where(User.username.in_([u[0] for u in USERS]))
        ):
            tokens[user.username] = issue_token(user)
    session.flush()
    return DemoResult(tokens=tokens, tickets=tickets, created=created)
