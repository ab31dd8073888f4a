"""kb29: a question that asks two details (在哪办，要多久; 带啥材料，多少钱), whom to go to (找谁)
or whether the caller may (能不能办) hears first the sentences that state each detail, in the
order asked: "这是关于<title>的答复，先说<detail>：", the first detail's sentences, "再说<detail>：",
the next one's, then "听其他内容请按3…"; 3 or no key reads the others in the answer's order,
nothing twice, nothing left out. A detail whose sentence an earlier one took is named with it
("先说要带的材料和在哪儿办"); one no sentence states heard alone, none stated, or every
sentence, reads from the start (the first: mend67) (mend59's precision rules hold for each detail). One
rule for SIP and Twilio (``ivr.kb_answer.answer_reading``; Twilio's call:
tests/twilio/test_twilio_parity.py). The questions are kb29's own (bench/data/kb_own29.tsv).
No socket: the SIP dialogue's handlers on a scripted line, real prompts, the sample FAQ."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from ivr import prompts as P
from ivr.call_flow import IvrServices, State
from ivr.kb_answer import KbAnswer, answer_reading
from knowledge import service as kb
from knowledge.details import details_asked, online_act, whether_thing
from tests.conftest import SHARED
from tests.ivr.test_kb_confirm import converse
from ticketing.models import Ticket

LIMIT = 120
ENTRIES = {r["id"]: r for r in csv.DictReader(
    (SHARED / "kb" / "faq.tsv").open(encoding="utf-8"), delimiter="\t")}
DONE = frozenset({State.GOODBYE, State.HANGUP})


def reading(entry: str, question: str) -> list[tuple[str, str]]:
    """(intro, words) of each part ``question`` hears of ``entry``'s answer."""
    e = ENTRIES[entry]
    parts = answer_reading(KbAnswer(entry, 1, e["title"], e["answer"], 0.9,
                                    details=details_asked(question), act=online_act(question),
                                    thing=whether_thing(question)), LIMIT)
    return [(p.intro, p.words) for p in parts]


@pytest.mark.parametrize(("question", "details"), [
    # Two details, in the order asked, in two clauses or one run.
    ("护照在哪儿办，多久能拿到？", ("place", "duration")),
    ("换身份证去哪换，要多长时间？", ("place", "duration")),
    ("结婚登记带啥材料，在哪办？", ("materials", "place")),
    ("新生儿上户口要带什么，去哪儿报？", ("materials", "place")),
    ("养狗登记在哪儿办，要准备啥？", ("place", "materials")),
    ("公租房申请要什么条件，上哪儿申请？", ("eligibility", "place")),
    ("失业金在哪领，多久能到账？", ("place", "duration")),
    ("个体户执照网上能办吗，要准备哪些材料？", ("online", "materials")),
    ("租房提取公积金网上能弄吗，多长时间能到账？", ("online", "duration")),
    ("高龄津贴找谁申请，要带啥？", ("whom", "materials")),
    ("居住证签注在哪办，网上可以吗？", ("place", "online")),
    ("外地孩子在北京上学要什么材料，去哪儿申请？", ("materials", "place")),
    ("结婚登记在哪办要带什么", ("place", "materials")),  # one run, no pause
    ("护照在哪办，多少钱，多久能拿到", ("place", "cost", "duration")),
    # Whom, whether (kb29), and 那 for 哪, 吧 of a guess.
    ("这事该找谁", ("whom",)), ("我是外地户口，能不能办老年卡", ("whether",)),
    ("结婚登记在那办", ("place",)), ("公积金转移不用跑吧", ("online",)),
    ("还得交钱吧", ("cost",)),
])
def test_the_details_a_question_asks_in_its_order(question: str, details: tuple[str, ...]) -> None:
    assert details_asked(question) == details


@pytest.mark.parametrize("question", [
    "居住证怎么办理，要带什么材料",  # a how besides: the whole answer
    "停车场收费太贵了",  # no question
    "我想办居住证",
    "护照过期好几年了，要带啥",  # 好几年 told, not asked: one detail, not two
    "养狗登记要去哪里办，要先打什么疫苗",  # 打什么 asks what is done, no phone number
    "你们工作人员那态度，哪像办事的",  # 哪像 is no place asked
])
def test_what_asks_no_second_detail(question: str) -> None:
    assert len(details_asked(question)) < 2


