"""Review of the thirty-fourth round (review115 on emerg48): do its battery, release and
eviction rules hold for the next caller's wording?

Sentences of the reviewer's own, most as a recogniser writes them (no punctuation; its spaces
dropped by ``_normalize``, so "冒白烟 味道很呛" is read as 冒白烟味道很呛). Each family missed
wordings for one general cause, mended at the one place (docs/classification.md, "Review of
the thirty-fourth round (review115)"):
- a pack giving off sparks or flame rather than smoke, a phone's swollen pack, the smoke told
  before the pack, and smoke followed by the next clause's 味道 (`smoke_given`'s 烟味);
- a release at a store, a fuel station or a tanker (`works`), a blast told as 炸了 or 砰了一声,
  a bang then a smell with no colour, the colour told after the smoke (烟是黄的);
- tenants beaten, dragged or pulled by the hair rather than pushed (`landlord_force`), their
  things named after the verb (扔我们的东西) or thrown out of the window (`thrown_out`);
- a fire that really broke out on a balcony, downstairs or in a stairwell, read as "if a fire
  really broke out" by `ahead_patterns`.
Their calm twins stay with 12345.
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from ticketing.classify import classify
from ticketing.intake_model import understand

shipped = _emerg36.shipped


@pytest.mark.parametrize(("text", "service"), [
    # A pack: sparks or flame, a phone, the smoke first, the smoke then a smell.
    ("电动车充着电呢 电池那里呲呲地冒火花", "119"),
    ("院里那辆三轮车的电瓶冒火星子了 噼里啪啦的", "119"),
    ("我们楼电梯轿厢里有辆电瓶车 电池往外喷火星子 电梯停在三楼不动了", "119"),
    ("我手机鼓包了 现在特别烫 还有股焦糊味 放在床头柜上", "119"),
    ("手机放枕头底下充电 刚才鼓包了 冒烟 枕头都烫焦了", "119"),
    ("烟是从电瓶车的电池那冒出来的 就在我家门口 好大的烟", "119"),
    ("电动车电池冒白烟 味道很呛", "119"),
    ("隔壁邻居家门口充电的电动车 电池冒烟 味道呛得很 敲门没人应", "119"),
    # A release: a store, a fuel station, a tanker; 炸了, 砰了一声; a smell after the bang;
    # the colour after the smoke; the smoke then the next clause's 味道.
    ("那个仓库里刚才砰的一声 然后冒出来红色的烟", "119"),
    ("仓库那边闷闷的响了一声 现在冒出来好多紫色的烟 味道很怪", "119"),
    ("那个化肥厂刚刚砰了一声 接着就冒黄烟 现在往我们小区这边飘", "119"),
    ("化工厂那边刚才轰的一声 现在一股刺鼻的味道 眼睛辣得睁不开", "119"),
    ("那个农药厂刚才嘭的一声 接着飘过来一股难闻的味 我们都头晕", "119"),
    ("刚才仓库那块炸了 现在飘过来的烟是红的 好多人往外跑", "119"),
    ("高速上一辆罐车在往外漏东西 味特别冲 路过的人眼睛疼", "119"),
    ("加油站那边刚刚轰的一下 冒出一大股黑烟 还有刺鼻子的味", "119"),
    # Tenants: beaten, dragged, hair pulled; things named after the verb, out of the window.
    ("几个彪形大汉 说是房东找来的 把我的东西往外扔 还打了我", "110"),
    ("房东的亲戚来了七八个人 在扔我们的东西 揪着我头发打", "110"),
    ("房东和他儿子两个人 正把我往外拽 东西都扔出来了", "110"),
    ("房东现在带着人在我屋里 把我的衣服被子往窗户外头扔 我拦不住 他们还动手", "110"),
    ("公寓的人把我们的东西丢到走廊里 还把门锁撬了 来了好几个", "110"),
    ("房东带了四五个人来 把我们屋的东西往外扔 我老公拦着就被他们打了", "110"),
    # A fire that really broke out, beside a screen's or a game's words.
    ("电视上在放救火的节目 我家阳台真的着火了", "119"),
    ("楼下真起火了 火苗子老高", "119"),
    # Calm twins: a pack set aside or once smoked, a bang that raised dust, a works' habit,
    # a tyre burst, a landlord's calls, a renovation, a past move.
    ("电动车电池鼓包了 我已经拔了放阳台了 想问问哪里能修", "none"),
    ("前天车棚那个电瓶车冒过一回烟 后来没事了 想让物业装个监控", "none"),
    ("上个礼拜楼道里电动车电池冒了烟 物业到现在也没个说法", "none"),
    ("手机用了三年有点鼓包 还能用吗", "none"),
    ("电池没冒火花也不烫 就是充不进电 想问问哪能修", "none"),
    ("仓库里刚才砰的一声 货架倒了 灰太大了呛得直咳嗽", "none"),
    ("工厂放鞭炮开业 砰砰的 呛得人咳嗽", "none"),
    ("我们厂的车间天天一股刺鼻的味 工人老咳嗽 想举报", "none"),
    ("加油站旁边一个轮胎炸了 吓我一跳 没人受伤", "none"),
    ("化工厂的烟囱天天冒黄烟 想举报一下", "none"),
    ("电视里放了化工厂爆炸的新闻 想问问我们附近的厂安全吗", "none"),
    ("房东一直打我电话催房租 好几个人轮着打 烦死了", "none"),
    ("房东带人来修门锁 把旧家具扔出去了 也没跟我们说一声", "none"),
    ("房东上个月把我们东西扔出去了 押金到现在还不退", "none"),
    ("房东带着几个人来收房 我们已经搬走了 押金他不退", "none"),
    # "If a fire really broke out" still reads as a fear, whatever place it names.
    ("楼道里堆满了电动车 真着火了人都跑不出去", "none"),
    ("楼下停满了车 要是楼下真着火了消防车都进不来", "none"),
])
def test_review115_the_rules_hold_for_the_next_callers_wording(
    shipped, text: str, service: str,
) -> None:
    rules, _ = shipped
    assert classify(text, rules).emergency == service


@pytest.mark.parametrize(("text", "service"), [
    # The model alone lost these (no hand-over in the system before the rules named them).
    ("房东的亲戚来了七八个人 在扔我们的东西 揪着我头发打", "110"),
    ("几个彪形大汉 说是房东找来的 把我的东西往外扔 还打了我", "110"),
    ("电视上在放救火的节目 我家阳台真的着火了", "119"),
    ("那个化肥厂刚刚砰了一声 接着就冒黄烟 现在往我们小区这边飘", "119"),
])
def test_review115_the_system_hands_them_over(shipped, text: str, service: str) -> None:
    rules, model = shipped
    assert understand(text, rules, model).emergency == service
