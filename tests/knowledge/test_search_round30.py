"""Twenty-eighth round (kb30): a complaint, a nuisance or a lawsuit about an entry's
subject, read with the entry on how to do the thing; answerable questions said with the
caller's situation first and everyday verbs. docs/knowledge.md, "Twenty-eighth round
(kb30)". The sentences are this round's own (bench/data/kb_own30.tsv and the lines below),
not lines of a bench file.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from knowledge.search import (
    COMPLAINT_WORDS,
    MATTERS_FILE,
    Index,
    asked_matters,
    is_question,
    load_matters,
    worth_confirming,
)
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out

CONFIRM_FROM = Settings().ivr.kb_confirm_from


@pytest.mark.parametrize(("text", "matter"), [
    # Where to complain of a wrong done about the thing, against how to do it.
    ("幼儿园一学期收了三千多的赞助费，这是乱收费吧，找谁反映？", "complain"),
    ("物业多收了我两个月的采暖费，上哪儿说理去？", "complain"),
    ("养狗登记的时候被多收了一百块钱管理费，上哪儿说理去", "complain"),
    ("个税汇算的时候单位给我多报了收入，害我多交了税，去哪儿举报单位", "complain"),
    ("单位一直不给我交公积金，我想举报它", "complain"),
    # A nuisance: stopping it, against registering the dog or pruning the tree.
    ("楼下邻居家的狗天天半夜叫，吵得睡不着，这事找谁管？", "nuisance"),
    ("园林队修树枝大清早五点就开电锯，吵得全楼睡不着，找谁管", "nuisance"),
    ("垃圾站夏天臭得不行，找谁啊", "nuisance"),
    # Going to court after the step the entry teaches.
    ("劳动仲裁裁决我输了，我不服，还能去法院告吗？", "sue"),
])
def test_a_complaint_about_the_subject_is_neither_read_out_nor_offered(
        index: Index, text: str, matter: str) -> None:
    assert matter in asked_matters(text)
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, r.hits[:1]


@pytest.mark.parametrize(("text", "entry"), [
    # An entry that tells where to complain (投诉, 12315, 申诉) answers a complaint of its
    # own subject.
    ("我上周在网上买的衣服质量很差，商家不给退，去哪儿投诉？", "kb013"),
    ("老板三个月没发工资了，我该上哪儿告他？", "kb024"),
    ("路边停车收费员多收了我钱，能在哪儿申诉？", "kb048"),
])
def test_a_complaint_the_entry_tells_where_to_make_is_still_its_question(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "entry"), [
    # 说理 is to complain (上哪儿说理去): the entries that tell where to complain.
    ("网上买的鞋穿了两天就开胶了，商家不给换，我上哪儿说理去？", "kb013"),
    ("包工头欠了我们俩月工钱，找谁说理去？", "kb024"),
    # Everyday verbs that name no matter: the result waited for, looking, making sure,
    # whether a way helps, a thing put to a use.
    ("换身份证大概几天能拿到新的？", "kb003"),
    ("我想看看我这些年交了几年社保，手机上能查吗？", "kb022"),
    ("听说下礼拜要停水，想确认一下，去哪儿能查到？", "kb038"),
    ("买的东西质量有问题，商家不退，打12315有用吗？", "kb013"),
    ("我租房住，公积金能拿来交房租吗？", "kb014"),
    # Offered since kb24 for 用来 (test_search_round24), read out again.
    ("公积金账户里剩的钱能用来付房租吗，怎么提取", "kb014"),
    # Offered since kb24 for 说理 (test_search_round24), read out again.
    ("网上买的鞋商家不给退，我上哪儿说理去", "kb013"),
    # A whether that ends in 不 before another clause; a procedure wanted with 想换.
    ("劳动仲裁网上能申请不，还是得去现场？", "kb025"),
    ("医保定点医院想换一家", "kb029"),
])
def test_the_situation_or_an_everyday_verb_still_reads_its_entry(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "asks"), [
    ("劳动仲裁能在手机上申请不，还是非得跑一趟？", True),
    ("居住证能在网上续不，要不要跑派出所", True),
    ("医保定点医院想换一家", True),
    ("我说不，他非要给我办", False),
    ("老板就是不给，也不接电话", False),
    ("换身份证大概几天能拿到新的？", True),
    ("停水好几天了", False),
    ("十几天能修好的东西拖了一个月", False),
])
def test_a_whether_ending_in_bu_or_a_procedure_wanted_asks(text: str, asks: bool) -> None:
    assert is_question(text) is asks


def test_a_debt_repaid_is_another_matter_than_drawing_the_fund(index: Index) -> None:
    # 拿来 names the use the verb after it says: 还信用卡 is a repayment.
    text = "公积金里的钱能不能拿来还信用卡？"
    assert "repay" in asked_matters(text)
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, r.hits[:1]


# Mends (mend73, review72): a wish followed by what went wrong, a span or a refusal told,
# a nuisance or a court in the caller's background. The first two lines of each list are
# review72's, the rest this mend's own.
@pytest.mark.parametrize("text", [
    "本来想换个新身份证，结果派出所让我来回跑了三趟",
    "想转移公积金，新单位拖了俩月也不给办",
    "我想办个老年卡，社区说我户口不在这儿不给办",
    "想申请公租房，可材料交上去三个月了没动静",
    "想给孩子办医保，街道拖了一个多月也不给办",
    "我想换个驾照，跑了两趟车管所都没办成",
])
def test_a_wish_followed_by_what_went_wrong_is_a_complaint(index: Index, text: str) -> None:
    assert not is_question(text)
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, r.hits[:1]


@pytest.mark.parametrize(("text", "asks"), [
    # Told: a span someone promised, a refusal of someone else.
    ("窗口说几天能拿到，结果等了一个多月还没拿到", False),
    ("我找他们要钱他们不，还骂人", False),
    ("说好的几天能修好，拖了两个礼拜", False),
    ("过几天能给我回电话，结果没人打", False),
    ("钱我催了好几回他还是不", False),
    ("让物业修物业不，让社区管社区也不管", False),
    # Still asked: a wish with nothing gone wrong after it, a span asked, a whether in 不.
    ("我想挂失社保卡", True),
    ("我想续签居住证", True),
    ("我想办居住证，听说要社保满半年", True),
    ("社保卡补办几天能拿到？", True),
    ("居住证网上能续不", True),
    ("水费手机上交得了不", True),
])
def test_a_span_or_refusal_told_asks_nothing(text: str, asks: bool) -> None:
    assert is_question(text) is asks


@pytest.mark.parametrize(("text", "entry"), [
    ("家里狗晚上叫得吵，我还没给它办狗证，养狗登记要带什么？", "kb050"),
    ("劳动仲裁是去法院申请还是去仲裁委申请？", "kb025"),
    ("楼上装修吵得不行，我想问问居住证在哪儿续签？", "kb002"),
    ("我老公在法院工作，我们结婚登记要带什么？", "kb008"),
])
def test_a_nuisance_or_court_in_the_background_is_not_the_matter_asked(
        index: Index, text: str, entry: str) -> None:
    assert not asked_matters(text) & {"nuisance", "sue"}
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "matter"), [
    ("隔壁KTV半夜吵死了，找谁管", "nuisance"),
    ("仲裁裁决不服，能不能去法院起诉？", "sue"),
])
def test_a_nuisance_or_court_asked_is_still_the_matter(text: str, matter: str) -> None:
    assert matter in asked_matters(text)


def test_the_complaint_words_are_one_list_with_the_complain_and_nuisance_matters() -> None:
    # One list (config/kb_matters.toml) for what names a complaint: a word added to the
    # complain or nuisance matter reports a problem too (投诉, 扰民 were in both).
    assert set(load_matters(MATTERS_FILE)["complain"]) <= set(COMPLAINT_WORDS)
    assert set(load_matters(MATTERS_FILE, "asked_clause")["nuisance"]) <= set(COMPLAINT_WORDS)
    assert len(COMPLAINT_WORDS) == len(set(COMPLAINT_WORDS))
