"""Lines that key on, socket-free on the dialogue's own state handlers (the scripted line
of test_kb_confirm): in the preferences menu (1 保密 / 2 不要回访 / #) the ticket is filed
after MAX_PREFERENCE_KEYS keys with the choices made so far; key 2 at the read-back
records again MAX_RERECORDS times, then goes to the operator; a callback number takes at
most MAX_CALLBACK_KEYS keys. Before, all three took keys for
as long as they came and held the line."""

from __future__ import annotations

import math
import threading
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from ivr.audio import CallAudio
from ivr.call_flow import (
    MAX_CALLBACK_KEYS,
    MAX_PREFERENCE_KEYS,
    TRANSITIONS,
    Dialogue,
    IvrServices,
    State,
)
from ivr.callrecords import KeyedTicketTry
from ivr.decisions import MAX_CONFIRM_ASKS, MAX_RERECORDS
from ivr.ticket_lookup import KeyedLookups, keyed_count_keys
from telephony.call import CallerVouch
from tests.ivr import test_kb_confirm as scripted

# The fixture (tests/ivr/conftest.py ``services``): shipped settings, both databases; the
# tests about keys alone on SQLite (their subject is the dialogue's handling of keys, not
# what it stores: docs/suite.md).


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the menu's key limit, not storage
@pytest.mark.parametrize("garbage", ["*", "A", "9", "1"])
def test_endless_keys_in_the_preferences_menu_file_the_ticket(
        services: IvrServices, garbage: str) -> None:
    keys = ["1", *[garbage] * 200]  # 1 confirms the read-back, then the menu
    d, line, path = scripted.converse(services, scripted.COMPLAINT, keys,
                                      frozenset({State.FILE}))
    assert path[-3:] == [State.CONFIRM, State.PREFERENCES, State.FILE]
    assert len(line.keys) == 200 - (MAX_PREFERENCE_KEYS + 1)
    assert d.intake.journal.confidential is (garbage == "1")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the menu's keys, not storage
def test_choices_then_hash_file_at_once(services: IvrServices) -> None:
    d, line, path = scripted.converse(services, scripted.COMPLAINT, ["1", "2", "#", "9"],
                                      frozenset({State.FILE}))
    assert path[-2:] == [State.PREFERENCES, State.FILE] and line.keys == ["9"]
    assert d.intake.journal.no_contact


class SaidAgain(scripted.SaidTurn):
    """A caller who says the complaint each time they are asked to."""

    speech_started = True
    silence_after_speech = 60.0

    def begin_turn(self) -> None: ...

    def drop_turn(self) -> None: ...


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the re-record limit, not storage
def test_key_2_again_and_again_reaches_the_operator(services: IvrServices) -> None:
    # Each round: a key the recording ignores (a leaned-on keypad), then 2 at the read-back.
    keys = ["5", "2"] * 10
    line = scripted.ScriptedLine(keys)
    d = Dialogue(line, services)  # type: ignore[arg-type]
    d.audio = SaidAgain(scripted.COMPLAINT)  # type: ignore[assignment]
    d.intake.answered()
    state, path = State.UNDERSTAND, [State.UNDERSTAND]
    while state is not State.OPERATOR:
        nxt = d.handlers[state]()
        assert nxt in TRANSITIONS[state], f"{state} -> {nxt}"
        assert len(path) < 100, "the caller was asked to say it again without end"
        state = nxt
        path.append(state)
    assert path.count(State.RERECORD) == MAX_RERECORDS
    assert path[-2:] == [State.CONFIRM, State.OPERATOR]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the read-back's keys, not storage
@pytest.mark.parametrize("garbage", ["*", "#", "A", "9"])
def test_wrong_keys_at_the_read_back_ask_once_more_then_file(
        services: IvrServices, garbage: str) -> None:
    d, line, path = scripted.converse(services, scripted.COMPLAINT, [garbage] * 50,
                                      frozenset({State.FILE}))
    assert path[-3:] == [State.CONFIRM, State.CONFIRM, State.FILE]
    assert len(line.keys) == 48 and d.intake.journal.confirm_asks == MAX_CONFIRM_ASKS


