"""Twenty-eighth round (cls31): a danger now told after a calm frame, and calm questions that
sound dangerous.

Sentences of our own, written before the rules were changed (about a third as a recogniser
writes them: no punctuation, spaces, homophones), in five kinds: a calm frame (a talk, a
drill, a video, last week, a campaign) and then a danger now; a collapse with a person under
it; a person in danger told by what they cannot do; safety and rule questions whose danger
words come from TV or hearsay; hearsay and things already over. The rules alone
(``classify``). docs/classification.md, "Twenty-eighth round (cls31)".
"""

from __future__ import annotations

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import assert_service

CALM: list[str] = [
    # Safety and rule questions (B15): the danger words are the question's.
    "电动车电池拿到家里充电安全吗，听说容易着火",
    "电视上说中风有几个征兆，想问问具体有啥征兆",
    "给路上晕倒的人做心肺复苏，万一没救过来会不会担责任",
    "电梯要是卡在半空，是不是得自己扒门出来",
    "燃气灶有点味儿的时候能不能用打火机试一下哪儿漏",
    "听说电梯会突然往下掉，真是这样吗",
    "在自己家阳台上烧纸合法吗，会不会着火",
    "楼道里放电动车被烧死人的新闻看了好几次了，我们楼道能不能清理一下",
    "网上说老人突然嘴歪说话不清就是脑梗，真是这样吗",
    "液化气罐放在厨房里安全吗，会不会爆炸",
    "小区里的灭火器都过期了，真着火了能不能用",
    "家里老人心脏不好，想问问社区有没有教心肺复苏的",
    "有人说高压锅用久了会炸，是不是得换新的",
    "孩子老爱爬窗台，装防护网合法吗，物业不让装",
    "电 动 车 电 瓶 在 屋 里 充 电 安 全 吗 会 不 会 着 火",
    "电视上说脑中风有啥征兆 我想了解一下",
    "做心肺复苏把人肋骨按断了会不会担责任",
    "听人说电体困人了得自己扒门 真是这样吗",
    "煤气灶能不能用打火机试漏",
    "听说充电宝放车里会爆炸真是这样吗",
    # Hearsay and things already over (B8, B11, B14's failed attempt).
    "有人说隔壁单元昨天晚上有人打架，我没亲眼看见，想问问是不是真的",
    "刚才有个冒充公安的打电话让我转账，我直接挂了，想举报这个号码",
    "上个月走丢的我家老爷子已经找回来了，想谢谢派出所的民警",
    "楼下那个酒鬼喝多了就骂要砍死我们，骂了好几年了，就是嘴上说说，能不能管管",
    "我哥有精神病，现在挺稳定的，按时吃药，想问问能不能申请补助",
    "老板把我们宿舍的水电都断了，几十个工人困在宿舍里没法洗澡做饭，工资也不给",
    "前几天我们楼有人煤气中毒，人已经出院了，想问问燃气管道谁来检查",
    "上周我们小区有个自建房塌了，好在没人，现在那片废墟一直没人清理",
    "去年邻居家着过一次火，现在楼道里还是堆满杂物",
    "听邻居说昨晚后面胡同有人抢包，我也不知道真假，能不能多派人巡逻",
    "我妈上礼拜哮喘犯了住了几天院，现在好了，医药费能报多少",
    "孩子前天误喝了一口洗洁精，医生看过了说没事，这个瓶子设计有问题",
    "骗子打电话说我儿子出事了要钱 我没信直接挂了 想举报",
    "有人说后面楼有人跳楼了 我没亲眼看见 不知道真的假的",
    "上个月走丢的老人已经找着了 谢谢你们",
    "隔壁醉鬼天天说要杀了我们家 说了好几年了 就是嘴上说说",
    "我弟精神分裂 现在挺稳定的 想问问残疾证怎么办",
    "工地把宿舍水电停了 我们困在宿舍里 工资一直拖着不给",
    "社区搞消防宣传 说楼道里不能停电动车 我们楼下停满了",
    "看了个急救的视频说胸口疼出冷汗可能是心梗 我想问问社区医院能不能做心电图",
    "前阵子新闻说有人在山里迷路了，我想问问香山晚上几点封山",
    "上个月讲座说老人走失要马上报警，我们社区能不能给老人发防走失手环",
]

