"""The tenth round: an entry about an animal (the dog licence) answers only a caller who
speaks of one. 年检, 打疫苗, 登记 and 办证 are done about cars, shops and people too: with no
animal named, the words are a car's inspection or a person's rabies shot, not the dog
licence's question. Shipped settings; probes written for this (none from shared/ or
bench/data)."""

from __future__ import annotations

import pytest

from knowledge.search import Index, worth_confirming
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
    from knowledge.objects import ANY
    assert objects.named("宠物登记去哪办")["pets"] == {ANY}
    assert objects.named("我家金毛要办证吗")["pets"] == {"狗"}
