"""kb28: a caller who asked one detail of a procedure (要带什么材料, 多久, 在哪儿办, 网上能办吗,
收费吗, 什么条件, 电话) hears first the sentences of the answer that state it, after "这是关于<title>的答复，
先说<detail>：", then "听其他内容请按3…"; 3 (or no key) reads the other sentences in the
answer's order, nothing twice, nothing left out. One rule for SIP and Twilio
(``ivr.kb_answer.answer_reading``; Twilio's call: tests/twilio/test_twilio_parity.py). A
question that asks no one detail, or an answer that states it in no sentence (or in every
one), is read from its start as before. No socket here: the SIP dialogue's own handlers on a
scripted line (tests/ivr/test_kb_confirm.py's), real prompts, the sample FAQ, a real intake."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr import prompts as P
from ivr.call_flow import IvrServices, State
from ivr.kb_answer import KbAnswer, answer_parts, answer_reading
from knowledge import service as kb
from knowledge.details import details_asked, states
from telephony.call import PlayResult
from tests.ivr.test_dialogue_kb import LONG_ANSWER
from tests.ivr.test_kb_confirm import ScriptedLine, converse
from ticketing.models import Ticket

LIMIT = 120
ENTRY = "kb026"  # 失业了怎么申领失业保险金: who may (1st sentence), where and online (2nd)
WHERE = "想问下失业金在哪里申请"
HOW = "想问下失业金怎么申请"
DONE = frozenset({State.GOODBYE, State.HANGUP})


@pytest.mark.parametrize("question,detail", [
    # What to bring, by a verb of bringing or a word for papers with 什么/啥/哪些.
    ("结婚登记要带什么材料", "materials"), ("补办社保卡得拿啥东西？", "materials"),
    ("办护照需要准备哪些证件", "materials"),
    # How long: 多久, 多长时间, 几天, and when the result comes.
    ("身份证补办要多久", "duration"), ("营业执照多长时间能办下来？", "duration"),
    ("护照什么时候能拿到", "duration"),
    # Where: 在哪/去哪里/上哪儿/找哪个部门, with the act or without.
    ("残疾人证在哪儿办", "place"), ("失业金去哪里申请？", "place"), ("养犬登记找哪个部门", "place"),
    ("我想办个老年卡，去哪儿办？", "place"),  # the wish is the matter, not a second question
    # Online or not: the whole clause asks whether.
    ("社保卡挂失网上能办吗", "online"), ("能不能在手机上交暖气费？", "online"),
    ("公积金提取App上可以办不", "online"), ("我想问一下居住证签注在网上能办吗", "online"),
    # The cost, with a whether or a how much.
    ("补办户口本收费吗", "cost"), ("办居住证要不要钱", "cost"), ("护照工本费是多少", "cost"),
    # Who may.
    ("申请公租房需要什么条件", "eligibility"), ("哪些人可以领高龄津贴？", "eligibility"),
    # A number to call.
    ("燃气报修电话是多少", "phone"), ("停电了打哪个电话", "phone"),
    # kb29: whether the caller may (a condition answers it), whom to go to.
    ("能办居住证吗", "whether"), ("物业不给开证明，该找谁", "whom"),
])
def test_the_one_detail_a_question_asks(question: str, detail: str) -> None:
    assert details_asked(question) == (detail,)


@pytest.mark.parametrize("question", [
    "失业金怎么申请",  # how: the whole procedure
    "居住证怎么办理，要带什么材料",  # how, and a detail of it
    "在哪儿办，要多久？",  # two details
    "网上怎么申请公积金提取",  # how, online
    "我没有单位自己交社保在哪交能交医疗的吗",  # where, and whether (one run, no pause)
    "停车场收费太贵了",  # no question: a complaint
    "网上买的衣服是假货，商家不给退",  # no question
    "我想办居住证",
])
def test_a_question_that_asks_no_one_detail(question: str) -> None:
    assert len(details_asked(question)) != 1


@pytest.mark.parametrize("sentence,kind,stated", [
    ("带上旧身份证到派出所户籍窗口办理。", "materials", True),
    ("请准备好购物凭证、聊天记录等材料。", "materials", True),
    ("审核通过后按月发放到社保卡里。", "materials", False),
    ("一般十五个工作日左右可以领证。", "duration", True),
    ("居住证每年要签注一次。", "duration", False),  # 每年: how often, no span
    ("到居住地派出所申请。", "place", True), ("可以在“北京通”App上线上签注。", "place", True),
    ("可以在“北京人社”App网上申请。", "online", True), ("带身份证到现场提交。", "online", False),
    ("工本费20元。", "cost", True), ("办理不收取任何费用。", "cost", True),
    ("在北京居住满半年的，可以申领居住证。", "eligibility", True),
    ("建议在有效期满前一个月内办理。", "eligibility", False),  # 期满: an expiry
    ("可以拨打12345热线咨询。", "phone", True), ("具体以区里通知为准。", "phone", False),
])
def test_the_sentence_that_states_a_detail(sentence: str, kind: str, stated: bool) -> None:
    assert states(sentence, kind) is stated


def _answer(text: str, detail: str | None, title: str = "失业了怎么申领失业保险金") -> KbAnswer:
    return KbAnswer(entry_id=ENTRY, version=1, title=title, text=text, confidence=0.9,
                    details=(detail,) if detail else ())


WHO = "非本人意愿中断就业、失业保险交满一年的，可以申领失业保险金。"
AT = "可以带身份证到户籍地街道社保所办理失业登记后申请。"
PAID = "审核通过后按月发放到社保卡里。"


def test_the_sentence_that_states_the_detail_is_read_first_then_the_rest_in_order() -> None:
    parts = answer_reading(_answer(WHO + AT + PAID, "place"), LIMIT)
    assert [(p.intro, p.words, p.menu) for p in parts] == [
        ("这是关于失业了怎么申领失业保险金的答复，先说在哪儿办：", AT, "kb_detail_more"),
        ("下面是其他内容。", WHO + PAID, "kb_resolved_ask"),
    ]
    assert parts[0].more and not parts[1].more


def test_a_long_answer_read_detail_first_says_every_sentence_once_in_order() -> None:
    """kb27's long kb026 (two parts as shipped): the place first, the other sentences by
    parts of whole sentences up to the limit, in the answer's order."""
    parts = answer_reading(_answer(LONG_ANSWER, "place"), 60)
    assert parts[0].menu == "kb_detail_more" and states(parts[0].words, "place")
    assert LONG_ANSWER.index(parts[0].words) > 0  # not the answer's first sentence
    rest = "".join(p.words for p in parts[1:])
    assert sorted(parts[0].words + rest) == sorted(LONG_ANSWER)  # nothing twice, none left out
    assert LONG_ANSWER.replace(parts[0].words, "") == rest  # the others in their order
    assert [p.menu for p in parts[1:]] == ["kb_more"] * (len(parts) - 2) + ["kb_resolved_ask"]
    assert [p.intro for p in parts[1:]] == ["下面是其他内容。"] + [""] * (len(parts) - 2)
    assert len(parts) > 2 and all(len(p.words) <= 60 for p in parts[1:])


