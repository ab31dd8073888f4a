"""mend59 (review59 of kb28): the sentence read first must answer the detail asked when it is
heard alone. Reading from the start (as before kb28) is always safe; a sentence is read first
only when, out of its context, it truly answers: not one under a condition (…的，可以…;
对…有异议的; 材料齐全的), not one that refers back (具体流程…), a wait that is a wait (not a
condition's 交满一年 nor a deadline's 期满前一个月), papers named after 带/需要 (not 材料齐全的),
the act asked online said to be done online, a cost with an amount or 免费, a body gone to
(向…部门) as a place. The review's questions against the sample FAQ, each with what is read
first (None: the answer from its start). Socket-free; the SIP and Twilio calls that read
these are in tests/ivr/test_kb_detail_first.py and tests/twilio/test_twilio_parity.py."""

from __future__ import annotations

import csv

import pytest

from ivr import prompts as P
from ivr.kb_answer import KbAnswer, answer_reading
from knowledge.details import details_asked, online_act, states, whether_thing
from knowledge.search import is_question
from tests.conftest import SHARED

LIMIT = 120
ENTRIES = {r["id"]: r for r in csv.DictReader(
    (SHARED / "kb" / "faq.tsv").open(encoding="utf-8"), delimiter="\t")}


def read_first(entry: str, question: str) -> str | None:
    """The sentences read first for ``question`` answered by ``entry``, or None (the
    answer from its start)."""
    e = ENTRIES[entry]
    parts = answer_reading(KbAnswer(entry, 1, e["title"], e["answer"], 0.9,
                                    details=details_asked(question), act=online_act(question),
                                    thing=whether_thing(question)),
                           LIMIT)
    return parts[0].words if parts[0].detail_first else None


@pytest.mark.parametrize("entry,question", [
    # 1. "…的可以" is what to do if, no condition to apply.
    ("kb011", "个税汇算要什么条件"),  # was: 操作不会的可以拨打纳税服务热线12366
    ("kb004", "补身份证需要什么条件"),  # was: 补办期间要用证的，可以同时申请临时身份证
    # 2. How long: a condition's span and a deadline are no wait.
    ("kb026", "失业金啥时候到账"),  # was: …失业保险交满一年的，可以申领
    ("kb002", "签注得多长时间"),  # was: 建议在有效期满前一个月内办理…顺延一年
    # 4. A sentence under a condition is not read first alone.
    ("kb047", "处理违章要带什么"),  # was: 对处罚有异议的，可以带驾驶证、行驶证…申请复核
    ("kb004", "身份证丢了补办要多久"),  # was: the temporary card's 一般几天就能拿到
    # 5. The act asked online, not another said online.
    ("kb026", "失业金网上能退吗"),  # was: …网上申请
    ("kb008", "结婚登记网上能办吗"),  # was: …公众号上预约 (registration is in person)
    # 6. 电子收费 is how a fee is paid, no cost.
    ("kb048", "停车费多少钱"),
    # 11. 协商不成的，拨打12315 before 可以先和商家协商.
    ("kb013", "投诉商家电话多少"),
    # A hospital chosen is no place to go (可以选四家定点医院); the one that says where is
    # under 想换定点医院的.
    ("kb029", "医保定点医院想换一家，在哪儿改？"),
])
def test_no_sentence_that_misleads_alone_is_read_first(entry: str, question: str) -> None:
    assert len(details_asked(question)) == 1  # a detail is asked...
    assert read_first(entry, question) is None  # ...and the answer is read from its start


