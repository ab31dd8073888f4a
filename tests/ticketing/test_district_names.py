"""District from the places a caller names, with the shipped gazetteer ([districts] and [areas]
of config/classification.toml): as written, by sound when a recogniser misspelt it, across the
spaces a recogniser puts between words, and never from an ordinary word. No database."""

from __future__ import annotations

import re
from pathlib import Path

import jieba
import pytest

from ticketing.classify import _scan, classify, load_rules
from ticketing.degrade import degrade
from ticketing.pinyin import syllable


@pytest.mark.parametrize(
    ("text", "district"),
    [
        # a 街道/乡镇 by its short name, or by its official one where the short one is a word
        ("北臧村那边的垃圾好几天没人清运了", "大兴区"),
        ("我家在南独乐河，村里的路灯全坏了", "平谷区"),
        ("喇叭沟门这边手机一点信号都没有", "怀柔区"),
        ("延寿镇的班车一天就两趟", "昌平区"),
        ("爨底下村有人乱收停车费", "门头沟区"),
        # estates, stations, universities, hospitals, sights
        ("天通苑北的电梯又停了", "昌平区"),
        ("北京西站出站口有人拉黑车", "丰台区"),
        ("北京站地下通道有个老人晕倒了", "东城区"),
        ("首都机场排队打车排了两个小时", "顺义区"),
        ("北航门口的共享单车堆成山了", "海淀区"),
        ("去天坛医院看病，停车场排了一上午", "丰台区"),  # the hospital moved; 天坛 is 东城
        ("地坛医院门口的路太堵了", "朝阳区"),
        ("八达岭长城景区有人强行拉客", "延庆区"),
        ("亦庄经海路的工地晚上一直施工", "大兴区"),
        # a longer name wins over the name inside it
        ("朝阳门外有个井盖没了", "东城区"),
        ("石景山鲁谷这边停水了", "石景山区"),  # 石景山, not the 景山 (东城) inside it
        ("大兴庄镇的果园被人砍了树", "平谷区"),  # 平谷's 大兴庄, not 大兴
        ("清华长庚医院挂号太难了", "昌平区"),  # not 清华 (海淀)
        ("东四环辅路上有个大坑", "朝阳区"),  # not 东四 (东城)
        # an explicit "X区" beats an area, which beats a bare district name
        ("我住海淀区，在国贸上班，地铁太挤", "海淀区"),
        ("国贸那边的通州班车改线了", "朝阳区"),
    ],
)
def test_district_from_places(text: str, district: str) -> None:
    assert classify(text).district == district


@pytest.mark.parametrize(
    "text",
    [
        "3号楼西单元的楼道灯坏了",  # 单元, not 西单
        "东单元门口的垃圾没人收",
        "西四环上堵了一个小时",  # runs through 海淀, 丰台, 石景山
        "早上地铁太挤了，上不去车",  # 上地铁, not 上地 (海淀)
        "小区南口有人摆摊",  # a gate, not 南口 (昌平)
        "小区前门天天堵着车",
        "公司组织员工体检收费太贵",  # 员工体, not 工体 (朝阳)
        "隔壁大兴土木装修了半年",  # an idiom, not 大兴
        "家里东西四处乱放，物业进来检查",  # 东西四处, not 西四
        "卧室朝阳台那面墙渗水",  # towards the balcony, not 朝阳
    ],
)
def test_ordinary_words_name_no_district(text: str) -> None:
    assert classify(text).district is None


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("我住在潮阳区望京西园停水了", "朝阳区"),
        ("海电区有个井盖丢了", "海淀区"),
        ("门头勾的公交车不来", "门头沟区"),
        ("我家在回龙关小区停电了", "昌平区"),  # an area of three characters, by sound
        ("天通元那边暖气不热", "昌平区"),
        ("惨阳门那有个大坑", None),  # not a homophone of 朝阳门 (can, not chao)
    ],
)
def test_recogniser_homophones_found_by_sound(text: str, district: str | None) -> None:
    assert classify(text).district == district


def test_sound_is_read_only_when_nothing_is_found_as_written() -> None:
    # "海淀" is said as written: the homophone of 朝阳区 later on is not consulted.
    result = classify("我在海淀上班，家住潮阳区，楼道的灯坏了")
    assert result.district == "海淀区"
    assert "district:海淀" in result.matched
    result = classify("家住潮阳区，楼道的灯坏了")
    assert (result.district, "sound:朝阳区" in result.matched) == ("朝阳区", True)


@pytest.mark.parametrize(
    "text",
    [
        "厂里的车间通风太差了",  # feng tai: 丰台 by sound
        "老师还垫付了医药费",  # hai dian: 海淀
        "楼下新开了一家大型超市",  # da xing: 大兴
        "房屋安全评估报告不给看",  # ping gu: 平谷
        "我家男孩子在学校被打了",  # nan hai zi: 南海子 (大兴)
        "他在金融界工作，说话很难听",  # jin rong jie: 金融街 (西城)
    ],
)
def test_no_district_by_sound_from_ordinary_words(text: str) -> None:
    assert classify(text).district is None
    assert classify(degrade(text, seed=0)).district is None


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("朝阳 区 望京 这边 停水 了", "朝阳区"),
        ("我家 在 回 龙观 楼下 下水道 堵 了", "昌平区"),
        ("海淀 黄庄 有 个 井盖 坏 了", "海淀区"),
        ("潮阳\t区\u3000有人 占道", "朝阳区"),  # tabs and full-width spaces too
    ],
)
def test_spaces_between_words_are_ignored(text: str, district: str) -> None:
    assert classify(text).district == district


