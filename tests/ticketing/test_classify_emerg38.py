"""Thirty-second round (emerg38): figures of speech, worries, 冒火, injuries told late, gas smell.

Sentences of our own (bench/data/emerg_own38.tsv, written before the rules were changed, and a
few more written after to try each guard on the threats it must not silence), in recogniser
style (no punctuation). The false hand-overs: the caller's figure of a blast ("气得我都要爆炸了",
"这天热得要爆炸"), 信息爆炸, and a fire feared after the hazard that would start it ("怕漏电起火")
or a few words on ("怕买到劣质的充电的时候起火"). The misses: a fire told as 冒火 (a window, a
roof, a flat; only wiring's 冒火 was read), an injury told after an unrelated question (a fall
that leaves a leg still, a bottle of pills swallowed, a hand drawn into a machine), a strong gas
smell said with everyday intensifiers (老冲了, 贼冲, 忒大, 倍儿呛, 冲鼻子) or met at the door.
docs/classification.md, "Thirty-second round (emerg38)".
"""

from __future__ import annotations

import pytest

from tests.support.sweep import assert_every
from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from tests.ticketing.test_classify_urgent import assert_service
from ticketing.classify import classify
from ticketing.intake_model import understand

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped

LOUD: list[tuple[str, str]] = [
    # 冒火 of a building, a vehicle, a flat (emergency.fire).
    ("我是三号楼的住户 刚下班往家走 看见对面楼五层窗户往外冒火", "119"),
    ("我是送外卖的 正往小区里送餐呢 看见一家饭馆的屋顶冒火了", "119"),
    ("我是物业保安 巡逻的时候看见地库里一辆车冒火了", "119"),
    ("隔壁单元三楼屋里冒火 玻璃都崩碎了", "119"),
    ("村东头那家平房冒火了 房梁都着了", "119"),
    ("邻居家窗户冒火了 里面好像还有人", "119"),
    # An injury now told after another matter (emergency.medical_signs).
    ("我想问问工资的事 老板俩月没给了 哦对了 刚才我工友从脚手架上摔下来了 腿动不了", "120"),
    ("我要投诉个快递 另外我家孩子刚才把一瓶药吃了 现在迷迷糊糊的", "120"),
    ("我想打听一下落户政策 哎呀我们车间有个工人的手被机器卷进去了", "120"),
    ("我想问下营业执照怎么年检 刚才店里一个小伙子搬货从楼梯上滚下来了 躺着起不来", "120"),
    # A strong gas smell in everyday words, or met at the door (emergency.gas_escaping).
    ("楼道里煤气味挺冲的 不知道谁家漏了", "119"),
    ("一进单元门煤气味老冲了", "119"),
    ("隔壁家门口煤气味忒大了 敲门没人", "119"),
    ("对门阿姨说她家一开门就一股子煤气味 她不敢开灯", "119"),
    ("我妈打电话说家里煤气味冲鼻子 她现在跑出来了", "119"),
    ("楼上那家的煤气味顺着窗户飘下来 可冲了", "119"),
    ("保洁阿姨说地下室一股天然气味 冲得睁不开眼", "119"),
    ("饭店后厨液化气味儿老大了 厨师都跑出来了", "119"),
    ("我家孩子说一进门煤气味儿熏得慌 我还在单位呢", "119"),
    ("燃气味儿齁冲的 整个走廊都是", "119"),
    ("邻居说闻着楼道里有煤气味 挺浓的", "119"),
    # Things about to explode stay 119 beside the figure's guard.
    ("楼下小卖部门口那个煤气罐呲呲漏气 老板喊着要爆炸了 大家都在往外跑", "119"),
    ("电动车电池在屋里鼓得老高 冒白烟还噼里啪啦响 看着要爆炸了", "119"),
    ("加油站边上有辆车着火了 离加油机就几米远 随时可能爆炸", "119"),
]

# Written after the rules, against each guard: the threats it must not silence.
GUARDED: list[tuple[str, str]] = [
    # `blast_figure`: a figure beside a real blast, a leak or a swelling battery.
    ("我脑袋都要爆炸了 隔壁一直呲呲漏气 一股煤气味", "119"),
    ("人多得要爆炸 突然商场里一声巨响 好多人往外跑", "119"),
    ("热得要爆炸 车库里电动车电池鼓包了 随时要爆炸", "119"),
    ("气得我都要爆炸了 结果厨房的煤气罐也跟着呲呲响 像是要爆炸", "119"),
    # [everyday_words]' 冒火 of a body or an exhaust: a window's 冒火 told beside it.
    ("那辆改装车排气管老冒火 现在整个车头都冒火了 司机还在里面", "119"),
    ("我心里直发慌 对面楼窗户冒火了", "119"),
    ("窗户里直冒火 好像有人在喊", "119"),
    ("气得我直跺脚 屋顶冒火了 火很大", "119"),
    # `[not_now] feared`, now reading a fire after its hazard: a fire that did break out.
    ("我一直怕漏电起火 今天真着火了 屋里全是烟", "119"),
    ("怕它充电的时候着火 结果刚才真着了 火苗蹿老高", "119"),
    # `seen`'s news told as a habit: a fire here now beside it.
    ("新闻上老说电动车着火 刚才我们楼下那辆真着起来了 火很大", "119"),
    # `made_safe` quiets the strong smell once shut, not a smell that stays.
    ("阀门关了还是一股煤气味 特别冲 头晕", "119"),
]

