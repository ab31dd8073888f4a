"""Classification of complaint text: held-out sentences, urgency, location, rule files.

The held-out sentences below were written for these tests, worded unlike the shared corpus;
the corpus test guards against regressions on the 40 labelled sample complaints.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from config import CONFIG_DIR, get_settings
from ticketing.classify import (
    UTILITY_CATEGORIES,
    Classification,
    category_label,
    classify,
    load_rules,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "complaints.tsv"

HELD_OUT: list[tuple[str, str]] = [
    ("小区里的自来水一股铁锈味，接出来的水都是黄的", "water"),
    ("我们这栋楼已经两天没来水了，物业说是管子坏了在修", "water"),
    ("自来水公司换水表以后，每个月水费多了好几十", "water"),
    ("楼下变电箱一直冒烟，还有一股烧焦的味道", "power"),
    ("我们这片老是晚上停电，一个礼拜停了三次", "power"),
    ("供电公司装的新电表读数不准，电费比以前多一倍", "power"),
    ("楼道里天然气味特别冲，好几户都闻到了", "gas"),
    ("燃气公司说我家燃气表欠费，给我停了气，我明明交过钱", "gas"),
    ("这几天天然气压力特别小，火苗很弱，做饭很慢", "gas"),
    ("我们家供暖第一天暖气就不热，摸着只是温的", "heating"),
    ("热力公司把供暖费标准提高了，也没有听证", "heating"),
    ("小区供热管道漏了，地面冒热气，好大一片", "heating"),
    ("路中间的一块井盖被车压翻了，下面是个深洞", "municipal"),
    ("街边的公厕门锁坏了，里面也没有灯", "municipal"),
    ("马路上的护栏被撞倒了好几米，一直没人来修", "municipal"),
    ("早高峰地铁站限流，排队要半个小时", "traffic"),
    ("这个路口的红绿灯时间太短，老人走到一半就变红灯了", "traffic"),
    ("学校门口的路没有减速带，车开得特别快", "traffic"),
    ("楼下餐馆的油烟直接排到我家窗户，屋里全是油烟味", "environment"),
    ("晚上十二点了还有人在小区里开着音响唱歌", "environment"),
    ("工地上的土没有苫盖，风一吹全是扬尘", "environment"),
    ("物业费年年涨，服务却越来越差，小区卫生没人打扫", "property"),
    ("业委会选举被物业操控，业主的意见没人听", "property"),
    ("物业不让我们自己装修，非要用他们指定的装修队", "property"),
    ("超市里的鸡蛋标的是一个价，结账又是另一个价", "market"),
    ("花了八千块办的美容卡，店里突然换了老板不认了", "market"),
    ("买的羊肉卷里掺了鸭肉，标签写的是纯羊肉", "market"),
    ("老板拖欠我们十几个农民工的工钱，快过年了还不给", "labor"),
    ("公司让我签自愿放弃社保的协议，不签就不让上班", "labor"),
    ("干了半年的保安，公司一直不给签劳动合同", "labor"),
    ("医院收费不透明，同样的检查收了两次钱", "health"),
    ("在医院做完手术伤口感染了，医院不承担责任", "health"),
    ("疫苗接种点排长队，预约系统老是崩", "health"),
    ("学校让学生周末也到校补课，孩子都累坏了", "education"),
    ("孩子的幼儿园突然说要涨保育费，家长都不同意", "education"),
    ("初中入学按片区划分，我们家被分到了很远的学校", "education"),
    ("楼上的阳台已经裂开了，看着随时要掉下来", "housing"),
    ("租房合同还没到期，房东就要赶我们走", "housing"),
    ("我们买的房子交房一年了还办不了房产证", "housing"),
    ("有个男的天天在小区门口跟踪女孩子，很吓人", "security"),
    ("地下室住了好多人，电线私拉乱接，很容易着火", "security"),
    ("邻居家的狗半夜一直叫，还咬伤过人", "security"),
    ("我想给你们提个意见，希望热线能早点接通", "other"),
    ("请问一下办理结婚登记需要带什么证件", "other"),
    ("我想了解一下积分落户的政策", "other"),
]


@pytest.mark.parametrize(("text", "category"), HELD_OUT)
def test_held_out_category(text: str, category: str) -> None:
    result = classify(text)
    assert result.category == category, result.matched


# The rules' category is a vote the model learns from, so it follows docs/labelling.md where a
# word alone would name the wrong service (issue 15, fourteenth round).
GUIDE_CASES: list[tuple[str, str]] = [
    # C9: someone overcome by a coal stove, though the caller says 煤气 ...
    ("隔壁老太太家烧煤球炉子，下午喊她半天没动静，扒窗户一看人倒在床边上了，屋里一股煤气味", "health"),
    # ... but a cylinder leaking beside one is still gas.
    ("院里那个液化气罐的阀门一直往外呲气，旁边就是煤球炉子，人都躲出去了", "gas"),
    # C13: a sewer pipe holds 水管 and is no water supply; a supply pipe still is.
    ("楼里的污水管堵了，一楼卫生间往外冒脏水，物业一直不来", "property"),
    ("厨房的自来水管子漏了，水一直往外冒", "water"),
    # C4: adding a lift to an old block is housing; a lift in service stays property.
    ("老楼加装电梯的补贴到底怎么申请，一楼邻居也同意了", "housing"),
    ("小区电梯三天两头坏，物业就贴个条", "property"),
]


@pytest.mark.parametrize(("text", "category"), GUIDE_CASES)
def test_the_rules_category_follows_the_labelling_guide(text: str, category: str) -> None:
    assert classify(text).category == category, classify(text).matched


def test_every_category_has_held_out_cases() -> None:
    codes = set(tomllib.loads((CONFIG_DIR / "categories.toml").read_text("utf-8"))["categories"])
    counts = {code: sum(c == code for _, c in HELD_OUT) for code in codes}
    assert min(counts.values()) >= 2, counts


# --- urgency ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        ("厨房里闻到一股天然气的味道，我已经把阀门关了", "urgent"),
        ("我家燃气管道接口处有嘶嘶的声音，还有味道", "urgent"),
        ("电线被大风刮断了，掉在人行道上，还在冒火星", "urgent"),
        ("电梯卡在了十五楼，我妈妈在里面出不来", "urgent"),
        ("路口的井盖没了，已经有一辆电动车掉进去了", "urgent"),
        ("小区外面的路灯杆歪了，感觉要倒", "urgent"),
        ("新生儿在家，这么冷的天楼里突然没暖气了，外面零下十几度", "urgent"),
        ("小区好几栋楼今天下午一直没电，冰箱空调都用不了", "livelihood"),
        ("家里水龙头流出来的水有股消毒水的味道，还特别浑", "livelihood"),
        ("我们楼供暖到现在一直是凉的，家里老人都穿着棉衣", "livelihood"),
        ("路边的雨水井被垃圾堵住了，一下雨路上全是水", "livelihood"),
        ("燃气灶打不着火，燃气公司说卡里有气", "livelihood"),  # "着火" here is no fire
        ("家里一到晚上用电高峰灯就特别暗，电压不够", "general"),
        ("单位拖欠了我两个月的工资，还扣了我的押金", "general"),  # documented: wages general
        ("街边的公厕水箱不出水，冲不了厕所", "general"),  # a cut-off only counts for utilities
    ],
)
def test_urgency(text: str, urgency: str) -> None:
    result = classify(text)
    assert result.urgency == urgency, result.matched


@pytest.mark.parametrize(
    "text",
    [
        "路口两辆车刮蹭了，没有人受伤，就是堵得厉害",
        "我家燃气表不走字了，没闻到煤气味，就是想让燃气公司来换个表",
        "楼下饭店的排风机太吵了，不是着火，就是声音特别大",
    ],
)
def test_negated_danger_is_not_urgent(text: str) -> None:
    result = classify(text)
    assert result.urgency == "general", result.matched


@pytest.mark.parametrize("text", ["老人家满了六十岁老年卡在哪里可以办", "公交卡在哪里充值",
                                  "社保卡在哪里补办"])
def test_a_card_asked_for_is_no_one_shut_in(text: str) -> None:
    """"卡在哪里" asks where a card is done; "卡在...里" (stuck inside) must not read it as a
    person shut in, or a question about a senior card is handed to 119."""
    result = classify(text)
    assert (result.urgency, result.emergency) == ("general", "none"), result.matched


def test_someone_stuck_inside_still_is() -> None:
    assert classify("孩子被锁在车里了").emergency == "119"
    assert classify("电梯卡在三楼了，里面有人").urgency == "urgent"


# What must never be missed (issue 15), in words written for this test from what each
# service handles: a scald, a poisoning, a choking, a flood defence giving way, people left
# hanging in the air or gone down a pit, extortion, a fraudster's "safe account".
@pytest.mark.parametrize(("text", "service"), [
    ("孩子把暖瓶碰倒了，开水浇在脚上，脚背烫掉了一块皮", "120"),
    ("我们在山里采了野蘑菇炖汤，吃完两个人就开始说胡话", "120"),
    ("吃了虾以后过敏了，嘴唇肿起来，现在喉咙发紧说话费劲", "120"),
    ("老爷子吃年糕噎住了喉咙，脸都憋紫了", "120"),
    ("河堤那边开始往外渗水了，水位还在涨，堤下面就是村子", "119"),
    ("缆车停在半空一个多小时了，上面有老人和孩子", "119"),
    ("有个工人下到污水井里清淤，下去就没上来，上面的人喊他也不应", "119"),
    ("几个人到我店里来收保护费，说不交就砸店", "110"),
    ("有人打电话说我的银行卡涉案，让我把钱转到安全账户", "110"),
    ("一个醉汉躺在马路中间，车都是贴着他开过去的", "110"),
])
def test_what_must_never_be_missed(text: str, service: str) -> None:
    got = classify(text)
    assert (got.emergency, got.urgency) == (service, "urgent"), got.matched


@pytest.mark.parametrize("text", [
    "上次孩子烫伤的医药费，幼儿园到现在也不给报销",
    "去年堤坝渗水的事后来修好了吗",
    "小区搞消防演练，教大家电梯停在半空时怎么自救",
    "上个月电梯困人的事物业到现在也没给个说法",
    "去年冬天我爸煤气中毒住院，医药费到现在还没报销完",
    "对面工地都半夜一点了还在打桩，整栋楼跟着震",
    "楼下棋牌室一直在打麻将，吵到后半夜",
])
def test_a_past_or_practised_danger_is_no_emergency(text: str) -> None:
    assert classify(text).emergency == "none", classify(text).matched


@pytest.mark.parametrize(("text", "service"), [
    ("电梯困人了，我女儿一个人在里面", "119"),
    ("上次就修过，现在电梯又困人了，里面有个老人", "119"),
    ("我爸刚才在家晕倒了，叫不醒", "120"),
    ("楼下两个人还在打，有一个头都破了", "110"),
])
def test_the_same_dangers_now_are_emergencies(text: str, service: str) -> None:
    assert classify(text).emergency == service, classify(text).matched


# A dispatcher sends someone for a danger present now ([not_now] in classification.toml):
# not for one over and done, imagined, asked about, thanked for or paid for after the fact.
NOT_NOW: dict[str, list[str]] = {
    "over and done": ["上周楼下饭馆着火了，烧黑了半面墙，物业一直没来清理",
                      "我家老人在菜市场晕倒过一次，已经出院了，想问问能不能申请紧急呼叫器"],
    # Not "asked about": a question is no sign the danger is over (below), so "请问燃气泄漏
    # 报警器在哪里能买到" raises the floor, a false alarm an operator clears.
    "imagined": ["要是楼道里着火了，我们这栋楼的老人怎么下楼",
                 "万一半夜煤气泄漏了，独居老人怎么能知道"],
    "a faulty product": ["网上买的电热毯用了一晚上就冒烟了，卖家不给退货"],
    "thanks or a suggestion": ["谢谢那位路过的大姐，我爸在公交站晕倒的时候是她打的电话",
                               "建议在河边多装几个救生圈，这里夏天有人游野泳落水"],
}


@pytest.mark.parametrize("text", [t for texts in NOT_NOW.values() for t in texts])
def test_a_danger_not_present_now_raises_no_floor(text: str) -> None:
    got = classify(text)
    assert got.urgency != "urgent" and got.emergency == "none", got.matched


# The same markers with the danger still going on: nothing is silenced.
@pytest.mark.parametrize(("text", "service"), [
    ("上周修过的电线今天又冒烟了，还在冒", "119"),
    ("请问谁能来帮帮忙，电梯卡在三楼，人还在里面", "119"),
    ("如果再不来人就出人命了，我爸摔倒以后血止不住", "120"),
    ("网上买的充电宝在床上着火了，现在还在冒烟", "119"),
    ("谢谢你们，快来人，厨房着火了", "119"),
    ("从昨天我妈就说胸口疼，刚才倒在地上叫不醒", "120"),
    # Callers in danger ask: a question word silences nothing.
    ("请问一下电梯困人了找谁，我妈在里面", "119"),
    ("我想问问，楼下着火了烟很大我们要不要往下跑", "119"),
    ("咨询一下，孩子发高烧四十度抽搐了去哪个医院", "120"),
    ("请问小区门口有人拿刀砍人打110还是12345", "110"),
])
def test_a_danger_still_going_on_keeps_its_floor(text: str, service: str) -> None:
    got = classify(text)
    assert (got.urgency, got.emergency) == ("urgent", service), got.matched


@pytest.mark.parametrize("text", [
    "昨天晚上开始厨房里一股煤气味，今天更大了，家里还有孩子",
    "前天起小区就停电，一直到现在，楼上老人靠制氧机",
])
def test_a_danger_that_began_then_and_goes_on_keeps_its_floor(text: str) -> None:
    """"昨天开始" is when it began, not a past: the clause's time word silences nothing."""
    assert classify(text).urgency == "urgent", classify(text).matched


