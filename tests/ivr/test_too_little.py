"""Words that say too little ("喂", "嗯嗯") on the IVR, decided by ivr.decisions with the
shipped settings: asked again once, as unsure words are; then read back without a guessed
category and filed (the ticket is held for the operator: tests/ticketing/test_held.py).
A short emergency is still handed over at once."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts as P
from ivr.decisions import Step, readback_sentence, take_turn
from ticketing.context import Domain

# The decision on the words is the subject, not what is stored: SQLite alone (docs/suite.md).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _turn(sessions: sessionmaker[Session], domain: Domain, text: str, *, may_ask: bool):
    return take_turn(sessions=sessions, domain=domain, text=text, ask_again=False,
                     may_ask_again=may_ask, offer_answer=True, call_id="c-too-little",
                     may_confirm=True)


@pytest.mark.parametrize("text", ["喂", "嗯嗯", "喂，你好？有人吗"])
def test_too_little_is_asked_again_once_then_read_back_without_a_category(
        text: str, sessions: sessionmaker[Session], domain: Domain) -> None:
    first = _turn(sessions, domain, text, may_ask=True)
    assert first.step is Step.ASK_AGAIN and first.answer is None
    second = _turn(sessions, domain, text, may_ask=False)  # asked once already
    assert second.step is Step.READBACK
    assert readback_sentence(second.understanding) == P.text("readback_unclassified")


def test_a_short_complaint_is_read_back_as_before(sessions: sessionmaker[Session],
                                                  domain: Domain) -> None:
    turn = _turn(sessions, domain, "停电了", may_ask=True)
    assert turn.step is Step.READBACK
    assert readback_sentence(turn.understanding) == "您反映的是供电问题。"


@pytest.mark.parametrize(("text", "service"), [("着火了", "119"), ("有人晕倒了", "120")])
def test_a_short_emergency_is_handed_over(text: str, service: str,
                                          sessions: sessionmaker[Session],
                                          domain: Domain) -> None:
    turn = _turn(sessions, domain, text, may_ask=True)
    assert turn.step is Step.EMERGENCY and turn.understanding is not None
    assert turn.understanding.emergency == service