CALM: list[str] = [
    # The caller's figure of a blast, a great deal of something.
    "天天加班领导还老挑刺 气得我都要爆炸了 想问问加班费怎么算",
    "这天热得要爆炸 公交站连个遮阳棚都没有",
    "现在信息爆炸 手机里天天都是推销短信 想问问怎么屏蔽",
    "周末公园门口人多得要爆炸 车都停不进去 建议多开个停车场",
    # A fire feared, not burning.
    "家里老人的电热毯用了十几年了 怕漏电起火 哪里能回收",
    "想给电动车换个电池 去哪换靠谱 我怕买到劣质的充电的时候起火",
    "电动车电池鼓包了 我想去换个新的 怕它在家充电的时候着火 你们知道哪有正规的店吗",
    "电瓶车的电池该换了 哪儿能换正规的 不然怕充着充着着火了",
    "新闻上老说电动车着火 我家的电池是不是也该换了 去哪换",
    # 冒火 of a feeling, a body, an exhaust, a welder's sparks.
    "一说起这个物业我就心里冒火 收了钱什么都不干",
    "熬夜好几天了 眼睛冒火 嗓子也冒火 想问问社区医院周末开门吗",
    "老板拖欠工资半年了 气得我直冒火 想问问去哪投诉",
    "看他那眼睛都冒火了 还是忍着没吵 就想问问欠款能不能起诉",
    "那几辆改装车排气管老冒火 跑起来轰轰的炸街 半夜扰民",
    "工地电焊冒火星子 焊工连个面罩都不戴 想反映一下",
    # Smells told strong that are no gas; a strong gas smell shut off (B3).
    "楼下饭馆的油烟味老冲了 天天往我家窗户里灌",
    "新装修的房子甲醛味忒大 想问问哪里能检测",
    "隔壁烧烤店的烟倍儿呛 天天开到半夜",
    "煤气费涨得挺冲 一个月多花好几十",
    "一进门就一股煤气味 我把总阀关了 窗户也开了",
    "有点煤气味 不算太重",
    # A small hurt told after another question.
    "问一下公交卡怎么退 刚才上车的时候摔了一下 膝盖磕青了 司机开得太猛",
    "问一下工伤怎么认定 我们工地上有人被钢筋划了个口子 已经包扎好了",
]


@pytest.mark.parametrize(("text", "service"), LOUD + GUARDED)
def test_emerg38_an_emergency_is_handed_over(text: str, service: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent" and got.emergency == service, _cues(text)


def test_emerg38_a_figure_a_worry_or_a_small_hurt_is_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


@pytest.mark.parametrize("calm", [
    "一说起这个物业我就心里冒火 收了钱什么都不干",
    "孩子上火了嗓子冒火似的疼 想问问儿童医院怎么挂号",
    "领导那话说的 我听了心里直冒火 想问问劳动仲裁怎么申请",
    "这天热得要爆炸 公交站连个遮阳棚都没有",
])
def test_emerg38_nor_is_the_figure_urgent(calm: str) -> None:
    # urgent.fire read 冒火 and 爆炸 as a fire too: the figure is read as the figure there.
    assert classify(calm).urgency != "urgent", _cues(calm)


def test_emerg38_one_list_of_intensifiers_reads_every_strong_gas_smell() -> None:
    # `smell_strong`, one list: each everyday intensifier in the same sentence.
    for strong in ("挺冲", "老冲", "贼冲", "忒大", "倍儿呛", "可冲", "齁冲", "冲鼻子", "熏得慌",
                   "特别大", "很浓"):
        text = f"楼道里一股煤气味{strong} 不知道哪家的"
        assert classify(text).emergency == "119", (strong, _cues(text))
    for weak in ("不太冲", "不算太重", "没那么大"):
        text = f"厨房里有点煤气味 {weak}"
        assert classify(text).emergency == "none", (weak, _cues(text))


@pytest.mark.parametrize(("text", "service"), [
    # The model dropped these where the call opens with who the caller is or another matter.
    ("我是三号楼的住户 刚下班往家走 看见对面楼五层窗户往外冒火", "119"),
    ("我是物业保安 巡逻的时候看见地库里一辆车冒火了", "119"),
    ("村东头那家平房冒火了 房梁都着了", "119"),
    ("我想问问工资的事 老板俩月没给了 哦对了 刚才我工友从脚手架上摔下来了 腿动不了", "120"),
    ("我想打听一下落户政策 哎呀我们车间有个工人的手被机器卷进去了", "120"),
    ("邻居说闻着楼道里有煤气味 挺浓的", "119"),
])
def test_emerg38_the_system_hands_over_what_the_model_dropped(shipped, text: str,
                                                              service: str) -> None:
    rules, model = shipped
    assert understand(text, rules, model).emergency == service


@pytest.mark.parametrize("shut", [
    "刚进家门就闻到一股煤气味儿 挺冲的 我把灶台的阀门和总阀都关了 窗户也开了",
    "家里燃气泄漏了 煤气味很重 我们先关了阀门",
])
def test_emerg38_a_strong_smell_shut_off_is_urgent_with_no_hand_over(shut: str) -> None:
    # B3: the strong smell is emergency.gas_escaping's, quiet once the valve is shut; main's
    # emergency.fire read "很重" with no such guard and handed the second to 119.
    got = classify(shut)
    assert got.urgency == "urgent" and got.emergency == "none", _cues(shut)
