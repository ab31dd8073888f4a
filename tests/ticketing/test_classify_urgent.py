"""The urgent floor, fifth round (issue 15): what [not_now] silences and which dangers now
have cues of their own.

Every sentence here was written for these tests, from docs/labelling.md (U2-U5, B8, B9, B15,
B16, G), not from any labelled file. Each construction is checked both ways: the frame or
the imagined word silences the cue, and the same cue with the danger present still fires.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketing.classify import classify, load_rules


def _floor(text: str) -> tuple[str, str]:
    got = classify(text)
    return got.urgency, got.emergency


def _danger_cues(text: str) -> list[str]:
    return [m for m in classify(text).matched if m.startswith(("urgent.", "emergency."))]


def assert_service(line: tuple[str, str]) -> None:
    """The rules hand the line's text to its service ("none": to nobody); a sweep's check
    (tests/support/sweep.py), the danger cues saying why when they do not."""
    text, service = line
    assert classify(text).emergency == service, _danger_cues(text)


# --- silenced: nothing is happening now -------------------------------------------------

NOT_NOW: dict[str, list[str]] = {
    # A loss, a bill or who pays, after the fact (G, B8).
    "loss or bill": [
        "上周楼上水管爆了把我家地下室淹了，损失好几万，这个该谁出钱",
        "前些天家里老人晕倒叫了救护车，人家收了我们六百块，这个收费标准是怎么定的",
        "暖气片漏水把地板泡坏了，热力公司说要改造得让我自己出钱",
        "楼上跑水把我家淹了，物业让我们自己承担",
        "上 礼 拜 救 护 车 来 了 一 趟 收 了 八 百 正 常 吗",
    ],
    # A rumour asked about (B15).
    "rumour": [
        "邻居说隔壁小区有栋楼煤气爆炸了，是真的吗",
        "听说咱们这边那座桥要塌了，有没有这回事",
        "听说东边工厂着火了",
        "群里都在传地铁站里有人持刀砍人，真的假的",
    ],
    # A danger only imagined (G): nothing burns, nothing is blocked yet.
    "would-be": [
        "楼道里堆了好多纸箱子，一旦着火大家都跑不出去",
        "这个老煤气罐放在门口，会不会爆炸啊",
        "车都停在小区的路上，到时候着火了消防车都开不进来",
        "小区的灭火器都过期了，真着火了根本用不了",
    ],
    # A nuisance told with danger words.
    "noise": [
        "马路上的井盖松动了，车一压就咣当响，吵得整晚睡不着",
        "小区门口的变压器嗡嗡响，噪音特别大，影响休息",
    ],
    # A suggestion that mentions saving lives (B16).
    "suggestion": ["地铁站里应该多配备几台AED除颤仪，关键时刻能救命"],
    # A pet, not a person, stuck.
    "pet": ["邻居家的小猫卡在空调外机后面下不来了，叫了一天了",
            "我 家 的 鹦 鹉 飞 到 树 上 下 不 来 了"],
    # Smoke that was a test.
    "test burn": ["电厂烟囱冒黑烟，后来问了说是在试烧，虚惊一场"],
    # Care after the fact.
    "rabies shots": ["孩子被邻居家的狗咬破了点皮，狂犬疫苗在哪儿能打"],
    # Still in hospital, or a stay counted in days, is care after the fact (B17), not a
    # danger going on: "还在医院" is no "还在冒烟".
    "in care": ["孩子上周让开水烫伤了，现在还在医院换药，幼儿园一分钱不出",
                "我爸在工地让钢管砸了脚，住了二十天院，老板说合同上写了不管"],
}


def test_piling_is_no_violence() -> None:
    """"还在打桩" is a building site, as emergency.police_signs already reads it."""
    assert _floor("工地凌晨一点还在打桩，整栋楼都在震")[0] != "urgent"
    assert _floor("楼下那伙人还在打，有个人倒在地上了") == ("urgent", "110")


@pytest.mark.parametrize("text", [t for texts in NOT_NOW.values() for t in texts])
def test_no_danger_now_raises_no_floor(text: str) -> None:
    assert _floor(text) == ("general", "none"), _danger_cues(text)


# --- the same constructions with a danger present: the floor stands --------------------

@pytest.mark.parametrize(("text", "service"), [
    # Money words, but the water is still coming (`still`).
    ("楼上水管爆了水还在往下流，我家东西全泡了，这损失谁出钱", "none"),
    ("暖气管子正在往外喷热水，物业说得让我们自己出钱", "none"),
    ("楼上水管爆了水一直往下流，损失谁赔", "none"),
    ("暖气管子爆了，热水往外喷，物业让我们自己出钱修", "none"),
    ("电梯又卡住了，上回修完收了我们两千多，里面还有人", "119"),
    # "一块" is a measure word, not a sum: no bill.
    ("外墙的瓷砖掉了一块，砸到了楼下的车", "none"),
    # Heard of, but what the caller smells is told first.
    ("楼道里煤气味很重，我听说有人家漏气了", "119"),
    # Imagined words after a danger told first: unpunctuated speech is one clause.
    ("楼下着火了烟很大会不会烧上来", "119"),
    ("楼 下 着 火 了 烟 很 大 一 旦 烧 上 来 我 们 怎 么 办", "119"),
    ("厨房煤气味很大，会不会爆炸", "119"),
    # "万一" with a crack that grows now (`still`).
    ("墙上的裂缝越来越大万一塌了砸着人怎么办", "none"),
    # A fight heard through the wall, still going on.
    ("楼上两口子打起来了，吵得厉害，还在摔东西", "110"),
    # A cry for help is no suggestion; a collapse in front of the caller.
    ("商场里有人倒地不起，谁知道AED在哪，快来人", "120"),
    # A bite that still bleeds is no question of shots.
    ("孩子被狗咬了，血止不住，要打狂犬疫苗吗", "120"),
    # A person in the same clause as the pet.
    ("孩子去追小狗掉进河里了", "119"),
    # "还在" with no hospital after it is still going on; "院子" is no hospital stay.
    ("孩子让开水烫伤了，皮都掉了，现在还在哭", "120"),
    ("我们住了三十年的院子里那棵大树要倒了，底下天天有人过", "none"),
])
def test_a_danger_present_keeps_its_floor(text: str, service: str) -> None:
    assert _floor(text) == ("urgent", service), _danger_cues(text)


def test_an_imagined_word_silences_only_what_follows_it() -> None:
    """The fire told before "会不会" fires; the explosion after it does not."""
    cues = _danger_cues("楼道里着火了会不会爆炸")
    assert any(c.endswith(":着火") for c in cues), cues
    assert not any(c.endswith(":爆炸") for c in cues), cues


@pytest.mark.parametrize("text", ["楼道里有股味儿，会不会是燃气泄露了，大家都闻到了",
                                  "外面好大的味儿，是不是着火了"])
def test_a_question_what_is_there_now_is_a_danger_suspected(text: str) -> None:
    """"会不会是" / "是不是" ask what is there now: neither the imagined word nor the
    negation word inside them ([negation] questions) silences the cue after them."""
    assert _floor(text)[0] == "urgent", _danger_cues(text)


def test_a_plain_negation_still_negates() -> None:
    assert _floor("楼道里不是煤气味，是下水道的味儿")[0] != "urgent"
    # The question reading is for the floor's cues only: a cut asked about may be a plan.
    got = classify("请问下周我们小区是不是要停水")
    assert got.urgency == "general", got.matched


# --- dangers now that had no cue --------------------------------------------------------

@pytest.mark.parametrize(("text", "rule"), [
    # Ice where people walk or drive (U4).
    ("小区门口的水管漏了一个月，路面全结冰了，老人天天从这走", "urgent.ice"),
    ("单元门口的台阶冻了厚厚一层冰，好几个老人都摔了", "urgent.ice"),
    ("楼顶挂着一排冰溜子，正对着单元门", "urgent.ice"),
    ("湖上的冰已经开始化了，还有孩子在上面跑", "urgent.ice"),
    # A lift that slides (B7, U4), even when it did so yesterday and fails every day.
    ("我们楼的电梯昨天自己往下滑了一层，天天出毛病", "urgent.life_safety"),
    # A life-sustaining machine down, a treatment that cannot wait (U5).
    ("我爸的透析机坏了，他今天必须得透析，医院说排不上", "urgent.person_at_risk"),
    ("家里的呼吸机突然坏了，老人离不开", "urgent.person_at_risk"),
    # Charging where fires start (U2).
    ("一楼的门脸房晚上给几十块电瓶充电", "urgent.fire_lane"),
    ("地下室里有人给电动车充电，一充就是一整夜", "urgent.fire_lane"),
    ("五楼有人从窗户吊下来一根线给电动车充电", "urgent.fire_lane"),
    # Water under pressure from a joint or a blown valve (U3).
    ("暖气片的接头那儿一直往外滋水，热力公司说明天才能来", "urgent.burst_flood"),
    ("卫生间的阀门崩了，水哗哗地往外冒", "urgent.burst_flood"),
    # What carries the building gives (U3).
    ("楼上装修把承重墙拆掉了一面", "urgent.collapse"),
    ("房梁断了一根，屋顶往下掉土", "urgent.collapse"),
])
def test_a_danger_now_without_the_old_cues_is_urgent(text: str, rule: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent", got.matched
    assert any(m.startswith(f"{rule}:") for m in got.matched), got.matched


@pytest.mark.parametrize("text", [
    "请问装修能不能拆承重墙",                    # asked, not done
    "我家想装个充电桩，找谁办",                  # the safe way to charge
    "冰箱里的东西都化了，停电一天了",            # a fridge, not ice underfoot
    "冬天屋里冷得结冰，暖气一点都不热",          # a cold flat: heating, not a slip
    "孩子的医保卡丢了怎么补",                    # a lost paper, not a lost child
    "请问老人的身份证不见了去哪里补办",
    "每周要去医院透析三次，想问问医保能报多少",  # a treatment, nothing down
])
def test_look_alikes_of_the_new_cues_are_not_urgent(text: str) -> None:
    assert _floor(text)[0] != "urgent", _danger_cues(text)


# --- the rule file ----------------------------------------------------------------------

# `ahead` words and patterns, `frame_patterns`, on a file of their own.
AHEAD_RULES = """
urgency_rules = [{id = "urgent.test", level = "urgent", keywords = ["冒烟"]}]