def test_recogniser_style_text_keeps_its_district() -> None:
    # degrade() spaces words, drops punctuation and swaps characters for homophones; these
    # districts are said as places the caller names, so every seed must keep them.
    for text, district in [("我住在朝阳区望京西园三区，家里停水了", "朝阳区"),
                           ("海淀区中关村大街上有个井盖没了", "海淀区"),
                           ("昌平区回龙观的暖气一直不热", "昌平区")]:
        for seed in range(3):
            noisy = degrade(text, seed=seed, homophone_rate=0.3)
            assert classify(noisy).district == district, noisy


@pytest.mark.parametrize("text", ["", "   ", "\u3000\t\n", "！？。，", "abc 123", "区区区区"])
def test_text_with_no_place_has_no_district(text: str) -> None:
    assert classify(text).district is None


def test_a_long_text_reads_its_first_district() -> None:
    text = "楼道灯坏了" * 2000 + "海淀区" + "通州区"
    assert classify(text).district == "海淀区"
    # and by sound, when nothing is written right
    assert classify("楼道灯坏了" * 2000 + "海电区").district == "海淀区"


def _rule_file(tmp_path: Path, districts: str, areas: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(f'[districts]\nnames = ["海淀区", "朝阳区"]\n{districts}\n[areas]\n{areas}\n',
                    encoding="utf-8")
    return path


def test_a_name_of_no_district_hides_the_area_inside_it(tmp_path: Path) -> None:
    rules = load_rules(_rule_file(tmp_path, "", '"五道口" = "海淀区"\n"五道口子" = ""\n'))
    assert classify("五道口有人摆摊", rules).district == "海淀区"
    assert classify("墙上开了五道口子", rules).district is None


def test_names_not_read_by_sound(tmp_path: Path) -> None:
    rules = load_rules(_rule_file(tmp_path, 'not_by_sound = ["五道口"]',
                                  '"五道口" = "海淀区"\n"望京西" = "朝阳区"\n'))
    assert classify("舞道口有人摆摊", rules).district is None
    assert classify("旺京西有人摆摊", rules).district == "朝阳区"


@pytest.mark.parametrize(
    ("districts", "areas", "message"),
    [
        ("", '"五道口" = "海淀"\n', "unknown district"),
        ('not_by_sound = ["五道"]', '"五道口" = "海淀区"\n', "not_by_sound"),
    ],
)
def test_bad_place_tables_fail_at_load(tmp_path: Path, districts: str, areas: str,
                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_rules(_rule_file(tmp_path, districts, areas))


def test_no_dictionary_word_sounds_like_a_place() -> None:
    """Every name looked for by sound against jieba's dictionary (the ordinary words of
    Mandarin the recogniser style is drawn from): a word that reads as a name by sound, and
    does not contain a name as written, would put a ticket in that district. Such a name
    belongs in districts.not_by_sound."""
    index = load_rules().places
    assert index is not None
    clashes = []
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    with dictionary.open(encoding="utf-8") as fh:
        for line in fh:
            word, freq, *_ = line.split()
            if len(word) < 3 or int(freq) < 10:
                continue
            if any(p.district for _, _, p in _scan(word, index.by_char)):
                continue
            sounds = tuple(syllable(ch) for ch in word)
            clashes += [(word, p.cue) for _, _, p in _scan(sounds, index.by_sound)
                        if p.district]
    # Rarer in a Beijing complaint than the place itself: a town near Xi'an, a Tang gate, an
    # idiom, an organisation.
    allowed = {("高陵镇", "sound:高岭镇"), ("玄武门", "sound:宣武门"),
               ("龙潭虎穴", "sound:龙潭湖"), ("世界和平理事会", "sound:和平里")}
    assert set(clashes) <= allowed, sorted(set(clashes) - allowed)


def test_the_one_pass_scan_finds_what_a_longest_first_regex_finds() -> None:
    """_scan (a table by first character) reads the names re.finditer reads with every name in
    one alternation, longest first: leftmost, longest at each position, never overlapping."""
    rules = load_rules()
    index = rules.places
    assert index is not None
    names = [name for entries in index.by_char.values() for name, _ in entries]
    pattern = re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True))))
    texts = ["朝阳区朝阳门朝阳", "石景山景山", "东四环东四十条东四", "大兴庄大兴安岭大兴",
             "西单元西单", "上地铁上地", "", "区", "我家楼下停水了"]
    for text in texts:
        got = [(pos, pos + len(place.cue.split(":", 1)[1]))
               for _, pos, place in _scan(text, index.by_char)]
        assert got == [m.span() for m in pattern.finditer(text)], text
