"""District from the places a caller names, with the shipped gazetteer ([districts] and [areas]
of config/classification.toml): as written, by sound when a recogniser misspelt it, across the
spaces a recogniser puts between words, and never from an ordinary word. No database."""

from __future__ import annotations

import re
from pathlib import Path

import jieba
import pytest

from ticketing.classify import _misspelt, _scan, classify, load_rules
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
        ("德外大街那个公交站的顶棚漏雨", "西城区"),  # 德胜门外, as callers shorten it
        ("四道口路口的红绿灯老坏", "海淀区"),
        ("动物园站换乘的通道太挤了", "西城区"),
        ("野生动物园门口停车乱收费", "大兴区"),  # not the zoo station (西城)
        ("新桥大街上的井盖丢了一个", "门头沟区"),
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
        "八达岭高速上车抛锚了",  # the expressway runs from 海淀 to 延庆
        "大兴机场线的车厢行李架太少",  # a metro line from 丰台 to 大兴
    ],
)
def test_ordinary_words_name_no_district(text: str) -> None:
    assert classify(text).district is None


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("我住在潮阳区望京西园停水了", "朝阳区"),
        ("海电区有个井盖丢了", "海淀区"),
        ("门投沟的公交车不来", "门头沟区"),
        ("我家在会龙观小区停电了", "昌平区"),  # an area of three characters, by sound
        ("天桶苑那边暖气不热", "昌平区"),
        ("惨阳门那有个大坑", None),  # not a homophone of 朝阳门 (can, not chao)
        ("超扬区有个大坑", None),  # two of three characters misspelt: too far to trust
    ],
)
def test_recogniser_homophones_found_by_sound(text: str, district: str | None) -> None:
    assert classify(text).district == district