def test_began_then_unsilences_only_its_own_clause() -> None:
    # "到现在" is about the payment: the injury stays past.
    assert classify("上次孩子烫伤的医药费，幼儿园到现在还不给报销").urgency != "urgent"


def test_over_words_silence_their_clause_only() -> None:
    """A past danger told before a present one does not silence the present one."""
    got = classify("去年楼里就着过一次火，今天楼道的电线又冒火花了")
    assert got.urgency == "urgent", got.matched
    assert not any(m.endswith(":着火") for m in got.matched)


def test_a_flood_damaged_car_is_no_flood() -> None:
    got = classify("二手车商卖给我一辆泡水车，说是一手无事故")
    assert got.urgency != "urgent", got.matched
    assert classify("暴雨把地下室泡水了，里面还有电箱").urgency == "urgent"


@pytest.mark.parametrize("text", ["身份证快到期了要去哪里换", "护照过期了到哪儿补办",
                                  "办居住证需要什么材料", "失业金怎么申请"])
def test_a_procedural_question_is_an_inquiry(text: str) -> None:
    got = classify(text)
    assert got.kind == "inquiry" and any(m.startswith("kind.procedure:") for m in got.matched)


def test_a_call_for_help_is_help_even_when_it_asks_where() -> None:
    got = classify("救命啊，孩子掉河里了，去哪里找人帮忙")
    assert (got.kind, got.emergency) == ("help", "119"), got.matched