class LaggingLine(scripted.ScriptedLine):
    """A busy node: the caller's frames reach the audio pump only once ``released`` is set
    (the pump behind the RTP receive thread, as under load), while keys and the wall clock
    reach the dialogue at once."""

    def __init__(self, audio: bytes, keys: list[str]) -> None:
        super().__init__(keys)
        self.frames = [audio[i : i + 320] for i in range(0, len(audio), 320)]
        self.audio_received = len(self.frames)
        self.released = threading.Event()

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        key = super().get_dtmf(timeout)
        if key is None:
            time.sleep(timeout or 0)
        return key

    def read_pcm16(self, timeout: float | None = None) -> bytes | None:
        if not self.released.wait(timeout) or not self.frames:
            return None
        return self.frames.pop(0)

    def stop_playback(self) -> None: ...


def _tone(seconds: float) -> bytes:
    """A loud tone: speech to the energy gate."""
    return array("h", (int(8000 * math.sin(2 * math.pi * 440 * n / 8000))
                       for n in range(int(8000 * seconds)))).tobytes()


def _record(services: IvrServices, line: LaggingLine, tmp_path: Path) -> State:
    """The listening step's outcome on ``line``, its audio through a real CallAudio."""
    d = Dialogue(line, services)  # type: ignore[arg-type]
    audio = CallAudio(line, recording_path=tmp_path / "call.wav", engine=None)  # type: ignore[arg-type]
    d.audio = audio
    d.intake.answered()
    audio.start()
    audio.begin_turn()
    d.turn_started_at = time.monotonic()
    try:
        return d.handlers[State.RECORD]()
    finally:
        line.ended = True
        audio.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the turn's end, not storage
def test_hash_after_speech_ends_the_turn_while_the_audio_lags(
        services: IvrServices, tmp_path: Path) -> None:
    line = LaggingLine(_tone(1.0), ["#"])
    scripted_get = line.get_dtmf

    def keyed(timeout: float | None = 0.0) -> str | None:
        key = scripted_get(timeout)
        line.released.set()  # the speech before the key reaches the pump only now
        return key

    line.get_dtmf = keyed  # type: ignore[method-assign]
    # Before: "nothing heard" (REPROMPT): the speech was not counted yet when # came.
    assert _record(services, line, tmp_path) is State.UNDERSTAND


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the no-speech timer, not storage
def test_speech_counted_late_is_no_silence_at_the_no_speech_limit(
        services: IvrServices, tmp_path: Path) -> None:
    # The shipped limits: the caller's tone, then more silence than end_silence_seconds.
    sip = services.settings.sip
    line = LaggingLine(_tone(1.0) + bytes(2 * 8000 * math.ceil(sip.end_silence_seconds + 1)),
                       [])
    # The pump gets the caller's words only after the no-speech limit has passed.
    threading.Timer(sip.no_speech_seconds + 0.3, line.released.set).start()
    # Before: "nothing heard" (REPROMPT) at the limit, on what the pump had counted by then.
    assert _record(services, line, tmp_path) is State.UNDERSTAND


class PressedAhead(scripted.ScriptedLine):
    """A caller who keyed on: the keys after the one a question takes wait in the queue
    until the dialogue drops them."""

    def flush_dtmf(self) -> str:
        keys, self.keys = "".join(self.keys), []
        return keys


def test_keys_dropped_before_the_next_question_stay_in_the_call_record(
        services: IvrServices) -> None:
    # 2 (no, not this entry) and 9, 9 pressed ahead: the read-back must not take a 9 as its
    # answer, and the call record still shows every key the caller pressed (全程留痕).
    line = PressedAhead(["2", "9", "9"])
    d, _, path = scripted.converse(services, scripted.STORY, [], frozenset({State.READBACK}),
                                   line=line)
    assert path == [State.UNDERSTAND, State.CONFIRM_ENTRY, State.READBACK]
    assert line.keys == [] and d.intake.journal.keys == "299"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the number's key limit, not storage
