"""Emergencies told without the alarm words (issue 15, fifteenth round): a person in danger
now and its cause, as callers and recognisers put it (someone pinned under what fell, gone
down a hole, fitting or collapsed, several people down at once, a weapon in the hand, a
newborn in a cold flat), and the near-misses that must stay calm (a cover fallen into its
own shaft, rubbish burnt in the open, an ambulance's price asked, a gas valve shut).

Every sentence here was written for these tests, not taken from a labelled file. Each
construction is checked both ways.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

import ticketing.classify as classify_module
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import MADE_SAFE, NO_RESCUE, SILENCED, classify, without_retracted
from ticketing.degrade import degrade
from ticketing.intake_model import DECISION, decide


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # Pinned under a fall: a thing described / a person held fast.
    ("广告牌让风刮下来了，压在底下的电动车都变形了",
     "仓库的货架倒了，我同事让压在底下了，喊他只会哼哼", "119"),
    ("上个月柜子倒了把我妈的腿砸在底下了，医药费到现在没人给",
     "柜子倒了，我妈的腿让砸在底下了，抽不出来", "119"),
    # Gone down a hole in the road: feared / happened.
    ("路口那个坑挺深，怕有人骑车掉下去", "路口塌了个大坑，一个骑车的连人带车掉进去了", "119"),
    # Into water named with where it is: a ball / a child.
    ("孩子的皮球掉到公园西边那个水塘里了，捡不回来", "我儿子掉到公园西边那个水塘里了", "119"),
    # A cover gone down its own shaft / a child down the shaft.
    ("井盖让渣土车压碎了，掉井里去了，现在就剩个口子", "井盖没了，刚才一个小孩掉井里了", "119"),
    # A fit: foam on a river / at a man's mouth; jerking on the ground.
    ("河面上漂着一层白沫子，还有股怪味", "公交站有个大哥倒地上直抽，嘴里往外冒白沫", "120"),
    # Several people down at once / rubbish tipped.
    ("有人往河边倒了一车渣土", "单位聚餐喝完酒，俩人先后都倒了，脸煞白", "120"),
    # Fainted: a figure of speech / a person.
    ("装修的电钻吵得我都快晕过去了", "我奶奶在厕所里晕过去了", "120"),
    # Collapsed of a sudden: a fence / a person.
    ("工地的围挡一下子倒了，好在没砸着人", "我爸正吃着饭，一下子栽到地上了", "120"),
    # A weapon in the hand: last time / now.
    ("上次邻居拎着菜刀来我家门口骂过一回", "有个男的拎着一把菜刀在小区里转悠", "110"),
    # Rubbish burnt in the open / smoke from a flat.
    ("有人在河滩上烧垃圾，一烧就冒黑烟", "对门屋里往外冒黑烟，敲门也没人应", "119"),
    # An ambulance's price asked / an ambulance needed.
    ("请问叫一趟救护车得花多少", "老人倒在楼道里了，快叫救护车", "120"),
])
def test_each_situation_both_ways(quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize("text", [
    # Recogniser-style: no punctuation, words spaced, a homophone or two.
    "马路 上 塌 了 个 坑 一个 骑 电动车 的 连人 带车 掉 进去 了",
    "地铁 口 有 个 男 的 倒 地上 抽抽 嘴里 吐 白沫",
    "我们 老 两口 的 平房 后墙 塌 了 我 老伴 让 砸 在 底下 了 腿 抽 不 出来",
])
def test_recogniser_style_emergencies_are_handed_over(text: str) -> None:
    assert classify(text).emergency != "none", _cues(text)


@pytest.mark.parametrize(("calm", "cold"), [
    ("屋里十七度，我闺女刚生完孩子，想问暖气能不能再烧热点",
     "外头零下十二度，屋里才九度，我闺女刚生完孩子"),
    ("屋里十五度，孩子才十来天，想问暖气能不能再热点", "屋里才九度，孩子才十来天，冻得直哭"),
])
def test_a_newborn_in_a_flat_in_single_figures_is_urgent(calm: str, cold: str) -> None:
    assert classify(calm).urgency != "urgent", _cues(calm)
    assert classify(cold).urgency == "urgent", _cues(cold)


def test_a_gas_valve_shut_with_nobody_down_stops_the_models_hand_over() -> None:
    """B3/E4: the source is shut, nobody is to be rescued; the model's 119 alone hands
    nothing over. A person down beside a shut valve is still the rules' hand-over."""
    shut = classify("厨房有股煤气味，我已经把总阀关了，窗户也开了，想找人来查查")
    assert any(m.startswith(f"{MADE_SAFE}:") for m in shut.matched), shut.matched
    model = {"emergency": {"none": 0.5, "119": 0.4, "120": 0.05, "110": 0.05},
             "kind": {"help": 1.0}}
    assert decide(model, shut.matched, DECISION)["emergency"][0] == "none"
    flame = classify("灶台底下窜出火苗了，我把阀门关了，屋里还是一股味儿")
    assert not any(m.startswith(f"{MADE_SAFE}:") for m in flame.matched), flame.matched
    down = classify("我把阀门关了，可我老公已经晕过去了")
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in down.matched), down.matched
    assert down.emergency == "120"


# --------------------------------------------------------------- sixteenth round: cues in
# their situation. A cue counts only where it speaks of a danger now: not inside a question
# about a service, not in a count of past events, not for an animal or goods on sale, not
# once the one hurt is in care; and two situations named without an alarm word.

@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # A service asked about / named beside a danger now.
    ("请问一下消防车那个号码是一一九还是一二零", "楼道里着火了，是打119还是110啊", "119"),
    ("想咨询一下救护车能不能送到外地的医院", "我爸晕倒了，是打120还是119啊", "120"),
    # A question about booking one / a request put politely, or a caller waiting for one.
    ("问一下找救护车转院怎么预约", "我家老人不舒服，请问能派救护车吗", "120"),
    ("想问下120救护车能不能跨区", "我想问问救护车到哪了，人快不行了", "120"),
    # A count of past events / one now.
    ("这栋楼的电梯半年困人三回了，物业也不换", "电梯困人了，我妈在里面出不来", "119"),
    # 那回 is 那次: over / now.
    ("那回我家孩子误吃了药，吓得我够呛", "我家孩子误吃了药，现在昏昏沉沉的", "120"),
    # An animal in trouble / a child.
    ("湖边有只鸭子缠在渔网里直扑腾", "湖里有个小孩掉进去了，一直扑腾", "119"),
    # Goods on sale that nobody ate / a meal eaten.
    ("夜市上有人在卖野蘑菇，颜色特别艳", "吃了夜市上买的野蘑菇，现在上吐下泻", "120"),
    # 打 of concrete / of a person.
    ("凌晨了楼下还在打混凝土，灯照得满屋亮", "楼下俩人还在打，一个头都破了", "110"),
    # Lost outdoors: asked about, or a mall / in the hills after dark.
    ("晚上爬山容易迷路吗，想找个向导", "我们三个在山里徒步，天黑了，迷路了", "119"),
    ("新开的商场太大了，转了半天找不到出口", "下大雪了，我爸在林子里找不着回来的路了", "119"),
    # A knock on the head: a bump / then vomiting or drowsiness, told as recognisers write.
    ("孩子磕了一下头，起了个包，吃饭玩耍都正常", "孩子磕到后脑勺，刚才吐了，一直想睡觉", "120"),
    ("我女儿额头碰了一下桌子，没什么事", "我 爸 摔 了 一跤 磕 着 头 刚才 吐 了 两回", "120"),
    # A count of past knocks / "过了一回儿", a recogniser's 一会儿, which counts nothing.
    ("去年孩子在楼梯上磕过一回头，这楼梯扶手到现在也没修", "孩子 磕 到 头 了 过 了 一 回儿 就 开始 吐", "120"),
])
def test_each_cue_counts_in_its_situation(quiet: str, loud: str, service: str) -> None:
    calm = classify(quiet)
    assert calm.emergency == "none", _cues(quiet)
    assert calm.urgency != "urgent", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


def test_someone_in_care_already_stops_the_models_hand_over() -> None:
    """The one hurt is being treated (B17): nobody to send anyone to. The frame silences the
    rules' cue, and the mark stops the model's hand-over too, where no rule cue was heard."""
    model = {"emergency": {"none": 0.5, "120": 0.4, "119": 0.05, "110": 0.05},
             "kind": {"help": 1.0}}
    for text in ("我姐在美甲店被烫伤了手，现在在医院看着呢，店里不认账",
                 "孩子脸上起了好多红疙瘩，现在在医院输液着呢"):
        got = classify(text)
        assert got.emergency == "none", _cues(text)
        assert any(m.split(":", 1)[0] in NO_RESCUE for m in got.matched), got.matched
        assert decide(model, got.matched, DECISION)["emergency"][0] == "none"
    # Only what was told up to the clause that says so: a danger after it is a new one.
    for text, service in (("孩子食物中毒在医院治着呢，家里老二也开始上吐下泻了", "120"),
                          ("老婆在医院输液着呢，我在家也头晕恶心，煤气味很重", "119")):
        assert classify(text).emergency == service, _cues(text)
    burnt = classify("我姐被开水烫伤了，整条胳膊起泡")
    assert burnt.emergency == "120", burnt.matched
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in burnt.matched), burnt.matched


def test_a_valve_said_shut_without_who_shut_it_is_made_safe() -> None:
    shut = classify("屋里有点煤气味，阀门也关了，窗户开着呢")
    assert any(m.startswith(f"{MADE_SAFE}:") for m in shut.matched), shut.matched
    open_ = classify("屋里煤气味越来越大，阀门也关了还是有味")
    assert not any(m.startswith(f"{MADE_SAFE}:") for m in open_.matched), open_.matched


# --------------------------------------------------------------- nineteenth round: the kinds
# of failure heldout-17 showed, each told both ways: breathing that gets worse, gas escaping
# that nobody shut off (and a valve said shut in other words), a wish to learn first aid,
# the numbers 999 and 一百二十 asked about, a passing fire engine, a fire seen on TV.

@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # Breathing worse: over and in care / now, with a device down or not.
    ("上个月我爸喘得越来越厉害，住了半个月院，现在出院了，想问问医保报销",
     "我妈哮喘犯了，喘得越来越厉害，药也不管用了", "120"),
    ("我家老人有点喘，想问问社区医院几点开门",
     "家里停电了，我爸的呼吸机没电了，他越喘越急，脸都憋红了", "120"),
    # Gas: the valve shut, a faint hiss, water / escaping, a hose burst, dug through.
    ("我家燃气软管有点裂了，一开火就有味儿，我已经把阀门关了，能派人来换吗",
     "小区门口施工把天然气管子挖断了，呼呼往外冒气，一条街都是味儿", "119"),
    ("燃气表那儿嘶嘶响，我把总阀拧紧了，现在不响了",
     "我家煤气罐的胶管脱落了，嘶嘶地往外喷，我不敢进厨房", "119"),
    ("我家暖气片放气阀呲呲往外喷热水，地上全是水",
     "楼道里那个燃气表一直呲呲响，味道特别冲，整个楼道都是", "119"),
    ("燃气表后面那个阀门一直嘶嘶响，凑近了才闻到一点味儿",
     "饭店后厨的燃气管接头崩开了，我们都跑出来了", "119"),
    ("楼下燃气管道被挖坏了，燃气公司把整栋楼的气都停了，三天没法做饭",
     "食堂 后厨 那个 液化气 瓶子 的 软管 崩开 了 呼呼 往外 喷气", "119"),
    # First aid: a course wanted / someone down, whoever knows CPR.
    ("我想学急救，社区有没有心肺复苏的培训班", "他不会动了，我会心肺复苏，正在按，救护车呢", "120"),
    ("请问去哪报名学心肺复苏，红十字会那种",
     "我学过急救，我爸没呼吸了，我在给他按压，快派救护车", "120"),
    ("单位想组织大家学海姆立克急救法，能请人来教吗",
     "我老伴突然倒地不起了，我不会心肺复苏，你们教教我怎么按", "120"),
    # 999 and 一百二十: the services compared / a caller with someone down.
    ("想问问九九九急救是不是要收费", "我爸晕倒了叫不醒，打120还是999快啊", "120"),
    ("问一下那个一百二十急救电话跟九九九有啥区别", "我妈摔倒了起不来，问一下120救护车还要多久到", "120"),
    # A passing fire engine or ambulance / a danger told beside it.
    ("刚才好几辆消防车拉着警报过去了，是不是哪儿着火了，我们这边安全吗",
     "消防车鸣着笛过去了，是不是哪儿着火了，我们楼道里全是烟", "119"),
    ("门口一辆救护车鸣着笛开过去了，是不是哪里出事了",
     "刚才消防车过去了，我们对门着火了，火很大，烟往我家窜", "119"),
    # Seen on a screen / happening here, whether the caller was watching or not.
    ("我刚在电视里看到，说高楼着火了不能坐电梯，那我们老人怎么下楼",
     "我在看电视呢，突然闻到焦味，客厅着火了", "119"),
    ("我在网上看，说有人被困电梯里三个小时，我们楼电梯能不能检修一下",
     "刚才电视上说高层着火不能坐电梯，我们楼现在着火了，烟都进屋了", "119"),
    ("新闻里说昨天一个老小区煤气爆炸了，我们这也是老小区，燃气管子要不要查查",
     "刚才 电视 上 说 高层 着火 不能 坐 电梯 我们 楼 现在 着火 了 烟 都 进屋 了", "119"),
])
def test_each_situation_of_the_nineteenth_round(quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize("text", [
    "我想学急救，社区有没有心肺复苏的培训班",
    "想问问九九九急救是不是要收费",
    "刚才好几辆消防车拉着警报过去了，是不是哪儿着火了，我们这边安全吗",
    # 刚才 is when the caller watched, not a danger going on.
    "我刚才在电视上看新闻，说一个小区着火了，看着跟小区门口挺像的，是不是这儿啊",
])
def test_nothing_happening_here_raises_no_urgent_floor(text: str) -> None:
    got = classify(text)
    assert got.urgency != "urgent", _cues(text)
    assert got.emergency == "none", _cues(text)


def test_a_valve_said_screwed_shut_stops_the_models_hand_over() -> None:
    """B3: "总阀也拧上了" is the valve shut; a hiss after it is not."""
    model = {"emergency": {"none": 0.5, "119": 0.4, "120": 0.05, "110": 0.05},
             "kind": {"help": 1.0}}
    shut = classify("屋里一股煤气味儿，窗户都打开了，总阀也拧上了，现在咋办")
    assert any(m.startswith(f"{MADE_SAFE}:") for m in shut.matched), shut.matched
    assert decide(model, shut.matched, DECISION)["emergency"][0] == "none"
    hiss = classify("燃气总阀拧上了，可管子那儿还呲呲往外冒气")
    assert not any(m.startswith(f"{MADE_SAFE}:") for m in hiss.matched), hiss.matched
    assert hiss.emergency == "119", hiss.matched


@pytest.mark.parametrize(("text", "service"), [
    # A building's loudspeaker and a camera's feed show what happens here, now.
    ("楼里广播说着火了，让大家赶紧往下撤", "119"),
    ("我在监控视频里看见有人正在撬我家门", "110"),
    ("我 在 手机 上 看 监控 家里 着火 了", "119"),
    # A wish to learn beside someone down is no course asked about.
    ("老人 突然 倒 了 我 想 学 这 做 心肺 复苏 你们 教教 我", "120"),
])
def test_a_danger_shown_here_keeps_its_cue(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


def test_an_exhaust_pipe_come_loose_is_no_gas_escaping() -> None:
    """Fumes from a flue are the ambulance's (E3, carbon monoxide), not escaping gas."""
    got = classify("燃气热水器排气管脱落了，屋里一股怪味，我妈头晕想吐")
    assert not any(m.startswith("emergency.gas_escaping:") for m in got.matched), got.matched


@pytest.mark.parametrize(("quiet", "loud"), [
    ("昨天晚上楼下有辆车着火了，消防车来给灭了，那辆车还在那儿烧得黑乎乎的，也没人管",
     "昨天晚上楼下那辆车着火了，消防走了以后车还在那儿烧着呢，火苗老高"),
    ("前天楼下电动车棚着火了，现在棚子还在那儿烧得只剩架子，没人收拾",
     "前天楼下电动车棚着火了，到现在还在烧，烟往楼里灌"),
])
def test_what_a_fire_left_is_no_fire_going_on(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "119", _cues(loud)


# --------------------------------------------------------------- the review of the nineteenth
# round: a report seen on TV must not silence the caller's own danger told in the same breath
# (a recogniser writes the call as one clause), a first-aid course asked about quiets no call
# with someone down in it, and a long text of reports costs work in proportion to its length.

@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # The report runs on into the caller's own fire: a plea (快来), a look outside (出门一看).
    ("刚刚 在 抖音 上 刷到 说 一个 小区 着火 了 吓 死 我 了",
     "电视 上 说 今天 大风 楼下 电动车 着火 了 火 很大 快 来人", "119"),
    ("抖音上刷到说楼下电动车着火了烧死了人，我们楼道里也停满了电动车，谁管",
     "抖音 上 刷到 附近 着火 了 我 出门 一看 隔壁 房子 烧起来 了 里面 还有 人", "119"),
    # Gas escaping now, after what the net said.
    ("网上看到说北京某小区燃气爆炸了，伤了好几个人，我们小区的燃气管子也老了，谁来查查",
     "网上 说 燃气 管道 被 挖断 了 嘶嘶 往外 喷", "119"),
    # What the report said is short; what follows it is the caller's.
    ("刚才电视上说高层着火不能坐电梯，那我们老人怎么下楼",
     "网上 说 今天 有 大风 楼上 的 花盆 掉 下来 砸 到 一个 老人 头上 流 了 好多 血", "120"),
    ("电视里播了个新闻，说一个老人在家里摔倒了好几天才被发现，我们社区有没有上门看老人的服务",
     "电视 上 说 今天 有 大风 出门 注意 安全 结果 我 下楼 就 看见 一个 人 被 广告牌 砸 在 底下 了",
     "119"),
])
def test_a_report_seen_leaves_the_callers_own_danger_loud(
    quiet: str, loud: str, service: str,
) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("quiet", "loud"), [
    ("想问一下哪里能学心肺复苏", "想问一下哪里能学心肺复苏，我爸刚倒地上没呼吸了"),
    ("请问去哪报名学心肺复苏，红十字会那种", "请问去哪报名学急救，我家孩子吃东西卡住了喘不上气"),
    ("单位想组织大家学海姆立克急救法，能请人来教吗",
     "请问 哪里 能 学 海姆立克 我 家 孩子 吃 果冻 卡住 了 脸 都 紫 了"),
])
def test_a_first_aid_course_asked_about_beside_someone_down_is_120(quiet: str, loud: str) -> None:
    """The course frame quiets the whole call: only where nobody in it is down or choking."""
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "120", _cues(loud)