AT2 = "带身份证到常住地街道社保所同样可以申请。"  # no 也 (refers back: not read first)


@pytest.mark.parametrize("detail,text,limit", [
    (None, WHO + AT + PAID, LIMIT),  # no one detail asked
    ("cost", WHO + AT + PAID, LIMIT),  # asked, stated in no sentence
    ("place", AT + AT2, LIMIT),  # stated in every sentence
    ("place", AT + AT2 + WHO, 40),  # stated in more than a part's worth of sentences
])
def test_read_from_the_start_as_before(detail: str | None, text: str, limit: int) -> None:
    parts = answer_reading(_answer(text, detail), limit)
    assert [p.words for p in parts] == answer_parts(text, limit)
    assert parts[0].intro == P.kb_intro_text("失业了怎么申领失业保险金")
    assert [p.intro for p in parts[1:]] == [""] * (len(parts) - 1)
    assert [p.menu for p in parts] == ["kb_more"] * (len(parts) - 1) + ["kb_resolved_ask"]


def _entry(services: IvrServices) -> tuple[str, int, str]:
    with services.sessions() as s:
        e = kb.get_entry(session=s, entry_id=ENTRY)
        return e.title, e.version, e.answer


def test_sip_the_detail_first_then_3_reads_the_rest_and_1_files_the_whole_answer(
        services: IvrServices) -> None:
    title, version, answer = _entry(services)
    who, where = answer.split("。", 1)[0] + "。", answer.split("。", 1)[1]
    _, line, path = converse(services, WHERE, ["3", "1"], DONE)
    assert path[-3:] == [State.ANSWER, State.ANSWERED, State.GOODBYE]
    first = services.prompts.kb_said(ENTRY, version, P.kb_detail_intro_text(title, "place")
                                     + where, "place-p0")
    rest = services.prompts.kb_said(ENTRY, version, P.text("kb_rest_intro") + who, "place-p1")
    answers = [p for p in line.played if p.startswith((first, rest))]
    assert answers == [first + services.prompts.pcm("kb_detail_more"),
                       rest + services.prompts.pcm("kb_resolved_ask")]
    assert services.prompts.kb_answer(ENTRY, version, title, answer) not in b"".join(line.played)
    with services.sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.status == "closed" and ticket.reply_text == answer  # the whole answer