@pytest.mark.parametrize("garbage", ["*", "A"])
def test_endless_stray_keys_at_the_callback_number_file_the_ticket(
        services: IvrServices, garbage: str) -> None:
    """A withheld caller asked to key in a number to be called back: "*" and the letter keys
    are no digit and were not counted, so a line keying them every few seconds (a stuck key,
    a script) held the question and the line for as long as it went on (seen in the
    seventeenth round's trial: 75 s of "*" every 3 s, the call still asking)."""
    line = scripted.ScriptedLine(["1", "#", *[garbage] * 500])  # confirm, file, the number
    line.caller = "anonymous"
    d, line, path = scripted.converse(services, scripted.COMPLAINT, [],
                                      frozenset({State.FILE}), line=line)
    assert path[-3:] == [State.PREFERENCES, State.CALLBACK_NUMBER, State.FILE]
    assert len(line.keys) >= 500 - 2 * MAX_CALLBACK_KEYS
    assert d.intake.journal.callback_number is None


def _unvouched(services: IvrServices, address: str, keys: list[str], caller: str = ""
               ) -> tuple[Dialogue, scripted.ScriptedLine]:
    """A call's dialogue from ``address``, its caller's number (``caller``, else the
    scripted line's) vouched for by nobody."""
    line = scripted.ScriptedLine(keys)
    line.caller = caller or line.caller
    line.caller_vouch, line.caller_address = CallerVouch.NONE, address  # type: ignore[attr-defined]
    d = Dialogue(line, services)  # type: ignore[arg-type]
    d.audio = scripted.SaidTurn("")  # type: ignore[assignment]
    return d, line


def _keying_numbers(services: IvrServices, address: str, tries: int, caller: str = ""
                    ) -> list[bytes]:
    """One call from ``address`` (a number nobody vouched for) choosing key 1 ``tries``
    times, keying a made-up ticket number each time; what each choice was answered."""
    d, line = _unvouched(services, address, [], caller)
    said = []
    for n in range(tries):
        line.keys = [*f"2026120600{n:02d}", "#"]
        said.append(d._status_by_ticket_number())
    return said


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the count, not storage
def test_ticket_numbers_keyed_one_after_another_are_capped_per_call_and_per_address(
        services: IvrServices) -> None:
    """loose26: in direct mode a caller could key ticket numbers one after another (key 1
    again after each) and hear each one's step; hanging up and calling again started
    afresh. Now 3 a call and ``ivr.ticket_numbers_per_address`` an hour from one address;
    past them the caller is told to call later or press 0, and no number is looked up (its
    keys are left unread). review53: the hour's 6 were a whole carrier trunk's in direct
    mode (every caller from its address); shipped now 30, a setting."""
    unknown = services.prompts.pcm("status_ticket_unknown")
    over = services.prompts.pcm("status_tries_over")
    per_address = services.settings.ivr.ticket_numbers_per_address
    assert per_address == 30
    for _ in range(per_address // 3):  # calling again from the same address: 3 a call
        assert _keying_numbers(services, "198.51.100.7", 4) == [unknown] * 3 + [over]
    assert _keying_numbers(services, "198.51.100.7", 1) == [over]  # the address's hour spent
    # Another caller's own count: another address and (loose28: the number counts too,
    # ``keyed_count_keys``) another number.
    assert _keying_numbers(services, "198.51.100.8", 1, "13800138001") == [unknown]
    # The same From from another untrusted address: that address's own count (loose29: an
    # untrusted source charges its address alone, so a spoofer cannot spend the number's).
    assert _keying_numbers(services, "198.51.100.9", 1) == [unknown]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the count, not storage
def test_a_try_is_a_number_keyed_not_key_1_pressed(services: IvrServices) -> None:
    """review53: the try was counted when key 1 was pressed, so pressing 1 and hanging up
    (or # at once) used one: a few such calls spent a trunk's hour for everyone on it."""
    unknown = services.prompts.pcm("status_ticket_unknown")
    for _ in range(services.settings.ivr.ticket_numbers_per_address + 5):
        d, line = _unvouched(services, "198.51.100.9", [])
        line.ended = True  # hung up at the question
        assert d._status_by_ticket_number() is None
    d, _ = _unvouched(services, "198.51.100.9", ["#"] * 5)
    assert [d._status_by_ticket_number() for _ in range(5)] == [unknown] * 5  # # at once
    assert d.ticket_tries == 0
    assert _keying_numbers(services, "198.51.100.9", 3) == [unknown] * 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the setting
def test_the_per_address_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch,
                                            services: IvrServices) -> None:
    monkeypatch.setenv("HOTLINE_IVR__TICKET_NUMBERS_PER_ADDRESS", "2")
    settings = Settings()
    assert settings.ivr.ticket_numbers_per_address == 2
    assert replace(services, settings=settings).keyed_lookups.per_address == 2


