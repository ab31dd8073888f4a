"""The one detail a question asks of a procedure, and the sentences of an answer that state it.

A caller who asks one detail of a procedure (要带什么材料, 多长时间能办下来, 在哪儿办, 网上能办
吗, 收费吗, 需要什么条件, 电话是多少) wants that detail; an entry's answer tells the whole
procedure, the detail often in its second or third sentence. The telephone reads the
sentences that state the detail first (``ivr.kb_answer.answer_reading``).

Both sides are general Mandarin, never one file's wording: the question forms that ask
each detail (a verb of bringing with 什么/啥/哪些, a span asked by 多久 or 几天, a place
asked by 哪/哪里/什么地方, 网上/线上/App with whether, a fee, a condition, a number to
call), and the words an answer states it with (材料/证件/带, 工作日/天/时限, 地址/窗口/
大厅/派出所, 网上/App/小程序, 费用/免费/元, 条件/符合/年满, 电话/热线/a number). A question
that asks a detail and anything else (怎么申请，要带什么; 在哪办，多久能拿到) asks none:
the whole answer is read from its start, as it is for every other question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.search import (
    DURATION_UNITS,
    QUANTITIES,
    WHERE_MISSAID,
    WISHED,
    is_question,
    normalise,
    numeral_run,
    still_asks,
)

# A clause of what the caller said: punctuation (as written) or a recogniser's pause mark.
_CLAUSE_END = re.compile(r"[^\w]+")
# The questions' own size patterns (how long, how much money): one rule for a size asked.
_SIZE_ASKED = {kind: asked.pattern for kind, asked, _ in QUANTITIES}
_SIZE_STATED = {kind: stated.pattern for kind, _, stated in QUANTITIES}
# Whether: the words that ask it, before or after what they ask of.
_MAY = "(?:能不能|可不可以|能否|可否|是否|可以|能|会|要|得|需要|需不需要|要不要)"
# 吧 of a guess put to confirm (不用跑吧, 网上能办吧; kb29).
_WHETHER_ENDS = "(?:吗|么|嘛|不|没|没有|呢|啊|吧)"
_WHETHER_END = f"{_WHETHER_ENDS}?"
# The end of the clause, or of what an earlier detail's words left of it (a comma).
_END = "(?=，|$)"
_WHAT = "(?:什么|啥|哪些|哪几样|哪几种|些什么|些啥)"
# A few words between a detail's asking words and the clause's end (办下来, 居住证), none
# of them asking something more (去哪儿办啥 asks what too).
_FILLER = ("(?:(?!什么|啥|怎|咋|如何|多少|几|哪|能|可以|可不可以|是不是|有没有|要不要|吗|么)"
           "[^，]){0,6}?")


@dataclass(frozen=True)
class Detail:
    """A detail of a procedure: how a caller asks it (``asked``, matched in one clause of
    the normalised words: ``网上`` stands for 线上/手机上/App上, ``缴费`` for 交钱) and how an
    answer states it (``stated``, in one of its sentences as written)."""

    kind: str
    asked: re.Pattern[str]
    stated: re.Pattern[str]


def _detail(kind: str, asked: str, stated: str) -> Detail:
    return Detail(kind, re.compile(asked), re.compile(stated, re.IGNORECASE))


# Places a procedure is done at, as answers name them (到居住地派出所, 社区服务站, 政务服务
# 大厅的窗口), and the online ways (网上, App, 小程序): a caller who asks where is answered
# by either.
_PLACES = "地址|窗口|大厅|服务站|服务点|派出所|办事处|营业厅|网点|柜台|现场|所在地"
# A body or an institution (区住房城乡建设部门, 管理中心, 医院, 社区居委会) is where to go
# only after a verb of going or asking (到, 向, 找, 问): 市场监管部门受理后, 选四家定点医院,
# 社区卫生服务中心等不用选 name it as who acts or what is chosen (mend59).
_GONE_TO = ("(?:到|向|找|去|在|往|问|联系|咨询|由)[^，,。；]{0,14}?"
            "(?:部门|局|中心|医院|银行|街道|社区|居委会|村委会)")
_ONLINE_SAID = "网上|线上|网站|官网|app|小程序|公众号|微信|支付宝|在线|手机"
# Doing the procedure itself (办, 申请, 提交, 缴费), not a step around it (预约, 查询, 下载):
# "网上能办吗" is answered by a sentence that says the procedure is done online.
_DOING = "办理|办|申请|申领|申报|提交|签注|缴费|交费|缴纳|续签|挂失|补办|提取|登记|备案|报名"
# What a caller asks can be done online in general (网上能办吗, 网上可以弄不): any act of
# doing the procedure answers it; a particular act (网上能退吗, 手机上能交吗, 能查吗) only
# a sentence that says that act online (``online_act``).
_DO_ASKED = frozenset({"", "办理", "办", "弄", "搞", "操作", "处理", "弄好", "办好", "申请", "申领",
                       "申报", "提交"})
_ONLINE_ASKED = "网上|网站|官网|app|小程序|公众号|微信|支付宝|在线"
# The act asked: two characters when they are one verb of these, else the first one.
_TWO_CHAR_ACTS = ("办理", "申请", "申领", "申报", "缴费", "交费", "缴纳", "充值", "查询", "打印",
                  "预约", "挂失", "续签", "签注", "提取", "转移", "投诉", "举报", "退费", "报名",
                  "登记", "备案", "提交", "操作", "处理")
# The same act as answers write it (交 the fee, 缴纳 it).
_ACT_SAID = {"交": "交|缴", "缴": "交|缴", "交费": "交费|缴费|缴纳|交", "缴费": "交费|缴费|缴纳|交"}
# A span a caller waits for: the figure after 一般/大约/需要, or before what comes at its
# end (领证, 拿到, 到账, 办结); not a condition's (交满一年的), a deadline's (期满前一个月内
# 办理) or a validity's (顺延一年).
_SPAN = numeral_run("满前延期第") + DURATION_UNITS
_WAITED = (f"(?:一般|通常|大约|大概|约|需要|最快|最长|最多|预计)[^，,。；]{{0,4}}?{_SPAN}"
           f"|{_SPAN}(?:左右|以内|内)?(?:就|即|才|后)?(?:能|可以|可|会)?"
           "(?:拿到|领到|领取|领证|取证|办好|办完|办结|到账|出结果|审完|完成|下来|寄到|送达|发放)")

# What a caller waits for at the end of a procedure (拿到, 批下来, 到账).
_RESULT = "(?:拿到|领到|办好|办完|办下来|下来|批下来|到账|出来|出结果|审完|审核完|办结)"
# Who may, as an answer states it: a condition (满半年, 年满六十, 符合条件), not an expiry
# (有效期满前一个月): what 需要什么条件 and 能不能办 are both answered by.
_WHO_MAY_SAID = "条件|符合|满足|资格|年满|(?<!期)满[^，,。；]{0,4}(?:年|岁|个月)"
# Whether the caller may: a may-or-not and the act, what it is done to after it (能申请复核吗:
# 复核), the clause's end.
_WHETHER_ASKED = ("(?:能不能|可不可以|能否|可否|能|可以)"
                  "(?P<verb>办理|办|申请|申领|领取|领|享受|补办|报销|提取|参保|落户|签注|续签)"
                  f"(?P<thing>{_FILLER}){_WHETHER_END}{_END}")
# The words around what the act is done to, which no answer repeats (那个养老卡: 养老卡;
# 一下, 了 after it): a demonstrative or measure before, particles after, never inside a
# word (个体户).
_NOT_THING = re.compile("^(?:那个|这个|一个|一下|个)|(?:一下|了|的|呢|啊|吗|么|不)+$")
# The details a condition states: their sentences "…的，可以…" are what is asked.
_CONDITIONAL = frozenset({"eligibility", "whether"})

DETAILS: tuple[Detail, ...] = (
    # What to bring or have: 要带什么材料, 需要准备哪些证件, 拿啥东西, 材料有哪些.
    _detail("materials",
            f"{_MAY}?(?:带|带上|拿|准备|提供|提交|交)(?:些|上|着|好)?{_WHAT}"
            "(?:材料|证件|资料|证明|东西|证)?"
            f"|{_MAY}?{_WHAT}(?:材料|证件|资料)"
            "|(?:材料|证件|资料)(?:都)?(?:有|是|要)(?:什么|啥|哪些)",
            # papers named after a verb of bringing or needing, not 材料齐全的 (a condition)
            "(?:携带|带上|带着|带好|带|凭(?!证)|持|需要|需|提交|提供|准备|出示)"
            "[^，,。；]{0,12}(?:证|卡|本|照|表|材料|资料|合同|书|单|明|件)"),
    # Who may: 需要什么条件, 啥条件, 有什么要求, 哪些人能办, 符合条件吗, 有资格吗; stated
    # by a condition (满半年, 年满六十, 符合条件), not an expiry (有效期满前一个月) nor
    # any "…的可以" (操作不会的可以拨打12366: what to do if, no condition to apply; mend59).
    _detail("eligibility",
            f"{_MAY}?(?:满足|符合|具备|有)?{_WHAT}(?:条件|要求|资格)"
            "|条件(?:是)?(?:什么|啥)|(?:哪些人|什么人|啥人|谁)(?:能|可以|才能)"
            "(?:办理|办|申请|申领|领取|领|享受)"
            f"|(?:符合|够)(?:不符合|不够)?(?:条件|资格){_WHETHER_END}"
            f"|有没有资格|有资格{_WHETHER_END}",
            _WHO_MAY_SAID),
    # A number to call: 电话是多少, 打哪个电话, 热线是啥, 有没有联系方式.
    _detail("phone",
            "(?:电话|热线|号码|联系方式)(?:号码)?(?:是)?(?:多少|几号|什么|啥)"
            # 打什么 alone asks what is done (打什么疫苗): a number only by its word
            "|(?:打|拨)(?:哪个|多少)(?:电话|号码|热线)?|(?:打|拨)(?:什么|啥)(?:电话|号码|热线)"
            "|(?:什么|哪个|啥)(?:电话|号码|热线)"
            f"|(?:有没有|有)(?:电话|热线|联系方式){_WHETHER_END}",
            # a number read from its first digit, as every run here (redos39): the same
            # matches, and a structure ticketing.pattern_growth can tell is linear
            r"电话|热线|拨打|(?<!\d)\d{5,}"),
    # How long it takes: 多久, 多长时间, 几个工作日 (the sizes' own "duration"), and when
    # the result comes (啥时候能拿到, 什么时候能办下来).
    _detail("duration",
            # not a lead time or a condition's span (提前多久, 住满多久, 住多久才能办) nor
            # how long a thing lasts (能用多久): no wait for the result
            # nor a count told (交了多少年社保, 过期好几年了: kb29)
            f"(?<!提前)(?<![满够住用好了]){_MAY}?(?:等)?(?:{_SIZE_ASKED['duration']})"
            f"(?:才|就)?(?:能|可以)?{_FILLER}{_WHETHER_END}{_END}"
            # after 了 only with the result waited for (办了多久能拿到, 申请了多久能批下来:
            # mend67), not a count (交了多少年社保)
            f"|(?<=了)(?:{_SIZE_ASKED['duration']})(?:才|就)?(?:能|可以)?{_RESULT}"
            f"{_FILLER}{_WHETHER_END}{_END}"
            f"|(?:什么时候|啥时候|多会儿|几时)(?:才|就)?(?:能|可以)?{_RESULT}{_WHETHER_END}",
            f"{_WAITED}|时限|(?:当场|当天|当日|即时|立即)(?:就|即)?(?:能|可以|可)?"
            "(?:办|领|拿|出|发|取|到账)"),
    # Online or not: 网上能办吗, 能不能在手机上弄, App上可以续签不 (the clause, whole,
    # asks it: not 网上怎么申请, a how).
    _detail("online",
            f"{_MAY}?在?(?:{_ONLINE_ASKED})上?{_MAY}?{_FILLER}{_WHETHER_END}{_END}"
            f"|不用(?:跑|去现场|到现场|本人去){_FILLER}{_WHETHER_END}{_END}",
            _ONLINE_SAID),
    # The cost: 收费吗, 要钱吗, 要不要钱, 交钱吗 (缴费), 免费吗, 费用多少, 多少钱; not 在哪
    # 缴费 (a place), so a whether or a how much goes with the word.
    _detail("cost",
            f"(?:缴费|掏钱){_WHETHER_ENDS}"
            "|(?:要不要|需不需要|用不用|是不是|收不收|花不花)(?:缴费|掏钱)"
            f"|{_MAY}?(?:花|交|缴|收|付)?(?:{_SIZE_ASKED['money']})",
            # an amount or free of charge: 电子收费 (how it is paid) states no cost
            f"{_SIZE_STATED['money']}|免费|不(?:收|收取|需要?交|需要?缴|用交|用缴|要)(?:任何)?"
            "(?:费|钱)"),
    # Where: 在哪儿办, 去哪里申请, 上哪领, 什么地方能办, 找哪个部门.
    _detail("place",
            "(?:在|去|到|上|找|跟|向)?(?:哪里|哪儿|哪个地方|什么地方|啥地方|哪个部门|什么部门"
            "|哪个单位|哪个窗口|哪(?![些样种类年天个几像门有]))(?:能|可以|才能)?"
            "(?:办理|办|申请|申领|领取|领|交|缴|补办|补|换|开|打印|提交|登记|备案|签注|报名)?"
            f"{_FILLER}{_WHETHER_END}{_END}|{WHERE_MISSAID}{_WHETHER_END}{_END}",  # 在那办 (kb29)
            f"{_PLACES}|{_GONE_TO}|{_ONLINE_SAID}|到[^，,。；]{{1,15}}(?:办理|申请|申领|领取|提交|办)"),
    # Whom to go to (找谁, 问谁, 归谁管, 谁管; kb29): a body or an office gone to or asked
    # (向…部门, 到…窗口, 找居委会) or a number to call; an online way is no one to see.
    _detail("whom",
            f"{_MAY}?(?:去|应该|该)?(?:找谁|问谁|归谁管|归谁|谁管|谁负责办|谁给办)"
            f"(?:办|办理|申请|申领|领|问|解决|处理|反映)?{_WHETHER_END}{_END}",
            f"{_GONE_TO}|窗口|派出所|办事处|营业厅|服务站|拨打|热线|(?<!\\d)\\d{{5,}}"
            "|(?:由|归)[^，,。；]{0,12}(?:负责|受理|办理|管理)"),
    # Whether the caller may do it at all (能不能办, 可以申请吗, 能领吗; kb29, after the
    # details that ask where or online of it: 网上能办吗 is online's): answered, heard alone,
    # by the sentence that states who may (满半年的，可以申领), as 需要什么条件 is.
    _detail("whether", _WHETHER_ASKED,
            _WHO_MAY_SAID),
)
_BY_KIND = {d.kind: d for d in DETAILS}
_WHETHER = re.compile(_WHETHER_ASKED)
_ONLINE_CLAUSE = re.compile(f"{_MAY}?在?(?:{_ONLINE_ASKED})上?{_MAY}?(?P<act>[^，]*)")
_WHETHER_TAIL = re.compile(f"{_WHETHER_END}$")
# Caller's wish to apply, said before what they ask of it (我想办居住证，要带什么): the
# matter asked about, not a second question (``_ASKING_FORM`` reads it as "how" alone).
_WISH = re.compile(f"想(?={WISHED})")


def details_asked(question: str) -> tuple[str, ...]:
    """The details (kinds of ``DETAILS``) ``question`` asks and nothing else, in the order
    asked (在哪办，要多久: place, duration; kb29), or () : it asks none, or something
    besides (怎么申请，要带什么材料), or is no question at all (收费太贵了 tells, 网上买的衣服
    是假货 complains)."""
    if not is_question(question):
        return ()
    asked: dict[str, tuple[int, int]] = {}  # kind: (clause, where in it) of its first ask
    rest: list[str] = []
    clauses = filter(None, (normalise(c) for c in _CLAUSE_END.split(question)))
    for n, clause in enumerate(clauses):
        for d in DETAILS:
            at = d.asked.search(clause)
            if at is None:
                continue
            asked.setdefault(d.kind, (n, at.start()))
            # Taken out, each character a clause mark: where the others stand is kept.
            clause = d.asked.sub(lambda m: "，" * max(1, len(m.group(0))), clause)
        rest.append(clause)
    if not asked:
        return ()
    if any(still_asks(_WISH.sub("", c)) for c in "，".join(rest).split("，") if c):
        return ()
    return tuple(sorted(asked, key=asked.__getitem__))


# A sentence that holds only under a condition (补办期间要用证的，可以…; 对处罚有异议的，可以
# 带…; 材料齐全的一般…; 如/若/要是…; 期满前…) answers a caller who asked in general only
# if the condition is theirs: heard alone, first, it misleads (review59). Who may is the
# one detail a condition states.
_UNDER_CONDITION = re.compile(
    "的话|的[，,]|的(?=一般|通常|都|均|还|也|就|可以|可|需要(?!求)|需(?!求)|应|须|要(?!求)|请|能|先|再)"
    "|^(?:如|若|如果|假如|要是|倘若|万一|一旦|凡)|(?:期满|到期|届满)前")
# A sentence that refers back to one before it (具体流程…, 上述材料, 此外, 也可以): heard
# first, it points at what the caller has not heard yet.
_REFERS_BACK = re.compile(
    "^(?:具体|上述|前述|以上|此外|另外|同时|其中|其他|其余|这些|这|那|该|此|其|也|还|并|但|而|否则)"
    "|上述|前述|以上")


def online_act(question: str) -> str:
    """The act ``question`` asks can be done online (交 of 暖气费在手机上能交吗, 查 of 能查
    吗), or "" for the procedure in general (网上能办吗, 网上可以弄不, 不用跑吧)."""
    for clause in filter(None, (normalise(c) for c in _CLAUSE_END.split(question))):
        m = _ONLINE_CLAUSE.search(clause)
        if m is None:
            continue
        rest = _WHETHER_TAIL.sub("", m.group("act"))
        act = next((v for v in _TWO_CHAR_ACTS if rest.startswith(v)), rest[:1])
        return "" if act in _DO_ASKED else act
    return ""


def whether_thing(question: str) -> str:
    """What ``question`` asks whether the caller may do: the act and what it is done to,
    apart by a space (申请 复核 of 能申请复核吗, 办 养老卡 of 能办那个养老卡不, 补办 of 能补办
    吗). A sentence read first for it must name both (kb29; mend67: the act too, or any
    condition would answer 能补办吗 and 违章能办吗, a condition of another act: 符合条件的
    可以直接在App上处理); none does, and the answer is read from the start."""
    for clause in filter(None, (normalise(c) for c in _CLAUSE_END.split(question))):
        m = _WHETHER.search(clause)
        if m is not None:
            return " ".join(filter(None, (m.group("verb"), _NOT_THING.sub("", m.group("thing")))))
    return ""


def _said_online(sentence: str, act: str) -> bool:
    """``sentence`` says the act (or, for "", doing the procedure) can be done online: an
    online way and the act after it in one clause, no later step between (网上预约后…)."""
    verb = _ACT_SAID.get(act, act) if act else _DOING
    return re.search(f"(?:{_ONLINE_SAID})(?:(?!后|再|然后)[^，,。；]){{0,12}}?(?:{verb})",
                     sentence, re.IGNORECASE) is not None


def states(sentence: str, kind: str, act: str = "") -> bool:
    """``sentence`` (of an entry's answer, as written) states the detail ``kind``, heard
    alone: not under a condition (but a who-may's own) nor referring back; online, the act
    asked (``online_act``) done online (mend59); whether, naming the act and what it is
    done to (``whether_thing``, ``act`` here; kb29, mend67)."""
    s = sentence.strip()
    if _REFERS_BACK.search(s) or (kind not in _CONDITIONAL and _UNDER_CONDITION.search(s)):
        return False
    if kind == "online":
        return _said_online(s, act)
    # the act and its thing as the question's are, respelt alike (申请 and 申领 are one)
    if kind == "whether" and not (act and all(w in normalise(s) for w in act.split())):
        return False
    return _BY_KIND[kind].stated.search(s) is not None
