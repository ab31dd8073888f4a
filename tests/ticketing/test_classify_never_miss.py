"""Urgent and emergency situations that must never be missed (issue 15, eighth round).

Every sentence here was written for these tests from docs/labelling.md (U2, U4, U5, B4,
B14, E1-E3), not taken from any labelled file. Each situation is checked both ways: the
danger now, and a near miss in the same words that must stay calm (or keep its service).
"""

from __future__ import annotations

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify


@pytest.mark.parametrize(("text", "rule"), [
    # A hole someone can fall into, left open where people pass (U4).
    ("燃气公司在我们小区门口挖了个深坑，围挡让风刮倒了，晚上黑灯瞎火的", "urgent.open_pit"),
    ("路边的管沟挖了一个礼拜，连个警示灯都没有，骑车的根本看不见", "urgent.open_pit"),
    ("施工队把便道刨开了就走了，也没个围挡，老人买菜都从边上过", "urgent.open_pit"),
    ("楼后头那个基坑就用一根绳子拦着，放学的孩子老在坑边上跑", "urgent.open_pit"),
    # Conductors bared where anyone can touch them (U2).
    ("广场上音响的电源线被车轧破皮了，跳舞的人来回踩", "urgent.bare_wire"),
    ("单元门口那根电缆外皮磨没了，铜线都露出来了", "urgent.bare_wire"),
    # Ways out in a fire blocked or locked (U4).
    ("商场三楼的安全出口让商户拿货架给堵死了", "urgent.exit_blocked"),
    ("我们宿舍楼的疏散通道被锁上了，说是怕丢东西", "urgent.exit_blocked"),
    ("安全出口让砖头堵住了，人根本出不去", "urgent.exit_blocked"),
    # Nobody has said the wire is dead (ninth round: "不带电" silences only when said).
    ("电线掉地上了，外皮磨破了，不知道带不带电", "urgent.bare_wire"),
    # A grate gone leaves a hole like a manhole's (U4); a signal stuck on one colour.
    ("小区门口排水沟的盖板让人偷走了三块，晚上黑咕隆咚的", "urgent.manhole"),
    ("十字路口的信号灯一直是红灯，两边的车都堵死了", "urgent.traffic_signal"),
    # A lift that slid, told after how often it fails (B7, B9).
    ("我们单元的电梯三天两头出毛病，上礼拜修完，今天早上又往下溜了一截", "urgent.life_safety"),
    # A room in single figures with someone frail (U5), said as a range.
    ("暖气三天没热了，屋里才五六度，我妈八十多了一直打哆嗦", "urgent.person_at_risk"),
    # A newborn in a room in single figures (U5's first example; ninth round).
    ("暖气坏了三天了，屋里才六度，孩子刚出生十天，一直哭", "urgent.person_at_risk"),
    # Fireworks or fuel kept by the case among homes or on the pavement (U2; tenth round).
    ("小区门口有人摆摊卖烟花，一箱一箱堆在人行道上，旁边就是住户", "urgent.stored_explosives"),
    ("楼下小卖部后院码着几十箱鞭炮，说是过年卖的", "urgent.stored_explosives"),
    ("有人开着三轮车在胡同口卖炮仗，车上满满一车，停那儿不走", "urgent.stored_explosives"),
    ("隔壁院子里囤了好几十个煤气罐，天天有人来拉", "urgent.stored_explosives"),
    ("楼道里码着十几个液化气罐，是一楼饭馆放的", "urgent.stored_explosives"),
    # Eleventh round: the twins of the calm calls below, said at the scale of a danger. A
    # lift stuck is no key card (B5); a basin that cannot keep up, or a drip denied, is a
    # flood (U3); a cable dug through and left lying, with no outage said, may be live (U2).
    ("电梯卡在十二楼和十三楼中间了，我和孩子在里面", "urgent.trapped_injured"),
    ("电梯卡住不动了，里面有个老太太在喊", "urgent.trapped_injured"),
    ("暖气管子爆了，热水哗哗往外喷，拿盆接都接不过来", "urgent.burst_flood"),
    ("楼上的水管爆了，不是滴滴答答的，水顺着灯往下流", "urgent.burst_flood"),
    ("施工队把电缆挖断了就走了，线头扔在坑里没人管", "urgent.cable_dug"),
    # A box that sparks; water over the car doors; a hazard that will hurt someone.
    ("单元门口的电表箱一直啪啪打火，谁也不敢碰", "urgent.fire"),
    ("桥底下积水没过车门了，有辆车熄火在里面", "urgent.life_safety"),
    ("楼顶的广告牌晃得厉害，风再大点会砸伤人", "urgent.life_safety"),
    # A pole about to fall, told after how it got so (U4).
    ("村口那根电线杆子被大车刮了一下现在快倒了", "urgent.collapse"),
])
def test_a_danger_now_is_urgent(text: str, rule: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent", got.matched
    assert any(m.startswith(f"{rule}:") for m in got.matched), got.matched


@pytest.mark.parametrize("text", [
    "小区路面坑坑洼洼的，开车颠得厉害，能不能修一修",   # a pothole, no pit
    "楼前的沟已经填上了，就是土还没清走",               # filled in
    "工地那个坑围得挺严实的，就是晚上施工太吵",         # fenced, a noise call
    "家里电线老化了，想找人换一下，找谁",               # worn, nothing bared
    "安全出口的指示灯不亮了，建议物业换一下",           # a sign, nothing blocked
    "请问商场的安全出口应该留多宽",                     # asked
    "屋里十七八度，暖气不太热，老人觉得有点凉",         # 17-18 °C is no single figure
    "孩子刚出生十天，家里停电了一上午，啥时候来电",     # a newborn, no cold said (B1)
    "孩子刚出生十天，暖气不太热，屋里十七八度",         # 17-18 °C with a newborn
    "路口的雨水篦子堵了，一下雨就积水",                 # blocked, not gone
    "行人过马路的绿灯时间太短了，建议延长一点",         # a timing, not a fault
    "电梯往下走的时候有点异响，想让物业检查一下",       # a noise, no slide
    # Ninth round: a fire door wedged open is no exit blocked (the way out is open; U4);
    # a bared line that carries no current is no live part (U2).
    "楼道的防火门老让人用砖头顶住，关不上",
    "我们楼每层的防火门都用砖头顶上了，一直开着",
    "我们楼下那根电缆外皮磨破了，露着铜丝，物业说是网线，不带电的",
    "楼道里那根电缆皮破了，铜丝都露出来了，物业来看了说就是电话线",
    # Tenth round: fireworks or gas bottles asked about, bought for a family, kept where
    # they belong, or already taken away are no store (U2).
    "请问今年春节我们这片让不让放鞭炮",
    "昨天买了两箱烟花，想问问几点以后不能放",
    "我们饭馆后厨有两个液化气罐，想问问要不要办什么手续",
    "想问问烟花爆竹批发的仓库离居民楼要多远",
    "去年过年楼下堆过好几箱鞭炮，后来已经让城管收走了",
    # Eleventh round: the scale or the state the caller gives a floor cue. A 电梯卡 is a key
    # card; a drip caught in a basin is a repair (U3); a cable dug through with the power off
    # is dead, the outage the point (L1); a box burnt out burns no more (E4); a kiln smoking
    # every night is pollution.
    "物业把我们家的电梯卡停用了，说先把物业费交了再说",
    "我的电梯卡刷不了了，想问问去哪儿补办",
    "卫生间暖气片的接口漏水，一滴一滴的，拿盆接着呢，想找人来换个垫",
    "厨房水管接头漏水，滴滴答答一晚上，接了小半桶",
    "修路的把电缆挖断了，我们整栋楼停电大半天了，啥时候来电",
    "小区的变压器烧坏了，整个小区停电一上午了",
    "物业说是配电箱烧了，电工明天才来换，楼里没电",
    "村边那个砖窑一到晚上就冒黑烟，全村都呛得慌",
    # A stove that will not light or a lighter is no spark (L1); ankle-deep water is waded;
    # the 会 of 居委会 is a body, not "会出事".
    "燃气灶打火打不着两天了，燃气公司让等着",
    "我家灶一打火就灭，是不是该换电池了",
    "楼下小卖部把打火机卖给小学生，能不能管管",
    "地下通道一下雨就积水，没过脚面，得蹚过去",
    "小区的健身器材都锁在居委会，说是怕出事，能不能放出来",
    "小区门口那家树人教育培训学校快倒闭了，预交的学费能退吗",   # a school closing down
])
def test_near_misses_stay_calm(text: str) -> None:
    assert classify(text).urgency != "urgent", _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # Gas that cannot be shut off (B4, E2).
    ("液化气罐的阀门锈死了关不上，一直呲呲往外冒气", "119"),
    ("燃气灶的旋钮掉了关不住，火一直着", "119"),
    # People cut off and still inside (E2).
    ("对面楼着火了，烟很大，五楼还有人困着下不来", "119"),
    ("村里一间老房子塌了半边，里面还有个老大爷没出来", "119"),
    # A chemical store giving off smoke (hazmat, E2); the ambulance follows.
    ("厂区的危化品仓库冒黄烟了，好几个工人咳得喘不上气", "119"),
    # Someone found lying on the floor, a fall onto the head (E3).
    ("我去给奶奶送饭，一开门发现她倒在地上，怎么喊都不答应", "120"),
    ("邻居大哥修房顶从梯子上摔下来，后脑勺着地了", "120"),
    # A driver running people down (E1): the police's scene, the ambulance follows.
    ("路口一辆车冲上便道撞了好几个人，地上有人在流血", "110"),
    # A confused person walked off (E1).
    ("我妈有老年痴呆，中午趁我做饭自己跑出去了，到现在没找着", "110"),
    ("我爸早上溜出去了，他出门就记不住家在哪，手机也没带", "110"),
    ("我奶奶有点糊涂了，上午自己下楼买菜，到现在没回来", "110"),
    ("我妈有点糊涂了，中午自己走出门，到现在也没回来", "110"),
    ("我爸痴呆好几年了，下午自己溜出去了，手机也没带", "110"),
    # Money sent to a fraudster just now (B14).
    ("有人冒充客服说帮我退款，我刚才转了五千过去，现在电话打不通了，是不是被骗了", "110"),
    ("网上刷单被骗了，刚刚又转了两万，对方把我拉黑了", "110"),
    # Someone still down or inside, told first or heard of (tenth round: only a supposed
    # "still" is silent).
    ("我爸在小区台阶上摔倒了起不来，腿好像断了", "120"),
    ("我们村有户人家的老房子后墙塌了，听说屋里还有个老太太没出来", "119"),
    # Eleventh round: the twins of the burnt-out box, the key card and the kiln, now.
    ("电梯卡在两层中间了，我妈一个人在里面", "119"),
    ("楼下配电箱烧了起来，火苗往上蹿", "119"),
    ("屋里的电线烧着了，满屋子都是烟", "119"),
    ("对面楼三层的窗户往外冒黑烟，里面好像有人", "119"),
    ("楼道里堆的纸箱子着起来了，快来人", "119"),   # caught fire, no other fire word
])
def test_a_danger_now_is_handed_over(text: str, service: str) -> None:
    got = classify(text)
    assert got.emergency == service, got.matched
    assert got.urgency == "urgent"


