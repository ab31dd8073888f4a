"""Thirtieth round (emerg35): emergencies told by what happens, and figures of speech.

Sentences of our own (bench/data/emerg_own35.tsv, written before the rules were changed, and
a few more written after to try the patterns on wordings the file does not hold; some as a
recogniser writes them, without punctuation). The families the blind files were seen to miss,
described by the lead and not quoted: a fire told only by what burns (a thing 着了, smoke
from a window), people cut off by water that keeps rising (出不来, 上不去), scalds from
boiling water or hot oil, a person in a river or a lake going up and down, a rider knocked
down and lying still. The false ones: "我都想跳楼了" of a web form, a factory's or a
workshop's smoke on its neighbours, a stove kindled (生着了). The rules alone (``classify``).
docs/classification.md, "Thirtieth round (emerg35)".
"""

from __future__ import annotations

import pytest

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from tests.ticketing.test_classify_urgent import assert_service
from ticketing.classify import classify

LOUD: list[tuple[str, str]] = [
    # A fire told by what burns.
    ("楼下垃圾桶旁边那堆泡沫板着了，火苗往一楼窗户那边蹿，在丰台区马家堡。", "119"),
    ("超市门口那一摞纸壳箱着了", "119"),
    ("院里那堆旧木板着了，风还挺大", "119"),
    ("喂 快递柜旁边的包裹着了", "119"),
    ("工地上那堆保温材料着了 在朝阳区望京", "119"),
    ("仓库里的货架着了 火苗蹿得老高", "119"),
    ("邻居家窗户里冒出来的烟越来越黑，敲门没人应，在西城区广安门。", "119"),
    ("对面楼有个窗户在往外冒浓烟，好像是五楼", "119"),
    # Cut off by water that keeps rising.
    ("河边那排平房被水围住了，有个老太太站在炕上，水一直往上漫，她自己出不来。", "119"),
    ("我们在山沟里露营，河突然涨水了，几个人困在石头上过不去，水越来越急。", "119"),
    ("地下室的台阶都淹没了，我妈在下面喊，水哗哗往下流，她上不去了。", "119"),
    ("水漫进屋了 已经到大腿了 我瘫痪的老伴在床上 我一个人弄不出去他", "119"),
    ("我们家被水困住了，一楼的水越来越深，我爸腿脚不好出不去", "119"),
    # Scalds from what poured.
    ("我家两岁的儿子让热油烫了，胳膊上起了好多水泡，一直哭，我该咋办啊。", "120"),
    ("我炸丸子油锅翻了，溅了孩子一脸，孩子捂着脸直叫唤。", "120"),
    ("我们餐馆后厨一锅热油洒了，学徒两条腿都烫了，站不起来了。", "120"),
    ("孩子被热油溅到眼睛了，睁不开，一直哭", "120"),
    ("宝宝把刚倒的开水碰翻了 烫到小腿上了 起了好多水泡 一直哭", "120"),
    # Someone in the water.
    ("护城河里有个人脑袋一下露出来一下又没了，旁边的人扔绳子够不着。", "119"),
    ("鱼塘里有个老头在水里挣扎，胳膊乱挥，就露个脑袋。", "119"),
    ("公园的湖里有个人脸朝下漂着，一动不动的。", "119"),
    ("湖里有个游泳的一会儿露头一会儿沉下去", "119"),
    ("快来人 湖里有个人在那一上一下 喊救命都喊不出声了", "119"),
    ("河里漂着个人，脸朝下，一动不动", "119"),
    # A rider knocked down and lying still: a collision with someone hurt is the police's (E1).
    ("快来人，公交车拐弯把一个骑电动车的带倒了，人在车旁边躺着，叫他也不答应。", "110"),
    ("十字路口撞车了，骑电动车的老头倒在那儿半天没起来，撞人的车开走了。", "110"),
    ("一辆快递三轮和电动车撞了，骑电动车的姑娘倒在地上没动静了", "110"),
    ("一辆小货车把骑电动自行车的给撞了 人躺那儿了 眼睛闭着 喊也不应", "110"),
    # A genuine threat beside the words of the figure of speech keeps its hand-over.
    ("我在天台上，我都想跳楼了，活不下去了", "110"),
    ("我 在 天台 上 我 都 想 跳楼 了", "110"),
]

