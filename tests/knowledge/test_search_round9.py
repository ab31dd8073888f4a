"""The ninth round: a caller who names another object of the entry's family (another
document, card, animal, benefit or account operation) is neither answered from the entry
nor asked about it. Shipped settings; probes written for this (none from shared/ or
bench/data)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from knowledge.objects import load_objects
from knowledge.search import Index, confidence, normalise, worth_confirming

TODAY = date(2026, 12, 2)
PROBES = Path(__file__).with_name("probes.tsv")


def _probes(kind: str) -> list[dict[str, str]]:
    with PROBES.open(encoding="utf-8") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["type"] == kind]


@pytest.mark.parametrize("row", _probes("neighbour"), ids=lambda r: r["text"][:12])
def test_a_neighbouring_object_is_neither_answered_nor_offered(index: Index,
                                                               row: dict[str, str]) -> None:
    """驾照 renewed like 身份证, 社保卡 lost like it, a bite against the dog licence, a
    retirement withdrawal against the rent one: each was answered or asked about before."""
    r = index.search(row["text"], today=TODAY)
    assert r.answer is None, r.hits[:1]
    assert worth_confirming(r, 0.3) is None, r.hits[:1]


@pytest.mark.parametrize("row", _probes("own-object"), ids=lambda r: r["text"][:12])
def test_another_object_beside_the_entrys_own_is_still_answered(index: Index,
                                                                row: dict[str, str]) -> None:
    """A caller who names the entry's object and another of its family (a material to
    bring, a second matter) still gets the entry's answer -- unless what they ask about
    is a thing the entry never speaks of (养狗登记要带房产证吗: the dog licence's answer
    does not say): then it is offered for confirmation, not read out (the thirteenth
    round, ``unasked``)."""
    r = index.search(row["text"], today=TODAY)
    assert r.features["other_object"] == 0.0
    assert r.hits[0].id == row["expect"]
    if r.features["unasked"]:
        assert r.answer is None and worth_confirming(r, 0.3) is not None
    else:
        assert r.answer is not None and r.answer.id == row["expect"]


def test_the_object_rule_sets_the_confidence_to_nothing(index: Index) -> None:
    r = index.search("驾驶证快到期了去哪换", today=TODAY)
    assert r.hits[0].id == "kb003" and r.features["other_object"] == 1.0
    assert r.hits[0].confidence == 0.0
    # Without it, the same words would have answered from the identity-card entry.
    assert confidence({**r.features, "other_object": 0.0}) >= r.threshold


def test_complaint_guard_still_holds_when_the_object_is_the_entrys(index: Index) -> None:
    r = index.search("身份证到期了去换新的推来推去好几次都办不了", today=TODAY)
    assert r.hits[0].id == "kb003" and r.features["other_object"] == 0.0
    assert r.answer is None and worth_confirming(r, 0.3) is None


def test_an_entry_is_about_what_its_title_names(objects) -> None:  # type: ignore[no-untyped-def]
    assert objects.named("身份证丢了怎么补办", title=True) == {"documents": {"身份证"}}
    # 外地户口 with the synonyms applied first: 不是北京户口 does not name 北京户口.
    assert objects.named("我们不是北京户口")["hukou"] == {"外地户口"}
    # A phrase inside a longer one names nothing: 工作居住证 is not 居住证.
    assert objects.named("工作居住证怎么办")["documents"] == {"工作居住证"}
    # 狂犬 is a disease (ignored), not a dog.
    assert "pets" not in objects.named("狂犬疫苗在哪打")


def test_a_framed_family_applies_only_to_entries_of_its_frame(objects) -> None:  # type: ignore[no-untyped-def]
    # 转到 is 转移 once normalised: the social-insurance transfer is no 公积金 operation.
    assert "housing_fund" not in objects.named("外地交的社保怎么转到北京", title=True)
    assert objects.named("换工作后公积金怎么转移", title=True)["housing_fund"] == {"转移"}
    # A caller's words are read whole: the frame is the entry's.
    assert objects.named("退休了想全部取出来")["housing_fund"] == {"退休提取"}


def test_other_object_needs_a_member_of_the_same_family(objects) -> None:  # type: ignore[no-untyped-def]
    about = objects.named("身份证丢了怎么补办", title=True)
    other = objects.other_object
    assert other(objects.named("社保卡丢了"), about, about) == "documents"
    assert other(objects.named("身份证和社保卡都丢了"), about, about) is None
    assert other(objects.named("钱包丢了"), about, about) is None  # names no document
    # A pet named against an entry that never speaks of animals (foreign family).
    permit = objects.named("第一次办居住证需要什么条件", title=True)
    assert other(objects.named("养猫要登记吗"), permit, permit) == "pets"
    assert other(objects.named("养猫要登记吗"), permit, {"pets": frozenset({"猫"})}) is None


def test_a_phrase_naming_two_members_of_a_family_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "objects.toml"
    bad.write_text('[family.x]\nmembers."甲" = ["证"]\nmembers."乙" = ["证"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="two members"):
        load_objects(bad, normalise)


def test_every_shipped_family_has_members(objects) -> None:  # type: ignore[no-untyped-def]
    assert len(objects.families) >= 10
    assert all(f.member_of for f in objects.families)


@pytest.mark.parametrize("text", ["凭啥停车费收这么贵", "为啥我的失业金这个月没到"])
def test_spoken_why_blames_like_the_written_one(index: Index, text: str) -> None:
    """为啥 and 凭啥 are how 为什么 and 凭什么 are said: a grievance, not a question the
    entry answers (the complaint probes' test checks it is not offered either)."""
    assert _probes("complaint") and text in {r["text"] for r in _probes("complaint")}
    r = index.search(text, today=TODAY)
    assert r.features["blame"] == 1.0 and r.answer is None


@pytest.mark.parametrize("row", _probes("spoken"), ids=lambda r: r["text"][:12])
def test_renting_out_said_as_renting_to_someone_finds_the_rental_entry(
        index: Index, row: dict[str, str]) -> None:
    r = index.search(row["text"], today=TODAY)
    assert r.answer is not None and r.answer.id == row["expect"]


@pytest.mark.parametrize("text", ["买的鸡蛋是坏的商家不给退去哪投诉",
                                  "网上买的烤鸭过期了怎么投诉商家"])
def test_food_named_after_an_animal_names_no_pet(index: Index, text: str) -> None:
    """鸡蛋, 烤鸭 hold an animal's character: no pet, so the consumer-complaint entry
    (which speaks of no animal) still answers where to complain."""
    r = index.search(text, today=TODAY)
    assert r.features["other_object"] == 0.0
    assert r.answer is not None and r.answer.id == "kb013"


def test_things_named_after_an_animal_are_ignored(objects) -> None:  # type: ignore[no-untyped-def]
    for text in ("买的热狗过期了", "门上的猫眼坏了", "去鸟巢看演出"):
        assert "pets" not in objects.named(text), text