def test_negation_only_cancels_its_own_cue() -> None:
    result = classify("楼道里有很重的煤气味，目前没有人受伤")
    assert (result.category, result.urgency) == ("gas", "urgent")


# --- location ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("我住在海淀区北太平庄，家里停电了", "海淀区"),
        ("大兴这边有个路口红绿灯不亮了", "大兴区"),  # district without 区
        ("我家在回龙观，楼下的下水道堵了", "昌平区"),  # area name only
        ("朝阳门外有个井盖没了", "东城区"),  # 朝阳门 is in 东城, not 朝阳
        ("亦庄那边有个工地天天晚上施工", "大兴区"),
        ("我家楼下的路灯坏了", None),
    ],
)
def test_district(text: str, district: str | None) -> None:
    assert classify(text).district == district


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("朝阳区望京西园三区5号楼3单元停水了", "朝阳区望京西园三区5号楼3单元"),
        ("海淀区知春路与学院路交叉口的信号灯坏了", "海淀区知春路与学院路交叉口"),
        ("我住西城区白纸坊街道枣林前街一号院，暖气不热", "西城区白纸坊街道枣林前街一号院"),
        ("丰台区马家堡路附近有个井盖丢了", "丰台区马家堡路附近"),
        ("我们幸福家园小区12号楼的电梯坏了", "幸福家园小区12号楼"),
        ("我想咨询一下在海淀区办理居住证需要什么材料", None),  # a district alone
        ("孩子过马路很危险，楼道里也很黑", None),  # road/room words that are not places
    ],
)
def test_address(text: str, address: str | None) -> None:
    assert classify(text).address == address