CALM: list[str] = [
    # 着了 of no fire, and fires over or reported.
    "我家炉子生着了屋里也不暖和，暖气片冰凉的，这冬天可咋过。",
    "我家孩子好不容易睡着了，楼上又开始蹦了，能不能管管",
    "老板着了急，说明天一定修好，可到现在也没人来",
    "上个月楼下纸箱子着了一回，消防说是烟头，建议物业别让堆东西",
    "新闻说有个仓库着了，想问问我们小区的消防通道谁管",
    # Water that does not reach the upper floors is a supply matter.
    "我们楼水压太低，五楼以上水上不去，早上洗脸都没水。",
    "暖气的水上不去，楼上一点不热",
    # Scalds over, near, supposed; a water heater too hot.
    "热水器出水太烫了，想问问能不能调低一点",
    "上周孩子让开水烫了一下，已经好了，想问问那个暖壶能不能退",
    "饭店服务员把热汤洒我衣服上了，人没烫着，衣服毁了，要求赔偿他们不给。",
    # Ducks, not people; a rescue long past.
    "公园湖里的鸭子一上一下地找吃的，挺好玩",
    "前年夏天河里有个人在那扑腾，后来被钓鱼的拉上来了，建议河边装个护栏。",
    # Riders unhurt, a crash past, a motorbike that hit the kerb on its own (120, not 110).
    "我骑车被车刮了一下，没事，就是车把歪了，对方不肯赔",
    "早上我家楼下两辆车撞了，人都没事，就是堵了半天路",
    "那个 上个月我爸骑电动车让车撞了 在医院躺了半个月 现在出院了 对方保险一直不赔",
    # The figure of speech.
    "网上办居住证那个页面填了十几遍都提交不了，我都想跳楼了。",
    "社保网站注册了八遍都不成功，验证码老刷不出来，我真是想跳楼了。",
    "孩子学校那个作业软件天天崩，一天都登不上去，家长都要疯了，想跳楼的心都有了。",
    "这个APP注册了一上午都不行 我都想跳楼了 你们管不管",
    "楼上天天半夜蹦迪，再这样下去真要出人命了，我三天没睡着觉了。",
    # A polluter's smoke on its neighbours.
    "我们村边上那个炼油的小作坊一开工就冒黑烟，熏得人睁不开眼，一刮风全吹到村里。",
    "附近那个小作坊一烧东西就冒黑烟，熏得睁不开眼",
    "对面工厂的烟囱天天往外冒黑烟，窗户都不敢开，这事环保管不管？",
    # Everyday uses of the new patterns' words, written after the rules to try them: a leak
    # from the flat above, a flooded road's traffic, furniture in a wet cellar, stairs in 海淀,
    # a thief seen and gone, a car scraped and an office that does not answer, a lamp post
    # knocked down, bedding gone damp, a kitchen's smoke at its cooking.
    "楼上漏水了，水哗哗往下流，楼上家里没人，门打不开，物业也联系不上",
    "路上积水都到膝盖了，交通都瘫痪了，车都堵死了",
    "地下室进水了，水都到膝盖了，东西太多搬不动，物业也不管",
    "我家老人一上一下五楼太费劲，想问问加装电梯的事，在海淀区",
    "那个小偷一会儿冒出来一会儿又没了，小区保安也不管",
    "小区里车被剐了，后视镜倒在地上，找物业一直没反应",
    "一辆车把路灯撞倒了，灯杆倒在路中间，没人管",
    "被子都着了潮了，暖气不热屋里太冷",
    "邻居在做饭，厨房窗户往外冒烟，一股油烟味，天天这样",
]


@pytest.mark.parametrize(("text", "service"), LOUD)
def test_emerg35_an_emergency_told_by_what_happens_is_handed_over(text: str,
                                                                  service: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent" and got.emergency == service, _cues(text)


def test_emerg35_the_same_words_of_no_danger_now_are_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


@pytest.mark.parametrize("figure", [
    "网上办居住证那个页面填了十几遍都提交不了，我都想跳楼了。",
    "孩子学校那个作业软件天天崩，一天都登不上去，家长都要疯了，想跳楼的心都有了。",
])
def test_emerg35_a_figure_of_speech_is_not_even_urgent(figure: str) -> None:
    # The cues of 跳楼 are stopped, not only the hand-over: a web form is a five-day matter.
    assert classify(figure).urgency == "general", _cues(figure)


def test_emerg35_a_motorbike_on_the_kerb_is_the_ambulances_not_the_polices() -> None:
    # A vehicle that hit a kerb on its own has nobody behind it (E3): the rider lying still
    # is 120 as train.tsv labels it, the collision pattern does not take it to 110.
    text = "刚才楼下一辆摩托车撞到马路牙子上了，骑车的小伙子飞出去好几米，趴在地上没动静"
    assert classify(text).emergency != "110", _cues(text)
