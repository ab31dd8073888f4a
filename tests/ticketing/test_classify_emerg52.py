"""Thirty-seventh round (emerg52): recogniser spellings that lose a danger word, a boiler's
guards that silenced a real overpressure told with a denied side detail, a fire only
believed, a vehicle broken down in a fast road's lane, "我不是要报警" and a petty theft.

Sentences of our own (bench/data/emerg_own52.tsv, committed before any rule changed; about
half as a recogniser writes them) and the further wordings below, written for this round.
docs/classification.md, "Thirty-seventh round (emerg52)".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing import test_classify_emerg51 as _emerg51
from tests.ticketing.test_classify_emerg51 import _urgent_calm
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing import classify as C
from ticketing.classify import NO_VICTIM, classify
from ticketing.intake_model import understand

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own52.tsv"

shipped = _emerg36.shipped


def _rows() -> list[dict[str, str]]:
    return _emerg51._rows(OWN)


def test_emerg52_the_file_holds_every_family() -> None:
    rows = _rows()
    assert sum(row["emergency"] != "none" for row in rows) >= 20
    assert sum(_urgent_calm(row) for row in rows) >= 10
    assert sum(row["urgency"] != "urgent" for row in rows) >= 25


@pytest.mark.parametrize(("text", "service"), [
    (row["text"], row["emergency"]) for row in _rows() if not _urgent_calm(row)])
def test_emerg52_each_line_is_handed_to_its_service_or_stays(
    shipped, text: str, service: str,
) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [row["text"] for row in _rows() if _urgent_calm(row)])
def test_emerg52_a_danger_without_a_service_is_urgent(shipped, text: str) -> None:
    rules, model = shipped
    got = classify(text, rules)
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)
    # Nor does the model hand it over once the rules made it urgent (the lane's trucks).
    assert understand(text, rules, model).emergency == "none", _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # The fire, the sparks and the fit as a recogniser spells them.
    ("喂 对面厂房着活了 您快来 浓不浓烟我也看不清", "119"),
    ("那个 我们胡同里有个院子着伙了 快派消防车", "119"),
    ("楼下车库里那辆车着货啦 整个车库都是味儿", "119"),
    ("老房子的电线一直冒货花 房檐的木头已经冒烟了 在燕山", "119"),
    ("孩子刚才又抽出了 口吐白沫 叫他没反应", "120"),
    ("我爸在院子里突然抽处了 眼睛往上翻 我们在延庆", "120"),
    # Their calm neighbours: goods and work held, money spent, a cremation, a card drawn.
    ("仓库里还囤着货呢 物业就要断电 让我们怎么办", "none"),
    ("快递员说车上拉着货了 不让我们自己去取 只能等到晚上", "none"),
    ("我们几个合着伙了开了个小超市 营业执照怎么办", "none"),
    ("店里缺着货呢 预付卡里的钱也不给退", "none"),
    ("装修师傅一直忙着活呢 说没空来修 楼顶防水漏了一个月了", "none"),
    ("我爸去年火化的 墓地的管理费年年涨", "none"),
    ("演唱会的票钱或花呗分期都行 就是现在退不了票", "none"),
    ("我们几个打伙花钱租的房子 房东不退押金", "none"),
    ("他在会上又抽出了，那份旧合同，说我们违约", "none"),
    ("我姑娘在课后服务里天天被抽出来背课文 别的孩子都不用", "none"),
    ("我一下子这火就上来了 跟物业吵了起来 他们就是不给修暖气", "none"),
])
def test_emerg52_a_spelling_is_read_only_in_its_context(shipped, text: str,
                                                        service: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


def test_emerg52_a_calm_spelling_raises_no_urgency() -> None:
    # The homophone creates no danger: no urgent cue either, not only no hand-over.
    for text in ("我们几个打伙花钱租的房子 房东不退押金", "他在会上又抽出了，那份旧合同，说我们违约",
                 "快递员说车上拉着货了 不让我们自己去取 只能等到晚上"):
        assert classify(text).urgency != "urgent", (text, _cues(text))


def test_emerg52_a_spelling_keeps_every_cue_in_its_place() -> None:
    rules = _emerg36.load_rules()
    assert C._heard("楼下饭馆着货了", rules) == "楼下饭馆着火了"
    assert C._heard("仓库里囤着货了", rules) == "仓库里囤着货了"
    assert C._heard("一直冒火华", rules) == "一直冒火花"


def test_emerg52_a_spelling_of_another_length_fails_the_load(tmp_path: Path) -> None:
    base = (Path(__file__).resolve().parents[2] / "config" / "classification.toml").read_text(
        encoding="utf-8")
    anchor = "spellings = [\n"
    assert anchor in base
    bad = base.replace(anchor, anchor + "    { pattern = '着货了', word = \"着火\" },\n", 1)
    path = tmp_path / "classification.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="spellings"):
        C.load_rules(path)


@pytest.mark.parametrize("text", [
    # The boiler's gauge at its end stop with its alarm, a side detail denied.
    "锅炉房的警铃响个没完 压力表指针顶到头了 以前从没响过",
    "我们单位锅炉报警器一直在响，气压表爆表了，平时都好好的，今天烧锅炉的请假了。",
    "锅炉蜂鸣器嘀嘀叫 压力表到红线了 这不是演习啊 您快派人",
    "锅炉房报警器响个没完，压力表针打到底了，我看了不是表坏了，是真的压力高。",
    "酒店锅炉那边警报一直叫 压力表满格了 从来没搞过演练 我们都不懂",
])
def test_emerg52_a_denied_side_detail_keeps_the_boiler(shipped, text: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, "119")


@pytest.mark.parametrize("text", [
    # The guards as said: a gauge broken, a habit, a past day, a drill.
    "锅炉房报警器一直响 压力表到头了 不过表早就坏了 一直没换",
    "锅炉报警器天天响 压力表针老顶到头 物业说正常",
    "今天锅炉房演练 报警器响了 压力表打到底了 是假的",
])
def test_emerg52_the_boiler_guards_still_hold_as_said(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # A fire only believed, told with what it was and with the moment of the belief.
    ("我刚才以为着火了，原来是楼下烧烤，烟往上飘", "none"),
    ("今天以为着火了 原来是有人在院里烧落叶 您给管管", "none"),
    ("刚才看见楼道里红彤彤的 以为着火了 一看是人家挂的红灯笼", "none"),
    ("我当是着火了 结果发现是邻居炖肉糊锅了 味儿太大", "none"),
    # The belief that turned true stays a fire.
    ("刚才以为着火了 出去一看楼道里真着火了", "119"),
    ("我以为是烧烤 结果是他家厨房着火了 火苗子往外蹿", "119"),
    ("以为着火了 出去一看对面楼着火了 浓烟滚滚", "119"),
])
def test_emerg52_a_fire_only_believed(shipped, text: str, service: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [
    "西五环外环最左边车道停着辆坏了的水泥罐车 没人管 后面车都急刹",
    "京藏高速进京方向快车道上有辆小货车抛锚了，也没人放警示牌。",
])
def test_emerg52_a_vehicle_down_in_a_fast_lane_is_urgent_with_no_service(
        shipped, text: str) -> None:
    rules, model = shipped
    got = classify(text, rules)
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)
    assert any(m.startswith(NO_VICTIM) for m in got.matched)
    assert understand(text, rules, model).emergency == "none"


@pytest.mark.parametrize(("text", "service"), [
    # A crash or a fire beside it is no "nobody hurt": the rules' hand-over still fires.
    ("东四环内环快车道有辆货车抛锚了 后面一辆车撞上去了 司机卡在里头出不来", "119"),
    ("三环主路最里侧有辆大货车坏了 车头在冒烟 已经着火了", "119"),
])
def test_emerg52_a_vehicle_down_with_harm_is_handed_over(shipped, text: str,
                                                         service: str) -> None:
    rules, _ = shipped
    assert classify(text, rules).emergency == service, _cues(text)


@pytest.mark.parametrize("text", [
    "我的车上周在三环上抛锚了 拖车收了我八百 太贵了",
    "环路上老有大货车违规走内侧车道 建议管管",
    "二环主路上那辆抛锚的车早拖走了 就是护栏还没修",
    "三环主路车道线看不清了 坏了好几年了",
    "四环主路边上那个停车场的道闸坏了 进出都得等",
    "公交车在三环主路上坏了 我们乘客在车上等了半小时 投诉公交公司",
    "请问在四环主路上车坏了应该找哪个部门 是打一二二吗",
])
def test_emerg52_a_road_without_a_vehicle_down_now_stays_calm(text: str) -> None:
    got = classify(text)
    assert (got.urgency, got.emergency) != ("urgent", "none") and got.emergency == "none", \
        _cues(text)


@pytest.mark.parametrize("text", [
    "我不是要报警啊 刚才发现电动车电瓶让人偷了 就想问问小区监控找谁调",
    "我不是要报警 我就问问 我钱包刚才在公交上让人偷了 里面就几十块钱 公交卡能挂失吗",
    "我不是要抱紧 就是 前两天 我家门口的 电动车 充电器 让人 给偷了 不值 几个钱",
    "您受累 我不是来报警的 就是刚才超市存包柜里我一把伞让人拿走了 超市说不管",
    "倒也不至于报警 就是我家门口的快递刚才又让人拿走了 一盒面膜",
    "不想麻烦警察 就是今天下午在奥森跑步 存在储物柜里的耳机让人拿了",
    "我不是要你们出警啊 就是刚才车棚里我电动车的后视镜让人掰走了",
    "您别给我转一一零啊 我就反映一下 地铁站口的共享单车车筐里我的伞刚才让人顺走了",
])
def test_emerg52_no_police_asked_for_a_petty_theft(shipped, text: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, "none")


@pytest.mark.parametrize("text", [
    "我不是要报警 可是现在有个人正在撬我家门 我害怕",
    "我本来不想报警 但是那个偷车的人现在还在楼下 正在撬第二辆电动车的锁",
])
def test_emerg52_a_theft_going_on_is_110_whatever_was_said_first(shipped, text: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, "110")


@pytest.mark.parametrize("text", [
    # A course asked about is no drill denied: the question stays calm.
    "我想给我妈报个急救班 问问街道有没有培训 她老晕倒我怕我不会弄",
    "我们单元有个独居大爷老是头晕 我想学学急救 万一他倒了我能帮一把 您知道街道有没有培训吗",
])
def test_emerg52_a_course_asked_about_stays_a_question(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


def test_emerg52_an_endless_alarm_negates_nothing() -> None:
    # "没完" is the alarm's, not the gauge's: told without punctuation, it denied the gauge.
    assert classify("锅炉房警报响个没完 压力表指针别到最右边了").emergency == "119"
    assert classify("锅炉房警报响个不停 压力表指针别到最右边了").emergency == "119"
    # A negation of the cue itself still is one.
    assert classify("楼道里没有着火 就是有点烟味 是楼下烧烤").emergency == "none"
