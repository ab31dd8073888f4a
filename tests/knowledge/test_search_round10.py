"""The tenth round: an entry about an animal (the dog licence) answers only a caller who
speaks of one. 年检, 打疫苗, 登记 and 办证 are done about cars, shops and people too: with no
animal named, the words are a car's inspection or a person's rabies shot, not the dog
licence's question. Shipped settings; probes written for this (none from shared/ or
bench/data). Also the one rule for an entry's validity window, both ends counted."""

from __future__ import annotations

from datetime import date

import pytest

from knowledge.models import EntryStatus, KbEntry
from knowledge.objects import ANY
from knowledge.search import Doc, Index, worth_confirming
from knowledge.service import is_current
from tests.knowledge.test_search_round9 import TODAY, _probes


@pytest.mark.parametrize("row", _probes("no-animal"), ids=lambda r: r["text"][:12])
def test_the_pet_entrys_matters_without_an_animal_are_not_its_questions(
        index: Index, row: dict[str, str]) -> None:
    r = index.search(row["text"], today=TODAY)
    assert r.hits[0].id == "kb050" and r.features["other_object"] == 1.0
    assert r.answer is None and worth_confirming(r, 0.3) is None


def test_an_animal_entry_needs_an_animal_named(objects) -> None:  # type: ignore[no-untyped-def]
    licence = "在北京养狗怎么办理登记"
    about = objects.named(licence, title=True)
    other = objects.other_object
    assert other(objects.named("汽车年检在哪办"), about, about) == "pets"
    assert other(objects.named("狂犬疫苗去哪打"), about, about) == "pets"
    # A breed is a dog; a general word stands for any animal, on either side.
    assert other(objects.named("泰迪每年要年检吗"), about, about) is None
    assert other(objects.named("宠物每年要年检吗"), about, about) is None
    pets = objects.named("宠物怎么登记", title=True)
    assert other(objects.named("养猫要登记吗"), pets, pets) is None
    # Families that do not require their object leave a caller who names none alone.
    lost_id = objects.named("身份证丢了怎么补办", title=True)
    assert other(objects.named("丢了怎么补办"), lost_id, lost_id) is None


def test_a_general_word_names_any_member_but_no_particular_one(objects) -> None:  # type: ignore[no-untyped-def]
    assert objects.named("宠物登记去哪办")["pets"] == {ANY}
    assert objects.named("我家金毛要办证吗")["pets"] == {"狗"}


def test_one_validity_rule_for_searching_and_answering() -> None:
    """Both ends of an entry's window count; the search (``Doc.current``) and the filing of
    a direct answer (``service.is_current``) read the same rule, so an entry is never
    found on a day it may not answer."""
    start, end = date(2026, 11, 15), date(2027, 3, 15)
    doc = Doc(id="x", title="t", category="heating", answer="a", valid_from=start,
              valid_until=end)
    entry = KbEntry(id="x", status=EntryStatus.PUBLISHED.value, valid_from=start,
                    valid_until=end)
    for day, valid in ((date(2026, 11, 14), False), (start, True), (end, True),
                       (date(2027, 3, 16), False)):
        assert doc.current(day) is valid and is_current(entry, day) is valid, day


@pytest.mark.parametrize("text", ["在宠物店买的东西有质量问题去哪投诉",
                                  "网上买的猫粮是过期的商家不给退去哪投诉"])
def test_a_shop_or_supplies_for_pets_name_no_animal_of_the_callers(index: Index,
                                                                    text: str) -> None:
    """宠物店 (the general word) and 猫粮 (a thing named after an animal) are a consumer's
    matter: the consumer-complaint entry, which speaks of no animal, still answers."""
    r = index.search(text, today=TODAY)
    assert r.features["other_object"] == 0.0
    assert r.answer is not None and r.answer.id == "kb013"


@pytest.mark.parametrize("text", ["家里刚养够了要去哪登记", "阳犬登记在哪办"])
def test_an_animal_misheard_as_a_homophone_still_names_one(index: Index, text: str) -> None:
    """A recogniser writes 养够 for 养狗 (another tone, so no respelling): two syllables
    that sound like a pet phrase name an animal, and the dog licence still answers."""
    r = index.search(text, today=TODAY)
    assert r.features["other_object"] == 0.0
    assert r.answer is not None and r.answer.id == "kb050"


def test_a_single_syllable_is_no_animal(objects) -> None:  # type: ignore[no-untyped-def]
    # 够 alone sounds like 狗, as 能够 and 够不够 do: only a phrase of two syllables counts.
    assert "pets" not in objects.named("车辆年检的材料够不够", caller=True)
    assert objects.named("养够了要登记吗", caller=True)["pets"] == {ANY}
    assert "pets" not in objects.named("养够了要登记吗")  # an entry's text is read as written