def _budget(sessions: sessionmaker[Session], now: list[float],
            per_address: int = 2) -> KeyedLookups:
    """A node's count (``now[0]`` seconds past a fixed start on its clock)."""
    start = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    return KeyedLookups(sessions=sessions, per_address=per_address, window=60.0,
                        clock=lambda: start + timedelta(seconds=now[0]))


def test_keyed_lookups_are_counted_over_the_window(sessions: sessionmaker[Session]) -> None:
    now = [0.0]
    budget = _budget(sessions, now)
    assert budget.open("a")
    assert [budget.take("a"), budget.take("a"), budget.take("a")] == [True, True, False]
    assert not budget.open("a")
    assert budget.take("b")
    assert all(budget.take("") for _ in range(5))  # no address known: the call's cap alone
    now[0] = 60.5  # the first two have left the window
    assert [budget.take("a"), budget.take("a"), budget.take("a")] == [True, True, False]


def test_a_try_needs_room_in_the_address_and_the_number_alike(
        sessions: sessionmaker[Session]) -> None:
    """loose28, one rule for both carriers (``keyed_count_keys``): the address where one is
    known and the caller's number where it reads as one, each counted; a From written anew
    on each call, or a new address for one number, walks around neither."""
    budget = _budget(sessions, [0.0])
    assert keyed_count_keys(caller="13900001111", address="a") == ("a", "from:+8613900001111")
    assert keyed_count_keys(caller="anonymous", address="a") == ("a",)
    assert keyed_count_keys(caller="+8613900001111", address="") == ("from:+8613900001111",)
    assert keyed_count_keys(caller=None, address="") == ()
    # review77: one IPv6 host has a /64 to rotate through: counted by it.
    assert keyed_count_keys(caller=None, address="2001:db8::9") == ("2001:db8::/64",)
    assert keyed_count_keys(caller=None, address="2001:db8::1:2") == ("2001:db8::/64",)
    assert keyed_count_keys(caller=None, address="::ffff:198.51.100.5") == (
        "::ffff:c633:6405",)
    takes = [budget.take(*keyed_count_keys(caller=f"1390000{n:04d}", address="a"))
             for n in range(3)]
    assert takes == [True, True, False]  # three numbers, one address: its two
    assert not budget.open(*keyed_count_keys(caller="13900005555", address="a"))
    takes = [budget.take(*keyed_count_keys(caller="13900009999", address=a))
             for a in ("b", "c", "d")]
    # One number from three untrusted addresses: each address's own (loose29: charged to
    # the number too, a spoofer's two addresses locked the citizen out).
    assert takes == [True, True, True]
    assert budget.take(*keyed_count_keys(caller="13900008888", address="e"))