def test_gas_escaping_after_what_the_net_said_is_urgent() -> None:
    got = classify("网上 说 燃气 管道 被 挖断 了 嘶嘶 往外 喷")
    assert got.urgency == "urgent", _cues("网上 说 燃气 管道 被 挖断 了 嘶嘶 往外 喷")


def _work(text: str) -> int:
    """Function calls (Python and C) ``classify`` makes on ``text``: a count, unlike a time,
    is the same on a loaded machine."""
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    before = sys.getprofile()
    sys.setprofile(count)
    try:
        classify(text)
    finally:
        sys.setprofile(before)
    return calls


@pytest.mark.parametrize("unit", ["电视上说还在冒", "电视上说着火了，说", "学急救班", "要是还在冒"])
def test_a_text_of_reports_costs_work_in_proportion_to_its_length(unit: str) -> None:
    """At the schema's 5,000 characters these took 0.7-1.7 s of CPU each: the stretch of
    every report, every cue a first-aid course quiets and every `still` a supposition
    answers walked back to its clause's start (no punctuation: the text's start)."""
    classify(unit)  # the rules are loaded on first use
    short = _work(unit * (1250 // len(unit)))
    long = unit * (5000 // len(unit))
    assert len(long) <= 5000
    assert _work(long) < 5 * short


def test_the_reports_of_a_text_are_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    found: list[tuple[object, ...]] = []
    seen_spans = classify_module._seen_spans

    def counted(*args: object) -> object:
        found.append(args)
        return seen_spans(*args)

    monkeypatch.setattr(classify_module, "_seen_spans", counted)
    classify("刚才电视上说高层着火不能坐电梯，那我们老人怎么下楼")
    assert len(found) == 1


def test_when_the_caller_watched_is_no_danger_going_on() -> None:
    """刚才 before the screen is when the caller watched, 在 heard as 再 or not."""
    text = "我 刚才 再 电视 上 看 新闻 说 一个 小区 着火 了 是 不是 我们 这儿 啊"
    assert classify(text).emergency == "none", _cues(text)


# --------------------------------------------------------------- twentieth round: the kinds
# of failure heldout-18 showed, each told both ways: an animal or a thing in trouble with no
# person at risk (whatever `still` says), smashing that is building works, a 着 before a word
# that starts with 过, and a hazard that has hurt people already and is still there.

@pytest.mark.parametrize("text", [
    # The owner ("我家的", "邻居家的", "孩子的") and a helper asked for ("派人来", "有没有人")
    # are nobody in trouble.
    "我家的猫爬到邻居家房顶上下不来了，喊了半天，能不能派人来帮忙",
    "邻居家的鹦鹉飞到电线杆顶上下不来了",
    "家里的仓鼠卡在笼子缝里出不来了，怎么弄出来",
    # 刚才 and 还在 are the animal's: its plight goes on, and is still nobody's life.
    "刚才小区门口一只流浪狗让电动车撞了，腿上都是血，躺在那儿直叫",
    "小区湖里的鸭子被渔网缠住了还在扑腾",
    # A thing in the water or down a well.
    "孩子的皮球掉到河里了，漂得老远，有没有人能帮忙捞一下",
    "钥匙掉井里了，有没有人能帮着捞一下",
    "刚才 在 河边 拍照 手机 掉 水里 了 冲 走 了",
])
def test_an_animal_or_a_thing_in_trouble_is_no_hand_over(text: str) -> None:
    got = classify(text)
    assert got.emergency == "none", _cues(text)
    assert got.urgency != "urgent", _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # A person in the story: after the animal, before it, or in its clause.
    ("猫卡在树上，我儿子爬上去够它摔下来了不动了", "120"),
    ("猫 卡 在 树上 我 儿子 爬 上去 够 它 摔 下来 了 不 动 了", "120"),
    ("狗把孩子咬了，血止不住", "120"),
    ("孩子为了捡皮球掉进河里了", "119"),
    ("我家狗掉冰窟窿里了，我老伴下去拉，也掉进去了，在水里扑腾", "119"),
    ("狗 掉 进 河里 了 我 儿子 跳 下去 救 现在 人 也 上 不 来 了", "119"),
    # A danger of another kind told after the animal, without commas.
    ("猫困在屋里出不来了屋里着火了冒烟了", "119"),
    # A cue that starts with the animal and runs on to a person hurt.
    ("狗被车撞了冲到马路中间，后面的车追尾了，有人流血了", "110"),
])
def test_a_person_beside_the_animal_keeps_the_hand_over(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


def test_an_animal_in_trouble_stops_the_models_hand_over() -> None:
    """The rules' cue is silenced and marked, so the model alone hands nothing over either
    (heldout-18's cat up a tree: the model read 119 at 0.78)."""
    model = {"emergency": {"none": 0.2, "119": 0.7, "120": 0.05, "110": 0.05},
             "kind": {"help": 1.0}}
    got = classify("我家的猫爬到树上下不来了叫了一下午了能不能派人来帮帮忙")
    assert any(m.startswith(f"{SILENCED}:") for m in got.matched), got.matched
    assert decide(model, got.matched, DECISION)["emergency"][0] == "none"


@pytest.mark.parametrize(("quiet", "loud"), [
    # The building struck / cars, or a person, struck.
    ("隔壁装修把承重墙凿穿了，我家墙上全是裂缝，他们现在还在砸", "几个喝多的在楼下砸车，砸了三辆了，还在砸"),
    ("楼上在砸墙改格局，一直在砸，楼板都在颤", "有人拿砖头砸墙边停的车，现在还在砸"),
    ("楼下 装修 把 承重墙 给 拆 了 还在 砸 呢 我家 地板 都 裂 了",
     "装修的工人跟业主打起来了，拿锤子砸人，还在砸"),
])
def test_smashing_that_is_building_works_is_no_police_matter(quiet: str, loud: str) -> None:
    got = classify(quiet)
    assert got.emergency == "none", _cues(quiet)
    assert got.urgency == "urgent", _cues(quiet)  # a structure at risk (U3)
    assert classify(loud).emergency == "110", _cues(loud)


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # 着过 of what happened / 着 + a word with 过 (过路, 过道), told without commas.
    ("这栋楼去年着过一次火，现在楼道里还堆着纸箱子，想让物业清一清",
     "我 们 小区 门口 有个 男的 拿着 刀 冲着 过路 的 人 比划", "110"),
    ("我家孩子在这个路口摔过一回，想建议装个护栏", "电动车 堵着 过道 那边 已经 着火 了 烟 很大", "119"),
])
def test_a_word_starting_with_guo_is_no_past(quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("calm", "urgent"), [
    # Fixed / still there.
    ("台阶上的冰，早上有人摔了，中午已经扫干净了",
     "小区门口那块翘起来的井盖，这礼拜已经绊倒两个老人了，到现在还没修"),
    # The person still hurts / the thing is still there.
    ("孩子在学校摔了一跤，现在还疼，想问问医药费谁出",
     "公园步道的木板烂了个窟窿，刚才有个孩子一脚踩进去崴了，板子还在那敞着"),
    # A complaint not answered / the hazard not mended.
    ("前两天我在小区里摔了，物业到现在也没给个说法",
     "过街 天桥 台阶 上 全是 冰 今天 好几个 人 摔 了 现在 还 那样"),
    # A past fall beside wear never mended (general as labelled) / a fall this morning.
    ("去年冬天我爸在小区的坡道上滑倒过一回，坡道到现在也没修",
     "小区 门口 井盖 翘 起来 了 已经 绊倒 两个 老人 了 到 现在 还 没 修"),
])
def test_a_hazard_that_has_hurt_people_and_is_still_there_is_urgent(calm: str, urgent: str) -> None:
    """B9: the falls are past, the next one is not. Both halves are needed."""
    assert classify(calm).urgency != "urgent", _cues(calm)
    got = classify(urgent)
    assert got.urgency == "urgent", _cues(urgent)
    assert got.emergency == "none", _cues(urgent)  # nobody to rescue now (E4)


@pytest.mark.parametrize("unit", ["猫卡在树上他", "猫卡住了，", "狗被车撞了，有人", "没砸墙还在砸",
                                  "有人摔了现在还那样"])
