"""Twenty-seventh round (cls30): the classification's loose ends after cls29.

- Someone out in the cold (or the heat) who does not move, wake or answer is E3 120
  (docs/labelling.md: "an unconscious drunk in the cold"): `emergency.cold_exposure`. A drunk
  who sleeps in the stairwell every night, a question about shelters (救助站), a frozen pipe, a
  flat "冻得不行" without heating (U5, the heating's) stay as they were.
- A gas smell with the valve already shut (B3: urgent, no service): `[not_now] made_safe` reads
  the verb first too ("我已经关了总阀"); a leak now (the valve will not close, someone dizzy, a
  smell growing in the stairwell) keeps its hand-over.
- A recogniser's homophones (电体 for 电梯, 新稳 for 新闻, 俩利拜 for 俩礼拜): `[heard_as]` reads
  the word, so cls29's silencing patterns hold and the cues of danger fire on them.
- Money, a document or a procedure "卡在…出不来" is no person trapped (`[everyday_words]`), and
  a cue that lies wholly inside such a word marks the call `not_now.everyday_word`: the model
  alone hands it over no more.

Sentences of our own, written before the rules were changed (about a third as a recogniser
writes them: no punctuation, spaces, homophones); the rules alone (``classify``).
docs/classification.md, "Twenty-seventh round (cls30)".
"""

from __future__ import annotations

import pytest

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import assert_service
from ticketing.classify import NO_RESCUE, classify
from ticketing.intake_model import DECISION, decide

CALM: list[str] = [
    "楼道里有个醉汉天天晚上睡在那儿，喝得醉醺醺的，物业也不管",
    "我们单元门口老有个流浪汉躺着睡觉，能不能让救助站来管管",
    "天这么冷，想问问咱们区的救助站在哪儿，有个流浪的大爷没地方去",
    "家里暖气不热，冻得不行，孩子都感冒了",
    "暖气一直不热屋里才十二度冻得不行了热力公司也不来",
    "水管子冻住了，早上起来一滴水都没有",
    "楼外面的水管冻裂了，冰挂了一墙",
    "外面零下十度，小区里的路全是冰，老人出门容易滑倒",
    "天太冷了车打不着火，冻得不行",
    "大冬天的公交站等了四十分钟车都不来，冻得脚都麻了",
    "夏天太热了工地还让干活，工人都快中暑了，这合法吗",
    "想问问中暑了应该怎么处理，家里老人总说头晕",
    "孩子放学在门口等了半天，冻得直哆嗦，学校能不能早点开门",
    "我家老人冬天怕冷，想问问有没有取暖补贴",
    "绿化带里老有人喝多了躺着，影响环境，能不能加个巡逻",
    "楼下那个醉汉又在绿化带里吐了，味儿特别大",
    "暖气片冰凉的我妈冻得嘴唇都发紫了你们啥时候来修",
    "屋 里 暖 气 不 热 冻 得 不 行 了 老 人 孩 子 都 受 不 了",
    "楼道里天天有个喝醉的在那睡觉物业不管",
    "水管冻住了没水用了啥时候能来人",
    "问一下救助站电话多少外面有个流浪汉挺冷的",
    "天热得不行空调坏了物业也不修",
    "厨房里一股煤气味，我已经把总阀关了，想让燃气公司来查查",
    "刚才闻到有点煤气味，阀门关了，窗户也开了，现在味儿散了，能来检查一下吗",
    "燃气灶有点漏气，我把阀门关上了，家里没人不舒服，什么时候能来修",
    "闻着有股燃气味，我关了阀门开窗通风了，麻烦派人来看看",
    "有 点 煤 气 味 我 已 经 把 阀 门 关 了 窗 户 也 开 了 你 们 来 看 看",
    "煤气味儿我关了总阀了现在没味儿了想找人来检修一下",
    "我们楼加装电体的事卡了一年了一楼的不同意能不能协调一下",
    "电体的事卡了俩利拜了还没人管",
    "看新稳外地一个小区燃气爆炸了我们这老楼的燃气管子啥时候换",
    "新稳里说南方有个地方楼塌了我们这楼也是老楼能不能给鉴定一下",
    "加装电体这个事一直卡在街道那边没人给个说法",
    "装电体的事卡了好几个利拜了一楼老不同意",
    "看新稳说外地电动车在楼道起火了我们楼道也停满了电动车",
    "电体改造卡了俩星气了工人都走了",
    "拆迁补偿款卡在区里出不来了，快两年了",
    "补偿款卡在区里出不来了",
    "我的工资卡在公司账上出不来了，老板说没钱",
    "房产证卡在住建委出不来，都等了半年了",
    "批文卡在上面出不来，项目一直开不了工",
    "退休手续卡在人社局出不来了",
    "押金卡在平台里出不来了，客服也联系不上",
    "钱卡在银行系统里出不来了转账转不出去",
    "补 偿 款 卡 在 区 里 出 不 来 了 谁 管",
    "手续卡在街道出不来跑了好几趟了",
    "证一直卡在那边出不来让我等",
]
LOUD: list[tuple[str, str]] = [
    ("绿化带里躺着个喝醉的男的，零下十度，脸都青了，一动不动", "120"),
    ("小区门口雪地里躺着一个人，叫不醒，冻得脸都紫了", "120"),
    ("公园长椅上有个老人冻僵了，叫他也不答应", "120"),
    ("路边有个醉汉躺在雪地里，怎么叫都叫不醒，嘴唇发紫", "120"),
    ("外面零下十几度，楼门口有个人躺地上冻得不动了", "120"),
    ("工地上一个工人中暑昏过去了，叫不醒", "120"),
    ("我爸在地里干活中暑晕倒了，叫他不答应", "120"),
    ("桥洞底下有个流浪汉冻得不动了，喊他没反应", "120"),
    ("雪地里有个老太太趴着不动，叫也不答应，身上冰凉", "120"),
    ("喝多了的那个人在绿化带里躺了一晚上，现在叫不醒了，嘴唇发紫", "120"),
    ("楼道里睡着的那个醉汉怎么叫都叫不醒，身上冰凉的", "120"),
    ("马路边上躺着个人冻僵了不会动了", "120"),
    ("大热天有个送外卖的中暑昏过去了，倒在路边", "120"),
    ("老人在外面冻了一晚上，现在不说话了，叫不醒", "120"),
    ("绿化带里躺着个喝醉的零下十度脸都青了一动不动", "120"),
    ("雪 地 里 躺 着 一 个 人 叫 不 醒 冻 得 脸 都 紫 了", "120"),
    ("公园里有个老人冻僵了叫他不答应", "120"),
    ("工地有个工人中暑昏过去了叫不醒", "120"),
    ("路边醉汉躺雪地里叫不醒嘴唇发紫", "120"),
    ("桥底下有个人冻得不动了喊他也没反应", "120"),
    ("厨房煤气味特别大，阀门关不上，快来人", "119"),
    ("煤气味特别冲，我妈已经头晕了，阀门拧不动", "119"),
    ("楼道里一股很大的煤气味，不知道哪家的，越来越浓", "119"),
    ("燃气管子断了一直在往外冒气，阀门关不住", "119"),
    ("煤气味好大阀门关不上了快来", "119"),
    ("楼道里全是煤气味越来越浓不知道谁家的", "119"),
    ("煤 气 味 特 别 大 阀 门 关 不 上 我 妈 头 晕", "119"),
    ("电体卡在两层中间了里面有人", "119"),
    ("电体卡了我妈在里头出不来快来人", "119"),
    ("电体卡了俩利拜没修今天又卡了我妈在里面", "119"),
    ("看着新稳呢我们楼里真炸了玻璃都碎了", "119"),
    ("电体卡住了门打不开我们三个困在里面", "119"),
    ("看新稳的工夫楼下着火了烟都冲到我家了", "119"),
    ("电体卡在半道了我爸关在里面半个小时了", "119"),
    ("我爸卡在车里出不来了", "119"),
    ("孩子卡在电梯里出不来了", "119"),
    ("工人卡在井里出不来了", "119"),
    ("房子塌了我妈压在里面出不来", "119"),
    ("车翻了司机卡在里面出不来", "119"),
    ("孩子手卡在门缝里出不来了", "119"),
    ("车 翻 了 司 机 卡 在 里 面 出 不 来", "119"),
    ("钱包掉井里了，我儿子下去捡卡在井里出不来了", "119"),
    ("去银行取钱卡在电梯里出不来了", "119"),
]