def test_sip_1_after_the_detail_files_the_whole_answer(services: IvrServices) -> None:
    _, version, answer = _entry(services)
    _, line, path = converse(services, WHERE, ["1"], DONE)
    assert path[-3:] == [State.ANSWER, State.ANSWERED, State.GOODBYE]
    assert not any(p.startswith(services.prompts.kb_said(
        ENTRY, version, P.text("kb_rest_intro") + answer.split("。", 1)[0] + "。", "place-p1"))
        for p in line.played)
    with services.sessions() as s:
        assert s.scalars(select(Ticket)).one().reply_text == answer


def test_sip_no_one_detail_asked_reads_the_answer_from_its_start(services: IvrServices) -> None:
    title, version, answer = _entry(services)
    _, line, _ = converse(services, HOW, ["1"], DONE)
    assert (services.prompts.kb_answer(ENTRY, version, title, answer)
            + services.prompts.pcm("kb_resolved_ask")) in line.played


def test_sip_a_detail_no_sentence_states_reads_the_answer_from_its_start(
        services: IvrServices) -> None:
    line = ScriptedLine(["1"])
    text = WHO + AT + PAID
    d, line, _ = converse(services, "", [], frozenset({State.UNDERSTAND}), line=line)
    d.kb_answer = _answer(text, "cost")
    assert d.handlers[State.ANSWER]() is State.ANSWERED
    assert line.played == [services.prompts.kb_answer(ENTRY, 1, "失业了怎么申领失业保险金", text)
                           + services.prompts.pcm("kb_resolved_ask")]


class HangsUpDuring(ScriptedLine):
    """The caller hangs up while the prompt that starts with ``during`` is played."""

    def __init__(self, keys: list[str], during: bytes) -> None:
        super().__init__(keys)
        self.during = during

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        self.played.append(pcm16)
        if pcm16.startswith(self.during):
            self.ended = True
            return PlayResult.HUNG_UP
        return PlayResult.COMPLETED


def _detail_and_rest(services: IvrServices) -> tuple[bytes, bytes, str]:
    """kb026 read for "在哪里申请": the place part and the rest, as played (without their
    menus), and the whole answer."""
    title, version, answer = _entry(services)
    who, where = answer.split("。", 1)[0] + "。", answer.split("。", 1)[1]
    return (services.prompts.kb_said(ENTRY, version, P.kb_detail_intro_text(title, "place")
                                     + where, "place-p0"),
            services.prompts.kb_said(ENTRY, version, P.text("kb_rest_intro") + who, "place-p1"),
            answer)


def test_sip_no_key_after_the_detail_reads_the_rest(services: IvrServices) -> None:
    """mend59: silence after "听其他内容请按3…" reads the rest, as 3 does; then 1."""
    first, rest, answer = _detail_and_rest(services)
    line = ScriptedLine([])
    line.keys = [None, "1"]  # type: ignore[list-item]  # no key, then 1
    _, line, path = converse(services, WHERE, [], DONE, line=line)
    assert path[-3:] == [State.ANSWER, State.ANSWERED, State.GOODBYE]
    assert [p for p in line.played if p.startswith((first, rest))] == [
        first + services.prompts.pcm("kb_detail_more"),
        rest + services.prompts.pcm("kb_resolved_ask")]
    with services.sessions() as s:
        assert s.scalars(select(Ticket)).one().reply_text == answer


def test_sip_2_after_the_detail_reads_back_and_files_no_answer(services: IvrServices) -> None:
    """mend59: 2 after the detail means what it means after a whole answer: the words go
    on as a ticket (the read-back), the rest unread, no 直接答复."""
    first, rest, _ = _detail_and_rest(services)
    d, line, path = converse(services, WHERE, ["2"], frozenset({State.READBACK}))
    assert path[-2:] == [State.ANSWER, State.READBACK]
    assert any(p.startswith(first) for p in line.played)
    assert not any(p.startswith(rest) for p in line.played)
    assert d.kb_answer is None


def test_sip_a_hang_up_during_the_detail_reads_nothing_more(services: IvrServices) -> None:
    """mend59: the caller gone during the detail: nothing else is played, no 直接答复."""
    first, rest, _ = _detail_and_rest(services)
    line = HangsUpDuring([], first)
    _, line, path = converse(services, WHERE, [], frozenset({State.HANGUP}), line=line)
    assert path[-2:] == [State.ANSWER, State.HANGUP]
    assert [p for p in line.played if p.startswith((first, rest))] == [
        first + services.prompts.pcm("kb_detail_more")]
    with services.sessions() as s:
        assert not s.scalars(select(Ticket).where(Ticket.reply_text.is_not(None))).all()
