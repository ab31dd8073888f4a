"""A citizen (or a handler) who holds our call (a hold key, a mobile phone's call waiting:
re-INVITE a=sendonly) while it asks, socket-free on the SIP dialer's own loop (stand-in
calls, as tests/outbound/test_wrong_keys.py). The one hold rule of the hotline's dialogue
(``telephony.call.HoldWait``): while they hold, wait, up to ``MAX_HOLD_SECONDS`` a call;
the question they held through is asked again once they are back, and a wait for a key
they held through is no silence. Before (judge39, seen with a raw SIP callee holding 35 s
after the survey's report): both asks ran out while held, the call was hung up on them as
answered without an answer, and the survey was placed again half an hour later."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import telephony.call
from config.settings import Settings
from outbound.dialers import SipDialer
from outbound.models import Outcome
from outbound.prompts import PromptLibrary
from telephony.call import PlayResult
from tests.outbound.test_wrong_keys import FrontEnd, KeyingCall, TwoQuestions

AWAY_SECONDS = 0.4  # how long the stand-in callee holds


class HoldingCall(KeyingCall):
    """Holds as the ``at``-th prompt starts to play (heard by nobody) and comes back
    ``away`` seconds later (None: never); while held no key comes and every wait for one
    runs out. ``heard``: the prompts played while the callee was there."""

    def __init__(self, keys: Iterator[str | None], *, at: int,
                 away: float | None = AWAY_SECONDS) -> None:
        super().__init__(keys)
        self.at = at
        self.away = away
        self.held = False
        self.holds = 0
        self.heard: list[str] = []

    def play_wav(self, path: str, *, interrupt_on_dtmf: bool = False) -> PlayResult:
        result = super().play_wav(path, interrupt_on_dtmf=interrupt_on_dtmf)
        if self.asked == self.at:
            self.held, self.holds = True, self.holds + 1
            if self.away is not None:
                threading.Timer(self.away, self._back).start()
        if not self.held:
            self.heard.append(Path(path).stem.split("-")[0])
        return result

    def _back(self) -> None:
        self.held = False

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        if self.held:  # away: the wait runs out (shortened here)
            time.sleep(0.05)
            return None
        return super().get_dtmf(timeout)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.mark.parametrize("at", [1, 2], ids=["first_question", "second_question"])
def test_a_callee_holding_at_a_question_hears_it_again_and_answers(
        settings: Settings, at: int) -> None:
    call = HoldingCall(iter(["1", "2"]), at=at)
    conversation = TwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.outcome is Outcome.ANSWERED and result.keys == "12"
    assert conversation.pressed_keys == ["1", "12"]
    # The question held through was asked again, and heard.
    assert call.heard == ["q0", "q1", "bye"]


def test_a_line_held_for_good_is_still_hung_up(settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded: past MAX_HOLD_SECONDS the two silent asks end the call as before."""
    monkeypatch.setattr(telephony.call, "MAX_HOLD_SECONDS", 0.3)
    call = HoldingCall(iter(["1", "2"]), at=1, away=None)
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=TwoQuestions())
    assert result.keys == "" and call.ended and call.asked <= 3