[not_now]
ahead = ["要是"]
ahead_patterns = ['会不会(?!是)']
frame_patterns = ['收了.{0,4}块']
still = ['还在']
"""


@pytest.mark.parametrize(("text", "level"), [
    ("要是冒烟了怎么办", "general"),            # after the word
    ("冒烟了要是烧起来怎么办", "urgent"),        # before it, same clause
    ("会不会冒烟", "general"),
    ("会不会是冒烟", "urgent"),                  # the pattern's look-ahead
    ("冒烟了，修一下收了两百块", "general"),     # a frame pattern, anywhere
    ("还在冒烟，修一下收了两百块", "urgent"),    # still going on
])
def test_ahead_and_frame_patterns_from_a_custom_file(tmp_path: Path, text: str,
                                                      level: str) -> None:
    (tmp_path / "rules.toml").write_text(AHEAD_RULES, encoding="utf-8")
    assert classify(text, load_rules(tmp_path / "rules.toml")).urgency == level


# --- seventh round: the floor stays off what docs/labelling.md calls livelihood ----------

# (livelihood or general by L1/B1/U5, urgent by U5/U3): the same situation both ways.
FLOOR_VS_LIVELIHOOD = [
    # Insulin keeps for days out of a fridge (U5: L1) / a ventilator without power.
    ("停电一整天了，冰箱里放着我妈的胰岛素，啥时候能来电", "停电了，我爸靠呼吸机，备用电池快没电了"),
    # Old people cold in an outage (B1) / hard frost or a room in single figures (U5).
    ("暖气停了两天，家里两个老人冻得直哆嗦", "暖气停了两天，外面零下十五度，家里八十多的老人冻得发紫"),
    # Very old or alone and cold through: "very old and frail or alone" (U5).
    ("暖气停了两天，家里两个老人冻得直哆嗦", "暖气停了两天，我九十了，一个人在家手脚冰凉"),
    ("停暖三天了，外面零下五度，屋里十四度，老伴身体不好", "停暖三天了，屋里只有六度，家里老人卧床起不来"),
    ("小区停暖了，今天夜里零下三度，家里有老人", "小区停暖了，今天夜里零下十二度，家里有刚出生的婴儿"),
    ("屋里才七度，我们年轻人扛得住，就是想问问什么时候修好", "屋里才七度，家里九十岁的老人一直在床上躺着"),
    # Sewage backing up (L1) / clean water pouring from a burst pipe (U3).
    ("胡同的下水道堵了，污水漫到院子里了", "楼上水管爆了，水漫到我家客厅，还在往下流"),
    # (`unless` reads the clause: "马桶堵了，水漫出来" with a comma still fires.)
    ("马桶堵了水漫出来一地", "暖气管子裂开了，水漫了一屋子"),
]


@pytest.mark.parametrize(("calm", "urgent"), FLOOR_VS_LIVELIHOOD)
def test_the_floor_stays_off_what_the_guide_calls_livelihood(calm: str, urgent: str) -> None:
    assert _floor(calm)[0] != "urgent", _danger_cues(calm)
    assert _floor(urgent)[0] == "urgent", _danger_cues(urgent)