def test_long_runs_of_digits_are_no_address() -> None:
    """A number in an address is at most 8 digits or numerals (classify._compile_address):
    unbounded, a long run of digits made the address expression backtrack quadratically (a
    5000-digit demand cost 5 s of CPU, before any token is checked). The CPU figure lives
    in the note, not here; this pins what such input gives."""
    assert classify("朝阳区望京西园12345678号楼停水了").address == "朝阳区望京西园12345678号楼"
    assert classify("0" * 5000).address is None
    assert classify("一" * 5000).address is None


def test_days_ago_reads_a_run_of_numerals_from_its_first() -> None:
    """``[not_now]``'s "N days ago" (`over`) and "N days ago it began" (`ongoing`) read a
    run of digits or numerals from its first only: tried from every numeral of a long run,
    each search was quadratic (a 5,000-digit demand cost ~1.7 s of CPU in classification,
    found by the OpenAPI fuzz, suite33). A search begun inside a run finds nothing there;
    what a whole run says is read as before, however long."""
    rules = load_rules()
    assert rules.not_now is not None and rules.not_now.over and rules.not_now.ongoing
    assert rules.not_now.over.search("三十天前").group() == "三十天前"
    assert rules.not_now.over.search("三十天前", 1) is None
    assert rules.not_now.ongoing.search("三十天前开始", 1) is None
    past = classify("我家" + "0" * 4000 + "天前着火了，现在没事了")
    assert (past.urgency, past.emergency) == ("general", "none")
    assert "not_now.silenced:emergency.fire:着火" in past.matched
    began = classify("我家" + "0" * 4000 + "天前开始着火")
    assert (began.urgency, began.emergency) == ("urgent", "119")


