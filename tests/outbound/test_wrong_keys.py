"""The SIP dialer's conversation loop against a callee keying only wrong keys, socket-free
(the carrier loop alone; a stand-in call plays nothing): the call ends after
MAX_WRONG_KEYS of them in a row as answered with no answer, instead of repeating the question for
as long as the keys come. A wrong key before a right one still counts the right one. Keys
pressed while the survey reads the handler's answer, before any question, answer nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from outbound.conversation import Conversation, Step
from outbound.dialers import MAX_WRONG_KEYS, SipDialer
from outbound.models import Outcome
from outbound.prompts import PromptLibrary
from telephony.call import CallStats, DialOutcome, EndReason, OutcomeKind, PlayResult


class KeyingCall:
    """Answers, hears every prompt, and keys what ``keys`` yields (None: silence)."""

    call_id = "stand-in-call"
    held, holds = False, 0  # never holds (tests/outbound/test_hold.py's does)

    def __init__(self, keys: Iterator[str | None], rx_packets: int = 50) -> None:
        self.keys = keys
        self.asked = 0
        self.ended = False
        self.end_reason: EndReason | None = None
        self.stats = CallStats(rx_packets=rx_packets)  # what the phone sent (RTP)

    def play_wav(self, path: str, *, interrupt_on_dtmf: bool = False) -> PlayResult:
        assert Path(path).is_file()
        self.asked += 1
        assert self.asked < 100, "the question was repeated without end"
        return PlayResult.COMPLETED

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        return next(self.keys)

    def hangup(self) -> None:
        self.ended = True


class FrontEnd:
    def __init__(self, call: KeyingCall) -> None:
        self.placed = call

    def call(self, target: str, *, timeout: float | None = None) -> DialOutcome:
        return DialOutcome(OutcomeKind.ANSWERED, call=self.placed)  # type: ignore[arg-type]


class TwoQuestions(Conversation):
    def __init__(self) -> None:
        self.pressed_keys: list[str] = []
        self.wrong_keys = ""

    def step(self, keys: str) -> Step:
        if len(keys) < 2:
            return Step(f"q{len(keys)}", "请按一或二", keys="12")
        return Step("bye", "再见")

    def answered(self, call_ref: str | None = None) -> None: ...

    def pressed(self, keys: str) -> None:
        self.pressed_keys.append(keys)

    def wrong(self, key: str, *, answered: str, in_a_row: int) -> None:
        self.wrong_keys += key


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def forever(key: str) -> Iterator[str | None]:
    while True:
        yield key


@pytest.mark.parametrize("garbage", ["*", "#", "A", "D", "9"])
def test_endless_wrong_keys_end_the_call_as_answered_without_an_answer(
        settings: Settings, garbage: str) -> None:
    call = KeyingCall(forever(garbage))
    conversation = TwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.outcome is Outcome.ANSWERED and result.keys == ""
    assert call.asked == MAX_WRONG_KEYS and call.ended
    assert conversation.pressed_keys == []
    # Pressed, answering nothing: kept for the attempt's record (Conversation.wrong).
    assert conversation.wrong_keys == garbage * MAX_WRONG_KEYS


def test_a_wrong_key_then_right_ones_is_an_answer(settings: Settings) -> None:
    call = KeyingCall(iter(["*", "1", "#", "A", "2"]))
    conversation = TwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.keys == "12" and conversation.pressed_keys == ["1", "12"]
    assert conversation.wrong_keys == "*#A"


class KeysDuringTheReport(KeyingCall):
    """Keys ``early`` while the report (what the handler answered) is being read, before
    any question is asked, then ``answers`` after each question."""

    def __init__(self, early: str, answers: Iterator[str | None]) -> None:
        super().__init__(answers)
        self.queued = ""
        self.early = early
        self.heard: list[str] = []  # the prompts played to the end, by name

    def play_wav(self, path: str, *, interrupt_on_dtmf: bool = False) -> PlayResult:
        super().play_wav(path, interrupt_on_dtmf=interrupt_on_dtmf)
        if "_report" in Path(path).name:
            self.queued += self.early  # keyed while it was being read
        elif interrupt_on_dtmf and self.queued:
            return PlayResult.INTERRUPTED  # CallHandle: a waiting key cuts a prompt short
        self.heard.append(Path(path).stem.split("-")[0])  # the prompt id (name-digest.wav)
        return PlayResult.COMPLETED

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        if self.queued:
            key, self.queued = self.queued[0], self.queued[1:]
            return key
        return next(self.keys)

    def flush_dtmf(self) -> str:
        keys, self.queued = self.queued, ""
        return keys


class ReportThenTwoQuestions(TwoQuestions):
    def __init__(self) -> None:
        super().__init__()
        self.ahead_keys: list[str] = []

    def ahead(self, keys: str) -> None:
        self.ahead_keys.append(keys)

    def step(self, keys: str) -> Step:
        step = super().step(keys)
        return Step(step.prompt_id, step.text, step.keys, report="承办单位答复已解决。") \
            if not keys else step


@pytest.mark.parametrize("early", ["1", "11", "2"])
def test_keys_pressed_while_the_answer_is_read_do_not_answer_the_question(
        settings: Settings, early: str) -> None:
    """The survey reads the handler's answer, then asks. A citizen (or a line keying
    anything) pressing keys during that reading had them taken as the answers to questions
    not yet asked: each waiting key cut its question short, so "1" during the reading was
    "resolved" and "11" a whole survey, the questions never heard. They answer nothing, and
    they are kept on the attempt (they were only logged), as the hotline keeps them."""
    call = KeysDuringTheReport(early, iter(["2", "1"]))
    conversation = ReportThenTwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.keys == "21" and conversation.pressed_keys == ["2", "21"]
    assert call.heard[:3] == ["q0_report", "q0", "q1"]  # each question heard in full
    assert conversation.ahead_keys == [early]


def test_each_question_is_asked_twice_before_silence_ends_the_call(settings: Settings) -> None:
    """A citizen slow at both questions: silent once at the first (asked again, then 1),
    silent once at the second. Twilio's TwiML says every question twice (``twiml_for``),
    and so did the SIP dialer for the first; its count of silent asks ran over the whole
    call, so the second question was asked once and the call hung up as answered without
    an answer (judge39): the survey not recorded, the citizen called again later."""
    call = KeyingCall(iter([None, "1", None, "2"]))
    conversation = TwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.outcome is Outcome.ANSWERED and result.keys == "12"
    assert conversation.pressed_keys == ["1", "12"]
    # Silent at both asks of a question still ends the call: no third ask.
    call = KeyingCall(iter(["1", None, None, "2"]))
    conversation = TwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.keys == "1" and call.ended


def test_a_wrong_key_gives_the_question_its_two_asks_again_as_on_twilio(
        settings: Settings) -> None:
    """Twilio answers a wrong key with the question's TwiML again, two ``<Gather>``s
    (``twiml_for``): silent, 9, silent, then 1 is an answer there. The SIP dialer kept
    counting silent asks across the wrong key and hung up after the third ask (review93),
    the survey lost to a retry on SIP alone."""
    call = KeyingCall(iter([None, "9", None, "1", "2"]))
    conversation = TwoQuestions()
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=conversation)
    assert result.keys == "12" and conversation.wrong_keys == "9"
    # Still bounded: after the wrong key, two silent asks end the call.
    call = KeyingCall(iter([None, "9", None, None, "1"]))
    result = SipDialer(FrontEnd(call), PromptLibrary(settings), settings).call(  # type: ignore[arg-type]
        to="13800138000", conversation=TwoQuestions())
    assert result.keys == "" and call.asked == 4 and call.ended
