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

from knowledge.search import QUANTITIES, is_question, normalise, still_asks

# A clause of what the caller said: punctuation (as written) or a recogniser's pause mark.
_CLAUSE_END = re.compile(r"[^\w]+")
# The questions' own size patterns (how long, how much money): one rule for a size asked.
_SIZE_ASKED = {kind: asked.pattern for kind, asked, _ in QUANTITIES}
_SIZE_STATED = {kind: stated.pattern for kind, _, stated in QUANTITIES}
# Whether: the words that ask it, before or after what they ask of.
_MAY = "(?:能不能|可不可以|能否|可否|是否|可以|能|会|要|得|需要|需不需要|要不要)"
_WHETHER_END = "(?:吗|么|嘛|不|没|没有|呢|啊)?"
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
_PLACES = ("地址|窗口|大厅|服务站|服务中心|服务点|派出所|办事处|街道|社区|居委会|村委会|营业厅|"
           "网点|分局|管理部|管理局|管理中心|医院|银行|柜台|现场|所在地")
_ONLINE_SAID = "网上|线上|网站|官网|app|小程序|公众号|微信|支付宝|在线|手机"

DETAILS: tuple[Detail, ...] = (
    # What to bring or have: 要带什么材料, 需要准备哪些证件, 拿啥东西, 材料有哪些.
    _detail("materials",
            f"{_MAY}?(?:带|带上|拿|准备|提供|提交|交)(?:些|上|着|好)?{_WHAT}"
            "(?:材料|证件|资料|证明|东西|证)?"
            f"|{_MAY}?{_WHAT}(?:材料|证件|资料)"
            "|(?:材料|证件|资料)(?:都)?(?:有|是|要)(?:什么|啥|哪些)",
            "材料|证件|资料|原件|复印件|证件照|照片|(?:携带|带上|带着|带好|带|凭|持)"
            "[^，,。；]{0,12}(?:证|卡|本|照|合同|书|单|明|件)"),
    # Who may: 需要什么条件, 啥条件, 有什么要求, 哪些人能办, 符合条件吗, 有资格吗; stated
    # by a condition (满半年, 年满六十, …的可以), not an expiry (有效期满前一个月).
    _detail("eligibility",
            f"{_MAY}?(?:满足|符合|具备|有)?{_WHAT}(?:条件|要求|资格)"
            "|条件(?:是)?(?:什么|啥)|(?:哪些人|什么人|啥人|谁)(?:能|可以|才能)"
            "(?:办理|办|申请|申领|领取|领|享受)"
            f"|(?:符合|够)(?:不符合|不够)?(?:条件|资格){_WHETHER_END}"
            f"|有没有资格|有资格{_WHETHER_END}",
            "条件|符合|满足|资格|年满|(?<!期)满[^，,。；]{0,4}(?:年|岁|个月)"
            "|[的者][，,]?(?:都|均)?可以"),
    # A number to call: 电话是多少, 打哪个电话, 热线是啥, 有没有联系方式.
    _detail("phone",
            "(?:电话|热线|号码|联系方式)(?:号码)?(?:是)?(?:多少|几号|什么|啥)"
            "|(?:打|拨)(?:哪个|什么|啥|多少)(?:电话|号码|热线)?"
            "|(?:什么|哪个|啥)(?:电话|号码|热线)"
            f"|(?:有没有|有)(?:电话|热线|联系方式){_WHETHER_END}",
            r"电话|热线|拨打|\d{5,}"),
    # How long it takes: 多久, 多长时间, 几个工作日 (the sizes' own "duration"), and when
    # the result comes (啥时候能拿到, 什么时候能办下来).
    _detail("duration",
            f"{_MAY}?(?:等)?(?:{_SIZE_ASKED['duration']})"
            f"(?:才|就)?(?:能|可以)?{_FILLER}{_WHETHER_END}{_END}"
            "|(?:什么时候|啥时候|多会儿|几时)(?:才|就)?(?:能|可以)?"
            "(?:拿到|领到|办好|办完|办下来|下来|批下来|到账|出来|出结果|审完|审核完|办结)"
            f"{_WHETHER_END}",
            f"{_SIZE_STATED['duration']}|工作日|时限|当场|当天|当日|即时办|立即|办结"),
    # Online or not: 网上能办吗, 能不能在手机上弄, App上可以续签不 (the clause, whole,
    # asks it: not 网上怎么申请, a how).
    _detail("online",
            f"{_MAY}?在?(?:网上|网站|官网|app|小程序|公众号|微信|支付宝|在线)上?{_MAY}?"
            f"{_FILLER}{_WHETHER_END}{_END}"
            f"|不用(?:跑|去现场|到现场|本人去){_FILLER}{_WHETHER_END}{_END}",
            _ONLINE_SAID),
    # The cost: 收费吗, 要钱吗, 要不要钱, 交钱吗 (缴费), 免费吗, 费用多少, 多少钱; not 在哪
    # 缴费 (a place), so a whether or a how much goes with the word.
    _detail("cost",
            "(?:收费|收钱|要钱|花钱|缴费|掏钱|免费)(?:吗|么|嘛|不|没|没有|呢)"
            "|(?:要不要|需不需要|用不用|是不是|收不收|花不花)(?:收费|收钱|钱|花钱|缴费|掏钱|免费)"
            "|(?:费用|工本费|手续费)(?:是)?(?:多少|贵不贵|高不高)"
            f"|{_MAY}?(?:花|交|缴|收|付)?(?:{_SIZE_ASKED['money']})",
            f"{_SIZE_STATED['money']}|费用|收费|免费|工本费|手续费|不收"),
    # Where: 在哪儿办, 去哪里申请, 上哪领, 什么地方能办, 找哪个部门.
    _detail("place",
            "(?:在|去|到|上|找|跟|向)?(?:哪里|哪儿|哪个地方|什么地方|啥地方|哪个部门|什么部门"
            "|哪个单位|哪个窗口|哪(?![些样种类年天个几]))(?:能|可以|才能)?"
            "(?:办理|办|申请|申领|领取|领|交|缴|补办|补|换|开|打印|提交|登记|备案|签注|报名)?"
            f"{_FILLER}{_WHETHER_END}{_END}",
            f"{_PLACES}|{_ONLINE_SAID}|到[^，,。；]{{1,15}}(?:办理|申请|申领|领取|提交|办)"),
)
_BY_KIND = {d.kind: d for d in DETAILS}
# Caller's wish to apply, said before what they ask of it (我想办居住证，要带什么): the
# matter asked about, not a second question (``_ASKING_FORM`` reads it as "how" alone).
_WISH = re.compile("想(?=(?:给[^\\W_]{1,3})?(?:办|申请|申领))")


def detail_asked(question: str) -> str | None:
    """The one detail (a kind of ``DETAILS``) ``question`` asks and nothing else, or None:
    it asks none, or two (在哪办，要带什么), or something besides (怎么申请，要带什么材料;
    能不能办), or is no question at all (收费太贵了 tells, 网上买的衣服是假货 complains)."""
    if not is_question(question):
        return None
    asked: set[str] = set()
    rest: list[str] = []
    for clause in filter(None, (normalise(c) for c in _CLAUSE_END.split(question))):
        for d in DETAILS:
            clause, n = d.asked.subn("，", clause)
            if n:
                asked.add(d.kind)
        rest.append(clause)
    if len(asked) != 1:
        return None
    if any(still_asks(_WISH.sub("", c)) for c in "，".join(rest).split("，") if c):
        return None
    return asked.pop()


def states(sentence: str, kind: str) -> bool:
    """``sentence`` (of an entry's answer, as written) states the detail ``kind``."""
    return _BY_KIND[kind].stated.search(sentence) is not None