# --- result shape -----------------------------------------------------------------------


def test_result_shape_and_audit_trail() -> None:
    result = classify("我是朝阳区望京西园三区的居民，我们楼道里有很浓的煤气味")
    assert isinstance(result, Classification)
    assert result.category == "gas" and result.urgency == "urgent"
    assert result.district == "朝阳区"
    assert result.subject.startswith("燃气：") and len(result.subject) <= 20
    assert "煤气味" in result.subject
    assert any(m.startswith("gas.supply:") for m in result.matched)
    assert any(m.startswith("urgent.gas_leak:") for m in result.matched)
    assert "district:朝阳区" in result.matched


def test_asr_spacing_is_ignored() -> None:
    # Vosk returns Chinese as space-separated words.
    result = classify("我家 从 昨天 开始 停水 了 到 现在 没 来水")
    assert (result.category, result.urgency) == ("water", "livelihood")


def test_subjects_are_short() -> None:
    for text, _ in HELD_OUT:
        subject = classify(text).subject
        assert 0 < len(subject) <= 20, subject


def test_unclassifiable_text_is_other() -> None:
    result = classify("喂，你好")
    assert (result.category, result.urgency, result.address) == ("other", "general", None)


def test_labels_and_utilities() -> None:
    assert category_label("water") == "供水"
    assert category_label("other") == "其他"
    assert sorted(UTILITY_CATEGORIES) == ["gas", "heating", "power", "water"]
    assert {category_label(c) for c in UTILITY_CATEGORIES} == {"供水", "供电", "燃气", "供暖"}
    with pytest.raises(KeyError):
        category_label("weather")


# --- rule files -------------------------------------------------------------------------


def test_default_rules_come_from_settings() -> None:
    assert load_rules().source == get_settings().classification_file


def test_rules_load_from_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[scoring]
priority = ["market", "other"]
fallback = "other"
min_score = 2

[[category_rules]]
id = "market.bubble_tea"
category = "market"
weight = 2
keywords = ["奶茶"]

[[urgency_rules]]
id = "urgent.test"
level = "urgent"
keywords = ["太烫了"]

[districts]
names = ["海淀区"]