@pytest.mark.parametrize("text", [
    "家里水龙头坏了关不上，一直滴水",                       # water, no gas
    "我家灶台下面的柜门关不上了，装修留下的毛病",           # a cupboard, not the gas
    "燃气表箱的小门锈死了，抄表员打不开",                   # the meter box's lid
    "燃气灶打不着火了，是不是没气了",                       # a supply matter
    "去年在网上刷单被骗了三千，现在还能报案吗",             # an old loss
    "接到个诈骗电话说我快递丢了，我直接挂了",               # nothing sent
    "我爸有点老年痴呆，想问问附近有没有日托的地方",         # asked, nobody gone
    # Out for a short walk is not missing yet (E1 is a missing person; ninth round).
    "我妈有点糊涂了，刚自己走出门遛弯去了，说遛十分钟就回来",
    "我爸有点糊涂了，刚才自己溜出去了，说就在楼下转一会儿就回来",
    "老房子的后墙塌了一块，没住人，村里说修要等开春",       # nobody inside
    "化工厂的烟囱天天冒白烟，味儿挺大的",                   # a stack, pollution
    "学校组织防踩踏演练，孩子们练习躺在地上不动",           # a drill
    # A "still" after 要是 or 万一 is supposed like the rest of its clause (tenth round).
    "请问家里老人要是在家摔倒了起不来，社区有没有一键呼叫的设备可以申请",
    "我想问问万一有人摔倒了起不来，物业的值班电话是多少",
    "假如老人一个人在家晕倒了叫不醒，邻居能不能先破门",
    # Eleventh round: a key card, a box burnt out, a kiln every night (see the calm list).
    "物业把我们家的电梯卡停用了，说先把物业费交了再说",
    "小区的变压器烧坏了，整个小区停电一上午了",
    "物业说是配电箱烧了，电工明天才来换，楼里没电",
    "村边那个砖窑一到晚上就冒黑烟，全村都呛得慌",
    "山上有人用炭火烧烤，旁边全是干草，一着起来可不得了",  # supposed
])
def test_near_misses_are_not_handed_over(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)