def test_animals_works_and_falls_cost_work_in_proportion_to_length(unit: str) -> None:
    """Each clause is judged once for a person, however many animals it names."""
    classify(unit)
    short = _work(unit * (1250 // len(unit)))
    long = unit * (5000 // len(unit))
    assert _work(long) < 5 * short


# --------------------------------------------------------------- its review (cues20b): an
# animal or a thing in trouble quiets nothing where the call names a person, a person's body
# in trouble or a person gone after it, anywhere from its clause on: a recogniser writes the
# call as one clause, and "the rest of the clause" was the rest of the call.

@pytest.mark.parametrize(("text", "service"), [
    # The review's sentences (general, no hand-over, on cues20).
    ("狗咬伤了娃一直流血止不住", "120"),
    ("狗和宝宝困在车里出不来了车里特别热", "119"),
    ("手机掉井里了娃下去捡现在没动静了", "119"),
    ("手机掉井里了，娃下去捡，现在没动静了", "119"),
    ("东西掉进化粪池里了下去捞的那个晕在里面了叫不醒", "119"),
    ("为了救猫爬上树摔下来了现在起不来", "120"),
    ("猫困在屋里出不来了屋里全是烟", "119"),
    # Our own: bitten, gone in after it, a hand caught, gas, knocked out, both styles.
    ("狗咬伤了一直流血止不住", "120"),
    ("狗被车撞了抱它的时候被咬了一口血止不住", "120"),
    ("狗掉进冰窟窿里了去救的时候冰裂了掉进去了", "119"),
    ("手机 掉 湖 里 了 下去 捞 一直 没 上来", "119"),
    ("钥匙掉下水道里了伸手去掏手卡住了拔不出来", "119"),
    ("猫困在地下室里出不来了里面全是煤气味", "119"),
    ("皮球掉进河里了，追着跑下去了，现在看不见了", "119"),
    ("皮球掉进河里了追着跑下去了现在看不见了", "119"),
    ("东西掉井里了下去捡的那个喊了半天没回应", "119"),
    ("猫 卡 在 树上 爬 上去 够 它 摔 下来 了 起不来 了", "119"),
    ("手机掉进井里了老张下井去拿现在喊不应", "119"),
])
def test_a_person_anywhere_after_the_animal_keeps_the_hand_over(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


@pytest.mark.parametrize("text", [
    # A baby's hand in the lift door; a man fallen off the sill reaching for a pigeon.
    "钥匙掉进电梯缝里了电梯门夹住了一个婴儿的手",
    "鸽子卡在空调外机上了爬出去够掉下去了",
    # Those in the car are hurt, not only the dog.
    "狗被车撞了车上的都受伤了",
])
def test_a_person_hurt_beside_a_thing_is_urgent(text: str) -> None:
    assert classify(text).urgency == "urgent", _cues(text)


@pytest.mark.parametrize("text", [
    # The animal's own blood, its clause or the next; a cat up a tree; a phone in the lake.
    "狗被车撞了流了好多血",
    "狗 被 车 撞 了 流 了 好多 血 躺 在 路边",
    "狗受伤了流了好多血",
    "刚才路口一只狗让车给撞了，后腿都是血，趴在路边直哼哼，这个该找谁？",
    "猫 爬 到 树上 下不来 了 叫 了 一 下午 了",
    "小狗掉进下水道里了出不来一直叫",
    "手机 掉 湖 里 了 那 水 挺 深 有没有 人 能 帮着 捞 一下",
    # A person told only before, setting the scene: the caller, the one who set the net.
    "我刚才在昆明湖边上拍照，手机掉水里了，那水挺深，有没有人能帮着捞一下？",
    "有人在林子里拉粘鸟网，好多鸟挂在上面扑腾",
])
def test_the_animal_alone_stays_quiet(text: str) -> None:
    got = classify(text)
    assert got.emergency == "none", _cues(text)
    assert got.urgency != "urgent", _cues(text)


def test_a_person_before_the_animal_leaves_only_its_clause_quiet() -> None:
    """A cue that starts in the animal's clause and runs on is the person's to weigh."""
    text = "孩子在河边玩，狗被车撞了，一直流血止不住"
    assert classify(text).emergency == "110", _cues(text)  # a collision, someone bleeding


@pytest.mark.parametrize(("calm", "urgent"), [
    # The injury is still there / the ice is.
    ("我妈摔了一跤腿肿了，现在还那样", "天桥台阶上全是冰，今天好几个人摔了，现在还那样"),
    ("我 爸 在 家里 摔 了 一跤 胳膊 青 了 一大块 到 现在 还 那样",
     "楼道 的 台阶 塌 了 一块 我 妈 摔 了 一跤 现在 还 那样"),
])
def test_what_is_still_there_is_the_hazard_not_the_injury(calm: str, urgent: str) -> None:
    assert classify(calm).urgency != "urgent", _cues(calm)
    assert classify(urgent).urgency == "urgent", _cues(urgent)


@pytest.mark.parametrize("unit", ["狗被车撞了，流血", "手机掉井里了下去捡", "有人，猫卡在树上", "狗摔伤了腿",
                                  "我在湖边，手机掉水里了"])
def test_the_whole_call_is_read_once_for_a_person(unit: str) -> None:
    """And each cue is looked up among the quiet spans, not against all of them: every
    clause of "狗被车撞了，流血" is an animal's (×5.0 the work of a quarter, before)."""
    classify(unit)
    short = _work(unit * (1250 // len(unit)))
    long = unit * (5000 // len(unit))
    assert _work(long) < 5 * short


@pytest.mark.parametrize(("text", "emergency"), [
    # Touching a high-voltage line is a 120 by itself, told with or without a person named.
    ("风筝挂在高压线上了去够的时候触电了", "120"),
    ("风筝挂在高压线上了，我儿子拿竹竿去够，结果触电了", "120"),
    ("村口变压器那儿有个小孩爬上去触电了", "120"),
    # A risk, a near miss, a question, a past event, a story on TV: no hand-over.
    ("高压线底下钓鱼容易触电，建议立个牌子", "none"),
    ("高压线垂得很低，小孩差点触电", "none"),
    ("高压线下面放风筝会触电吗", "none"),
    ("去年有人在高压线下钓鱼触电了，现在那里还没有警示牌", "none"),
    ("电视里说有人碰高压线触电了", "none"),
    ("高压线触电的事故怎么预防", "none"),
    # Its review: a hazard report, a worry, a near miss said in the same breath as 刚才.
    ("小区高压线垂得很低离屋顶不到一米有触电危险", "none"),
    ("变压器的门一直开着小孩老在旁边玩担心触电", "none"),
    ("刚才收衣服的时候差一点就碰到高压线触电了吓死我了", "none"),
    # An animal shocked there is handed over on purpose: a live part where people walk.
    ("一只猫爬到变压器上触电了", "120"),
])
def test_a_high_voltage_shock_needs_no_sign_told(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize("text", [
    # The dog knocked the person down: the person is hurt, told without naming them
    # (review21: the animal's window took the victim and the injury for the dog's).
    "狗把骑车的撞倒了头破了流血",
    "一条大狗冲出来把骑车的撞倒了摔伤了",
])
def test_an_animal_that_knocks_a_person_down_is_no_animal_alone(text: str) -> None:
    assert classify(text).emergency != "none", _cues(text)


# --------------------------------------------------------------- twenty-first round: the
# kinds of failure heldout-19 showed, each told both ways: a gas leak the caller confirmed
# and did not shut off, a dangerous-goods vehicle spilling, a crowd pushing over the fallen,
# something stuck in the throat; and a hammer's noise, an ambulance's bill, a dream, first-aid
# supplies, a fire engine seen passing, an appliance's fault on use, none a danger now.

@pytest.mark.parametrize(("text", "emergency"), [
    # Confirmed with soap and not shut off: not yet, cannot, a neighbour's valve, nobody in.
    ("厨房燃气管接头那儿有味儿，我拿肥皂水抹了一下直冒泡，阀门拧不动关不上", "119"),
    ("楼道里一股煤气味，用洗洁精水一试冒泡了，是对门家的表，敲门没人", "119"),
    ("我家天然气管子有味，拿肥皂沫一抹起泡了，我不会关阀门，老人一个人在家", "119"),
    ("燃气 管子 有味 我 拿 肥皂水 抹 了 冒泡 乐 我 还 没敢 关", "119"),
    # Shut (B3), nothing found, fixed afterwards, asked how to test, the valve's state unsaid.
    ("我家厨房燃气管子接头那儿，用肥皂水一抹直冒泡，我把阀门关了，窗户也开了，现在咋办", "none"),
    ("燃气公司来人用肥皂水查了一遍，没冒泡，说没漏，我还是不放心，没敢关阀门", "none"),
    ("我拿肥皂水抹了冒泡，当时没敢关，后来燃气公司来修好了，想问问换管子谁出钱", "none"),
    ("请问怎么用肥皂水查燃气漏没漏？冒泡就是漏了吗，我不会关总阀", "none"),
    ("我家表后面那个阀门一直嘶嘶响，我拿肥皂水一抹直冒泡", "none"),
])
def test_a_gas_leak_confirmed_and_not_shut_off_is_119(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    # Overturned or crashed and spilling now, whoever climbed out.
    ("高速上一辆油罐车翻了，油哗哗往外流，司机没事", "119"),
    ("国道上一辆拉硫酸的车追尾了，罐子往外漏，冒白烟", "119"),
    ("刚 看着 一辆 拉 化工品 的 罐车 在 六环 侧翻 了 往外 淌 一种 带 刺鼻 味儿 的 水", "119"),
    # Parked, holding, past, or no dangerous goods.
    ("一辆拉化工品的罐车在路边停了三天了，也没人管", "none"),
    ("油罐车侧翻了，还好没漏，司机也没事，就是堵车", "none"),
    ("昨天六环上有辆化工罐车侧翻漏了，今天路还封着吗", "none"),
    ("水泥罐车翻了，水泥洒了一地，路堵了", "none"),
    ("一辆油罐车追尾了，后面车流都堵死了", "none"),
])
def test_a_dangerous_goods_vehicle_spilling_is_hazmat(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    ("地铁站人太多了，有个老太太被挤倒了，后面的人还在往前挤", "110"),
    ("庙会人挤得不行，前面有人摔倒了，后面还在推", "110"),
    ("入口 人挤 得 太 厉害 了 前头 由任 摔倒 了 后 投 还 在 往 力推", "110"),
    ("上次庙会人挤得厉害有人摔倒了，今年能不能多派点保安", "none"),
    ("周末公园人太多了，挤得走不动，建议限流", "none"),
])
def test_a_crowd_pushing_over_the_fallen_is_110(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    # Stuck in the throat: the ambulance's, not a trapping (119).
    ("孩子吃果冻卡在喉咙里了，喘不上气", "120"),
    ("握家 孩子 吃 花生豆 呛 这 了 卡 在 嗓子眼 里 咳 不 出来 脸 都 别 紫 了", "120"),
    ("孩子的手卡在栏杆里了拔不出来", "119"),
])
def test_something_stuck_in_the_throat_is_120(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # A hammer heard at work / a hammer at a door or a person.
    ("楼上装修天天拿锤子砸得咣咣的，晚上十点多了还不停", "他拿着锤子砸门砸得咣咣的，说要弄死我", "110"),
    ("那个 我家 楼上 天天 半夜 装修 锤 自 砸 得 咣 咣 的 物业 说 了 也 不 听",
     "那男的抡着锤子追着人砸，已经有人倒地了", "110"),
    # An ambulance's bill / an ambulance late for someone down.
    ("急救车的钱到底咋收的，我妈坐了一趟说要交六百", "我爸突然晕倒了叫不醒，急救车怎么还没到", "120"),
    ("上礼拜坐的急救车，今天寄来单子说欠了七百多的车费没结", "快叫急救车，我妈心脏病犯了，嘴唇都紫了", "120"),
    # A dream / a dream and then someone down.
    ("我做了个梦梦见我妈中风了，想问问平时怎么预防", "我梦见我爸出事了，吓醒一看他真倒在地上叫不醒", "120"),
    # First-aid supplies / a first-aid call.
    ("家里该备点什么急救的药，老人有高血压", "我妈心脏病犯了，快派急救的来", "120"),
    # A fire engine seen passing / a fire of the caller's own.
    ("刚才在楼下遛弯的时候看见两辆消防车鸣着笛过去了，不知道哪儿着火了，我们这儿没事吧",
     "消防车过去了，我们楼也着了，三楼冒黑烟", "119"),
    # An appliance's fault when it is used / a fire now.
    ("燃气灶打火的时候嘭的一声，火苗往外窜，吓得我不敢用了",
     "热水器打火的时候着火了，现在火还在烧，快来人", "119"),
    ("我家燃气热水器打火的时候嘭一下，火苗子还往外窜，这东西是不是该换了",
     "燃气灶点火的时候嘭一声着起来了，火越来越大", "119"),
    ("做饭点火 的 时候 嘭 一声 火苗 往外 窜 吓 得 不敢 用 了", "燃气灶点火的时候嘭一声着起来了，火越来越大", "119"),
    # The bill and the appliance quiet their own words, not someone down told beside them;
    # a dream is 梦见, not the idiom 做梦也没想到.
    ("急救车的钱到底咋收的，我妈坐了一趟说要交六百", "我爸晕倒了，叫了急救车，急救车的钱我们出", "120"),
    ("燃气灶打火的时候嘭的一声，火苗往外窜，吓得我不敢用了",
     "洗澡的时候热水器漏气，我妈晕倒了，这热水器是不是该换了", "120"),
    ("我做了个梦梦见我妈中风了，想问问平时怎么预防", "做梦也没想到他会拿刀砍人，现在还在楼道里", "110"),
])
def test_a_noise_a_bill_a_dream_or_a_passing_engine_is_no_hand_over(
    quiet: str, loud: str, service: str,
) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("calm", "urgent"), [
    # A lift that runs with its door open (B7) / a door that is only faulty or a way round.
    ("电梯门关不严，物业说下周来修", "电梯一停一停的，还老是关不严门就开着往上走"),
    ("电梯坏了，门开着，我们走楼梯吧", "小区电梯门关不严，开着门就往下走，吓死人"),
    ("电梯门关不严，物业说下周来修", "小区 电梯 老是 关 不 上 门 就 往下 走"),
    ("电梯修完了，维修的人门没关好就走了", "电梯门没关上就往下走了"),
    # Escape stairs locked or blocked (U4) / their lamp out, their door open.
    ("消防楼梯的灯坏了好几天了", "商场的消防楼梯门晚上全锁上了"),
    ("消防楼梯门开着，冷风老往里灌", "学校疏散楼梯被杂物堵死了"),
])
def test_a_lift_running_open_and_locked_escape_stairs_are_urgent(calm: str, urgent: str) -> None:
    got = classify(calm)
    assert got.urgency != "urgent", _cues(calm)
    assert got.emergency == "none", _cues(calm)  # a faulty door shuts nobody in
    got = classify(urgent)
    assert got.urgency == "urgent", _cues(urgent)
    assert got.emergency == "none", _cues(urgent)  # nobody trapped or hurt (E4)


@pytest.mark.parametrize("unit", ["肥皂水抹了冒泡没敢关", "化工罐车翻了往外淌", "人挤得摔倒了还在推",
                                  "锤子砸得咣咣的", "打火的时候火苗往外窜", "电梯门开着往上走",
                                  # review22's mends: the fitting tested, the spans, the dream's end
                                  "管子肥皂水抹了冒泡没敢关", "救护车的车费我妈吐血了",
                                  "热水器点火的时候火苗往外窜不敢用了", "梦见着火了吓醒了着火了",
                                  # cues23: the edge, the wiring's smell
                                  "他坐再楼顶边儿上说不想火了", "配电室冒火花有股胶皮味",
                                  # calm25: a story, a question, days ago, now
                                  "电影里演的着火了", "看了个电影，里面说被困", "用久了会着火吗",
                                  "两年前着火了", "现在楼道里全是烟"])
def test_the_new_cues_cost_work_in_proportion_to_length(unit: str) -> None:
    classify(unit)
    short = _work(unit * (1250 // len(unit)))
    long = unit * (5000 // len(unit))
    assert _work(long) < 5 * short


# review22 of the twenty-first round: the bill and the appliance frames quieted the whole
# call behind a guard that listed ways to be in danger now, and the list missed a mother
# vomiting blood, a heart attack told after the bill, a range hood still in flames; now they
# quiet only their own words. Bubbles anywhere were taken for a leak confirmed with soap.

@pytest.mark.parametrize(("text", "service"), [
    # The review's: the bill paid or waved aside, then someone ill now.
    ("救护车的车费我已经交了，可是我妈现在又吐血了，人迷迷糊糊的", "120"),
    ("急救车的车费怎么收的我不管了，我老伴现在心脏病犯了快派车", "120"),
    # As the recogniser wrote it (快 heard 块: no plea left).
    ("急救车 的 车费 怎么 收 的 我 不管 了 我 老伴 现在 心脏病 犯 了 块 派 车", "120"),
    # Ours: the bill beside an attack, a fire, breath that fails.
    ("救护车 的 钱 咋 收 的 我 不 管 了 我 爸 现在 抽搐 口吐白沫", "120"),
    ("欠了急救车的钱还没交，隔壁又着火了，烟很大", "119"),
    ("急救车车费交完了我爸又喘不上气了", "120"),
    # The review's appliance: the flames go on in the hood. Ours: one burning beside it, one
    # that grows, a child scalded at the ignition.
    ("燃气灶点火的时候一下子着了一大片，油烟机里头还有火苗往外窜，不敢用了", "119"),
    ("燃气灶 点火 的 时候 一下子 着 了 一大片 油烟机 里头 还有 火苗 往外 窜 不敢 用 了", "119"),
    ("电暖器用的时候插座冒火花，吓得不敢用了，屋里窗帘已经烧起来了", "119"),
    ("燃气灶点火的时候着起来了，火越来越大，我不敢用了", "119"),
    ("热水器打火的时候嘭一声，我儿子脸被烫伤了，这热水器是不是该换了", "120"),
])
def test_a_bill_or_an_appliance_quiets_only_its_own_words(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


@pytest.mark.parametrize("text", [
    # A bill, an ambulance ridden, an appliance's fault on use: still no hand-over.
    "急救车的钱到底咋收的，我妈坐了一趟说要交六百",
    "救护车的车费是怎么算的，我爸上周坐了一趟收了四百",
    "我爸坐的急救车今天寄来单子说欠了七百多的车费没结这个急救车的钱到底咋收的",
    "燃气灶打火的时候嘭的一声，火苗往外窜，吓得我不敢用了",
    "我家热水器点火的时候嘭一下，火苗子还往外窜，吓得我不敢用了，是不是该换了",
    "电暖器开的时候插座冒火花，吓得不敢用了",
])
def test_a_bill_or_an_appliance_alone_is_still_no_hand_over(text: str) -> None:
    got = classify(text)
    assert got.emergency == "none", _cues(text)
    assert any(m.startswith(f"{SILENCED}:") for m in got.matched), got.matched


@pytest.mark.parametrize(("text", "emergency"), [
    # The review's: washing-up bubbles and a cooker that does not light.
    ("洗洁精刷碗的时候起泡特别多，燃气灶打不着火，想问问邻居家的气也这样吗", "none"),
    # Ours: soap on hands, dishes, a cooker's head; a gas bill beside a valve not shut.
    ("用洗衣粉洗灶头起了好多泡，燃气灶打不着火，邻居家的气也这样吗", "none"),
    ("洗洁精洗完碗池子里一直冒泡，煤气费怎么这么贵，我还没敢关总阀", "none"),
    ("肥皂水洗手起泡，燃气表在外面，敲门没人来抄表", "none"),
    ("煤气罐旁边洗衣服洗衣粉起泡特别多，我还没敢关窗", "none"),
    # Soap applied to a fitting: a meter's joint, a valve, a pipe's joint tested by spraying.
    ("我拿肥皂水往燃气表接头上一抹，直冒泡，对门没人，关不上", "119"),
    ("燃气角阀那儿有味，用洗洁精水在角阀上涂了一圈，一直鼓泡，阀门拧不动", "119"),
    ("天然气管道接口喷了点肥皂水冒泡了，家里没人，我在外地关不了", "119"),
    ("楼道里一股煤气味，用洗洁精水一试冒泡了，是对门家的表，敲门没人", "119"),
])
def test_a_leak_confirmed_with_soap_is_soap_on_a_fitting(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    # A dream ends where the caller wakes: what they found then is now, told without commas.
    ("我梦见我爸心脏病犯了吓醒一看他真的倒在地上了", "120"),
    ("我 梦见 我 爸 心脏病 犯 了 吓醒 一看 他 真的 倒 在 地上 了", "120"),
    ("我梦见家里着火了醒来一看真的着火了", "119"),
    ("我梦见家里着火了结果醒来发现真着火了", "119"),
    ("我梦见我爸心脏病犯了吓醒了，想问问平时怎么预防", "none"),
    ("梦见着火了吓醒了一身汗，想问问家里该备灭火器吗", "none"),
    # A fire engine passing is its own words: the caller's fire beside it is handed over.
    ("消防 车 过去 了 我们 楼 也 着 了 三楼 冒 黑烟", "119"),
    ("刚才消防车过去了是不是哪儿着火了我们楼道里全是烟", "119"),
])
def test_a_dream_and_a_passing_engine_quiet_only_their_own_words(
    text: str, emergency: str,
) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    # Blood told by where it is, like 满脸是血: a bill before it no longer hides it (mend22c
    # left "救护车的钱…先不说了，我妈摔倒了头上全是血" quiet: the 救护车 cue was its only one).
    ("救护车的钱到底咋收的先不说了，我妈摔倒了头上全是血", "120"),
    ("我妈刚才在厕所摔倒了头上全是血", "120"),
    ("老人从楼梯上滚下来了，脸上都是血，叫也不怎么答应", "120"),
    # Past, as 满脸是血 is: the not-now frames keep it quiet.
    ("上个月我妈摔倒了头上全是血，现在想问医保能报多少", "none"),
    ("去年孩子磕了一下满头是血，缝了针，想问问学校的意外险怎么报", "none"),
])
def test_blood_on_the_head_or_face_is_a_medical_sign(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    # review24: a call for help run into the bill's words without a comma (the bill's gap
    # stops at a danger cue, as the appliance's stretch does), and an appliance's stretch
    # that tells of a blast, smoke or blood.
    ("救护车还不来我爸不行了车费我出", "120"),
    ("叫的救护车还没到我妈晕了车费我们付", "120"),
    ("救护车快点来人晕倒了车费我出", "120"),
    ("电动车充电器充电的时候炸了屋里全是浓烟不敢用了", "119"),
    ("电动车充电器充电的时候炸伤了满脸是血不敢用了", "120"),
    # The bill alone still quiet, with the ride told between, the injured carried too
    # (review25: 血 and 伤 alone as danger cues made these 120).
    ("救护车拉我爸去医院的车费怎么这么贵", "none"),
    ("救护车拉伤员的车费谁出", "none"),
    ("急救车拉伤者的账单寄来了", "none"),
])
def test_a_danger_told_inside_a_bill_or_an_appliance_stretch_ends_it(
    text: str, emergency: str,
) -> None:
    assert classify(text).emergency == emergency, _cues(text)

# --------------------------------------------------------------- twentieth round: a child
# not home hours past the usual time (heldout-20's one missed emergency; cues22, narrowed by
# mend28 and the lead after review29). cues22's quiets and its overdose cue were taken out:
# two reviews found real emergencies they silenced (docs/classification.md).

@pytest.mark.parametrize(("text", "emergency"), [
    # Hours past the usual time, or not home yet now, with a child or an impaired person named.
    ("我儿子八岁，平常五点前就回来了，这都七点了，电话手表也打不通", "110"),
    ("那个我就是问一下，我孙女上二年级，平时四点半就到家，现在都快七点了，学校说早放学了", "110"),
    ("我家 闺女 九岁 平时 五点 就 到家 了 现在 都 八点 多 了 同学 家 都 问 遍 了", "110"),
    ("孩子 放学 到现在 还 没 到家 老师 说 早 走 了 电话 手表 关机", "110"),
    ("我爸老年痴呆，平时遛弯一个钟头就回来了，现在都四个小时了", "110"),
    # The usual time asked about, a grown-up late, a student away, a late return told after.
    ("孩子平时五点就到家，学校说今天有活动，想问问一般几点结束", "none"),
    ("我儿子在外地上大学，平时周末回家，这周没回来", "none"),
    ("孩子昨天放学很晚才回来，说在同学家写作业，平时五点就到家了", "none"),
    ("我老公平时六点就到家了，现在都九点了还没回来，电话也不接", "none"),
    ("我儿子二十多了，出去喝酒现在还没回来", "none"),
    ("孩子平时五点回家，现在学校改成四点半放学了，想问问托管班几点接", "none"),
])
def test_a_child_not_home_hours_past_the_usual_time_is_110(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize(("text", "emergency"), [
    # Hours past, or dark, with a young child named.
    ("我闺女七岁，平时三点半就到家了，这都天黑了还没见人", "110"),
    ("孩子 上 三年级 平常 四点 就 回来 了 现在 都 两个 多 小时 了", "110"),
    # Minutes late; a grown or senior-high "child"; 回来过; an animal's food.
    ("孩子平时四点到家，现在都四点一刻了，是不是路上堵车", "none"),
    ("我家孩子二十五了，平时六点就回家，现在都九点了", "none"),
    ("孩子上高二，平常十点到家，现在都十二点了", "none"),
    ("小孩 到 现在 还 没 回来 过 一次 姥姥家 想 问问 怎么 坐车", "none"),
    # Where the child is, already known (review29).
    ("孩子平时四点就到家，现在都七点了，刚打电话说在同学家写作业呢", "none"),
    ("我儿子九岁，平时五点到家，这都八点了，老师说参加竞赛晚点回来", "none"),
    ("孩子 七岁 平时 四点 回家 现在 都 六点 多 了 他爸 带 他 去 看 电影 了", "none"),
])
def test_a_child_overdue_is_hours_late_and_young(text: str, emergency: str) -> None:
    assert classify(text).emergency == emergency, _cues(text)


@pytest.mark.parametrize("text", [
    # The parent's work, a call that found the watch off, a search at a friend's: none says
    # where the child is (review30).
    "我下班回家发现孩子不在，孩子八岁，平时五点就到家，现在都八点多了还没回来",
    "孩子九岁平时四点半就到家现在都七点了给他电话手表打电话说是关机了",
    "我家孩子七岁，平时四点就回来，现在都快七点了，我去同学家找了一圈也没有",
])
def test_a_child_overdue_is_not_quieted_by_words_that_do_not_place_the_child(text: str) -> None:
    assert classify(text).emergency == "110", _cues(text)


# Twenty-first round (cues23): what heldout-21 found wrong. Every sentence written for these
# tests; each loud one is checked clean and as `ticketing.degrade` writes it (seed 0), for a
# recogniser that mishears one character must leave a second cue.

STYLES = ["clean", "recogniser"]


def _as_said(text: str, style: str) -> str:
    """``text`` as written, or as a recogniser writes it (``ticketing.degrade``, seed 0)."""
    return degrade(text, seed=0) if style == "recogniser" else text

_AT_THE_EDGE = [
    # Told hesitantly, as a question: where the person is, and what they say.
    "我想咨询一下，我女儿刚才坐在我们小区天台边上，说活着没意思，我该怎么办，海淀区学院路。",
    "请问一下，有个小伙子站在桥的栏杆外面，一直往下看，嘴里说不想活了，通州区运河大桥。",
    "我就问一下，我对门的大姐爬到楼顶上去了，坐在边儿上哭，说不想活了，西城区德胜门。",
    "不好意思打扰一下，我弟弟现在骑在阳台栏杆外面，说不想活了，我们劝不下来，大兴区黄村。",
    "我想问一下我妈现在站在我们楼顶边上说她不想活了我不敢靠近朝阳区劲松",
    # Only where the person is, or only what they say.
    "那个我想问问，我儿子现在坐在我们楼楼顶边上，十八层，谁叫也不下来",
    "我想问一下，我老公喝了酒，一直闹着要跳楼，拦都拦不住",
    "我想问一下，我妹妹现在蹲在天台的边沿上，一直哭，劝也不听，朝阳区酒仙桥。",
    "那个请问一下，我哥刚才翻到大桥的护栏外头去了，说要跳河，丰台区卢沟桥。",
    # As a recogniser writes it: 在 heard 再, 活 lost, no commas.
    "我 想 问问 我 儿子 站 再 楼顶 边儿 上 好 半天 了 叫 他 也 不 下来",
    "那个 想 问 下 我 老婆 坐 再 屋顶 沿上 一直 哭 说 活着 没劲",
    "请问 一下 我 同事 在 天台 边上 坐 着 说 不想 火 了 我们 怎么 办",
]


@pytest.mark.parametrize("text", _AT_THE_EDGE)
@pytest.mark.parametrize("style", STYLES)
def test_someone_at_a_height_s_edge_who_will_not_live_is_110(text: str, style: str) -> None:
    said = _as_said(text, style)
    assert classify(said).emergency == "110", (said, _cues(said))


@pytest.mark.parametrize("text", [
    # Over (the not-now frame), an edge with no one at it, a base station on the roof.
    "我儿子上个月站在楼顶上说不想活了，现在看了心理医生好多了，想问问哪儿有心理咨询。",
    "楼顶边上的护栏锈断了，没人管，怕有人掉下去，朝阳区双井。",
    "小区新建了个基站就在我们家楼顶上，这个有没有辐射啊",
    "我们楼天台边上堆了好多杂物，物业也不清理",
    # On a roof, not at its edge; at an edge, with nothing wrong; low spirits asked about.
    "我们几个邻居晚上坐在天台上乘凉，物业说不让上去，这合理吗？",
    "我爸爬到房顶上修太阳能热水器，物业说要收钱。",
    "他们在桥上钓鱼，蹲在桥栏杆旁边，鱼线挂着路人了。",
    "邻居老太太在楼顶边上种菜，泥土老往下掉。",
    "我朋友说活着没意思，最近一直失眠，想问问哪里有心理咨询。",
])
def test_an_edge_without_a_person_in_danger_now_is_no_hand_over(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


_WIRING_BURNING = [
    # Sparks and a burnt-rubber or scorched smell from wiring, told a clause or more apart.
    "楼道里的电表箱一直嗡嗡的，往外冒火花，还有一股烧胶皮的味儿，通州区梨园。",
    "地下室那根电缆噼里啪啦的，满楼道都是焦糊味儿，丰台区方庄。",
    "插线板上充着电动车电瓶，插头那儿直打火，屋里一股电线烧焦的味，大兴区黄村。",
    # A habit told in another clause does not make the smell now a habit.
    "电表箱天天跳闸，刚才又冒火花，现在一股胶皮味。",
]


@pytest.mark.parametrize("text", _WIRING_BURNING)
@pytest.mark.parametrize("style", STYLES)
def test_wiring_with_a_burning_smell_now_is_119(text: str, style: str) -> None:
    said = _as_said(text, style)
    assert classify(said).emergency == "119", (said, _cues(said))


def test_sparks_and_a_scorched_smell_told_apart_are_119() -> None:
    # Clean only: as seed 0 writes it, 糊味 is heard 户味 and, since any smell beside sparks
    # is no longer a burning one (review31: arcing's ozone), nothing is left to read.
    text = "我们单元门口那个配电箱啪啪响，一会儿一个火星子，现在闻着一股糊味，海淀区五道口。"
    assert classify(text).emergency == "119", _cues(text)


@pytest.mark.parametrize("text", [
    # Written as a recogniser writes it.
    "那个 水管 不是 是 我们 楼 的 配电室 一直 嗡嗡 响 冒 火花 有 股 胶皮 味儿",
])
def test_wiring_with_a_burning_smell_now_is_119_recogniser_written(text: str) -> None:
    assert classify(text).emergency == "119", _cues(text)


@pytest.mark.parametrize("text", [
    # Food burnt on an electric cooker, something burnt on purpose or every day, a smell not
    # there, one that is over.
    "电饭锅做饭做糊了，一股糊味，开关也不灵了，想问问这锅能退吗。",
    "楼下饭馆天天烧东西，一股焦糊味，电线也乱拉，西城区。",
    "邻居在楼道里烧纸，一股焦味，电表箱就在旁边。",
    "插座有点发烫，没闻到焦味，想问问要不要换。",
    "家里电线老化，开关摸着发烫，有时候能闻到一股胶皮味。",
    "废品站后头有人烧电线炼铜，一股胶皮味，呛得人直咳嗽。",
    "我家电闸昨天冒火花还有糊味，电工今天已经换好了，想问问费用谁出。",
])
def test_a_burning_smell_that_is_not_the_wiring_s_now_is_no_hand_over(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


@pytest.mark.parametrize(("text", "category"), [
    # "X，不是，是Y": Y is what the call is about; X is taken back.
    ("嗯那个燃气，不是，是楼下那个配电室，一直往外冒火花，有股胶皮味儿", "power"),
    ("那个 燃气 不是 是 配电箱 一直 冒 火花 有 股 糊味", "power"),
    ("我们家暖气，不对，是自来水，一直发黄，喝不了", "water"),
    ("那个自来水 不是 是天然气 表那儿 一直 有 味儿", "gas"),
    # No correction: "不是是非" and "是不是" keep what is said.
    ("燃气费这事不是是非问题，燃气公司多收了钱就该退", "gas"),
    ("燃气管子那儿不是是不是漏气了，有股味儿", "gas"),
])
def test_a_self_correction_takes_its_first_word_back_for_the_category(
        text: str, category: str) -> None:
    assert classify(text).category == category, classify(text).matched


@pytest.mark.parametrize(("text", "service"), [
    # The same words beside a danger here and now: still handed over.
    ("刚看新闻说外地燃气爆炸了，我正看着呢，我家厨房突然着火了，快来人。", "119"),
    ("我老公说南方哪儿地震了，说着说着他就倒地上了，叫不醒。", "120"),
    ("新闻说外地有人拿刀砍人，现在我们小区门口也有个男的拿着刀追人。", "110"),
    ("看新闻说南方哪儿发大水了，我们这儿现在也淹了，我爸被困在屋里出不来。", "119"),
    ("我妈看新闻说外地燃气爆炸了吓得够呛，现在捂着胸口说胸口疼，喘不上气。", "120"),
    ("刚才我老公说外地哪儿着火了，结果我们楼道里现在也冒烟了。", "119"),
    ("我刚才听广播说外地有个小区燃气爆炸了，现在我们楼下也砰的一声，玻璃都碎了，有人在喊救命。", "119"),
    # Far away, but the caller's own son is in it.
    ("我儿子在外地上学，打电话说外地那边着火了他被困在宿舍里", "119"),
])
@pytest.mark.parametrize("style", STYLES)
def test_a_far_region_beside_a_danger_here_keeps_the_hand_over(
        text: str, service: str, style: str) -> None:
    said = _as_said(text, style)
    assert classify(said).emergency != "none", (said, _cues(said))
    if style == "clean":
        assert classify(said).emergency == service, _cues(said)


@pytest.mark.parametrize("text", [
    # A bottle or a brick thrown down that hurt someone, or one in the hand or thrown at
    # someone: handed over (cues23's quiet of a thing thrown down was removed, review31).
    "楼上往下扔了个酒瓶子，砸着一个老太太，头上全是血。",
    "楼上有人往下扔酒瓶子，砸中个小孩，倒地上不动了。",
    "喝醉的那个拿酒瓶子砸人，还在追。",
    "有人往我身上扔酒瓶子砸我，现在还在骂。",
    "楼上两口子打架，往下扔酒瓶子砸人。",
])
def test_a_bottle_that_hit_or_is_aimed_at_someone_is_handed_over(text: str) -> None:
    assert classify(text).emergency != "none", _cues(text)
    assert classify(text).urgency == "urgent", _cues(text)


@pytest.mark.parametrize("text", [
    # A lift stopped between floors with someone in it, however often it put itself right
    # before (cues23's quiet of a lift that 又自己好了 was removed, review31).
    "电梯老是停在半截上又自己好了，今天又停在半截了，我女儿一个人在里面。",
    "电梯 老是 停 在 半截 又 自己 好 了 今天 又 卡住 了 我妈 在 里面 出不来",
    "电梯又停在半截了，又自己好了一下又停了，我爸还关在里面。",
    "电梯停在七楼和八楼中间了，我和孩子在里面。",
    "电梯停在半截了，我按了警铃也没人应。",
])
def test_a_lift_stopped_with_someone_in_it_is_119(text: str) -> None:
    assert classify(text).emergency == "119", _cues(text)


# review31's mends (mend31): review31's own sentences that cues23 got wrong, written by
# review31 (/tmp/rv31), each a kind of failure. The quiets are gone, so these are handed over.

@pytest.mark.parametrize(("text", "service"), [
    # A far region's name or a caller's "我跟你讲" is no report of elsewhere.
    ("哎呀我跟你讲外地口音的俩男的在超市门口拿刀砍人呢都见血了", "110"),
    ("保安说西南方向那栋楼着火了火苗子蹿老高", "119"),
    ("你听我说外地来的一个小孩掉冰窟窿里了就在后海这儿", "119"),
    ("我跟你说南方花园小区三号楼冒黑烟了好像是五层", "119"),
    ("喂我跟你说南方航空大厦门口有个男的拿刀捅人了，捅了好几下，地上全是血", "110"),
    ("物业说东北方向那个锅炉房爆炸了有人埋底下了", "119"),
    ("就是那个我跟您说外省牌照那个大货车把骑电动车的轧了人趴那儿不动了", "110"),
    # The caller's own people told before the place.
    ("我媳妇在国外出差，刚才微信说国外那个酒店着火了楼道里全是烟出不去", "119"),
    # A thing thrown at people, still going on.
    ("楼下那醉鬼在楼下扔酒瓶子砸我们家窗户，砸碎了两块了，还骂骂咧咧说要上来", "110"),
    ("我们楼下停车的时候楼上那家往下扔砖头往我头上砸，故意的，现在还在扔", "110"),
    ("那人站楼顶上往下扔砖头砸底下的人，一边扔一边喊要砸死你们", "110"),
    # A lift that put itself right and then fell with people in it.
    ("电梯停在两层中间了，一会儿又自己好了，又往下掉了好几层，里面的人都摔了", "119"),
    ("电梯停在半截了，就自己好了一下，又停了，我们五个人都在轿厢里，闷得喘不上气", "119"),
])
def test_review31_real_emergencies_are_handed_over(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


@pytest.mark.parametrize("text", [
    # An animal on a ledge, a guard rail asked about, a place named by its station.
    "我家猫老蹲在窗台上，邻居说危险让我装纱窗，想问问这个物业管不管",
    "好多鸽子老蹲在窗台上拉屎，窗户都没法开，能不能管管养鸽子的",
    "孩子老爱爬窗台，我们想装个防护栏，问问要不要物业批准",
    "公交站旁边那个楼楼顶边上的广告牌晃悠得厉害，风一大就哐哐响",
    "地铁站出口那个楼窗台上的空调外机锈得厉害，看着要掉",
    "北京西站旁边那栋楼楼顶边上的大字招牌缺了俩字，晚上亮着挺难看",
    # Window cleaners, re-tiling, a film.
    "对面楼有个清洗外墙的蜘蛛人蹲在楼顶边上抽烟，也没系安全绳，看着怪吓人的",
    "我们家请的擦窗户的阿姨蹲在窗台上擦外面，我看着害怕，想问问家政公司有没有安全要求",
    "我们小区的保洁阿姨擦楼道窗户，蹲在窗台上擦，物业也不给配安全带，我看着替她害怕",
    "物业说要翻新楼顶边沿的瓷砖，想问问维修基金怎么用",
    "昨晚看了个电影，主角蹲在天台边缘哭了半天，看得我一宿没睡着，这种片子能不能别放",
    "昨天带孩子看了个电影，结尾那个男的说要跳下去，孩子吓哭了，想问问电影院有没有分级",
    # Dancing, a row about quilts, swimming, diving, a tantrum.
    "我跟我妈每天晚上到河边的桥边上遛弯，那块儿有帮人天天跳广场舞音响震天响",
    "对面那个姑娘天天在天台边上拍抖音跳舞，音乐放得特别大声",
    "我们小区几个老人在楼顶边上晒被子，老跟楼下的吵架，说挡着光了",
    "夏天能不能在温榆河里游泳啊，我儿子老想跳河里游泳，我不让他非要去",
    "我儿子学跳水，站在十米台上说要跳下去又不敢，教练骂了他一顿，这个体校能投诉吗",
    "我儿子不给买手机就寻死觅活的，想问问有没有家庭教育的咨询",
    # Firecrackers, arcing's ozone, a new charger, a tyre shop, soldering, a smell now and then.
    "过年楼下放鞭炮噼里啪啦的，满楼道一股火药味，电线上还挂着灯笼，能不能管管",
    "楼下小孩玩摔炮，噼里啪啦的，一股火药味，电表箱就在那儿，能不能管管",
    "配电室里面老是有啪啪的放电声，还有股臭氧味，是不是正常，想问问找供电局还是物业",
    "新买的电动车充电器一股胶皮味儿，用了两天，想问问能不能找商家退",
    "小区门口新开的轮胎店一股橡胶味，电线乱拉在地上，能不能管管",
    "装修师傅在屋里弄电线，拿电烙铁焊接头，一股胶皮味，楼上邻居说呛",
    "我们单位楼下那个变电箱老是啪啪响，偶尔还有股焦味，想问问找谁来检修一下",
])
def test_review31_calm_calls_are_not_handed_over_by_the_new_cues(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


@pytest.mark.parametrize("text", [
    # 不对/不是 with no pause before it says what is wrong; it takes nothing back.
    "我们家暖气费不对，是按建筑面积算的，应该按使用面积算吧",
    "水表读数不对，是物业抄错了，多收了我八十块",
    "这个月电费不对，是按商业电价收的，我家是居民用电",
])
def test_a_complaint_that_something_is_wrong_is_no_self_correction(text: str) -> None:
    assert without_retracted(text, classify_module.load_rules()) is None


# review35: a word about the past in a middle clause ("谁都知道危险", "早就说有隐患") silenced a
# shock told after it once every rule read its `unless` over the whole match; now only a rule
# that opts in (emergency.wiring_burning's habit words) does.
@pytest.mark.parametrize(("text", "service"), [
    ("就是那个变压器，谁都知道危险，刚才一个收废品的大哥过去触电了，人倒那儿了", "120"),
    ("那个高压电，老人们都说危险，刚才有个孩子爬树触电了，挂在树杈上了", "120"),
    ("那个变压器，早就说有隐患，刚才一个工友靠上去触电了，这会儿人还在那儿抽抽呢", "120"),
])
def test_review35_a_past_warning_in_a_middle_clause_leaves_the_shock_handed_over(
    text: str, service: str,
) -> None:
    assert classify(text).emergency == service, _cues(text)


# review37: call-wide words for calm calls beside the edge cues (晒太阳, 乘凉, 防盗窗) silenced
# the cue where the same call has someone at the edge now; not added.
@pytest.mark.parametrize("text", [
    "哎呀妈呀，天台上本来好几个人晒太阳，现在有个姑娘翻到护栏外头去了，谁劝也不听",
    "我老公说上去乘凉，结果骑在楼沿上了，喝了酒，说不想活了",
    "我们家装了防盗窗，可我儿子从另一个屋的窗户爬出去了，蹲在窗台上哭，说不想活了",
])
def test_review37_someone_at_the_edge_beside_a_calm_word_is_handed_over(text: str) -> None:
    assert classify(text).emergency == "110", _cues(text)


# Twenty-third round (the lead, after fold25): "着了" said of a thing that burns is a fire the
# rules read as nothing; only the model handed a kitchen fire over, at its bar. Said of a
# cold, a worry or an engine started it is no fire, and a past one stays past.
@pytest.mark.parametrize(("quiet", "loud"), [
    ("孩子没盖被子着了凉，发烧三天了，社区医院几点开门", "孩子屋里的被子着了，烟特别大"),
    ("昨天我家油锅着了一下，拿锅盖盖灭了，想问问油烟机要不要换",
     "我家油锅着了，抽油烟机也着了，灭不了"),
    ("上个月邻居家厨房着了，现在楼道还是黑的，物业也不管", "对门厨房着了，往外冒黑烟"),
    ("我家车打着了但是开不动，能帮忙叫个拖车吗", "楼下充电的电动车着了，火苗子老高"),
])
def test_a_thing_that_burns_said_to_be_alight_is_a_fire(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "119", _cues(loud)
    assert classify(degrade(loud, seed=0)).emergency == "119", _cues(degrade(loud, seed=0))

# Twenty-third round (calm25): calm calls with danger words handed over to 110/119/120 by a
# rule's cue. Each kind told both ways, every sentence written for these tests: the calm
# ones the `[not_now]` slots quiet (a story told, a hazard asked about, a past said in more
# ways), clean and in recogniser form (no punctuation, words spaced), and real emergencies
# with the same words, which keep their hand-over and service.

@pytest.mark.parametrize("text", [
    # A film, a drama, a documentary, a novel told (`seen`).
    "昨天看了一部电影，里面有个小孩被困在着火的楼里，我想问问我们这栋楼的消防栓有没有水",
    "电视剧里演的是煤气爆炸，我妈看完就担心我们家的燃气灶，想找人来检查一下",
    "我儿子说动画片里有人掉进冰窟窿了，问我冬天小区的湖能不能去滑冰",
    "那个纪录片讲有人被困在矿井里好几天，我们这边的矿上现在还有人干活吗",
    "电视剧 里 演 有人 被困 在 电梯 里 我 想 问问 我们 楼 的 电梯 啥时候 年检",
    # A hazard asked about, nothing happening (`ahead`).
    "请问燃气灶上炖着汤出门一会儿会着火吗",
    "小太阳取暖器放在床边容易起火吗",
    "暖气片一直开着的房间里放液化气罐会爆炸吗",
    "老小区的电表箱有没有漏电的危险，物业说没事",
    "请问 充电宝 放 枕头 边上 充 一晚上 会 爆炸 吗",
    # A past said in more words (`over`).
    "两年前我们楼里有人被抢劫过，楼门口的灯到现在还没装",
    "前些日子邻居家的孩子从滑梯上摔下来受伤了，那个滑梯能不能修一修",
    "前一阵我们村有人溺水了，河边到现在也没个警示牌",
    "前一阵子 小区 里 有人 打架 保安 也 不管 想 反映 一下",
])
def test_calm25_a_story_a_question_or_a_past_is_no_hand_over(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


def _without_quiets(text: str) -> str:
    """The hand-over of ``text`` with no `[not_now]` slot at all: what its cues alone say."""
    rules = classify_module.load_rules()
    return classify(text, replace(rules, not_now=None)).emergency


@pytest.mark.parametrize(("text", "service"), [
    # The story's words beside a danger now: the caller's own place, a child copying it, a
    # fire in the cinema, watching only.
    ("上回就着过一次，这回又冒烟了，火苗子往上窜", "119"),
    ("正看电视剧呢，突然楼道里全是烟", "119"),
    ("这味儿这么冲会不会炸啊", "119"),
    ("演习的时候有个人真晕倒了", "120"),
    ("电影里演的跟我们这儿一样，我们楼现在着火了", "119"),
    ("我看了部电视剧刚回家，一开门屋里着火了", "119"),
    ("电影院里着火了，好多人往外跑", "119"),
    ("电视剧里有人被绑架了，我家孩子刚才真被一个男的拽上车了", "110"),
    # A question beside a danger told: before it, after it, or a sign that it has begun.
    ("这个电暖器会着火吗，已经开始冒烟了", "119"),
    ("插线板冒火星了会着火吗", "119"),
    ("煤气罐会爆炸吗，现在着火了", "119"),
    # A past, then now again or now.
    ("两天前就着过一次，今天又着火了", "119"),
    ("前些日子他就打过我，今天又拿着刀堵在门口", "110"),
    ("前一阵就有人说电线老化，今天楼道里全是烟", "119"),
    ("十分钟前我爸晕倒了，现在还叫不醒", "120"),
])
@pytest.mark.parametrize("style", STYLES)
def test_calm25_a_danger_now_beside_those_words_is_handed_over(
        text: str, service: str, style: str) -> None:
    said = _as_said(text, style)
    if style == "recogniser":
        # Where the recogniser lost every cue no slot is to blame ("味儿" heard 为儿): the
        # hand-over is the model's. Otherwise the cues left are not quieted.
        assert classify(said).emergency == _without_quiets(said), (said, _cues(said))
        return
    assert classify(said).emergency == service, _cues(said)


def test_calm25_a_story_quiets_its_cues_but_marks_nothing_for_the_model() -> None:
    """A cue quiet only inside a story leaves the model free (no ``SILENCED``): the danger
    told after it may have no cue of its own, and the mark would stop the model's hand-over
    too. A news report of a danger elsewhere still marks the call, as before."""
    calm = "看了个电影，里面有人煤气中毒了，想问问家里的燃气报警器去哪儿买"
    assert classify(calm).emergency == "none", _cues(calm)
    loud = "看了个电影里面有人煤气中毒我现在也闻到家里一股煤气味头晕得厉害"
    got = classify(loud)
    assert not any(m.startswith(SILENCED) for m in got.matched), got.matched
    news = "刚才电视上说有个小区着火了，想问问我们小区的消防栓有没有水"
    got = classify(news)
    assert got.emergency == "none"
    assert any(m.startswith(SILENCED) for m in got.matched), got.matched


@pytest.mark.parametrize(("text", "service"), [
    # Goods on sale (`hazard_only`) with the seller or a shopper down in the same clause: the
    # clause was quiet and marked no victim (calm25).
    ("菜市场里有个在卖水果的阿姨晕倒了", "120"),
    ("夜市 上 一个 在 卖 烤串 的 小伙子 突然 晕倒 在 地上", "120"),
])
def test_calm25_a_seller_down_is_handed_over(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


def test_calm25_a_seller_attacked_is_not_marked_unhurt() -> None:
    """No rule cue for a stabbing told so: the model's hand-over, which the mark stopped."""
    got = classify("商场里有人在卖衣服的时候被人捅了一刀")
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in got.matched), got.matched


@pytest.mark.parametrize("text", [
    "小区门口有个流动摊贩在卖野蘑菇，颜色花花绿绿的",
    "早市 上 有人 在 卖 自己 采 的 野 蘑菇",
])
def test_calm25_dubious_food_on_sale_stays_no_hand_over(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


# Twenty-fourth round (cls26): emergencies told in a calm frame, and calm calls handed over.
# A drill, a talk or a training course framed the whole call and silenced a danger really
# happening in it; a fear ("怕着火") and a stove lit on purpose ("炉子着了") were handed to
# 119; and some dangers now had no cue at all (a person down a pit, held by the current, a
# smell behind a door nobody answers). Every sentence written for these tests; each test
# fails on main 336dc0e.

@pytest.mark.parametrize(("quiet", "loud", "service"), [
    ("小区搞消防演习，模拟有人晕倒，教大家怎么做心肺复苏，讲得挺好",
     "小区搞消防演习的时候，一个大妈突然晕倒了，脸色发白", "120"),
    ("公司组织消防培训，讲了电动车起火怎么逃生，想问问还有没有下一期",
     "公司消防培训刚开始，楼下车棚真起火了，火苗子蹿得老高", "119"),
    ("单位搞防汛演练，河边拉了警戒线，想问问什么时候撤",
     "防汛演练还没结束，河边有个孩子掉水里了，不是演的，在水里扑腾", "119"),
    ("社区讲座讲了老人摔倒以后应该怎么扶，讲得特别好",
     "在社区听健康讲座，旁边一个老爷子突然抽搐起来，口吐白沫", "120"),
    ("想问问单位搞的急救培训，要是有人喘不上气应该怎么办",
     "公司搞安全培训呢，后排一个同事捂着胸口喘不上气，嘴唇发紫", "120"),
    # As a recogniser writes them: words spaced, no punctuation, one clause.
    ("小区 搞 消防 演习 模拟 有人 晕倒 教 大家 怎么 做 心肺复苏",
     "小区 搞 消防 演习 呢 结果 一个 大爷 突然 晕倒 了 叫 他 没 反应", "120"),
    ("公司 组织 消防 培训 讲 了 电动车 起火 怎么 逃生",
     "公司 消防 培训 刚 开始 楼下 车棚 突然 着火 了 火苗 子 蹿 得 老高", "119"),
])
def test_cls26_a_danger_real_now_in_a_drill_or_a_talk_is_handed_over(
        quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("quiet", "loud"), [
    # A fear of what has not happened / the sign now beside the fear.
    ("楼道里堆了好多纸箱子，我怕着火，能不能让物业清一清",
     "楼道里的纸箱子已经冒烟了，我怕着火，赶紧派人来"),
    ("家里的燃气热水器用了十几年了，总担心会爆炸，想问问该不该换",
     "燃气热水器着火了，火苗子往外窜，我担心会爆炸"),
    ("我家老人冬天爱用电热毯，我老怕它着火，有没有更安全的",
     "电热毯已经烧起来了，我怕它引着被子"),
    # The fear's word quiet, the smell filling a room is B4's own cue.
    ("家里燃气灶有点旧了，我怕会爆炸，能换个新的吗", "我好怕会爆炸，屋里全是煤气味"),
    # A stove lit on purpose / a fire the stove started.
    ("屋里生的炉子着了，屋里一会儿就暖和了",
     "屋里的炉子把旁边的柴火引着了，火苗子往屋顶上蹿"),
    ("我把炉子点着了，屋里暖和多了，就是有点呛",
     "炉子边上的被子着了，屋里全是烟"),
])
def test_cls26_a_fear_or_a_stove_lit_is_no_hand_over(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "119", _cues(loud)


def test_cls26_a_fear_quiets_its_cue_but_marks_nothing_for_the_model() -> None:
    """A fear says nothing of the call's own danger: the model stays free (no ``SILENCED``)."""
    got = classify("我怕着火")
    assert got.emergency == "none"
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in got.matched), got.matched


@pytest.mark.parametrize(("text", "service", "alike"), [
    # Each new cue with a look-alike it must leave alone ("" where the sentence has none).
    ("工地上一个工人掉进基坑里了，爬不上来，坑里还有水", "119", ""),
    ("我爸在河滩上陷进淤泥里了，越陷越深", "119", "他家的车陷泥里了，出不来，能不能找个拖车"),
    ("我儿子爬上去够风筝，树枝断了，他挂在半空下不来", "119",
     "他家空调外机的架子锈了，外机挂在半空晃悠"),
    ("我媳妇插插头的时候让电着了，手粘在插座上撒不开", "120", ""),
    ("我老伴儿修灯的时候让电着了，手粘在灯座上撒不开", "120", ""),
    ("孩子吃完东西肚子疼得满地打滚", "120", ""),
    ("老人在家拉肚子拉脱水了，瘫在床上叫不应", "120", ""),
    ("演习放的烟散了以后，发现一个保洁大姐晕在楼梯间了", "120", "孩子一坐车就晕，晕在车上好几回了"),
    ("对门一股煤气味，敲了半天门也没人应", "119",
     "我们单位楼下有家小卖部，敲门半天没人应，门口有股酸味"),
    ("楼梯间里的烟越来越大，还有股糊味儿", "119", "楼下饭馆的烟越来越大，天天熏得我们开不了窗"),
    ("厨房的管子漏了，嘶嘶直响，我家那个阀门怎么也关不上，用的是天然气", "119",
     "燃气表的阀门拧着有点紧，想找人来看看"),
    ("插线板这会儿冒烟了，一股焦糊味儿", "119", "门口的水管子冻裂了，敲了半天物业的门也没人应"),
])
def test_cls26_a_danger_now_told_without_the_alarm_words_is_handed_over(
        text: str, service: str, alike: str) -> None:
    assert classify(text).emergency == service, _cues(text)
    if alike:
        assert classify(alike).emergency == "none", _cues(alike)


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # A past said the Beijing way (昨儿) / an illness that began then and goes on.
    ("昨儿晚上小区门口有人打架，警察来了都带走了，能不能多安排人巡逻",
     "昨儿开始我爸就发高烧，现在叫不醒了", "120"),
    # Fuel still used is a habit, no fire going on: a news report stays a report / a stove
    # still burning with someone overcome beside it.
    ("电视上说烧蜂窝煤容易煤气中毒，我们村好多人家还烧蜂窝煤呢，能不能来宣传一下",
     "村里老人还在烧炕，屋里一股煤烟味，老人躺在炕上叫不醒", "120"),
    # A safety film or a documentary told with what it shows / a fire here after one.
    ("看了个消防宣传片，里面有人被困在火里，想问问家里该备点啥",
     "刚看完消防宣传片，我们楼道里现在冒烟了", "119"),
    ("我看了个讲化工厂爆炸的纪录片，想问问我们这边的化工厂离居民区多远",
     "看了个纪录片刚出门，楼下化工厂的罐子爆炸了，火很大", "119"),
    # An ambulance's fare named a clause after it / someone still unconscious beside it.
    ("我想问问，救护车把老人拉到医院，这个车钱医保能报吗",
     "救护车来了把人拉到医院，这个车钱多少啊，我妈现在还昏迷着", "120"),
])
def test_cls26_a_past_a_habit_or_a_film_told_is_no_hand_over(
        quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # "真着火了" as "if there were a fire" / a place that really caught fire.
    ("消防通道让车堵死了，真着火了消防车都进不来",
     "听防火讲座的时候，楼下厨房真着火了，烟都冒上来了", "119"),
    # A stove's or a kang's use / its fumes with someone overcome (C9: 120, not the smoke's 119).
    ("我们那炕一烧着了屋里就有烟味，想问问炕该怎么修",
     "烧炕烧得屋里全是烟，老人躺在炕上喊不醒", "120"),
    # A drill's content / someone really down in it, told by the signs alone.
    ("学校组织防踩踏演练，孩子们练习躺在地上不动",
     "演习的时候一个人从二楼窗户掉下去了，躺地上不动了", "120"),
    # The past told, then it happening again, as a recogniser writes it (one clause: the
    # past word quieted the whole call).
    ("上礼拜 电梯 困过 一回 人 物业 说 修好 了",
     "上礼拜 电梯 刚 困过 一回 人 今儿 又 卡 了 我妈 在 里头", "119"),
    ("前些天 这儿 塌过 一回 后来 填上 了",
     "前些天 这儿 塌过 一回 今儿 早上 又 塌 了 一个 骑车 的 连人带车 掉进去 了", "119"),
    ("上回 楼道 里 电动车 着过 一次 火",
     "上回 就 着过 一次 这回 楼道 里 电动车 在 冒 黑烟", "119"),
    ("去年 河里 淹死 过 人 到 现在 也 没 个 护栏",
     "去年 河里 淹死 过 人 今天 又 有 个 孩子 掉 河里 了 在 水里 扑腾", "119"),
    # A gas smell told / filling a room (B4).
    ("厨房里有点煤气味，我把阀门关了，开窗了", "孩子把灶打开了，现在一屋子煤气味", "119"),
    # A course's advice asked about / the caller's own place now beside it.
    ("培训说煤气泄漏不能开灯，是真的吗", "培训说煤气泄漏不能开灯，我家现在满屋子煤气味", "119"),
    # A blast asked about / it happened while asking, one clause as a recogniser writes it.
    ("我 想 问 高压锅 用 了 十年 会 不会 炸",
     "我 刚 问 完 高压锅 会 不会 炸 这会儿 它 真 炸 了 我妈 脸上 烫伤 了", "120"),
])
def test_cls26_a_danger_again_or_really_now_is_handed_over(
        quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


# Twenty-fifth round (cls27): emergencies the rules did not see, told in everyday words. A
# thing on fire that was not in emergency.fire's list, bleeding told by how it flows, a theft
# of public property going on, and a threat to one's life once the act is done (pills or
# poison swallowed: 120; gas turned on: 119). Every sentence written for these tests, each
# loud one missed or given the wrong service by the rules of main ac4e096; each quiet one a
# look-alike the new cues must leave alone.

@pytest.mark.parametrize(("quiet", "loud"), [
    # A likeness / a field on fire, told by the fire it makes.
    ("我着急上火，嗓子跟着了火似的，社区医院能开中药吗",
     "村西头的玉米地着了，一大片都是火，风一吹往我们这边过来了"),
    # A barbecue's coals / a tricycle burning, 呼呼.
    ("楼下烧烤摊炭火烧得呼呼的，烟全往我们家窗户里灌",
     "我家楼下停的电动三轮着了，火呼呼的，挨着就是单元门"),
    # A bonfire on purpose / a pile of boxes, 噼里啪啦.
    ("过年在院里生了一堆篝火，柴火烧得噼里啪啦的，孩子们可高兴了",
     "快递站门口那一堆纸箱子着了，现在烧得噼里啪啦的，也没人管"),
    # Anger / a shop sign burning.
    ("我心里火挺大的，物业收了钱不干活", "对面楼顶上的广告牌火挺大的，还往下掉东西"),
    # A fire put out last week / a wood on fire spreading.
    ("上礼拜楼下车棚着过一次火，早扑灭了，想问问保险怎么赔",
     "山上那片松树林着了，一溜火往下走，都快到村边了"),
    # Keys found / a shelf that water does not put out.
    ("钥匙找着了，谢谢你们，不用派人来了", "厨房墙上那块木头架子着了，我泼了两盆水没泼灭"),
    # A water heater's flame that went out / a kiosk ignited and crackling.
    ("热水器点火的时候呼的一下着了，现在火灭了，用着挺正常",
     "菜市场门口那个报刊亭烧着了，烧得噼里啪啦的"),
    # A fire supposed / a woodpile alight that water does not reach.
    ("仓库门口堆满了货，真着了火往哪跑啊", "后院柴火堆不知道咋着了，火挺大，我们拿水浇不灭"),
    # Firecrackers at a wedding / reeds burning toward the village.
    ("小区门口办婚礼放礼炮，噼里啪啦响了半个钟头", "我们村苇子地着了一大片，呼呼地往村里烧"),
    # Paper money at a grave / what it set alight a clause later.
    ("清明给我爸上坟烧纸，纸钱呼呼地着，想问问公墓那边让不让烧",
     "上坟烧纸把山坡上的枯草点着了，火呼呼往上窜"),
    # A fever / a scrapyard pouring black smoke.
    ("孩子发烧烧到三十九度，社区医院晚上开门吗", "村口那个废品站这会儿冒着黑烟，一股一股往上翻"),
    # A temper / a haystack's fire.
    ("我爸脾气火挺大的，跟物业吵起来了", "场院里那片麦秸垛火挺大的，往村里烧过来了"),
    # Smoke as a habit / a warehouse smoking now.
    ("饭馆后厨的排风口天天冒着黑烟，熏得我们没法开窗", "仓库这会儿冒着黑烟，里头还有人"),
])
def test_cls27_a_thing_burning_now_is_119_whatever_it_is(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "119", _cues(loud)


@pytest.mark.parametrize(("quiet", "loud"), [
    ("孩子流鼻血了，一会儿就止住了，想问问是不是上火，挂哪个科",
     "我孩子在院里摔了一跤，脑门磕台阶上了，血呼呼往外冒"),
    ("小孩摔了一跤，膝盖出了点血，已经贴了创可贴，学校不通知家长对吗",
     "我儿子让碎玻璃划了，胳膊上一道大口子，血哗哗地流"),
    ("拔完牙出了好多血，后来医生缝了一针才止住了，想问问能报销吗",
     "我老伴儿鼻子出血一直止不住，都快一个钟头了，毛巾都湿透了"),
    ("我们小区有人在楼下杀鸡，血流了一地也不冲，臭死了",
     "工地上有个师傅让钢筋扎穿了腿，血一股一股往外涌"),
    ("牙龈老出血，刷牙的时候一嘴血，挂口腔科还是内科",
     "我媳妇刚生完孩子在家，突然下面出了好多血，脸都白了"),
])
def test_cls27_bleeding_told_by_how_it_flows_is_120(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "120", _cues(loud)


@pytest.mark.parametrize(("quiet", "loud"), [
    # A theft found afterwards (U4 for the hole, no hand-over) / covers lifted now.
    ("今天早上起来发现小区门口的井盖让人偷了，黑窟窿敞着",
     "楼下有几个人在撬井盖往车上装，就现在"),
    ("我们村变压器的电缆昨天夜里让人剪了，今天全村都停电了",
     "我们村口那个变压器，现在有俩人正在那儿剪电缆，开着个三轮车"),
    # The power company's works / someone the caller doubts is theirs.
    ("供电所的人在村口剪电缆换新线，说要停电一下午，真的吗",
     "马路边上那排路灯，有人正搭着梯子剪线呢，看着不像供电局的"),
    # The property company's works / a railing taken and carried off.
    ("物业正在拆小区的旧栅栏，电锯声太大了，能不能中午别干",
     "我们村几个人正在拆高速边上的护栏，往车上扔，现在还在拆"),
    # Seen on the cameras afterwards / locks cut now.
    ("昨天有人在我们小区剪电动车的锁，偷走了两辆，监控拍到了，派出所能抓吗",
     "有俩人在小区车棚里剪电动车的锁，已经推走一辆了，还在那儿呢"),
    # A site cutting steel at night (noise) / steel stolen now.
    ("工地晚上十一点了还在用电锯切割钢筋，吵得睡不着",
     "对面工地有人趁着天黑往外偷钢筋，车还在那儿装着呢"),
    ("村里有人在河滩上偷偷挖沙子，河岸都挖塌了", "有个人正在我们楼下挨个拉车门，有一辆已经让他打开了"),
    # Thieves nowadays, a question about one's own lock (现在 is "nowadays", 小偷 a noun) /
    # a lock being cut now (the lead, a blind probe's calm line handed to 110 by this rule).
    ("网上说现在小偷都用电子工具开锁，我家刚装的智能锁安全吗",
     "楼下车棚有个人正在撬电瓶车的锁，撬了好几辆了，人还在"),
    ("听说现在小偷都带着钳子专剪车锁，电动车用哪种锁靠得住",
     "对门有个人正在撬锁，拿着螺丝刀鼓捣半天了，那家人出差了"),
])
def test_cls27_public_property_stolen_now_is_110(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "110", _cues(loud)


@pytest.mark.parametrize(("quiet", "threat", "act", "service"), [
    # Low spirits asked about / a threat (110, B10) / pills or poison taken (120, E3).
    ("我爸有抑郁症，老说活着没意思，想问问哪儿有心理咨询",
     "我姐刚才发消息说不想活了，现在电话关机了",
     "我姐刚才喝了农药，说不想活了，现在吐了", "120"),
    ("楼下那家农资店一股农药味，熏得人头疼，能不能让它搬走",
     "我弟喝多了闹着说不想活了，谁劝也不听",
     "我弟说不想活了，屋里一股农药味", "120"),
    ("我同学上个月吃安眠药被救过来了，现在想找个心理援助热线",
     "我对象说不想活了，我现在往她家赶，她住朝阳区团结湖",
     "我对象说不想活了，把安眠药全吃了，我现在往她家赶", "120"),
    # Gas turned on and left unlit, someone shut in with it (119, E2/B4).
    ("想问问家里煤气灶的阀门老化了要不要换，谁来换",
     "我哥说不想活了，一个人在家，门反锁着",
     "我哥说不想活了，把煤气打开了，人在厨房里，门反锁着", "119"),
    ("燃气公司的人把阀门打开了，还是没气，这是怎么回事",
     "对门老太太老说活着没意思，今天说要寻死",
     "对门老太太说活着没意思，把煤气灶打开没点火，敲门她不开", "119"),
])
def test_cls27_a_threat_to_ones_life_gives_way_to_the_act_told(
        quiet: str, threat: str, act: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(threat).emergency == "110", _cues(threat)
    assert classify(act).emergency == service, _cues(act)


@pytest.mark.parametrize(("text", "service"), [
    ("村西头的玉米地着了，一大片都是火，风一吹往我们这边过来了", "119"),
    ("我家楼下停的电动三轮着了，火呼呼的，挨着就是单元门", "119"),
    ("我儿子让碎玻璃划了，胳膊上一道大口子，血哗哗地流", "120"),
    ("楼下有几个人在撬井盖往车上装，就现在", "110"),
    ("我姐刚才喝了农药，说不想活了，现在吐了", "120"),
])
def test_cls27_the_new_cues_survive_the_recogniser(text: str, service: str) -> None:
    said = _as_said(text, "recogniser")
    assert classify(said).emergency == service, (said, _cues(said))


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # A fuel still used (烧着) is a habit: it no longer undoes a fear's quiet / a cylinder on fire.
    ("家里还烧着液化气，我老怕罐子爆炸，能不能早点通天然气", "液化气罐子着火了，我怕它爆炸", "119"),
    # A stove's fumes asked about with how it is used / someone overcome by them now.
    ("烧蜂窝煤炉子容易煤气中毒吗，一氧化碳报警器哪儿能领", "烧蜂窝煤炉子，我爸现在晕过去了", "120"),
    # A child feared lost on a trip ahead / lost now.
    ("下礼拜学校组织春游，我担心孩子走丢，学校有预案吗", "孩子在商场走丢了，到现在还没找着", "110"),
])
def test_cls27_a_fear_or_a_question_ahead_is_no_hand_over(
        quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("quiet", "loud"), [
    # Put out (the call is over) / not put out: 没扑灭 is no frame word.
    ("楼道里纸箱子着火了，我们已经扑灭了，想问问谁来清理",
     "电暖器把窗帘点着了，我扑了半天没扑灭"),
])
def test_cls27_a_fire_not_put_out_is_no_fire_over(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "119", _cues(loud)


@pytest.mark.parametrize(("quiet", "loud"), [
    # A finger caught in a door / a child's head cut told by the wound alone.
    ("孩子手指头让门夹了一下，出了点血，贴了创可贴，想问问门上能不能装防夹条",
     "我家孩子在幼儿园玩滑梯，额头开了个大口子"),
    ("孩子上周脑袋磕破了缝了三针，想问问幼儿园该不该赔",
     "楼上掉下来个花盆，砸着一个过路的大爷，脑袋流血了"),
])
def test_cls27_a_head_cut_is_120_and_a_collision_stays_the_polices(quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "120", _cues(loud)
    crash = "路口一辆车把骑车的大爷撞了，大爷脑袋流血了"
    assert classify(crash).emergency == "110", _cues(crash)


# review56's calm sentences that cls27's rules handed over: 现在 as "nowadays" and workers at
# work (theft_now), a figurative 火 (burning_now), an appliance's flame asked about, blood
# that is a period, a nosebleed asked about, a donation or a slaughter (bleeding_now).
@pytest.mark.parametrize("text", [
    "现在老有人偷井盖，能不能换成防盗的",
    "现在偷电动车电瓶的特别多，小区能不能装个监控",
    "装修师傅正在剪电线，要停电多久",
    "电工正在剪电线接新灯，楼道黑了",
    "联通公司的人正在剪旧网线，网断了找谁",
    "工人正在锯旧护栏，噪音太大了",
    "秋冬季节森林火险越来越大，建议多设防火宣传",
    "跟物业吵了半天，他火越来越大",
    "直播带货火越来越大，想问问怎么办营业执照",
    "我爸一着急火挺大，血压就上来了",
    "热水器火苗呼呼的，是不是燃气压力太大",
    "我来例假出了好多血，想问妇科怎么挂号",
    "孩子流鼻血，出了好多血，想问去哪个医院看",
    "今天献血出了好多血，单位给不给假",
    "过年村里杀猪，血哗哗地流了一盆",
])
def test_cls27_everyday_words_are_no_emergency(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


# Twenty-fifth round (cls28): emergencies told plainly that the rules still missed: a person
# shocked and down, water rising where people cannot get out, someone gone into the water,
# a farewell with a means and no answer, a scald told by its size, a body caught in a
# machine, an animal attacking now, a pressure vessel swelling, a person about to fall; and
# calm look-alikes main handed over (a poisoning had once, first aid to learn, a safety
# rumour checked). Every sentence written for these tests; each loud one missed or given
# the wrong service by the rules of main 6ad09f0, each quiet one a look-alike left alone.

@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # A tingle reported / a man down after touching a leaking lamp post.
    ("公园里有根灯杆漏电，我摸了一下手发麻，赶紧派人来修吧",
     "公园里有根灯杆漏电，一个遛弯的大姐扶了一下就倒地上了，一动不动", "120"),
    # A near miss / a worker held by a charging pile.
    ("充电桩的线破皮了，我家孩子差点触电，物业能不能换一根",
     "停车场有个师傅去拔充电桩的枪，让电打了，人粘上了", "120"),
    # A wire stepped on: feared / done.
    ("大风把电线刮断了耷拉在路边，怕有人踩上去，赶紧来人看看",
     "大风把电线刮断了，一个放羊的老头踩上去了，人躺那儿不动了", "120"),
    # A yard that floods whenever it rains / water to the waist, the door blocked.
    ("我们院子一下雨就积水，水到膝盖，出不去门，排水沟啥时候修",
     "雨太大了，我们家是半地下室，水到腰了，门让水顶住推不开，我跟孩子都在里头", "119"),
    # A car park pumped out / water pouring into an underpass with a car in it.
    ("地下车库上礼拜泡过一回水，车都挪出来了，物业说不赔",
     "下穿隧道里的水往里灌得特别快，一辆出租车熄火了，司机还在车里拍窗户", "119"),
    # A phone dropped / a man slid into the reservoir.
    ("我在水库边钓鱼，鱼竿滑下去了，够不着，能借个网兜吗",
     "水库边上一个钓鱼的大哥脚一滑掉下去了，冒了两下就没了", "119"),
    # A river safety suggestion / a child that went under.
    ("建议河边多立几块警示牌，以前有孩子在这儿淹着过",
     "河边有个小孩玩水掉下去了，冒了两下就看不见了，我们够不着", "119"),
])
def test_cls28_a_person_shocked_flooded_or_in_water_now_is_handed_over(
        quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # A scald: a small blister from a radiator / a pot of soup over a child.
    ("孩子摸暖气片手上烫起个小泡，物业能不能给装个罩子",
     "孩子把一锅热汤拽翻了，浇了一身，胸口烫了一大片", "120"),
    ("上个月在饭馆让服务员把汤洒胳膊上了，现在结痂了，店里只给打折",
     "我媳妇倒开水的时候暖瓶炸了，开水全浇腿上了，烫得起了好多大泡，疼得直叫", "120"),
    # A machine that eats cloth / a hand caught in a roller.
    ("车间的机器老把布料卷进去，得找厂家来修",
     "车间里一个大姐的手卷进压面机里了，拽不出来", "119"),
    # A dog that held a trouser leg / a dog holding a child's arm.
    ("邻居家的狗咬住我裤腿不撒嘴，好在没咬着肉，我要举报他不拴绳",
     "小区里一条大狗咬住一个小孩的腿不撒嘴，大人怎么打都不松", "110"),
    ("我家狗正在扑着玩具咬，就想问问狗证在哪儿办",
     "一条流浪狗正扑着一个老太太咬，老太太倒地上了", "110"),
    # A cooker asked about / a cylinder swelling with the flame on.
    ("高压锅用了十几年了会不会炸，想问问要不要换",
     "厨房里的液化气罐鼓起来了，灶上火还开着，我不敢过去", "119"),
    # A unit about to drop / a drunk about to fall off a bridge.
    ("楼上空调外机的架子锈了，眼看要掉下来了，物业也不管",
     "天桥上一个喝醉的男的趴在栏杆外头，晃晃悠悠的，眼看就要掉下去了", "119"),
    # A farewell past / a farewell now with a means and no answer.
    ("我表哥去年说过活够了，后来好多了，想问问哪儿有心理咨询",
     "我表哥给我发微信说他活够了，拍了一瓶安眠药的照片，现在电话关机了", "110"),
])
def test_cls28_a_scald_a_catch_an_attack_or_a_fall_now_is_handed_over(
        quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


def test_cls28_a_threat_posted_by_the_one_at_risk_is_no_report_seen() -> None:
    """A message the person posted ("发朋友圈说要跳楼") is their own threat now; a post read
    about someone else is a report seen (`seen`)."""
    own = "我弟刚发朋友圈说要跳楼，配的是他们单位楼顶的照片"
    assert classify(own).emergency == "110", _cues(own)
    seen = "我在朋友圈看到说有个小区着火了，是真的吗"
    assert classify(seen).emergency == "none", _cues(seen)


@pytest.mark.parametrize("calm", [
    "我闺女上学期在学校有过食物中毒，想问问现在能不能带她去做个检查",
    "我老伴晕倒过，想问问单位体检查不查心脏",
    "老人把电褥子开一宿容易着火，真的吗",
    "上个月看见公交车上有人晕倒，想学学急救，社区有没有课",
])
def test_cls28_calm_look_alikes_main_handed_over_stay_calm(calm: str) -> None:
    assert classify(calm).emergency == "none", _cues(calm)


@pytest.mark.parametrize(("quiet", "loud", "service"), [
    # Shocked and down, told as 电着了: no fire (rescue_signs read "着了，人" as one).
    ("我家电动车在院里充着电，人都回屋睡了，想问问充一宿费不费电",
     "我爸在院里修水泵让电着了，人趴在地上起不来了", "120"),
    # Touched first, the live part after: a hazard asked / a man lying still.
    ("工地边上的高压线太低了，扛钢筋的容易碰着，能不能让供电局来看看",
     "工地上有个小伙子扛钢筋碰着高压线了，现在人躺着没动静", "120"),
    # A lift stopped halfway: last week / now with a woman in pain inside.
    ("上礼拜我们单元电梯停半道困过人，物业说修好了，年检报告在哪儿查",
     "我们单元电梯停半道了，里面有个孕妇肚子疼，按铃没人应", "119"),
    # Hit once with a brick / now.
    ("我家孩子被同学拿砖头砸过，学校不管，我要投诉",
     "放学路上几个大孩子拿砖头砸我儿子，这会儿还追着打呢", "110"),
])
def test_cls28_the_second_set_of_own_sentences(quiet: str, loud: str, service: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == service, _cues(loud)


def test_cls28_a_small_child_alone_on_a_window_sill_is_a_rescue_not_a_threat() -> None:
    """A child out on a sill or a bracket, alone or high up, is the fire service's rescue
    (E2; heldout-12's and -17's child on a bracket are 119); a threat told at a window stays
    the police's (B10), and a child who likes the sill, asked about, is no call."""
    alone = "对门家的小孩站在窗台上，窗户大开着，家里没大人，七楼"
    assert classify(alone).emergency == "119", _cues(alone)
    threat = "我闺女坐在窗台上哭，说不想活了，我们不敢靠近"
    assert classify(threat).emergency == "110", _cues(threat)
    habit = "孩子老爱爬窗台，想问问装防护网物业给不给批"
    assert classify(habit).emergency == "none", _cues(habit)


@pytest.mark.parametrize(("calm", "real"), [
    # A film's plot told a clause after the film, with 突然 in it / a real smoke after a film.
    ("看了个电影，电梯突然坠落，里面的人都受伤了，现实中电梯会这样吗",
     "看了个电影，刚看完，突然闻到楼道里一股焦糊味，浓烟往屋里灌"),
    # A film by 电影里 alone / the cinema itself.
    ("电视剧里煤气突然爆炸了，看得我心慌，我家的老燃气灶要不要换",
     "我在电影院里看电影，突然有人晕倒了，快来人"),
])
def test_cls28_a_films_plot_is_no_call_but_the_callers_own_danger_is(calm: str, real: str) -> None:
    """A story runs on past its comma and past a plot's 突然 (`stories_ends`); a report's
    突然 still turns to the caller's own time, and so does 刚看完…突然."""
    assert classify(calm).emergency == "none", _cues(calm)
    assert classify(real).emergency != "none", _cues(real)
    news = "电视上说一个小区着火了，突然我们楼道里也冒烟了"
    assert classify(news).emergency == "119", _cues(news)


@pytest.mark.parametrize(("quiet", "loud"), [
    # A photo with a bottle / a brick used on a man.
    ("他们拿酒瓶子拍了个照片发朋友圈，说要举报我", "几个小青年拿砖头拍一个外卖小哥，人已经趴下了"),
    # Pipes for scaffolding / a fight already started with pipes.
    ("工地上用钢管搭脚手架，晚上叮叮当当的，吵得睡不着", "饭馆门口那帮人已经动手了，有人拿钢管往人身上抡"),
    # A railing dragged / a person dragged by a car.
    ("车把我家门口的护栏拖出去好远，谁来修", "一辆小轿车挂着一个人拖出去好远才停"),
])
def test_cls28_a_fight_with_improvised_weapons_or_a_person_dragged_is_110(
        quiet: str, loud: str) -> None:
    assert classify(quiet).emergency == "none", _cues(quiet)
    assert classify(loud).emergency == "110", _cues(loud)


# mend58 (twenty-fifth round): review58"s own sentences on cls28"s rules. Each calm one must
# stay none (a question or advice asked, someone"s words, a past or a habit, nobody, a simile, a
# grown-up there, a thing patted); each emergency keeps its service. Left out: 13 calm ones main
# handed over before cls28 (older rules: police_signs, rescue_signs, medical, fire, self_harm)
# and 4 emergencies no rule reads yet (a slip into a reservoir, a scald told a clause on,
# a body caught told with 让/绞…里).

@pytest.mark.parametrize("calm", [
    "上个月我家电热水器漏电，我爸洗澡时被电了一下倒在地上，后来没事了，想问热水器厂家谁负责",
    "想问一下，要是看见有人触电倒地了，应该先拉闸还是先打120？",
    "小区路灯杆漏电的事我上周反映过，电工今天来修了，想问修好了没有",
    "电工在楼道里换电闸，说让电打了一下，他甩甩手就接着干活了",
    "我们家狗上次咬电线让电着了，躺那儿半天才起来，现在好了",
    "昨天看了个短视频，一个人碰到高压线当场倒地，太吓人了，咱们小区那根线能不能挪挪",
    "我家的充电桩有点漏电，摸一下手发麻，起不来电，想找人修",
    "电动车充电桩漏电，物业说没人倒下就不管，我觉得得修",
    "触电急救培训什么时候有，我想报名，听说有人触电倒地要做心肺复苏",
    "我们小区地下车库一下雨就积水，水到膝盖，车都出不去，物业不管",
    "去年大雨那次地库水涨得特别快，好几辆车泡了，今年汛期物业有没有准备",
    "想问一下，开车遇到水漫到车窗，车门打不开怎么自救？",
    "学校组织防汛演练，模拟水到了腰，同学们在里面等着救援",
    "我家孩子在游泳池学游泳，水到胸口，教练在旁边看着，想问游泳馆收费标准",
    "楼上漏水，水往下灌，我家天花板都湿了，楼上人不在家联系不上",
    "地下室返水了，水往里涌，我们已经都出来了，东西泡了，想找人抽水",
    "上个月有个钓鱼的滑到河里了，后来自己爬上来了，河边能不能装个护栏",
    "公园湖边的台阶太滑，我老伴刚才差点滑下去，想让公园装个扶手",
    "冰面上写着禁止滑冰，可是每年都有人掉进去，能不能加派巡逻",
    "朋友在泳池里潜水，一冒一冒的玩，救生员说这样很危险，泳池该不该管",
    "上次在厂里我工友的手卷进机器里了，工伤认定到现在还没办下来",
    "商场扶梯把我孩子的鞋带卷进去了，好在人没事，想投诉商场",
    "想问一下，头发卷进绞肉机了怎么办？我们餐馆要做安全培训",
    "我们饭店的和面机老是把面卷在里面，声音很大，邻居投诉噪音",
    "小区门口的自动门把我袖子夹住了，拽出来了，就是衣服破了，物业管不管",
    "我家洗衣机把衣服绞在里面了，拿不出来，售后电话打不通",
    "楼下那条大狗上周咬住一个孩子的胳膊不松口，现在还拴在那，想问能不能让主人处理",
    "我在看动物世界，狼正追着一只羊咬，我家孩子问狼会不会咬人",
    "小区里的流浪狗老是追着外卖小哥跑，不咬人，就是吓人，能不能管管",
    "我家狗咬住绳子不松口，在训练，邻居说扰民",
    "宠物医院的医生说狗咬住手不松口时别硬拽，想问正规的处理方法是什么",
    "孩子在动物园看猴子，猴子抢了他手里的饼干，还好没伤着人",
    "我家高压锅用了十年，盖子有点鼓起来了，想问这种锅还能用吗",
    "高压锅一直嘶嘶响，是正常的吗？",
    "新买的高压锅限压阀呲呲往外喷气，说明书说正常，我就是问问",
    "楼下饭馆的液化气罐堆在门口，看着有点鼓包，平时也没人管，想举报一下",
    "燃气公司来换气瓶，说以前的钢瓶鼓包了要报废，换新的要收多少钱",
    "锅炉房的锅炉冬天一直滋滋响，吵得睡不着觉",
    "上周孩子不小心把开水洒到腿上，起了一个泡，现在结痂了，想问社区医院能不能换药",
    "想问问开水泼到手上起泡了应该怎么处理，孩子老爱碰暖壶",
    "餐馆的热汤洒了我一身，衣服全湿了，没烫着，就是想要他们赔衣服",
    "去年我女儿让热油溅到脸上，现在还有疤，想问美容医院收费",
    "美发店烫头烫得头皮起了一片泡，疼得直叫，已经去医院看过了，想投诉理发店",
    "暖气片太烫了，孩子手碰了一下，一大片红，现在好了，想问暖气温度能不能调",
    "看电视剧里那个人趴在栏杆上眼看要掉下去了，被男主角拉上来了",
    "工人在外墙干活，系着安全绳，看着像马上要摔下来似的，我就想问这样施工合规吗",
    "我家孩子学走路，老是从沙发上快摔下来了，想问社区有没有早教课",
    "老人骑车的时候车筐太沉，快翻了，我扶了一把，没事",
    "楼顶的广告牌快掉下来了，工人说明天来修",
    "学校体育课上攀岩，孩子眼看要掉下来了，老师拉着绳子，想问学校攀岩墙安全吗",
    "小区三楼那家小孩天天趴在窗台上跟楼下的小朋友说话，家长都在旁边",
    "孩子坐在飘窗的窗台上写作业，阳光很好，想问飘窗能不能封起来",
    "我家宝宝趴在窗台上看下雪，窗户关着，我在旁边，就是想问暖气什么时候热",
    "上周学校里有两个学生拿砖头打起来了，学校处理得不公平，我想投诉",
    "我们工地工人用钢管干活，搭脚手架，噪音太大，晚上还在干",
    "装修队拿锤子砸墙，砸了一上午，吵得不行",
    "看电影里有人抡着棒球棍打人，孩子问是不是真的",
    "小区里有人拿板砖拍核桃，溅得到处都是",
    "网约车司机开车把行李箱拖了老远，箱子磨坏了，想投诉",
    "外卖小哥骑三轮车拉着货，把一辆共享单车拖了好几米，车主要找谁赔",
    "我妈天天说活够了，其实就是嘴上说说，想问社区有没有老年活动中心，她不接电话是因为耳背",
    "想问一下楼顶天台为什么锁着，物业说怕有人跳楼，可是我们要晒被子，物业电话一直没人接",
    "我看小说里主人公留了遗书，拿着安眠药，男朋友电话不接，好感人",
    "我爸去年住院时说过不活了，现在好多了，想问医保报销的事，医院电话打不通",
    "心理热线是多少？我有时候觉得活够了，不过没有什么想法，就是想找人聊聊",
    "昨天看了个电影，电梯突然坠落，里面的人都困住了，想问咱们小区电梯多久检修一次",
    "老是这样，我家孩子学走路，从沙发上快摔下来了，想问社区有没有早教课",
    "燃气公司说以前的钢瓶鼓包了要报废，换新的要收多少钱",
    "我家电热水器有点漏电，洗澡时手发麻，没事，就是想找人修",
    "电动车充电桩漏电，物业说没人倒下就不管",
    "我家热水器前两天漏电，我妈让电了一下，叫了一声，现在好好的，想问怎么找售后",
    "消防宣传日社区讲了，高压锅鼓起来了千万别开盖，我想问还有没有这种讲座",
    "我家孩子老爱趴在窗台上看楼下，我们住二楼，窗户有纱窗，是不是该装护栏",
    "抖音上看到一个小孩爬到空调外机上，家里没大人，太吓人了",
    "游泳馆里小孩一沉一浮地在学憋气，教练就在旁边，想问游泳馆卫生谁管",
    "上个月在游泳池，一个小孩扑腾了几下就沉下去了，救生员拉上来了，想表扬救生员",
    "我们村河边有人洗衣服，老人说以前有人滑下去了，能不能修个台阶",
    "看了个纪录片，讲野猪正追着人咬，我们山里的野猪能不能管管",
    "楼下饭馆的煤气罐天天呲呲响，老板说没事，我想举报",
    "水暖工说锅炉压力大了要鼓包，让我们别用了，问问供暖公司什么时候来修",
    "我家阳台漏水，水往屋里灌，雨停了就好了，想找物业修防水",
    "拆迁的工人拿锤子砸墙，钢筋都露出来了，吵死了",
    "小区里有人拿铁锹拍雪，拍得咚咚响",
    "电视剧里有人发遗书说在楼顶，电话不接，我看哭了",
    "想问问开车被水困住，水到腰了，车门推不开怎么办",
    "我们电梯在维修，师傅说电梯停半道了，里面没人，就是修得太慢",
    "电工在配电室干活，手让电打了一下，发麻，现在没事了",
    "锅里的热油溅到手上，起了个小泡，不疼，想问能不能投诉锅的质量",
])
def test_mend58_review58s_calm_sentences_are_no_hand_over(calm: str) -> None:
    assert classify(calm).emergency == "none", _cues(calm)


@pytest.mark.parametrize(("text", "service"), [
    ("快来人，工地有个工人碰了电箱，现在趴在地上不动了", "120"),
    ("我老公修灯让电打了，人倒在地上叫不醒", "120"),
    ("小区门口那个路灯杆漏电，一个小孩摸了一下就倒了，现在没反应", "120"),
    ("地下车库进水了，水都到腰了，我们三个人出不去", "119"),
    ("下凹桥底下有辆车被淹了，水漫到车窗了，里面的人在拍玻璃", "119"),
    ("快来人啊，有个孩子掉河里了，扑腾了两下就没了", "119"),
    ("厂里一个工人胳膊卷到传送带里了，出不来", "119"),
    ("一条大狗正扑着一个老太太咬，快来人", "110"),
    ("楼下的狗把我孩子咬住了，死活不松口", "110"),
    ("厨房那个煤气罐嘶嘶地往外喷气，味儿特别大", "119"),
    ("高压锅盖鼓起来了，火还开着，我不敢过去关", "119"),
    ("我朋友在天台边上，喝多了，眼看就要摔下去了", "119"),
    ("对面楼五楼有个小孩爬到空调外机上了，家里好像没大人", "119"),
    ("楼下有几个人拿钢管互相打，已经有人头破了", "110"),
    ("一辆面包车把一个骑车的拖了十几米，人还在车底下", "110"),
    ("我女儿刚发消息说活够了，桌子上一堆安眠药的照片，现在手机关机了", "110"),
    ("他在微信上给我发了遗言，说在桥上，打电话不接", "110"),
    ("有人掉进冰窟窿里了，在冰面上", "119"),
    ("河里有个人一浮一沉的，快来人", "119"),
    ("我们村有个小孩掉水塘里了", "119"),
    ("狗把我孩子腿咬住了，不撒嘴", "110"),
    ("有只大狗在咬一个小孩，咬着不放", "110"),
    ("我手让压面机卷进去了，拔不出来", "119"),
    ("液化气罐漏气着火了，罐子都烧红了，要炸了", "119"),
    ("水壶的开水全浇孩子脸上了，起了一片大泡", "120"),
    ("有人拿砖头砸人，砸得满头是血", "110"),
    ("两拨人拿镐把打起来了", "110"),
    ("有个孩子坐在十楼窗台外面，快来人", "119"),
    ("有个人挂在阳台外面，眼看要掉下去了", "119"),
    ("我朋友发朋友圈说不活了，拍了一瓶农药，电话不接", "110"),
    ("我爸让电打了，手粘在电门上下不来", "120"),
])


def test_mend58_review58s_emergencies_keep_their_service(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)