def test_each_detail_is_read_in_the_order_asked_the_next_after_zai_shuo() -> None:
    """kb008: materials in its second sentence, when in its third; the first after both."""
    e = ENTRIES["kb008"]
    first, where, when = (s + "。" for s in e["answer"].split("。")[:3])
    assert reading("kb008", "结婚登记要带啥，多久能领证？") == [
        (P.kb_detail_intro_text(e["title"], "materials"),
         where + P.kb_detail_next_text("duration") + when),
        (P.text("kb_rest_intro"), first),
    ]
    assert P.kb_detail_next_text("duration") == "再说要多长时间："


def test_a_sentence_that_states_both_details_names_both() -> None:
    e = ENTRIES["kb007"]
    (intro, words), rest = reading("kb007", "新生儿上户口要带什么，去哪儿报？")
    assert intro == "这是关于刚出生的孩子怎么上户口的答复，先说要带的材料和在哪儿办："
    assert words.startswith("带上孩子的出生医学证明") and "再说" not in words
    assert rest == (P.text("kb_rest_intro"), e["answer"].split("。")[0] + "。")


def test_a_detail_no_sentence_states_alone_reads_from_the_start() -> None:
    """kb005's place sentence holds a condition (换发的还要带旧护照): no sentence states the
    place alone, so the answer is read from its start, not the wait alone first (mend67:
    the caller would take the place for left out)."""
    e = ENTRIES["kb005"]
    parts = reading("kb005", "护照在哪儿办，多久能拿到？")
    assert parts[0] == (P.kb_intro_text(e["title"]), parts[0][1])
    assert e["answer"].startswith(parts[0][1])


@pytest.mark.parametrize(("entry", "question", "first"), [
    # Whom: a body gone to or asked.
    ("kb009", "高龄津贴找谁申请，要带啥？", "由本人或家属带老人身份证"),
    ("kb010", "我妈想办老年卡，找谁办？", "带身份证和户口本到社区居委会"),
    # Whether: the condition, when it names what is asked of (nothing here: the procedure).
    ("kb026", "失业保险交满一年能领吗", "非本人意愿中断就业"),
    ("kb001", "我在北京才住了半年，居住证能不能办", "在北京居住满半年"),
])
def test_whom_and_whether_hear_their_sentence_first(entry: str, question: str,
                                                    first: str) -> None:
    assert reading(entry, question)[0][1].startswith(first)


@pytest.mark.parametrize(("entry", "question"), [
    # A condition of another act (符合条件的可以直接在App上处理) answers no whether of 复核.
    ("kb047", "罚单拍错了，能申请复核吗？"),
    # 结婚登记带啥材料，在哪办: every sentence states one of them (所在地, App): no gain.
    ("kb008", "结婚登记带啥材料，在哪办？"),
])
def test_read_from_the_start(entry: str, question: str) -> None:
    e = ENTRIES[entry]
    assert reading(entry, question)[0][0] == P.kb_intro_text(e["title"])


def test_sip_two_details_first_then_3_reads_the_rest_and_1_files_the_whole_answer(
        services: IvrServices) -> None:
    with services.sessions() as s:
        e = kb.get_entry(session=s, entry_id="kb008")
        title, version, answer = e.title, e.version, e.answer
    first, where, when = (s + "。" for s in answer.split("。")[:3])
    _, line, path = converse(services, "结婚登记要带啥，多久能领证？", ["3", "1"], DONE)
    assert path[-3:] == [State.ANSWER, State.ANSWERED, State.GOODBYE]
    said = services.prompts.kb_said(
        "kb008", version, P.kb_detail_intro_text(title, "materials") + where
        + P.kb_detail_next_text("duration") + when, "materials-duration-p0")
    rest = services.prompts.kb_said("kb008", version, P.text("kb_rest_intro") + first,
                                    "materials-duration-p1")
    assert [p for p in line.played if p.startswith((said, rest))] == [
        said + services.prompts.pcm("kb_detail_more"),
        rest + services.prompts.pcm("kb_resolved_ask")]
    with services.sessions() as s:
        assert s.scalars(select(Ticket)).one().reply_text == answer  # the whole answer
