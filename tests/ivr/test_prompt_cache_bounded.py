"""What a call leaves in the prompt cache (``data_dir/prompts``), socket-free (the scripted
line of test_kb_confirm, the dialogue's own state handlers, the real espeak-ng + sox
renderer): nothing. The read-back of a caller's category and address and a closed ticket's
answer told at key 1 carry one call's words; cached like the fixed prompts, each was one
more WAV file per call that nothing deleted (soak46: a 7x24 service's disk fills, and the
caller's address outlived the retention of the recording it came from). The fixed prompts
and the sentences a few values make (a deadline) stay cached."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts as P
from ivr.call_flow import IvrServices, State
from ivr.decisions import readback_sentence
from ivr.intake import CallIntake
from telephony.call import CallerVouch
from telephony.media import prompts as renderer_module
from tests.ivr import test_dialogue_status as status
from tests.ivr import test_kb_confirm as scripted
from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.intake_model import Understanding
from ticketing.models import Ticket

# The prompt cache is this file's subject, not storage: on SQLite alone (suite53: the
# PostgreSQL variants made the same calls and the same files again, ~1.3 CPU-s each).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# Complaints whose address the intake reads, each another street: another read-back.
COMPLAINTS = ["延庆区香水园街道新兴西社区12号楼楼道里暖气管爆了，热水淌了一地",
              "门头沟区大峪街道葡东社区3号院门口的井盖让人偷了，晚上黑乎乎的"]


def _cache(services: IvrServices) -> set[str]:
    cache = Path(services.settings.data_dir) / "prompts"
    return {p.name for p in cache.rglob("*")} if cache.exists() else set()


def _read_back(services: IvrServices, complaint: str, spoken: list[str]
               ) -> tuple[Understanding | None, scripted.ScriptedLine]:
    """A call to its read-back, then the read-back said (what espeak-ng said for it alone
    left in ``spoken``)."""
    d, line, path = scripted.converse(services, complaint, [], frozenset({State.READBACK}))
    assert path[-1] is State.READBACK
    spoken.clear()
    assert d.handlers[State.READBACK]() is State.CONFIRM
    return d.classification, line


@pytest.fixture
def spoken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What espeak-ng is given to say (the real renderer still runs)."""
    said: list[str] = []
    argv = renderer_module.espeak_argv
    monkeypatch.setattr(renderer_module, "espeak_argv", lambda text, out, **kw: said.append(
        text) or argv(text, out, **kw))
    return said


def test_a_read_back_leaves_no_file_and_is_heard(services: IvrServices,
                                                 spoken: list[str]) -> None:
    services.prompts.pcm("confirm")  # the fixed prompt after it: cached, as before
    before = _cache(services)
    for n, complaint in enumerate(COMPLAINTS):
        understanding, line = _read_back(services, complaint, spoken)
        assert understanding is not None and understanding.address, complaint
        sentence = readback_sentence(understanding)
        assert understanding.address in sentence
        # What the caller heard: the sentence spoken, then the fixed confirm prompt.
        assert spoken == [P.speakable(sentence)]
        assert _cache(services) == before, f"call {n}: {_cache(services) - before}"
        said = services.prompts.said(sentence)
        assert len(said) > 8000 * 2  # over a second of speech
        assert line.played[-1] == said + services.prompts.pcm("confirm")


def test_a_closed_tickets_answer_at_key_1_leaves_no_file(
        services: IvrServices, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    caller = scripted.ScriptedLine([]).caller
    earlier = CallIntake(sessions=sessions, domain=domain, spool=services.spool,
                         call_id="earlier", caller=caller)
    earlier.understood("朝阳区望京西园三区5号楼停水了")
    filed = earlier.file_ticket()
    assert filed is not None
    earlier.end()
    answer = "已抢修，恢复供水，换了一段锈穿的进户管"
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == filed.number)).one()
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text=answer,
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
    # Every fixed prompt made, as at start-up (``services`` linked the run's catalogue in:
    # nothing to render again here).
    services.prompts.warm()
    before = _cache(services)
    d, line = status._dialogue(services, [], CallerVouch.NETWORK)
    assert d.handlers[State.STATUS]() is State.AFTER_STATUS
    assert _cache(services) == before, _cache(services) - before
    told = services.prompts.said(P.text("status_closed_tail", answer=f"已解决：{answer}"))
    assert told in line.played[0]


@pytest.mark.parametrize("complaint", ["家里停水两天了，一直没来水，也没人通知", "喂"])
def test_a_read_back_that_names_no_address_is_not_made_again_for_every_caller(
        services: IvrServices, spoken: list[str], complaint: str) -> None:
    """Without an address the read-back is a sentence every such caller hears alike
    ("您的诉求已录音。", "您反映的是供水问题。"; a few categories make them): kept as
    before soak46, not made again (espeak-ng + sox) in front of each caller's read-back."""
    services.prompts.warm()
    heard = []
    for _caller in range(2):
        understanding, line = _read_back(services, complaint, spoken)
        assert understanding is None or not understanding.address, understanding
        heard.append(line.played[-1])
    assert spoken == [], "the second caller waited for a sentence the first one heard"
    assert heard[0] == heard[1] and len(heard[0]) > len(services.prompts.pcm("confirm"))