def test_a_spoofed_from_cannot_use_up_the_citizens_own_tries(
        sessions: sessionmaker[Session]) -> None:
    """loose29: an untrusted source writing a citizen's number in From used up that
    number's hour of keyed lookups; the citizen, calling through the trusted trunk (no
    address known, counted by number), was refused. Now an untrusted source is charged by
    its address alone, and still gets no fresh try by writing another From; the number's
    count is charged by trusted sources and still checked for everyone."""
    budget = _budget(sessions, [0.0])
    citizen = "13900001111"
    spoofer = [budget.take(*keyed_count_keys(caller=citizen, address="198.51.100.7"))
               for _ in range(3)]
    assert spoofer == [True, True, False]  # the spoofer's address runs out
    assert not budget.take(*keyed_count_keys(caller="13900002222", address="198.51.100.7"))
    assert budget.open(*keyed_count_keys(caller=citizen, address=""))  # the trunk's caller
    trunk = [budget.take(*keyed_count_keys(caller=citizen, address="")) for _ in range(3)]
    assert trunk == [True, True, False]  # the citizen's own two
    # Spent by the citizen, the number is spent for any source that claims it.
    assert not budget.open(*keyed_count_keys(caller=citizen, address="203.0.113.9"))


def test_addresses_whose_tries_expired_are_forgotten(sessions: sessionmaker[Session]) -> None:
    """review53: an address was dropped only when the table was full or it came back: its
    expired tries stayed for good. Now they go as the window passes them (the table is the
    database's since loose27, bounded by the window alone)."""
    now = [0.0]
    budget = _budget(sessions, now)
    for address in ("a", "b", "c"):
        budget.take(address)
    assert len(budget) == 3
    now[0] = 61.0  # a's, b's and c's tries have left the window
    budget.take("d")
    assert len(budget) == 1
    budget.take("d")
    assert not budget.take("d")  # d's two tries spent: remembered


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: SQLite's write lock
def test_counting_keyed_tries_waits_for_no_writer(sessions: sessionmaker[Session]) -> None:
    """review55: ``open()`` and ``len()`` counted in a writer's session, whose BEGIN
    IMMEDIATE waited for any other writer (the busy time, then an error) only to read. A
    reader's session reads beside a write under way."""
    budget = _budget(sessions, [0.0])
    budget.take("a")
    pool = ThreadPoolExecutor(1)
    try:
        with sessions() as writer:
            writer.execute(select(1))  # another write under way: the write lock is held
            counted = pool.submit(lambda: (budget.open("a"), len(budget)))
            assert counted.result(timeout=10) == (True, 1)
    finally:
        pool.shutdown()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # subject: row locks
def test_a_take_does_not_queue_on_another_addresses_rows(
        sessions: sessionmaker[Session]) -> None:
    """review55: ``take()`` deleted every expired try, so a caller from one address waited
    for a transaction holding another address's rows. It deletes its own address's and a
    bounded few that no one holds; the rest go at a later take."""
    now = [0.0]
    budget = _budget(sessions, now)
    budget.take("b")
    now[0] = 61.0  # b's try has left the window
    pool = ThreadPoolExecutor(1)
    try:
        with sessions() as other:
            other.execute(select(KeyedTicketTry).where(KeyedTicketTry.address == "b")
                          .with_for_update())
            taken = pool.submit(budget.take, "a")
            try:
                assert taken.result(timeout=10)
            finally:
                other.rollback()
    finally:
        pool.shutdown()
    assert budget.take("a")
    assert len(budget) == 1  # b's expired try went at the next take


def test_two_nodes_share_one_count_per_address(sessions: sessionmaker[Session]) -> None:
    """loose27: each IVR process counted in memory, so two nodes behind Kamailio each
    allowed an address the hour's tries: 60 where 30 was meant. Now one count in the
    database, on both backends, even when the nodes take at the same moment."""
    now = [0.0]
    node_a, node_b = _budget(sessions, now, 30), _budget(sessions, now, 30)
    allowed = [node.take("198.51.100.7") for _ in range(10) for node in (node_a, node_b)]
    assert allowed == [True] * 20
    with ThreadPoolExecutor(4) as pool:  # 40 at once over both nodes: 10 of them allowed
        raced = list(pool.map(lambda i: (node_a, node_b)[i % 2].take("198.51.100.7"),
                              range(40)))
    assert raced.count(True) == 10
    assert not node_a.open("198.51.100.7") and not node_b.open("198.51.100.7")
    assert node_b.take("198.51.100.8")  # another address: its own count
