"""Key 1 on the SIP line, socket-free (the scripted line of test_kb_confirm, the dialogue's
own state handlers, real prompts): a ticket set aside (剔除) is heard as not handled
(不予办理), never as closed -- with its listed reason by a number the network gave, its
step alone by a ticket number keyed in (mend85; the calls through SIPp that read key 1 are
in test_dialogue_operator)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts as P
from ivr.call_flow import Dialogue, IvrServices, State
from telephony.call import CallerVouch
from tests.ivr import test_kb_confirm as scripted
from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.models import Ticket


def _set_aside(sessions: sessionmaker[Session], domain: Domain, city: City,
               caller: str) -> str:
    """A ticket of ``caller``'s, set aside by the centre with a listed reason and its own
    words, then archived; its number."""
    op, boss = city.actor("operator"), city.actor("supervisor")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="phone",
                                  caller_phone=caller, demand="朝阳区望京西园三区5号楼停水了")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.exclude(session=s, domain=domain, ticket=t, actor=boss,
                        reason="非本市事项：反映的是河北省廊坊市的道路")
        service.archive(session=s, domain=domain, ticket=t, actor=boss)
        s.commit()
        assert s.get_one(Ticket, t.id).status == "archived"
        return t.number


def _dialogue(services: IvrServices, keys: list[str], vouch: CallerVouch
              ) -> tuple[Dialogue, scripted.ScriptedLine]:
    line = scripted.ScriptedLine(keys)
    line.caller_vouch, line.caller_address = vouch, "198.51.100.7"  # type: ignore[attr-defined]
    d = Dialogue(line, services)  # type: ignore[arg-type]
    d.audio = scripted.SaidTurn("")  # type: ignore[assignment]
    return d, line


def test_a_number_the_network_gave_hears_its_ticket_set_aside_with_the_reason(
        services: IvrServices, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    number = _set_aside(sessions, domain, city, scripted.ScriptedLine([]).caller)
    d, line = _dialogue(services, [], CallerVouch.NETWORK)
    assert d.handlers[State.STATUS]() is State.AFTER_STATUS
    prompts = services.prompts
    told = (prompts.pcm("status_none") + prompts.pcm("status_ticket")
            + prompts.number(number[-4:])
            + prompts.say(P.text("status_set_aside_tail",
                                 because=P.set_aside_because("非本市事项")), "status"))
    assert line.played[0] == told
    assert P.text("status_set_aside_tail", because=P.set_aside_because("非本市事项")) == (
        "的工单经审核不予办理，原因：非本市事项。")


def test_a_keyed_ticket_number_hears_set_aside_alone(
        services: IvrServices, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    number = _set_aside(sessions, domain, city, "13700001111")
    d, _ = _dialogue(services, [*number, "#"], CallerVouch.NONE)
    prompts = services.prompts
    assert d._status_by_ticket_number() == (
        prompts.pcm("status_ticket") + prompts.number(number[-4:])
        + prompts.say("不予办理。", "status"))
