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
from tests.outbound.test_wrong_keys import (
    FrontEnd,
    KeyingCall,
    ReportThenTwoQuestions,
    TwoQuestions,
)

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


class HeldThroughTheReport(HoldingCall):
    """Holds as the report (the handler's answer) is read the first time, back ``away``
    later; keys ``early`` while it is read again, before any question."""

    def __init__(self, early: str, keys: Iterator[str | None]) -> None:
        super().__init__(keys, at=1)
        self.early = early
        self.queued = ""

    def play_wav(self, path: str, *, interrupt_on_dtmf: bool = False) -> PlayResult:
        if interrupt_on_dtmf and self.queued:
            return PlayResult.INTERRUPTED  # CallHandle: a waiting key cuts a prompt short
        again = "_report" in Path(path).name and self.asked >= 1
        result = super().play_wav(path, interrupt_on_dtmf=interrupt_on_dtmf)
        if again:
            self.queued += self.early
        return result

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        if self.queued:
            key, self.queued = self.queued[0], self.queued[1:]
            return key
        return super().get_dtmf(timeout)

    def flush_dtmf(self) -> str:
        keys, self.queued = self.queued, ""
        return keys


@pytest.mark.parametrize("early", ["1", "2"])
def test_a_report_held_through_is_read_again_and_keys_during_it_are_kept_not_taken(
        settings: Settings, early: str) -> None:
    """The survey's report (no "请按" in it) held through is read again once the citizen is
    back, and a key pressed while it is read again answers nothing, as during any reading
    of it (docs/outbound.md): kept on the attempt (``ahead``), the question then heard
    whole and answered. (review93: no test read the report again; without that branch
    the citizen never heard the handler's answer they were asked to judge.)"""
    call = HeldThroughTheReport(early, iter(["1", "2"]))
    conversation = ReportThenTwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.outcome is Outcome.ANSWERED and result.keys == "12"
    assert call.heard == ["q0_report", "q0", "q1", "bye"]
    assert conversation.ahead_keys == [early] and conversation.pressed_keys == ["1", "12"]


class HoldsAtEveryPrompt(HoldingCall):
    """Holds after every prompt and is back at once: a line toggling hold for ever."""

    def play_wav(self, path: str, *, interrupt_on_dtmf: bool = False) -> PlayResult:
        self.at = self.asked + 1
        return super().play_wav(path, interrupt_on_dtmf=interrupt_on_dtmf)


def test_a_line_toggling_hold_cannot_keep_the_call(settings: Settings) -> None:
    """Each hold short of MAX_HOLD_SECONDS: past MAX_HOLDS the question is no longer asked
    again for a hold, and the two silent asks end the call (review93: no test bounded
    it; without MAX_HOLDS the question was asked without end, the outbound channel held)."""
    call = HoldsAtEveryPrompt(iter([None] * 100), at=1, away=0.01)
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=TwoQuestions())
    assert result.keys == "" and call.ended
    assert call.asked == 1 + telephony.call.MAX_HOLDS + 1  # then the second silent ask ends it


def test_time_on_hold_is_bounded_over_the_call_not_per_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """MAX_HOLD_SECONDS is the call's: nine holds of 299 s do not each get 300 s."""
    monkeypatch.setattr(telephony.call, "MAX_HOLD_SECONDS", 0.6)
    line = HoldingCall(iter([]), at=0)
    line.held, line.holds = True, 1
    threading.Timer(0.4, line._back).start()
    wait = telephony.call.HoldWait(line, lambda: False)
    assert wait.missed(0)  # back after ~0.4 s: what they missed is said again
    line.held, line.holds = True, 2  # held again, for good
    began = time.monotonic()
    assert not wait.missed(1)  # only what is left of the call's 0.6 s is waited
    assert time.monotonic() - began < 0.45
    assert wait.held_seconds < 0.6 + 0.1