def test_a_district_heard_in_full_wins_over_the_area_inside_it() -> None:
    # 石 misspelt leaves 景山 (东城) written; the whole "shi jing shan qu" is 石景山区.
    result = classify("势景山区有个井盖丢了")
    assert (result.district, result.matched[-1]) == ("石景山区", "sound:石景山区")
    assert classify("景山公园门口有人摆摊").district == "东城区"
    # a district heard elsewhere in the text does not overrule what was written
    assert classify("我在西单上班，家住潮阳区").district == "西城区"


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
        "大型区域停电，没有通知",  # da xing qu: 大兴区, one character off
        "房屋安全评估报告不给看",  # ping gu: 平谷
        "我家男孩子在学校被打了",  # nan hai zi: 南海子 (大兴)
        "他在金融界工作，说话很难听",  # jin rong jie: 金融街 (西城)
        "孩子住院了，医院乱收费",  # zi zhu yuan: 紫竹院 (海淀)
        "眼睛里进了东西，医院不给看",  # yan jing li: 延静里 (朝阳)
        "这个电话可以录音吗",  # ke yi lu: 科怡路 (丰台)
        "实际成本比报价高",  # shi ji cheng: 世纪城 (海淀)
        "双方最后和平解决了",  # he ping jie: 和平街 (朝阳)
        "学院录取通知书一直没收到",  # xue yuan lu: 学院路 (海淀)
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
    # degrade() spaces words, drops punctuation and swaps one character in ten for a
    # homophone (its default, a small model on a phone line); a district said in full and a
    # place in it must survive that on every seed.
    for text, district in [("我住在朝阳区望京西园三区，家里停水了", "朝阳区"),
                           ("海淀区中关村大街上有个井盖没了", "海淀区"),
                           ("昌平区回龙观的暖气一直不热", "昌平区")]:
        for seed in range(3):
            noisy = degrade(text, seed=seed)
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
    ("written", "name", "misspelt"),
    [("潮阳区", "朝阳区", True), ("势景山区", "石景山区", True), ("朝阳区", "朝阳区", True),
     ("超扬区", "朝阳区", False), ("回龙关", "回龙观", False), ("子住院", "紫竹院", False),
     ("超阳去", "朝阳区", True), ("海电趋", "海淀区", False), ("海电区", "海淀区", True),
     ("奥林匹克森林公元", "奥林匹克森林公园", False),
     ("奥临匹克森林工园", "奥林匹克森林公园", True)],
)
def test_what_passes_for_a_misspelt_name(written: str, name: str, misspelt: bool) -> None:
    assert _misspelt(written, name) is misspelt


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
    Mandarin the recogniser style is drawn from): a word that reads as a name by sound, close
    enough in writing to pass for it misspelt, and does not contain a name as written, would
    put a ticket in that district. Such a name belongs in districts.not_by_sound."""
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
            clashes += [(word, p.cue) for _, _, p in _scan(
                sounds, index.by_sound, lambda i, p, w=word: _misspelt(w[i:i + len(p.name)],
                                                                     p.name))
                        if p.district]
    # Rarer in a Beijing complaint than the place itself: a town near Xi'an, a Tang gate.
    allowed = {("高陵镇", "sound:高岭镇"), ("玄武门", "sound:宣武门")}
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
        got = [(start, end) for start, end, _ in _scan(text, index.by_char)]
        assert got == [m.span() for m in pattern.finditer(text)], text


# The 街道 and 乡镇 of each district by their official names (public administrative division
# lists), each said alone as a caller would: every one must name its district. Left out: the
# two 八里庄街道 (朝阳 and 海淀 both have one) and 房山's 河北镇 (any town of 河北省).
STREETS_AND_TOWNS: dict[str, str] = {
    "东城区": "东华门街道 景山街道 交道口街道 安定门街道 北新桥街道 东四街道 朝阳门街道 "
              "建国门街道 东直门街道 和平里街道 前门街道 崇文门外街道 东花市街道 龙潭街道 "
              "体育馆路街道 天坛街道 永定门外街道",
    "西城区": "西长安街街道 新街口街道 月坛街道 展览路街道 德胜街道 金融街街道 什刹海街道 "
              "大栅栏街道 天桥街道 椿树街道 陶然亭街道 广安门内街道 牛街街道 白纸坊街道 "
              "广安门外街道",
    "朝阳区": "建外街道 朝外街道 呼家楼街道 三里屯街道 左家庄街道 香河园街道 和平街街道 "
              "安贞街道 亚运村街道 小关街道 酒仙桥街道 麦子店街道 团结湖街道 六里屯街道 "
              "双井街道 劲松街道 潘家园街道 垡头街道 首都机场街道 大屯街道 望京街道 奥运村街道 "
              "东湖街道 南磨房地区 高碑店地区 将台地区 太阳宫地区 小红门地区 十八里店地区 "
              "平房地区 东风地区 来广营地区 常营地区 三间房地区 管庄地区 金盏地区 孙河地区 "
              "崔各庄地区 东坝地区 黑庄户地区 豆各庄地区 王四营地区",
    "海淀区": "万寿路街道 永定路街道 羊坊店街道 甘家口街道 紫竹院街道 北下关街道 "
              "北太平庄街道 学院路街道 中关村街道 海淀街道 青龙桥街道 清华园街道 燕园街道 "
              "香山街道 清河街道 花园路街道 西三旗街道 马连洼街道 田村路街道 上地街道 "
              "万柳地区 东升地区 曙光街道 四季青镇 西北旺镇 苏家坨镇 温泉镇 上庄镇",
    "丰台区": "右安门街道 太平桥街道 西罗园街道 大红门街道 南苑街道 东高地街道 东铁匠营街道 "
              "六里桥街道 丰台街道 新村街道 长辛店街道 云岗街道 方庄街道 宛平街道 马家堡街道 "
              "和义街道 卢沟桥街道 花乡街道 成寿寺街道 石榴庄街道 玉泉营街道 看丹街道 "
              "五里店街道 青塔街道 北宫镇 王佐镇 长辛店镇",
    "石景山区": "八宝山街道 老山街道 八角街道 古城街道 苹果园街道 金顶街街道 广宁街道 "
                "五里坨街道 鲁谷街道",
    "门头沟区": "大峪街道 城子街道 东辛房街道 大台街道 王平镇 永定镇 龙泉镇 潭柘寺镇 军庄镇 "
                "妙峰山镇 雁翅镇 斋堂镇 清水镇",
    "房山区": "城关街道 新镇街道 向阳街道 东风街道 迎风街道 星城街道 拱辰街道 西潞街道 "
              "燕山地区 良乡镇 周口店镇 琉璃河镇 阎村镇 窦店镇 石楼镇 长阳镇 长沟镇 大石窝镇 "
              "张坊镇 十渡镇 青龙湖镇 韩村河镇 霞云岭乡 南窖乡 佛子庄乡 大安山乡 史家营乡 "
              "蒲洼乡",
    "通州区": "中仓街道 新华街道 北苑街道 玉桥街道 潞源街道 通运街道 文景街道 九棵树街道 "
              "临河里街道 杨庄街道 潞邑街道 永顺镇 梨园镇 宋庄镇 张家湾镇 漷县镇 马驹桥镇 "
              "西集镇 台湖镇 永乐店镇 潞城镇 于家务回族乡",
    "顺义区": "胜利街道 光明街道 石园街道 空港街道 双丰街道 旺泉街道 仁和镇 后沙峪镇 天竺镇 "
              "杨镇 牛栏山镇 南法信镇 马坡镇 李桥镇 李遂镇 南彩镇 北务镇 大孙各庄镇 张镇 "
              "龙湾屯镇 木林镇 北小营镇 北石槽镇 赵全营镇 高丽营镇",
    "昌平区": "城北街道 城南街道 天通苑北街道 天通苑南街道 霍营街道 回龙观街道 龙泽园街道 "
              "史各庄街道 东小口镇 南口镇 马池口镇 沙河镇 阳坊镇 小汤山镇 南邵镇 崔村镇 "
              "百善镇 北七家镇 兴寿镇 流村镇 十三陵镇 延寿镇",
    "大兴区": "兴丰街道 林校路街道 清源街道 观音寺街道 天宫院街道 高米店街道 荣华街道 "
              "博兴街道 黄村镇 旧宫镇 西红门镇 瀛海镇 亦庄镇 青云店镇 采育镇 安定镇 礼贤镇 "
              "榆垡镇 庞各庄镇 北臧村镇 魏善庄镇 长子营镇",
    "怀柔区": "泉河街道 龙山街道 怀柔镇 雁栖镇 北房镇 杨宋镇 庙城镇 桥梓镇 怀北镇 汤河口镇 "
              "渤海镇 九渡河镇 琉璃庙镇 宝山镇 长哨营满族乡 喇叭沟门满族乡",
    "平谷区": "滨河街道 兴谷街道 平谷镇 峪口镇 马坊镇 金海湖镇 东高村镇 山东庄镇 南独乐河镇 "
              "大华山镇 夏各庄镇 马昌营镇 王辛庄镇 大兴庄镇 刘家店镇 镇罗营镇 熊儿寨乡 "
              "黄松峪乡",
    "密云区": "鼓楼街道 果园街道 密云镇 溪翁庄镇 西田各庄镇 十里堡镇 河南寨镇 巨各庄镇 "
              "穆家峪镇 太师屯镇 高岭镇 不老屯镇 冯家峪镇 古北口镇 大城子镇 东邵渠镇 北庄镇 "
              "新城子镇 石城镇 檀营满族蒙古族乡",
    "延庆区": "儒林街道 百泉街道 香水园街道 延庆镇 康庄镇 八达岭镇 永宁镇 旧县镇 张山营镇 "
              "四海镇 千家店镇 沈家营镇 大榆树镇 井庄镇 刘斌堡乡 大庄科乡 香营乡 珍珠泉乡",
}


@pytest.mark.parametrize("district", sorted(STREETS_AND_TOWNS))
def test_every_street_and_town_names_its_district(district: str) -> None:
    names = STREETS_AND_TOWNS[district].split()
    wrong = {name: got for name in names
             if (got := classify(f"我住在{name}，楼下的路灯坏了").district) != district}
    assert not wrong, wrong


def test_a_street_name_two_districts_share_names_neither() -> None:
    assert classify("我住在八里庄街道，楼下的路灯坏了").district is None
