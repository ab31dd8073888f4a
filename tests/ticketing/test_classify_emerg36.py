"""Thirty-first round (emerg36): fires, smoke and dives made on purpose; recogniser homophones.

Sentences of our own (bench/data/emerg_own36.tsv, written before the rules were changed, and a
few more written after to try each guard on the threats it must not silence; a third as a
recogniser writes them, without punctuation). The false hand-overs on everyday text: paper
burnt at a grave or a crossroads (烧的纸都着了), a winter swimmer going up and down (一上一下),
incense, moxa or smoked meat on a neighbour's balcony, steps under rain water that a frail
elder cannot climb. The misses: recogniser homophones of the key words (创户 for 窗户, 杨台 for
阳台, 农烟 for 浓烟), smoke with a burnt smell where nobody answers the door, a grave's fire
that set the hillside alight, a diver who did not come up. docs/classification.md,
"Thirty-first round (emerg36)".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from tests.ticketing.test_classify_urgent import assert_service
from ticketing.classify import NO_RESCUE, ON_PURPOSE, classify, load_rules
from ticketing.intake_model import SHIPPED_DIR, ModelStore, understand

# Each guard's threats, which it must not silence, and the misses of main.
LOUD: list[tuple[str, str]] = [
    # A grave's or a crossroads' paper fire that went beyond the paper (`rite_fire`).
    ("上坟烧纸把坡上的干草引着了，火顺着往松树林那边蹿，我们几个人扑不灭。", "119"),
    ("坟地那边烧纸烧着了山上的草，风大，火已经翻过山梁了，看着有一里多地长。", "119"),
    ("清明上坟烧纸没看住，坟旁边的柏树着起来了，火苗比人还高，在门头沟区。", "119"),
    ("他们家在阳台上烧纸 把晾的衣服点着了 火都窜到楼上那家了", "119"),
    ("路口有人烧纸钱，那堆火燎着了旁边停的电动车，车座子都烧起来了，直冒黑烟。", "119"),
    ("村后坟地有人烧纸 火星子蹦到麦秸垛上了 整个垛子都着了 离房子就十来米", "119"),
    ("烧纸的火苗窜到柴火垛上了，整个垛子都着了", "119"),
    ("寒衣节在小区门口烧纸，纸灰飘进了旁边的自行车棚，棚子里的车子着起来了，火越来越大。", "119"),
    # Written after the guard, as a hostile reader would: the fire heading off, the grass or
    # a child's clothes alight with the thing named first (none of these had a rule's cue).
    ("清明烧纸 纸都着了 火苗挺旺 风一刮 火往林子那边去了", "119"),
    ("烧纸的时候把坟头的草都点着了", "119"),
    ("烧纸的火把我家孩子的裤腿燎着了", "119"),
    # A winter swimmer in trouble (`swim_fine`).
    ("一起冬泳的老李刚才扎了个猛子，到现在五分钟了还没上来，我们在冰面上找不着他。", "119"),
    ("冬泳的大爷腿抽筋了，在河中间一上一下的，胳膊乱扑腾，岸上的人够不着。", "119"),
    ("冬泳的那个大爷扎进冰窟窿里半天没上来，他老伴在岸上哭着喊人，在海淀区。", "119"),
    ("水里那个冬泳的半天一动不动了 脸朝下漂着", "119"),
    ("冬泳队有个人在冰窟窿里扑腾 喊救命", "119"),
    ("河里有个游泳的刚才还一上一下的 这会儿沉下去就没再冒头了 都一分多钟了", "119"),
    ("小区游泳池里有个孩子沉下去了 救生员不在", "119"),
    ("冬泳的大爷游着游着不见了", "119"),
    ("冬泳的人扎下去半天了", "119"),
    ("游泳馆里有个学游泳的孩子沉下去了，教练在那边没看见", "119"),
    # Smoke made on purpose that got out of hand, and smoke with a burnt smell where nobody
    # answers (`smoke_made`, `emergency.smoke`).
    ("隔壁阳台上说是在烧香 可现在窗帘都烧起来了 火苗往外窜", "119"),
    ("邻居在阳台熏腊肉 现在烟越来越黑了 一股烧塑料的味儿 敲门没人应", "119"),
    ("楼上阳台冒烟 说是在烧艾条 可是刚才有人喊救命", "119"),
    ("对门做饭做着做着人不见了 厨房窗户往外冒黑烟 一股糊味 敲门没人开", "119"),
    ("楼上阳台一直冒烟 说是熏腊肉 可是现在闻着像烧胶皮 家里没人", "119"),
    ("邻居在阳台烧香 屋里突然冒出好多烟 老人在里面出不来", "119"),
    ("隔壁阳台往外冒黑烟，一股烧塑料的味儿，敲门半天没人应，家里好像有个老人。", "119"),
    ("我家隔壁冒烟了，一股很大的糊味，喊也没人答应，门也敲不开。", "119"),
    # Steps under water with someone below them (`emergency.flood_trapped`).
    ("下暴雨水顺着台阶往地下室灌，我奶奶腿脚不好困在下面上不来了，水都到腰了。", "119"),
    ("地下室的台阶都淹没了，我妈在下面喊，水哗哗往下流，她上不去了。", "119"),
    # Recogniser homophones of the key words ([heard_as]).
    ("对面楼三层创户里冒烟了 黑烟一股一股地往外翻", "119"),
    ("邻居家床户往外冒黑烟 敲门没人应", "119"),
    ("楼上杨台往外冒黑烟 还有一股烧塑料的味儿", "119"),
    ("楼道里全是农烟 我们家出不去了", "119"),
    ("女的一直喊就命 孩子也在哭 男的还在砸东西", "110"),
    # A faint in a kitchen is no house that fell (emergency.collapse_buried read 厨房…倒了).
    ("我妈在厨房突然晕倒了 叫她也没反应", "120"),
]

CALM: list[str] = [
    # Paper burnt for the dead, watched.
    "清明回老家上坟，烧的纸都着了，火苗挺旺，我们在边上看着烧完才走的，想问问明年还让不让烧纸。",
    "每年寒衣节小区门口十字路口好多人烧纸钱 纸都着了一地灰 风一吹满地都是 也没人管",
    "我在墓地给我爸烧纸，纸着了以后烟有点大，管理员过来说不让烧，想问问公墓有没有集中烧纸的地方。",
    "我们村里办丧事在院里烧纸扎，纸马纸房子都着了，烟熏了半天，建议村里定个规矩。",
    "小区里有人在绿地边上烧纸，纸都烧着了，物业也不出来管，太不文明了。",
    # Swimmers at their sport.
    "湖里那几个冬泳的大爷一上一下游了好几圈，上岸还冲我们笑呢，就是他们把衣服堆在步道上挡路。",
    "河边好多冬泳的 在冰窟窿里一上一下地扎猛子 看着挺吓人 其实人家都练了好多年了 想问问那段河让不让游",
    "护城河里有人游泳，一会儿沉下去一会儿冒出来，是在练憋气，挺专业的，就是那儿立着禁止游泳的牌子。",
    "公园湖里有个人在水里扑腾着学游泳，旁边有教练扶着，想问问湖里能不能办游泳班。",
    "我们家老头子天天去河里冬泳，一上一下的游得可欢了，就是岸边台阶太滑，建议装个扶手。",
    # Smoke made on purpose on a balcony, a fire only feared.
    "楼上阳台老往外冒白烟，我上去问了是他家在烧艾条熏屋子，味儿太冲了，物业管不管？",
    "对面楼有户人家阳台上烧香 香炉里一直冒着烟 还点着蜡烛 我担心哪天着火 想问问这归谁管",
    "邻居在杨台上熏腊肉 冒烟冒了一下午 呛死了",
    "楼下 那个 烧烤 摊 天天 冒 眼烟 全飘 我 家里 了 呛得 慌",
    # Steps under rain water, a frail elder, a handrail asked for.
    "下雨台阶都淹了，老人腿脚不好上不去，物业连个扶手都不装。",
    "一下雨台阶就泡在水里了 我妈八十多了上不去也下不来 物业也不管",
    # Homophones of the new [heard_as] words in everyday talk.
    "我家创户关不严 一刮风就呼呼响 物业说不归他们修",
    "中央台播了个节目说阳台不能堆东西",
    # The heating on is no fire (a first form of the set-alight pattern read 烧着呢…屋).
    "供暖季都结束了我们楼暖气怎么还烧着呢屋里二十七八度开着窗户都出汗这不是浪费吗",
]


@pytest.mark.parametrize(("text", "service"), LOUD)
def test_emerg36_a_danger_beyond_the_purpose_is_handed_over(text: str, service: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent" and got.emergency == service, _cues(text)


def test_emerg36_a_fire_smoke_or_dive_made_on_purpose_is_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


@pytest.mark.parametrize("calm", [
    "清明回老家上坟，烧的纸都着了，火苗挺旺，我们在边上看着烧完才走的，想问问明年还让不让烧纸。",
    "湖里那几个冬泳的大爷一上一下游了好几圈，上岸还冲我们笑呢，就是他们把衣服堆在步道上挡路。",
    "河边好多冬泳的 在冰窟窿里一上一下地扎猛子 看着挺吓人 其实人家都练了好多年了 想问问那段河让不让游",
])
def test_emerg36_nor_is_it_urgent(calm: str) -> None:
    # The floor's cues (火苗, 冰窟窿) read the purpose too: a grave, a sport. (Steps under
    # water stay urgent by urgent.burst_flood's 淹了, a floor left as it was.)
    assert classify(calm).urgency != "urgent", _cues(calm)


@pytest.fixture(scope="module")
def shipped():
    return load_rules(), ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()


@pytest.mark.parametrize("calm", [
    "清明回老家上坟，烧的纸都着了，火苗挺旺，我们在边上看着烧完才走的，想问问明年还让不让烧纸。",
    "护城河里有人游泳，一会儿沉下去一会儿冒出来，是在练憋气，挺专业的，就是那儿立着禁止游泳的牌子。",
    "隔壁阳台每天早晚冒烟 是他家在熏腊肉 一股烟熏味 晾的衣服都是味儿",
    "邻居在杨台上熏腊肉 冒烟冒了一下午 呛死了",
])
def test_emerg36_the_model_alone_hands_no_purpose_over(shipped, calm: str) -> None:
    # The model reads 着了, 冒烟 and 沉下去 as the danger (each was its 119 on main): the
    # rules' guard that silenced the cue marks the call (``ON_PURPOSE``).
    rules, model = shipped
    assert any(m.startswith(f"{ON_PURPOSE}:") for m in classify(calm, rules).matched)
    assert understand(calm, rules, model).emergency == "none"


@pytest.mark.parametrize(("text", "service"), [
    # A barbecue, a grave's name or a cigarette beside a danger the rules do not read: no
    # guard silenced a cue, so the model keeps its hand-over (a first version lost them).
    ("有俩人在烧烤店门口抡酒瓶子，一个人脑袋已经开瓢了。", "110"),
    ("小区里燃气调压箱一直在漏气，呲呲响，围了好多人，还有人在旁边抽烟，石景山区古城。", "119"),
    ("有人在银行门口抢钱，骑着摩托车跑了，被抢的阿姨摔在地上爬不起来，海淀区公主坟。", "110"),
    ("有人在我们楼下烧纸，烧得火星子乱飞，旁边就停着电动车。", "119"),
])
def test_emerg36_a_purpose_named_beside_another_danger_marks_nothing(shipped, text: str,
                                                                     service: str) -> None:
    rules, model = shipped
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in classify(text, rules).matched)
    assert understand(text, rules, model).emergency == service
