"""Street and community from what callers say, with the shipped gazetteer
(config/gazetteer.toml) and the classifier's districts; no database."""

from __future__ import annotations

import cProfile
import pstats
import random
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from ticketing import places
from ticketing.context import Domain
from ticketing.places import GAZETTEER_FILE, Gazetteer, Place, Table, load_gazetteer, locate


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Domain:
    return Domain.load(Settings(data_dir=tmp_path_factory.mktemp("places")))


@pytest.mark.parametrize(("text", "district", "expected"), [
    # A gazetteer estate names its community, street and district.
    ("望京西园三区5号楼从今天早上开始停水", None, Place("朝阳区", "望京街道", "望京西园三区社区")),
    ("我家小区朝阳区安贞里的物业不作为", "朝阳区", Place("朝阳区", "安贞街道", "安贞里社区")),
    # A community by its full name and by its name without 社区.
    ("海淀区清河街道安宁里社区垃圾没人清", "海淀区", Place("海淀区", "清河街道", "安宁里社区")),
    ("花家地北里门口的路灯坏了", None, Place("朝阳区", "望京街道", "花家地社区")),
    # A village under a town (乡镇).
    ("昌平区北七家镇东三旗村污水横流", "昌平区", Place("昌平区", "北七家镇", "东三旗村")),
    # Names the gazetteer lacks are still taken from "XX社区", "XX小区", "XX街道".
    ("我住在朝阳区幸福社区，楼下垃圾没人管", "朝阳区", Place("朝阳区", None, "幸福社区")),
    ("西城区新街口街道的锦绣小区停电", "西城区", Place("西城区", "新街口街道", "锦绣小区")),
    # Only a road, or a 村 that is part of a road's name: no community.
    ("海淀区中关村大街的人行道上有个井盖丢了", "海淀区", Place("海淀区", None, None)),
    ("朝阳区阜通东大街路灯坏了", "朝阳区", Place("朝阳区", None, None)),
    ("农村的路灯坏了", None, Place(None, None, None)),
])
def test_locate(domain: Domain, text: str, district: str | None, expected: Place) -> None:
    assert domain.locate(text, district) == expected


def test_district_said_decides_between_places_of_one_name(domain: Domain) -> None:
    # "金台" estates exist in 朝阳 (金台里) and 怀柔 (金台园): each is found only as itself.
    assert domain.locate("怀柔区金台园停暖了", "怀柔区").community == "金台园社区"
    assert domain.locate("朝阳区金台里停暖了", "朝阳区").community == "金台里社区"


def test_gazetteer_uses_the_classifier_districts(domain: Domain, tmp_path) -> None:
    with GAZETTEER_FILE.open("rb") as fh:
        shipped = tomllib.load(fh)
    assert set(shipped) == set(domain.classification.districts)  # all 16, nothing else
    bad = tmp_path / "gazetteer.toml"
    bad.write_text('["雄安新区"."容东街道"]\n"容东社区" = []\n', encoding="utf-8")
    with pytest.raises(ValueError, match="雄安新区"):
        load_gazetteer(domain.classification.districts, bad)
    assert locate("", domain.gazetteer, "朝阳区") == Place("朝阳区")


def _linear_locate(text: str, gazetteer: Gazetteer, district: str | None = None) -> Place:
    """``locate`` as it was before the gazetteer was indexed (every name looked for in the
    text, one after another): the answers an index must not change."""
    def known(table: Table) -> Place | None:
        found = []
        for name, named in table:
            pos = text.find(name)
            fitting = [p for p in named if district is None or p.district == district]
            if pos >= 0 and len(fitting) == 1:
                found.append((pos, -len(name), fitting[0]))
        return min(found, key=lambda f: (f[0], f[1]))[2] if found else None

    text = re.sub(r"\s", "", text or "")
    if not text:
        return Place(district)
    community = known(gazetteer.communities)
    if community is not None:
        return community
    street = known(gazetteer.streets)
    rest = text
    for name in (*gazetteer.districts, *(n for n, _ in gazetteer.streets)):
        rest = rest.replace(name, "，")
    name = places._unknown(places._UNKNOWN_COMMUNITY, rest)
    if street is not None:
        return Place(street.district, street.street, name)
    return Place(district, places._unknown(places._UNKNOWN_STREET, rest), name)