@pytest.mark.parametrize("entry,question,heard", [
    # 3. Papers after 需要, not 材料齐全的一般几个工作日.
    ("kb012", "营业执照要什么材料", "需要经营者身份证和经营场所证明"),
    # 7. 部门 is a place gone to (向所在区住房城乡建设部门申请), not 具体流程可以问… first.
    ("kb049", "维修资金在哪申请", "向所在区住房城乡建设部门申请"),
    # 8. 要几天 asks how long.
    ("kb005", "办护照要几天", "一般七个工作日左右可以领取"),
    ("kb001", "居住证办下来得几天", "一般十五个工作日左右可以领证"),
    # The act asked online said done online: 缴费 for 交.
    ("kb035", "暖气费在手机上能交吗", "银行App、“北京通”App或到供热单位营业厅缴费"),
])
def test_the_sentence_that_answers_alone_is_read_first(entry: str, question: str,
                                                      heard: str) -> None:
    first = read_first(entry, question)
    assert first is not None and heard in first


@pytest.mark.parametrize("sentence,kind,act,stated", [
    ("操作不会的可以拨打纳税服务热线12366。", "eligibility", "", False),
    ("在北京居住满半年的，可以申领居住证。", "eligibility", "", True),  # its own condition
    ("非本人意愿中断就业、失业保险交满一年的，可以申领失业保险金。", "duration", "", False),
    ("建议在有效期满前一个月内办理。", "duration", "", False),
    ("签注后有效期顺延一年。", "duration", "", False),
    ("一般十五个工作日左右可以领证。", "duration", "", True),
    ("材料齐全的一般几个工作日就能办好。", "materials", "", False),
    ("需要经营者身份证和经营场所证明。", "materials", "", True),
    ("在定点医院看病一般用社保卡或医保电子凭证直接结算。", "materials", "", False),
    ("可以在“北京人社”App网上申请。", "online", "退", False),
    ("可以在“北京人社”App网上申请。", "online", "", True),
    ("建议先在民政部门公众号上预约。", "online", "", False),  # a step around it
    ("北京路侧停车实行电子收费。", "cost", "", False),
    ("办理不收取任何费用。", "cost", "", True),
    ("具体流程可以问社区居委会或物业。", "place", "", False),  # refers back
    ("市场监管部门受理后会组织调解。", "place", "", False),  # who acts, not where to go
    ("向所在区住房城乡建设部门申请。", "place", "", True),
    ("到公积金管理中心各管理部柜台办理。", "place", "", True),  # no 管理部 of its own
])
def test_what_a_sentence_states_heard_alone(sentence: str, kind: str, act: str,
                                            stated: bool) -> None:
    assert states(sentence, kind, act) is stated


@pytest.mark.parametrize("question,detail,act", [
    ("失业金网上能退吗", "online", "退"), ("暖气费在手机上能交吗", "online", "交"),
    ("结婚登记网上能办吗", "online", ""), ("劳动仲裁网上能申请吗", "online", ""),
    ("身份证下个月到期，提前多久可以去换？", None, ""),  # a lead time, no wait
    ("临时身份证能用多久", None, ""),  # how long it lasts
    ("办护照要几天", "duration", ""),
])
def test_the_detail_and_the_act_asked(question: str, detail: str | None, act: str) -> None:
    assert details_asked(question) == ((detail,) if detail else ())
    assert online_act(question) == act


def test_a_span_asked_with_what_it_takes_is_a_question() -> None:
    assert is_question("办护照要几天") and is_question("居住证办下来得几天")
    assert not is_question("好几天没人管") and not is_question("等了几天了")


def test_the_intro_says_the_detail_in_spoken_words_and_names_the_entry() -> None:
    """A title put as a question (…需要什么条件) is the entry's, not the detail said first;
    money the caller receives (失业金能领多少钱) is no 费用."""
    assert (P.kb_detail_intro_text("第一次办居住证需要什么条件", "materials")
            == "这是关于第一次办居住证需要什么条件的答复，先说要带的材料：")
    assert P.kb_detail_intro_text("失业了怎么申领失业保险金", "cost").endswith("先说多少钱：")
    assert P.kb_detail_intro_text("x", "online").endswith("先说能不能在网上办：")
    assert P.text("kb_rest_intro") == "下面是其他内容。"
    assert P.text("kb_detail_more").startswith("听其他内容请按3")