[areas]
"五道口" = "海淀区"
""",
        encoding="utf-8",
    )
    rules = load_rules(path)
    result = classify("五道口的奶茶太烫了", rules)
    assert (result.category, result.urgency, result.district) == ("market", "urgent", "海淀区")
    assert "market.bubble_tea:奶茶" in result.matched
    # The shipped vocabulary is not in play: a water complaint falls back to "other".
    assert classify("停水了", rules).category == "other"


def test_not_now_from_a_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
urgency_rules = [
    {id = "urgent.test", level = "urgent", keywords = ["太烫了"]},
    {id = "urgent.always", level = "urgent", now_only = false, keywords = ["冒烟"]},
]
emergency_rules = [{id = "emergency.test", service = "120", keywords = ["烫伤"]}]
kind_rules = [{id = "kind.praise", kind = "praise", keywords = ["谢谢"]}]

[not_now]
over = ["昨天"]
over_patterns = ['烫过(一|两)次']
frame_words = ["退钱"]
frame_rules = ["kind.praise"]
still = ['还在']
""",
        encoding="utf-8",
    )
    rules = load_rules(path)

    def floor(text: str) -> tuple[str, str]:
        got = classify(text, rules)
        return got.urgency, got.emergency

    assert floor("奶茶太烫了") == ("urgent", "none")
    assert floor("昨天奶茶太烫了") == ("general", "none")  # over, in its clause
    assert floor("昨天去过，今天奶茶太烫了") == ("urgent", "none")  # another clause
    assert floor("奶茶烫过两次，太烫了") == ("urgent", "none")
    assert floor("奶茶烫过两次太烫了") == ("general", "none")
    assert floor("奶茶太烫了，给我退钱") == ("general", "none")  # framed, anywhere
    assert floor("谢谢，孩子烫伤了") == ("general", "none")  # a frame rule's cue
    assert floor("谢谢，孩子烫伤了，还在哭") == ("urgent", "120")  # still going on
    assert floor("昨天楼道冒烟") == ("urgent", "none")  # now_only = false


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[category_rules]]\nid = "x"\ncategory = "weather"\nkeywords = ["雨"]\n', "weather"),
        ('[[category_rules]]\nid = "x"\ncategory = "water"\npatterns = ["(停水"]\n', "pattern"),
        ('[[urgency_rules]]\nid = "x"\nlevel = "soon"\nkeywords = ["快"]\n', "soon"),
        ('[[category_rules]]\nid = "x"\ncategory = "water"\n', "keywords or patterns"),
        ('[not_now]\nframe_rules = ["kind.nope"]\n', "kind.nope"),
        ("[not_now]\nstill = ['(还']\n", "not_now: bad pattern"),
        ("[not_now]\nahead_patterns = ['(万一']\n", "not_now: bad pattern"),
        ("[not_now]\nframe_patterns = ['(收了']\n", "not_now: bad pattern"),
        ('[[category_rules]]\nid = "x"\ncategory = "water"\n'
         "patterns = [{ pattern = '停水', unless_call = ['(缴费'] }]\n", "bad unless_call"),
        ('[[category_rules]]\nid = "x"\ncategory = "water"\n'
         "patterns = [{ unless_call = ['缴费'] }]\n", "bad pattern"),
    ],
)
def test_bad_rule_file_fails_at_load(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_rules(path)


def test_a_patterns_own_unless_call_stops_that_pattern_alone(tmp_path: Path) -> None:
    """A pattern written as a table has its own ``unless_call`` (mend62: fireworks explain a
    bang in the street, not a cylinder swelling told in the same call)."""
    path = tmp_path / "rules.toml"
    path.write_text('[[category_rules]]\nid = "x"\ncategory = "water"\n'
                    "patterns = ['停水', { pattern = '没水', unless_call = ['缴费'] }]\n",
                    encoding="utf-8")
    rules = load_rules(path)
    assert classify("家里没水了", rules).category == "water"
    assert classify("家里没水了，想问缴费", rules).category != "water"
    assert classify("家里停水了，想问缴费", rules).category == "water"


# --- shared corpus ----------------------------------------------------------------------

# Measured with bench/classify.py when these rules were written: category 40/40, urgency
# 40/40, district 40/40. The rules were written with the corpus in view, so the floors leave
# room for rule changes that trade a sample line for general coverage.
CATEGORY_FLOOR = 0.90
URGENCY_FLOOR = 0.85
DISTRICT_FLOOR = 0.95


def test_corpus_accuracy() -> None:
    with CORPUS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) >= 40
    results = [classify(row["text"]) for row in rows]

    def accuracy(field: str) -> float:
        hits = sum(getattr(r, field) == row[field] for r, row in zip(results, rows, strict=True))
        return hits / len(rows)

    assert accuracy("category") >= CATEGORY_FLOOR
    assert accuracy("urgency") >= URGENCY_FLOOR
    assert accuracy("district") >= DISTRICT_FLOOR


def test_rules_are_parsed_once_per_content_and_again_when_edited(tmp_path: Path) -> None:
    """Every Domain.load shares one parse of the same file; an edit, however soon after,
    is read again (the cache is keyed by content, not by the file's time)."""
    shipped = get_settings().classification_file
    path = tmp_path / "classification.toml"
    path.write_bytes(shipped.read_bytes())
    first = load_rules(path)
    assert load_rules(path) is first
    assert classify("小区门口的路灯坏了", first).category != "water"
    path.write_text(path.read_text(encoding="utf-8").replace(
        '\n[[category_rules]]\nid = "water.supply"',
        '\n[[category_rules]]\nid = "t.lamp"\ncategory = "water"\nkeywords = ["路灯坏了"]\n'
        'weight = 50\n\n[[category_rules]]\nid = "water.supply"', 1), encoding="utf-8")
    edited = load_rules(path)
    assert edited is not first
    assert classify("小区门口的路灯坏了", edited).category == "water"