def _city(districts: tuple[str, ...], size: int, seed: int) -> dict[str, Any]:
    """A gazetteer of ``size`` communities with estates, as a province's city would hold:
    names of 2-4 common characters, some repeated across districts and inside each other."""
    rng = random.Random(seed)
    chars = "东西南北中新华安和平幸福光明建设阳花园里村桥河山湖金银龙凤兴隆永丰"
    city: dict[str, Any] = {}
    for i in range(size):
        district = districts[i % len(districts)]
        street = "".join(rng.choices(chars, k=2)) + rng.choice(("街道", "镇", "乡"))
        stem = "".join(rng.choices(chars, k=rng.randint(2, 4)))
        estates = ["".join(rng.choices(chars, k=rng.randint(3, 5))) for _ in range(2)]
        city.setdefault(district, {}).setdefault(street, {})[
            stem + rng.choice(("社区", "村"))] = estates
    return city


def _texts(gazetteer: Gazetteer, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = [n for n, _ in gazetteer.communities] + [n for n, _ in gazetteer.streets]
    words = ["楼下垃圾没人清", "停水两天了", "我住在", "的路灯坏了", "幸福社区", "中关村大街",
             "小区门口", "XX街道", "附近工地夜间施工", "，", "村里"]
    return ["".join(rng.choice((rng.choice(names), rng.choice(words), *gazetteer.districts))
                    for _ in range(rng.randint(1, 5))) for _ in range(80)]


@pytest.mark.parametrize("size", [0, 1500])
def test_an_indexed_gazetteer_finds_what_looking_for_every_name_found(
        domain: Domain, tmp_path: Path, size: int) -> None:
    districts = domain.classification.districts
    if size:
        path = tmp_path / "gazetteer.toml"
        path.write_text(_toml(_city(districts, size, seed=size)), encoding="utf-8")
        gazetteer = load_gazetteer(districts, path)
    else:
        gazetteer = domain.gazetteer  # the shipped one
    texts = [*_texts(gazetteer, seed=size), "望京西园三区5号楼停水", "海淀区中关村大街井盖丢了"]
    for text in texts:
        for district in (None, districts[0]):
            assert locate(text, gazetteer, district) == _linear_locate(text, gazetteer, district)


def test_a_text_is_looked_up_in_the_names_that_can_be_in_it(domain: Domain,
                                                             tmp_path: Path) -> None:
    """A ticket's place costs what its words hold, not what the city's gazetteer holds: a
    province's city has tens of thousands of community and estate names, and each was looked
    for in every ticket's words, inside SQLite's writers' turn (thirtieth round)."""
    path = tmp_path / "gazetteer.toml"
    path.write_text(_toml(_city(domain.classification.districts, 5000, seed=7)),
                    encoding="utf-8")
    gazetteer = load_gazetteer(domain.classification.districts, path)
    names = len(gazetteer.communities) + len(gazetteer.streets)
    assert names > 10000
    text = "公司拖欠我三个月工资不发，找了好几次"  # no name of the city begins in it
    profile = cProfile.Profile()
    profile.runcall(locate, text, gazetteer, None)
    finds = sum(calls for (_, _, func), (calls, *_) in pstats.Stats(profile).stats.items()  # type: ignore[attr-defined]
                if "'find' of 'str'" in func)
    assert finds < 100, finds


def _toml(city: dict[str, Any]) -> str:
    lines = []
    for district, streets in city.items():
        for street, communities in streets.items():
            lines.append(f'["{district}"."{street}"]')
            lines += [f'"{c}" = [{", ".join(repr(e).replace(chr(39), chr(34)) for e in es)}]'
                      for c, es in communities.items()]
    return "\n".join(lines) + "\n"
