"""Street and community from what callers say, with the shipped gazetteer
(config/gazetteer.toml) and the classifier's districts; no database."""

from __future__ import annotations

import tomllib

import pytest

from config import Settings
from ticketing.context import Domain
from ticketing.places import GAZETTEER_FILE, Place, load_gazetteer, locate


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
