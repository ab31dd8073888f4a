"""The demo city, seeded into a test database, with handy look-ups."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.demo import seed
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket, Unit, User


@dataclass
class City:
    tokens: dict[str, str]
    sessions: sessionmaker[Session]

    def actor(self, username: str) -> Actor:
        with self.sessions() as s:
            return Actor.of(s.scalars(select(User).where(User.username == username)).one())

    def unit_id(self, code: str) -> int:
        with self.sessions() as s:
            return s.scalars(select(Unit.id).where(Unit.code == code)).one()

    def user_id(self, username: str) -> int:
        with self.sessions() as s:
            return s.scalars(select(User.id).where(User.username == username)).one()


def seed_city(sessions: sessionmaker[Session], domain: Domain) -> City:
    with sessions() as session:
        result = seed(session=session, domain=domain, samples=False)
        session.commit()
    return City(tokens=result.tokens, sessions=sessions)


def settle(s: Session, domain: Domain, ticket: Ticket, operator: Actor,
           verdict: tuple[bool, bool] | None, outcome: str = "resolved") -> None:
    """The ticket's handler signs and replies, the operator closes it (核实), and the
    citizen answers the survey (resolved, satisfied) unless ``verdict`` is None."""
    handler = Actor.of(ticket.handler)
    service.sign(session=s, domain=domain, ticket=ticket, actor=handler)
    service.reply(session=s, domain=domain, ticket=ticket, actor=handler, text="已处理",
                  outcome=outcome, reason=None if outcome == "resolved" else "需协调")
    service.close(session=s, domain=domain, ticket=ticket, actor=operator)
    if verdict is not None:
        service.record_survey(session=s, domain=domain, ticket=ticket,
                              actor=Actor.system("outbound"), resolved=verdict[0],
                              satisfied=verdict[1])
