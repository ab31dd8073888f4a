"""kb47: needs callers still missed (unpaid wages from a dispatch agency, a loan said as
借款, Sunday named the spoken way) and answers offered that do not answer (a gas customer
number, a night-work permit, which districts, a hukou moved out of a collective household,
who sets a charge, a dog let loose).
docs/knowledge.md, "Thirty-seventh round (kb47)". The sentences are this round's own, not
lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.objects import Objects
from knowledge.search import Index, quantities_asked, states
from tests.knowledge.test_search_round26 import TODAY, assert_read_out


def assert_not_read_out(index: Index, text: str, entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None or r.answer.id != entry, (r.hits[:2], r.features)


def assert_neither_read_nor_offered(index: Index, text: str, entry: str) -> None:
    """``entry`` is never read out, nor offered for confirmation (confidence under 0.3)."""
    r = index.search(text, today=TODAY)
    assert r.answer is None, (r.hits[:2], r.features)
    assert all(h.confidence < 0.3 for h in r.hits if h.id == entry), (r.hits[:3], r.features)


@pytest.mark.parametrize(("text", "entry"), [
    # A loan said the everyday way is the loan, not the purchase drawing.
    ("想拿公积金借款买套小两居，该怎么申请？", "kb016"),
    ("用公积金借钱买房子要准备什么", "kb016"),
    # The drawing for a flat bought outright is still the purchase drawing.
    ("我们全款买的房，公积金能提出来吗", "kb015"),
    # Wages not settled by a dispatch agency.
    ("派遣公司把我派到仓库干了俩月，工资没结，这事找哪个部门？", "kb024"),
    # Sunday said the spoken way is the weekend day the power bill's channels serve.
    ("礼拜天能不能交电费呀", "kb040"),
    ("星期日可以交电费不", "kb040"),
    # The employer's quota for a graduate's hukou, and another province for insurance.
    ("我是应届生，单位说有落户名额，进京落户要怎么办理？", "kb006"),
    ("拿北京医保去外省看病要先办什么手续", "kb028"),
    # The gas entry and the inspection entry still read for their own questions.
    ("燃气费在手机上怎么交", "kb042"),
    ("说是燃气公司来入户安检的，怎么辨别是不是真的", "kb043"),
])
def test_callers_words_read_their_entry(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "entry"), [
    # Where the gas customer number is written: no gas entry says.
    ("天然气的用户编号上哪儿看", "kb042"),
    ("燃气户号忘了在哪能查到", "kb042"),
    # A worksite's night-work permit is not a gas inspector at the door.
    ("楼下工地说有夜间施工许可，这个怎么辨别真假", "kb043"),
    ("工地夜间施工的许可证怎么核实是真的", "kb043"),
    # Which districts: the dog licence says a zone exists, not where.
    ("北京哪几个区不让养大型犬", "kb050"),
    ("海淀区是不是禁止养大狗的区域", "kb050"),
    # A dog let loose is a nuisance reported, which the licence's entry never speaks of.
    ("楼下邻居的哈士奇从来不拴绳，把我家老人吓坏了，找谁管？", "kb050"),
])
def test_what_no_entry_says_is_neither_read_nor_offered(index: Index, text: str,
                                                       entry: str) -> None:
    assert_neither_read_nor_offered(index, text, entry)


@pytest.mark.parametrize(("text", "entry"), [
    # A hukou moved out of a collective household: the settling entry moves one in.
    ("户口在公司集体户，离职了要迁出，怎么办理", "kb006"),
    ("集体户口怎么迁走", "kb006"),
    # The bill named beside the number is the entry's own member: offered at most.
    ("交煤气费的客户号在哪找", "kb042"),
    # Who sets an after-school charge: the school's entries speak of no charge.
    ("小学的课后服务费是谁定的标准，哪个部门规定的", "kb032"),
    # A dog let loose is reported, not a licence asked.
    ("隔壁的哈士奇天天不拴绳在院里跑，找谁管", "kb050"),
])
def test_what_the_entry_does_not_answer_is_not_read_out(index: Index, text: str,
                                                        entry: str) -> None:
    assert_not_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "district"), [
    ("北京哪些区不让养大狗", True),
    ("重点管理区包括哪几个区", True),
    ("朝阳区算不算禁养大型犬的区域", True),
    # Which district's office, asked with a procedure, is no list of districts asked.
    ("我该去哪个区的派出所办居住证", False),
    ("哪些区别需要注意", False),
])
def test_which_districts_is_a_size_of_its_own(text: str, district: bool) -> None:
    assert ("district" in quantities_asked(text)) is district


def test_a_district_is_stated_by_its_name() -> None:
    assert states("朝阳、海淀等区的重点管理区内不能养大型犬", "district")
    assert not states("重点管理区内不能养大型犬和烈性犬", "district")
    assert not states("到居住地所在区指定地点审核", "district")


def test_a_charge_is_spoken_of_only_by_an_entry_that_speaks_of_a_charge(index: Index) -> None:
    school = next(i for i, d in enumerate(index.docs) if d.id == "kb032")
    heating = next(i for i, d in enumerate(index.docs) if d.id == "kb035")
    # kb032 says 入学服务平台 and no charge at all.
    assert index.has(school, "服务")
    assert not index.has(school, "服务费")
    # A charge of an entry that speaks of charges is still met by the words inside it.
    assert index.has(heating, "暖气费")


def test_a_gas_customer_number_and_a_night_permit_are_members(objects: Objects) -> None:
    assert objects.named("天然气的户号在哪看", caller=True)["gas"] == frozenset({"户号"})
    assert objects.named("燃气公司上门安检怎么辨别真假", title=True)["claimed"] \
        == frozenset({"燃气安检"})
    assert objects.named("工地有夜间施工许可吗", caller=True)["claimed"] == frozenset({"施工许可"})