def test_cls30_calm_lines_that_share_the_words_are_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


def test_cls30_the_same_words_told_of_a_danger_now_keep_their_service() -> None:
    assert_every(LOUD, assert_service)  # each failing line named


def _marks(text: str) -> list[str]:
    return [m for m in classify(text).matched if m.split(":", 1)[0] in NO_RESCUE]


# What the model reads as danger when the rules do not (a strong P(119)).
PROBABILITIES = {"emergency": {"none": 0.3, "110": 0.05, "119": 0.6, "120": 0.05},
                 "urgency": {"general": 0.1, "urgent": 0.9},
                 "kind": {"complaint": 0.9, "inquiry": 0.1}}


@pytest.mark.parametrize("text", [
    "拆迁补偿款卡在区里出不来了，快两年了",
    "退休手续卡在人社局出不来了",
    "手续卡在街道出不来跑了好几趟了",
    "补 偿 款 卡 在 区 里 出 不 来 了 谁 管",
    "厨房里一股煤气味，我已经关了总阀",
    "煤气味挺大的，我关了阀门，开了窗户，我爸刚做完手术在床上",
    "屋 里 一 股 臭 鸡 蛋 味 我 已 经 巴 燃 气 总 法 关 了",
    "厨房 的 煤起灶 漏 味儿 我 已经 关了 阀门 你们 派 人 来 修 一下",
])
def test_cls30_the_model_alone_hands_over_no_stuck_matter_and_no_gas_made_safe(
    text: str,
) -> None:
    marks = _marks(text)
    assert marks
    assert decide(PROBABILITIES, marks, DECISION)["emergency"][0] == "none"


@pytest.mark.parametrize("text", [
    "家里有煤气味，阀门关不上，我妈有点头晕",
    "关了阀门还是一股煤气味，越来越浓",
    "楼道里一股很大的煤气味，不知道哪家的，越来越浓",
    "我爸卡在车里出不来了",
    "孩子拿着钱卡在电梯里出不来了",
    "电梯卡了俩礼拜没修今天又卡了我妈在里棉",
])
def test_cls30_a_danger_now_is_left_to_the_model(text: str) -> None:
    assert not _marks(text), _marks(text)