LOUD: list[tuple[str, str]] = [
    # A calm frame, then a danger now.
    ("上礼拜社区刚搞了燃气安全讲座，今天我家厨房一股煤气味，阀门拧不动关不上", "119"),
    ("刚看了个急救视频，这会儿我爸爬楼梯的时候胸口疼，一身冷汗，坐在台阶上起不来", "120"),
    ("去年我们小区就丢过孩子，刚才我闺女在游乐场玩，一转眼人就不见了，找了十来分钟了", "110"),
    ("前几天新闻说有人在山里迷路，我爸今天下午一个人上山了，现在天都黑了手机也打不通", "119"),
    ("社区搞防火宣传的时候我还去听了，现在我们家楼下车库冒烟了，烟往楼上窜", "119"),
    ("上周消防演练说着火要往下跑，这会儿楼道里全是烟，我们下不去", "119"),
    ("前段时间我妈刚做完体检都挺好的，刚才突然说不出话，半边身子动不了", "120"),
    ("昨天讲座说燃气泄漏不能开灯，我家现在一屋子煤气味，总阀也关不上", "119"),
    ("上 礼 拜 刚 听 了 燃 气 讲 座 今 天 家 里 煤 气 味 特 别 大 阀 门 关 不 上", "119"),
    ("看了个视频说心梗要赶紧打电话 我爸这会儿胸口疼出冷汗 在楼梯上坐着起不来", "120"),
    ("上个月也有人在这丢过孩子 刚才我儿子在广场玩 几分钟没看住人就没了", "110"),
    ("我家老头下午上山采蘑菇 天黑了还没回来 电话打不通", "119"),
    # A collapse with a person under it or not answering (E2 trapped).
    ("隔壁老房子的房顶塌了，老太太压在下面了", "119"),
    ("工地上一面墙倒了，把两个工人砸在底下了", "119"),
    ("我家吊顶整个塌下来了，我妈在里屋，喊她也不答应", "119"),
    ("村里自建房塌了，里面有人，喊了半天没人应", "119"),
    ("仓库的棚子被雪压塌了，看库的大爷还在里头", "119"),
    ("房 顶 塌 了 我 爷 爷 压 在 底 下 了", "119"),
    ("墙塌了 底下压着个人 叫他不吭声", "119"),
    ("厂房顶塌了 压住人了 快来", "119"),
    # A person in danger told by what they cannot do.
    ("我儿子哮喘犯了，喘得一句话都说不完整", "120"),
    ("孩子把洗衣液当饮料喝了，一直吐，要紧吗", "120"),
    ("我奶奶有老年痴呆，早上出门到现在五个多小时了还没回来，哪儿都找不到", "110"),
    ("我打的车，司机不让我下车，一直往郊区没人的地方开", "110"),
    ("家里存的烟花着了，我爸还在屋里", "119"),
    ("我妈哮喘喘得说不了整句话，嘴唇都有点紫", "120"),
    ("孩子喝了半瓶消毒液，吐了好几回了，这要紧吗", "120"),
    ("我 爸 老 年 痴 呆 上 午 出 去 的 到 现 在 还 没 回 来 找 不 着 了", "110"),
    ("网约车司机不让我下车 往山里开 我害怕", "110"),
    ("我儿子哮穿犯了喘的话都说不全", "120"),
    ("孩子误喝了84消毒液 一直吐 要紧不", "120"),
    ("屋里放的鞭炮烟花着了 里边还有人", "119"),
    # The service the guide names (E1 110 / E2 119 / E3 120, and the order of the cause).
    ("我爸在卫生间洗澡的时候触电了，倒在地上", "120"),
    ("孩子在商场扶梯上摔下来了，头磕破了流了好多血", "120"),
    ("三轮农用车翻到沟里了，我叔腿摔断了，人已经拽出来了，躺在地上", "120"),
    ("学校中午吃完饭一个班的孩子都上吐下泻", "120"),
    ("邻居家没人，我看见有个人翻窗户进去了", "110"),
    ("卫生间热水器漏电我妈被电了倒地上了", "120"),
    ("孩子在扶梯上摔了 头上一个大口子 血直流", "120"),
    ("拖拉机翻了 我爸腿断了 人在地上躺着", "120"),
    ("中午在食堂吃完饭 全班同学都吐了 肚子疼", "120"),
    ("对门家里没人 有个人撬门进去了", "110"),
]


def test_cls31_calm_questions_and_things_over_are_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


def test_cls31_a_danger_now_is_handed_to_its_service() -> None:
    assert_every(LOUD, assert_service)  # each failing line named


# --- Mends (mend75, review76): lines of our own for each fault the review found. ---------

MEND75_LOUD: list[tuple[str, str]] = [
    # 这会儿 (now) and 开会 hold a 会; neither asks whether breath may fail.
    ("上周社区讲了中暑的事，这会儿我爷爷哮喘犯了，喘得一句话都说不完整", "120"),
    ("我们开会的时候领导哮喘犯了，喘得一句话都说不出来", "120"),
    # A collapse now told with a question of blame after it.
    ("我妈在超市门口摔倒了晕过去了，超市保安不让抬进来这样担不担责任", "120"),
    # The child word after the moment it went.
    ("一眨眼小孙子就没影了，到处都找了", "110"),
]

MEND75_CALM: list[str] = [
    # A habit told a clause after the cue (`unless_over_match`).
    "我妈有哮喘，平时走快点喘得话都说不完整，想问问吸入剂医保能报吗",
    # 会…吗: breathlessness asked about.
    "听说哮喘严重了会喘得话都说不出来吗，想问问社区有没有讲座",
    # A turn word about the course itself: no happening follows it in its clause.
    "单位的消防培训现在报名的话，讲不讲楼道着火了往哪跑",
    # A recollection after a turn word is the past again.
    "上个月我家楼下着过一次火现在想起来还害怕当时楼道里全是烟",
    # A thing just said (刚才说的) is no present (`<now>`).
    "刚才说的那个前年我们楼着火的事，物业到现在也没给个说法",
    # A law question, however asked.
    "小区里放孔明灯违不违法，去年有一家着过火",
]


def test_mend75_a_danger_now_keeps_its_hand_over() -> None:
    assert_every(MEND75_LOUD, assert_service)  # each failing line named


def test_mend75_talk_after_a_frame_is_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in MEND75_CALM], assert_service)
