"""The confirmation turn for a likely knowledge entry, without sockets: the SIP dialogue's
own state handlers (``ivr.call_flow.Dialogue``, checked against ``TRANSITIONS`` at every
step) on a scripted line that records what was played and hands over the keys a caller
presses once a prompt has been heard. Real parts otherwise: the shipped settings and
thresholds, the sample FAQ imported into SQLite and PostgreSQL, espeak-ng's prompts, the
intake that files the ticket.

A caller who tells a story around the question ranks the right entry first but under the
answer threshold: asked "您是想问<title>吗", key 1 reads the answer (and its key 1 files the
直接答复), key 2 or no key goes on to the read-back. A complaint in the same band is never
asked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.stream import Transcript
from config.settings import IvrSettings
from ivr import prompts as P
from ivr.audio import TurnResult
from ivr.call_flow import TRANSITIONS, Dialogue, IvrServices, State
from ivr.kb_answer import KbAnswer, answer_parts, find_answer
from knowledge import service as kb
from knowledge.search import DEFAULT_MIN_CONFIDENCE
from telephony.call import EndReason, PlayResult
from tests.ivr.test_dialogue_kb import LONG_ANSWER
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent
from ticketing.states import Status

# kb004 (身份证丢了怎么补办), told as a story: ranked first, confidence under 0.5.
STORY = "我昨天去菜市场买菜，回来一摸兜发现身份证丢了，这可怎么补办"
ENTRY = "kb004"
QUESTION = "想问下失业金怎么申请"  # kb026, answered at once; no one detail asked (kb28)
# Says much of kb043 (燃气公司上门安检) but asks nothing: a ticket, never a confirmation.
COMPLAINT = "燃气公司的人上门安检硬要我买他们的报警器，不买就不给我通气"


class ScriptedLine:
    """What ``Dialogue`` uses of a ``CallHandle``: every prompt is heard to its end, then
    the caller presses the next key of the script (none left: silence)."""

    def __init__(self, keys: list[str]) -> None:
        self.call_id = "kb-confirm-1"
        self.caller = "13800138000"
        self.callee = "12345"
        self.keys = list(keys)
        self.played: list[bytes] = []
        self.ended = False
        self.end_reason: EndReason | None = None  # set as a CallHandle's is when it ends
        self.held = False  # the caller never holds the call here
        self.holds = 0

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        self.played.append(pcm16)
        return PlayResult.COMPLETED

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        return self.keys.pop(0) if self.keys else None

    def flush_dtmf(self) -> str:
        return ""

    def hangup(self) -> None:
        self.ended = True
        self.end_reason = EndReason.LOCAL_HANGUP


class SaidTurn:
    """The turn's recogniser: the words given, as a live model's transcript."""

    barge_in_armed = False
    speech_started = False
    recording_failure: tuple[float, str] | None = None  # CallAudio's: the recording held

    def __init__(self, text: str) -> None:
        self.text = text

    def finish_turn(self, timeout: float) -> TurnResult:
        return TurnResult(Transcript(self.text))


def converse(services: IvrServices, text: str, keys: list[str],
             until: frozenset[State], *, line: ScriptedLine | None = None,
             ) -> tuple[Dialogue, ScriptedLine, list[State]]:
    """From the turn's words on, state by state as ``Dialogue.run`` steps, to ``until``
    (on ``line`` when given, else a ScriptedLine of ``keys``)."""
    line = line if line is not None else ScriptedLine(keys)
    d = Dialogue(line, services)  # type: ignore[arg-type]
    d.audio = SaidTurn(text)  # type: ignore[assignment]
    d.intake.answered()
    state, path = State.UNDERSTAND, [State.UNDERSTAND]
    while state not in until:
        nxt = d.handlers[state]()
        assert nxt in TRANSITIONS[state], f"{state} -> {nxt}"
        state = nxt
        path.append(state)
    return d, line, path


def kb004(services: IvrServices) -> tuple[bytes, bytes]:
    """The confirmation prompt and the answer, as the caller hears them."""
    with services.sessions() as s:
        entry = kb.get_entry(session=s, entry_id=ENTRY)
        title, version, answer = entry.title, entry.version, entry.answer
    return (services.prompts.say(P.kb_confirm_text(title), "kb_confirm"),
            services.prompts.kb_answer(ENTRY, version, title, answer))


def test_the_band_is_offered_for_confirmation_only_to_a_carrier_that_asks(
        sessions: sessionmaker[Session], domain: Domain, faq: None) -> None:
    with sessions() as s:
        story = find_answer(session=s, domain=domain, text=STORY,
                            understanding=domain.understand(STORY), may_confirm=True)
        assert story is not None and story.entry_id == ENTRY and story.confirm
        limits = domain.settings.ivr
        assert limits.kb_confirm_from <= story.confidence < limits.kb_answer_from
        # Twilio's webhooks have no confirmation turn: nothing, as before.
        assert find_answer(session=s, domain=domain, text=STORY,
                           understanding=domain.understand(STORY)) is None
        sure = find_answer(session=s, domain=domain, text=QUESTION,
                           understanding=domain.understand(QUESTION), may_confirm=True)
        assert sure is not None and sure.entry_id == "kb026" and not sure.confirm
        found = kb.search(session=s, text=COMPLAINT, today=kb.today(domain))
        assert found.hits[0].confidence >= limits.kb_confirm_from  # in the band, yet
        assert find_answer(session=s, domain=domain, text=COMPLAINT,
                           understanding=domain.understand(COMPLAINT), may_confirm=True) is None


def test_yes_reads_the_answer_and_its_key_1_files_the_direct_answer(
        services: IvrServices) -> None:
    d, line, path = converse(services, STORY, ["1", "1"], frozenset({State.GOODBYE}))
    assert path == [State.UNDERSTAND, State.CONFIRM_ENTRY, State.ANSWER, State.ANSWERED,
                    State.GOODBYE]
    ask, answer = kb004(services)
    assert line.played[0] == ask
    assert answer in line.played[1]
    assert d.filed is not None
    with services.sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == d.filed.number)).one()
        assert ticket.status == Status.CLOSED.value and ticket.transcript == STORY
        events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                     TicketEvent.action == "answer")).all()
        assert [e.data["kb_entry"] for e in events] == [ENTRY]


@pytest.mark.parametrize("keys", [["2"], []], ids=["no", "no key"])
def test_no_goes_on_to_the_read_back_without_the_answer(services: IvrServices,
                                                        keys: list[str]) -> None:
    d, line, path = converse(services, STORY, keys, frozenset({State.READBACK}))
    assert path == [State.UNDERSTAND, State.CONFIRM_ENTRY, State.READBACK]
    ask, _ = kb004(services)
    assert line.played == [ask]
    assert d.kb_answer is None and d.kb_offered  # offered once: no answer on a re-record


def test_key_0_reaches_the_operator(services: IvrServices) -> None:
    _, _, path = converse(services, STORY, ["0"], frozenset({State.OPERATOR}))
    assert path == [State.UNDERSTAND, State.CONFIRM_ENTRY, State.OPERATOR]


def test_a_sure_answer_is_read_without_asking(services: IvrServices) -> None:
    _, _, path = converse(services, QUESTION, [], frozenset({State.ANSWER}))
    assert path == [State.UNDERSTAND, State.ANSWER]


def test_the_answer_read_names_its_question_and_a_new_title_is_a_new_prompt(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch) -> None:
    """The intro says which question the answer is for (the entry's title), so a caller
    whose matter was another can tell; the entry's audio (intro and answer) is made per
    entry and version, and editing only the title is a new version and new audio."""
    assert P.kb_intro_text("失业金在哪里申请？") == "关于失业金在哪里申请，答复如下。"
    spoken: list[str] = []  # what espeak-ng is given to say (the real renderer still runs)
    speech = services.prompts.renderer.speech
    monkeypatch.setattr(services.prompts.renderer, "speech",
                        lambda key, sentence, **kw: spoken.append(sentence) or speech(
                            key, sentence, **kw))
    d, line, _ = converse(services, QUESTION, ["1"], frozenset({State.ANSWERED}))
    a = d.kb_answer
    assert a is not None and a.entry_id == "kb026" and not a.confirm
    read = services.prompts.kb_answer(a.entry_id, a.version, a.title, a.text)
    assert read in line.played[0]
    assert P.speakable(P.kb_intro_text(a.title) + a.text) in spoken
    with services.sessions() as s:
        entry = kb.get_entry(session=s, entry_id=a.entry_id)
        fields = kb.EntryFields(
            title="失业保险金去哪里领", answer=entry.answer, category=entry.category,
            keywords=tuple(entry.keywords or ()), synonyms=tuple(entry.synonyms or ()),
            unit=entry.unit.code if entry.unit else None, valid_from=entry.valid_from,
            valid_until=entry.valid_until)
        assert kb.update_entry(session=s, actor=Actor.system("test"), entry=entry,
                               fields=fields) == ["title"]
        version = entry.version
        s.commit()
    assert version == a.version + 1
    renamed = services.prompts.kb_answer(a.entry_id, version, "失业保险金去哪里领", a.text)
    assert renamed != read
    # The same version with another title (a restored database) is not the old audio.
    assert services.prompts.kb_answer(a.entry_id, a.version, "失业保险金去哪里领",
                                      a.text) != read
    assert P.speakable(P.kb_intro_text("失业保险金去哪里领") + a.text) in spoken


def test_a_complaint_in_the_band_is_read_back_never_asked(services: IvrServices) -> None:
    _, line, path = converse(services, COMPLAINT, [], frozenset({State.READBACK}))
    assert path == [State.UNDERSTAND, State.READBACK] and line.played == []


def test_threshold_pair_shipped_and_checked() -> None:
    shipped = IvrSettings()
    assert shipped.kb_answer_from == DEFAULT_MIN_CONFIDENCE  # the knowledge base's own
    assert shipped.kb_confirm_from < shipped.kb_answer_from
    with pytest.raises(ValidationError):
        IvrSettings(kb_confirm_from=0.6, kb_answer_from=0.5)


def test_confirmation_names_the_entry_without_its_own_question_mark() -> None:
    assert P.kb_confirm_text("身份证丢了怎么补办？") == "您是想问身份证丢了怎么补办吗？是请按1，不是请按2。"


# The fifteenth round's evidence, as the caller hears it (docs/knowledge.md).
# All a service's own words, as from a menu (kb037): read at once, not a ticket.
MENU = "交水费"
# Another action on an entry's object, asked "may or may not" (kb012 says how to get the
# licence, not how to sell it), and the housing fund drawn for another purpose (看病):
# neither read nor offered; the call goes on to the read-back.
OTHER_ACTION = "营业执照可不可以转让"
OTHER_PURPOSE = "公积金能不能取出来给孩子治病"
# Only the price asked of the gas bill's topic (kb042 says how to pay, states no price):
# read at once before the size asked was weighed, now neither read nor offered.
PRICE = "天然气多少钱一方"
# kb017 (公积金转移) read at once while jieba's noun 销户 after "how" named no action.
CLOSE_ACCOUNT = "公积金账户怎么销户"


def test_a_service_named_as_from_a_menu_is_read(services: IvrServices) -> None:
    d, _, path = converse(services, MENU, [], frozenset({State.ANSWER}))
    assert path == [State.UNDERSTAND, State.ANSWER]
    assert d.kb_answer is not None and d.kb_answer.entry_id == "kb037"
    assert not d.kb_answer.confirm


@pytest.mark.parametrize("text", [OTHER_ACTION, OTHER_PURPOSE, PRICE, CLOSE_ACCOUNT])
def test_another_action_purpose_or_size_goes_to_the_read_back_unasked(
        services: IvrServices, text: str) -> None:
    d, line, path = converse(services, text, [], frozenset({State.READBACK}))
    assert path == [State.UNDERSTAND, State.READBACK] and line.played == []
    assert d.kb_answer is None


class QuickKeysLine(ScriptedLine):
    """A line whose keys queue as on a real call: a prompt played with keys on returns at
    once while one is queued (``CallHandle.play_pcm16``), and ``presses`` queues keys once
    a prompt ending with one of its sounds has been heard."""

    def __init__(self, presses: dict[bytes, list[str]]) -> None:
        super().__init__([])
        self.presses = presses
        self.cut: list[bytes] = []

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        if interrupt_on_dtmf and self.keys:
            self.cut.append(pcm16)
            return PlayResult.INTERRUPTED
        self.played.append(pcm16)
        for end, keys in self.presses.items():
            if pcm16.endswith(end):
                self.keys += keys
        return PlayResult.COMPLETED

    def flush_dtmf(self) -> str:
        keys, self.keys = "".join(self.keys), []
        return keys


def test_two_quick_presses_of_3_skip_no_part_unheard(services: IvrServices) -> None:
    """review55: 3 pressed twice at "继续收听请按3" read the next part and cut it at once
    (the second 3 was queued), answering its question with a part unheard; on Twilio each
    part is a new <Gather>, which hears no earlier key. Keys queued before a part starts
    are set aside (kept on the call's record), so every part is heard."""
    more = services.prompts.pcm("kb_more")
    line = QuickKeysLine({more: ["3", "3"]})
    d = Dialogue(line, services)  # type: ignore[arg-type]
    d.audio = SaidTurn("")  # type: ignore[assignment]
    d.intake.answered()
    text = LONG_ANSWER + LONG_ANSWER  # four parts as shipped
    parts = answer_parts(text, services.settings.ivr.kb_part_chars)
    assert len(parts) >= 2
    d.kb_answer = KbAnswer(entry_id="kb026", version=1, title="失业金怎么申请", text=text,
                           confidence=0.9)
    d.handlers[State.ANSWER]()
    assert line.cut == []
    for n, part in enumerate(parts):
        heard = services.prompts.kb_answer("kb026", 1, "失业金怎么申请", part, part=n)
        assert any(p.startswith(heard) for p in line.played), n
    assert "33" in d.intake.journal.keys  # pressed: on the record
