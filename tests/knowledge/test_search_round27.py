"""Twenty-fifth round (kb27): three more things a caller asks that an entry's text never
speaks of, each an offer ("您是想问…吗"), never a read-out: a claim (to be compensated, to
get money back, who bears a cost: 能把钱要回来吗, 这钱该我出吗), the thing done for someone
of the family (给我爸妈交, 给我儿子交房租), and a cause (是什么原因). docs/knowledge.md,
"Twenty-fifth round (kb27)". The sentences are this round's own, not lines of a bench file;
each in the first direction is read out on main.
"""

from __future__ import annotations

import pytest

from knowledge.search import Index, claim_asked, held_back, kin_asked, why_asked
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_offered, assert_read_out


@pytest.mark.parametrize(("text", "entry", "feature"), [
    # A claim the entry never speaks of (it says how to pay, how to tell an inspector).
    ("有人冒充自来水公司上门收了我两百块水费，能把钱要回来吗？", "kb037", "unclaimed"),
    ("路边停车收费员多收了我二十块，这钱该我出吗？", "kb048", "unclaimed"),
    ("燃气公司会赔偿吗？", "kb043", "unclaimed"),
    # Done for someone of the family, whom the entry never names.
    ("我想给我爸妈也交灵活就业的社保，行吗？", "kb020", "for_kin"),
    ("能用我的公积金给我儿子交房租吗？", "kb014", "for_kin"),
    ("能给我老婆办个老年卡吗？", "kb010", "for_kin"),
    # A cause asked of an entry that tells how to apply.
    ("老人的高龄津贴这几个月没发，什么原因，去哪里查？", "kb009", "uncaused"),
])
def test_what_the_entry_never_speaks_of_is_offered_not_read_out(
        index: Index, text: str, entry: str, feature: str) -> None:
    assert_offered(index, text, entry, feature)
    assert held_back(index.search(text, today=TODAY))  # offered even for a short question


@pytest.mark.parametrize(("text", "entry"), [
    # The claim told, not asked, or one the entry speaks of (赔偿 is kb025's, 退 kb013's).
    ("公司把我辞退了也不给赔偿，怎么申请劳动仲裁？", "kb025"),
    ("买东西被坑了，商家不给退钱，我能把钱要回来吗？", "kb013"),
    # The kin the entry names (老人, 孩子), or 给 after a verb: the one who receives.
    ("我想给家里的老人申请高龄津贴，怎么申请？", "kb009"),
    ("刚出生的孩子怎么上户口？", "kb007"),
    ("我把房子租给别人了，在哪儿登记备案？", "kb018"),
])
def test_what_the_entry_speaks_of_is_still_read_out(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "asked"), [
    ("停电一整天，冰柜里的海鲜全臭了，能让供电公司赔钱吗？", True),
    ("燃气公司的人把软管弄坏了，他们得赔不？", True),
    ("暖气片漏水把楼下泡了，维修的钱该我出吗？", True),
    # Told as the situation before another question.
    ("公司不给赔偿，我想申请仲裁，要准备什么？", False),
    ("钱都交完了，多久能来电？", False),
])
def test_a_claim_is_read_only_where_the_caller_asks(text: str, asked: bool) -> None:
    assert claim_asked(text) is asked


@pytest.mark.parametrize(("text", "kin"), [
    ("我想给老家的爸妈也交北京的医保，行不？", {"爸妈"}),  # 行不 asks of the clause before
    ("能给我家保姆交社保吗？", {"保姆"}),
    ("身份证丢了，怕给家里人用了，咋挂失？", set()),  # a fear, not an ask
    ("房子租给亲戚了，要备案吗？", set()),  # 租给: who receives
    ("要去上海给闺女看孩子，看病医保咋用？", set()),  # told: the situation
])
def test_whom_the_thing_is_done_for(text: str, kin: set[str]) -> None:
    assert kin_asked(text) == kin


@pytest.mark.parametrize(("text", "entry"), [
    ("公积金贷款这个月还不起了，能不能缓几天？", "kb016"),
    ("用公积金贷款买的房，月供还不上了怎么办？", "kb016"),
])
def test_a_loan_that_cannot_be_repaid_is_not_the_loan_application(
        index: Index, text: str, entry: str) -> None:
    """还不上了, 还不起 are the repayment (kb_matters' ``repay``), which the loan's entry never
    speaks of: neither read out nor offered (feature ``unmatched``)."""
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == entry and r.features["unmatched"] == 1.0 and r.answer is None


@pytest.mark.parametrize(("text", "entry"), [
    ("孩子今年九月还不上小学，现在要做信息采集吗？", "kb032"),  # 还不上: not yet
    ("孩子早上还不起床，上幼儿园怎么报名？", "kb031"),
])
def test_still_not_is_no_repayment(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize("text,entry", [
    ("我在北京交的养老保险，想从北京转到河北，怎么转？", "kb021"),
    ("我的集体户口想迁出去，咋办？", "kb006"),
    # review55: another clause's 从老家 leaves this one's move away (the clause alone reads)
    ("我是从外地来的，集体户口想迁出去，咋办？", "kb006"),
])
def test_out_of_beijing_is_offered_not_the_way_in(index: Index, text: str, entry: str) -> None:
    """kb_matters' ``[loose]`` back: 从北京转, 迁出去 against an entry that moves it into
    Beijing (its own 转出地 is the other place's side)."""
    assert_offered(index, text, entry, "unmatched_loose")


@pytest.mark.parametrize("text,entry", [
    ("外地交的社保怎么转到北京？", "kb021"),
    ("换工作了，公积金怎么转出去？", "kb017"),  # to the new employer's account
    # review55: out of elsewhere into Beijing (``[loose_unless_clause]``): the way in
    ("户口从老家迁出去落到北京，应届生怎么办？", "kb006"),
])
def test_into_beijing_or_to_a_new_employer_is_read_out(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_a_cause_is_read_only_where_the_caller_asks() -> None:
    assert why_asked("电费为啥突然多了一倍？")
    assert not why_asked("停水了，停水通知在哪儿查？")
