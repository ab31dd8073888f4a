"""Retrieval over the knowledge base for Mandarin callers' words.

Two signals, each ranked with BM25 (``rank_bm25``) over the fields title, keywords and
synonyms (weighted up) and answer:

- words: jieba's search-mode segmentation, filler and question words left out;
- sounds: toneless pinyin syllable pairs (with the usual recogniser/accent confusions
  zh/z, ch/c, sh/s, n/l, -ng/-n folded), taken across word boundaries, so that a
  homophone (公基金 for 公积金) or a segmentation the recogniser's text leads jieba into
  still meets the entry.

Before either, a stretch of the caller's characters that sounds like a word of an entry's
title or keywords but is no word of its own (居住正, 叫社保) is respelt as that word (see
:class:`_Spelling`): a recogniser's homophone then counts as the word in the confidence too.

Ranking adds the two, each scaled to the query's best entry, and a small prior for the
caller's category when it is known. Whether the best entry *answers* is a separate
question, decided by a confidence built from how much of what the caller said the entry
covers (IDF-weighted, for both signals; a word only its answer has counts half), whether
the words are a question at all (a complaint that shares words with an entry is not one,
nor is a question that blames: 怎么还, 凭什么, 约不上), and the margin to the runner-up;
a caller who says much of the entry has the context around it count less (see
:func:`confidence`). Below the threshold nothing is returned; :func:`worth_confirming`
says whether the best entry is still likely enough to ask the caller about.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import jieba
from pypinyin import Style, lazy_pinyin
from rank_bm25 import BM25Plus

from config.settings import CONFIG_DIR
from knowledge.objects import OBJECTS_FILE, Named, load_objects
from ticketing.segmenter import private_tokenizer

if TYPE_CHECKING:
    import jieba.posseg

_log = logging.getLogger(__name__)

# Field weights (how many times a field's terms count): the title and the editor's
# keywords say what the entry is about; the answer also says much else.
FIELD_WEIGHTS = {"title": 3, "keywords": 3, "synonyms": 3, "aliases": 1, "answer": 1}
# A known category lifts its entries' ranking score by this factor.
CATEGORY_PRIOR = 1.25
# Share of a word's weight a single character of the caller's earns when it is only part
# of one of the entry's words (see :meth:`_Signal.coverage`).
SINGLE_CHAR_CREDIT = 0.5
# Share of a word's weight the caller earns towards the confidence when only the entry's
# answer has it, not its title, keywords or synonyms (see :func:`confidence`).
ANSWER_CREDIT = 0.5
# Shipped threshold on the confidence (see :func:`confidence`).
DEFAULT_MIN_CONFIDENCE = 0.5
# What a short question says of its entry, in rare words' worth (see :meth:`_Signal.said`):
# a caller who says more of the entry than this has the words they add around it count
# less, by the square of the ratio (see :func:`confidence`).
EVIDENCE_WORDS = 2.0
EVIDENCE_POWER = 2.0
# A caller who tells a story around their question ("我钱包让人偷了，身份证也在里头，这可咋整？")
# adds words no entry has outside the question's clause. Once they have said more of the
# entry than a short question (``EVIDENCE_WORDS``), such a word the entry lacks weighs
# this much of a word in the question itself (see :func:`story` and :func:`confidence`);
# chosen by leave-one-file-out over the bench files (docs/knowledge.md, eleventh round).
STORY_WEIGHT = 0.25
# The share of the asking clauses' words the entry must have for the story around them to
# count less: their question has to be about the entry.
STORY_ASKED = 0.5
# The most an entry that lacks the thing the caller asks about (see :func:`asked_objects`)
# can be trusted: under the shipped threshold, so it is never read out directly, and above
# the IVR's confirmation bound (``ivr.kb_confirm_from``, 0.3), so a caller who means that
# entry after all can still say so when asked "您是想问<title>吗" (docs/knowledge.md, step 9).
UNASKED_CAP = 0.45
# jieba's part-of-speech tags of a noun: common and proper nouns, verbal nouns (合理 of
# 这合理吗), abbreviations (医保), idioms and set phrases (强买强卖).
_NOUN_TAGS = frozenset({"n", "nz", "nt", "vn", "j", "l", "i"})
# Nouns that name what is asked of any procedure, not what it is about (要带什么材料,
# 要多长时间, 有啥办法, 要带啥东西): no entry is needed to say them.
ASKED_FRAME = frozenset({"时间", "材料", "办法", "东西", "情况"})

# Mandarin's compound directions (回来, 下去): after a verb (拆下来) or alone.
_DIRECTIONS = frozenset(a + b for a in "上下进出回过起开" for b in "来去") - {"起去", "开去"}
# Verbs that name no matter on their own (feature ``unspoken``): a caller's verb that the
# entry's text lacks caps the entry at "did you mean", unless it is one
# of these. Written from general Mandarin, not from any question file; each group says
# why it asks nothing an entry must speak of:
UNSPOKEN_FREE = frozenset(" ".join((
    # wish, intention and possibility (modal): who wants or may, not what is done
    "想要 打算 准备 希望 愿意 应当 必须 可能 允许 得以",
    # the phase of doing (aspect): begun, going on or done, of whatever the matter is
    "开始 继续 完成 结束 进行 接着",
    # when it is done: early, on time, in a hurry
    "提前 按时 及时 尽快 赶紧 抓紧 来得及 来不及",
    # doing, meeting a condition or handing something over in general (materials, forms)
    "操作 处理 解决 满足 符合 具备 提供 提交 上交 交给 使用 利用",
    # knowing and asking: the frame around a question
    "知道 了解 打听 告诉 觉得 认为 确定 清楚 明白",
    # kb30: looking and making sure (看看, 确认一下): finding out, as 了解, what the entry
    # tells; the result waited for (多久能拿到, 领到): what the procedure ends in, not an
    # act of its own; whether a way helps (打12315管用吗); a thing put to a use (公积金能
    # 拿来交房租: 用来), the use the verb after it names
    "确认 看看 看到 瞧瞧 瞅瞅 拿到 领到 到手 管用 有用 好使 拿来 用来",
    # going and coming (to the office, back home), and the same words as a direction
    # after a verb that the dictionary cuts off (讨|回来): a closed class of Mandarin
    "前往 " + " ".join(sorted(_DIRECTIONS)),
)).split())
# Characters that end a verb as its direction or result (回来, 拿到, 换成, 挡住, 退掉, 收错): with
# them, a doubled verb (看看, 剪剪) and a verb that says whether it can be done (找不着,
# 买得起), the verb is its first character, which an entry that has it speaks of.
_COMPLEMENTS = frozenset("来去上下回出进起过开到着住完好掉成走错")
_NEGATORS_GLUED = frozenset("不没别未")
_POTENTIAL = frozenset("不得")
# Words that ask (a question to answer, not a problem to hand to a unit).
QUESTION_WORDS = (
    "怎么", "怎样", "如何", "哪里", "哪儿", "哪个", "哪些", "哪家", "去哪", "在哪", "什么",
    "啥", "吗", "么", "能不能", "可不可以", "可以不", "是不是", "有没有", "要不要", "需不需要",
    "多少", "多久", "几号", "几点", "何时", "请问", "问一下", "问问", "咨询", "想知道",
    "想了解", "了解一下", "需要什么", "需要带", "要带", "怎么办", "么办", "能否", "是否",
    # Spoken and northern forms: 咋整, 找哪儿, 行不行, 几月几号.
    "咋", "哪", "行不行", "几月", "几时", "多长", "找谁",
    # Whom a matter belongs to (这事归谁管): kb29. 问谁 asks only as ``_WHOM_ASKED``.
    "归谁",
)
# Words that report a problem, someone to blame, or how long it has gone on; with them the
# words of kb_matters' complain and nuisance (``COMPLAINT_WORDS``, below: one list of each).
_REPORTED = (
    "反映", "没人管", "不管", "太差", "太大", "太吵",
    "不给", "不退", "还没", "一直", "好几天", "多天", "严重", "威胁", "坏了", "要求处理",
)
# Words that blame: a complaint put as a question, asking who is at fault (为什么,
# 凭什么, spoken 为啥, 凭啥, 怎么能, 怎么回事), saying how often it goes wrong (老是, 天天,
# 好几次), that a service fails the caller (约不上, 不到账, 推来推去, 态度) or calling
# for someone to act (管不管, 派人). Unlike the words above (一直, 不给 also tell the
# situation a question is about: "房子一直空着", "辞退了不给补偿"), a question with one
# of these is never answered from an entry that does not use it: the entry explains the
# matter, the caller complains of it.
BLAME_WORDS = (
    "为什么", "为啥", "凭什么", "凭啥", "怎么还", "怎么能", "怎么又", "怎么回事", "老是",
    "总是", "天天", "好几次", "管管", "管不管", "谁来管", "没人来", "派人", "推来推去",
    "推诿", "态度",
    "不耐烦", "插队", "黄牛", "约不上", "不到账", "没到账",
    # Nobody answers the caller's earlier request (没人理, 没人搭理), as 没人来 (kb26). Not
    # 不搭理我: a merchant who ignores the caller is the consumer entry's situation.
    "没人理", "没人搭理",
    # Asking for the reason of a wrong done (这是什么道理) or for someone to be hurried
    # (帮我催一下): the matter is the caller's grievance, the entry only explains it.
    "什么道理", "啥道理", "讲不讲理", "催一下", "催催", "帮我催",
    # A verdict on what was done, or a question that answers itself (这不合理, 这不耽误孩子吗,
    # 这不是强买强卖吗): the caller judges the matter, asks nothing of it.
    "这不",
    # A verdict asked for (收得太贵了，这合理吗; 装了地锁，这合法吗): what is fair or lawful is
    # the caller's grievance put as a question; an entry says how a matter is done, not
    # whether what someone did to the caller was right.
    "合理吗", "合法吗", "合不合理", "合不合法", "合理不", "合法不",
    # A price called too high (收得太贵了，这个有没有标准; 要八百是不是太贵了; kb29): a
    # verdict on a charge, as 合理吗; an entry says how a fee is paid, not whether the one
    # asked of the caller was fair.
    "太贵", "贵了",
)
# Words that carry no content for matching (fillers, pronouns, question words).
STOP_WORDS = frozenset(" ".join((
    "的 了 吗 呢 吧 啊 呀 么 嘛 哦 我 我们 我家 你 你们 您",
    "他 她 它 他们 这 那 这个 那个 这边 那边 个 一下 一个 是 在 有",
    "要 想 能 会 可以 可不可以 能不能 怎么 怎么样 怎样 如何 哪里 哪儿 哪 去 什么",
    "啥 多少 请问 问 问问 问一下 咨询 知道 想知道 了解 需要 应该 还 都 就 也",
    "和 与 或者 得 着 过 给 把 被 让 到 从 对 跟 自己 现在",
    "今年 明年 家里 办 弄 怎么办 里 吗 那片 哪个 哪些 些 有没有 没有",
    "是不是 多久 几 号 能否 是否 谢谢 你好 喂 嗯 那么 这么 时候 不能 能够 问下 想问",
    # Spoken fillers and the frame around a question ("听说…具体怎么操作"): no entry is
    # about them, yet each one a caller adds would count against every entry's coverage.
    "呃 额 哎 唉 噢 哈 啦 就是 然后 这样 的话 听说 具体 一般 已经 说 刚 刚刚 才 又 再",
    "还是 比较 特别 非常 真的 其实 主要 打听 麻烦 帮 帮忙 帮我 行 行不行 不行 可以吗",
    "好 手续 流程 步骤 操作 准备 打算 想要 咋 整 到底 究竟 大概 多长 哪天 几月 几号 几点 下",
    "以前 之前 原来 当时 后来 儿 找 部门",
    # 才 and 能, which jieba glues into one word ("talent", tagged a verb): 怎么才能结算
    # was read as asking the act 才能, which no entry speaks of (kb40).
    "才能",
)).split())
_CLEAN = re.compile(r"[^\w]+")
# Punctuation ends a clause: read across it, "有只狗，狗证" would make 狗狗 of 狗，狗.
_CLAUSE_END = re.compile(r"[^\w\s]+")
# Three or more digits read one by one, as phone and service numbers are.
_SPOKEN_NUMBER = re.compile("[零〇幺一二三四五六七八九]{3,}")
_DIGITS = str.maketrans("零〇幺一二三四五六七八九", "001123456789")
# Question words that never belong to a content word, longest first.
_ASKING = re.compile("|".join(sorted(
    ("怎么样", "怎么", "怎样", "如何", "哪里", "哪儿", "哪个", "哪些", "在哪", "去哪", "哪",
     # whole, or 在哪 would leave 里 to make 里弄 (a lane) of 在哪里弄
     "在哪里", "在哪儿", "去哪里", "去哪儿",
     "什么", "啥", "吗", "呢", "请问", "能不能", "可不可以", "有没有", "要不要"),
    key=len, reverse=True)))
# The acts of a procedure a caller wants done (想办个老年卡, 想给我妈办, kb30: 想换一家,
# 想续一下): one pattern for the question it asks (``_ASKING_FORM``) and the wish said
# before a detail asked (``knowledge.details``).
# mend73: 续签 and 挂失 too, the procedure acts ``PROCEDURE_ACTS`` lists.
PROCEDURE_ACTS = ("办", "申请", "申领", "换", "续", "续签", "补办", "挂失", "转移", "变更",
                  "提取", "取出", "登记", "备案")
WISHED = "(?:给[^\\W_]{1,3})?(?:" + "|".join(sorted(PROCEDURE_ACTS, key=len, reverse=True)) + ")"
# Questions asked by their form rather than a word: a verb and its negation (会不会,
# 够不够, 去没去), a choice (是自动发还是要申请; 还是 before a negation is "still": 还是不热,
# a complaint), a clause that ends in 不 (能办不？) and a service the caller wants done
# (想办个老年卡, 想给我妈办, 想申请): at a hotline, asking how. A choice may also go
# without 是 when one word closes both of its sides (去银行办还是去中心办, 三月还是四月):
# 还是 "still" is followed by what happened (还是把账单寄来了), never by a side that ends
# as the first one did.
_ASKING_FORM = re.compile(
    r"([\u4e00-\u9fff])[不没]\1|是[^\W_]{1,15}还是(?![不没])"
    # kb30: a clause that asks whether with a modal or 有/是 ends in 不 before another
    # (能在手机上申请不，还是非得跑一趟), as at the end; not a refusal told (我说不, 就是不,
    # 偏不, 也不, 都不, 还不, 并不).
    # mend73 (review72): not one told of someone else (我找他们要钱他们不, 找物业物业不:
    # a person, or the one named again, before 不 is who refused; 他们还是不: "still"), nor
    # a demand made (要了三回: asked, and refused; 交得了不 still asks).
    r"|(?:能|可以|要(?!了)|用|得|行|有|是)"
    r"(?:(?!他|她|我|你|咱|人家|(?P<again>[\u4e00-\u9fff]{2})(?P=again))[^\W_]){0,12}?"
    r"(?<![就偏也都还并])(?<!还是)不(?=[^\w]|$)"
    r"|(?P<side>[\u4e00-\u9fff])还是(?![不没])[^\W_]{0,12}(?P=side)(?![^\W_])")
# kb30: a procedure's act wanted said with an everyday verb (医保定点医院想换一家, 居住证
# 想续一下, 公积金想取出来): as 想办, asking how. mend73 (review72): a wish is a question only
# while nothing that went wrong follows it: what came of it (结果, 可是, 但, 却), someone's
# answer (派出所说, 听说 aside), a delay or a refusal (拖了俩月, 不给办, 不让), trips made
# (跑了三趟) tell a complaint of the wish (想转移公积金，新单位拖了俩月也不给办); so does a
# wish told as past (本来想, 原本想, 早就想, 上个月就想, 都想…了).
# What follows the wish is read within 200 characters (longer than any question written for
# the knowledge base): read to the text's end from each 想, a question of many wishes cost
# time with the square of its length ("想申请" × 1,300: 85 ms; redos39).
_WISH_ASKED = re.compile(
    "(?<!本来)(?<!原本)(?<!原来)(?<![就都])想" + WISHED
    + "(?![^\\W_]{0,200}了(?!解))(?!.{0,200}?(?:结果|可是|但|却|(?<!听)说|拖|不给|不让|跑了|趟"
    "|(?:^|[^\\w])可))")
# kb29: 那 heard or said for 哪 (nà and nǎ differ only in tone: a recogniser's slip and a
# caller's everyday one): "结婚登记在那办", "身份证上那儿补" ask where when the act ends the
# clause; told, the act has its end (我在那办过, 在那办的, 在那办了三回) or someone sent the
# caller there (让我去那办). One rule: ``knowledge.details`` reads it as a place asked.
# mend67 (review68): only where the clause is a question, which it ends with a question's
# mark, particle or the sentence itself: a story goes on (我昨天去那交，营业厅说户号不对),
# and one told of a past day (昨天, 上回) or a trip made (去过那, 去了那) asks nothing.
_PAST_TOLD = "昨天|前天|上回|上次|那天|当时|刚才|上礼拜|上星期|上周|上个月|去年|之前|以前"
WHERE_MISSAID = ("(?:^|(?<=[^\\w]))(?:(?!" + _PAST_TOLD + ")[^\\W_])*?"
                 "(?<!让我)(?<!叫我)(?<![让叫])(?:在|去|上|到|跑)那(?:里|儿)?"
                 "(?:能|可以|才能|得|要)?"
                 "(?:办理|办|申请|申领|补办|补|交|缴|领取|领|换|开|登记|报名|打印|备案|签注)"
                 "(?:啊|呀|呢|嘛)?(?=[？?]|[^\\w]*$|(?<=[啊呀呢嘛])[^\\w])")
# A guess put to the hotline to confirm (公积金转移不用跑吧, 得本人去吧, 这个能网上办吧,
# 还得交钱吧): a modal or a need, then an act of the procedure, and 吧 ending the clause.
# 吧 after a verdict or a demand (太贵了吧, 不能这样吧, 你们得给个说法吧) tells: no act of
# the procedure follows the modal there, and 不能 is a verdict's. Going or coming (跑, 去,
# 来) is the caller's own act only as the whole of it (不用跑吧, 得本人去吧, 得去一趟吧):
# before another verb it is someone else sent to do that (物业应该来修一下吧, 劳动监察应该去
# 处理一下吧, 总得来人清一下吧: demands, mend67).
_GUESS_ASKED = re.compile(
    "(?:(?<!不)能|可以|得|要|需要|不用|不需要|用不着|不必|应该)(?:我|咱|本人|亲自|自己|再)?"
    "(?:(?:跑|去|来)(?:一趟|一次|两趟|现场)?吧"
    "|(?:去|跑|来|到|在)?(?:网上|线上|手机上)?"
    "(?:办理|办|申请|申领|补办|补|交|缴|领|带|预约|排队|到场|签字|收费|花钱|交钱|缴费"
    "|提供|准备|登记|提交)[^\\W_]{0,6}吧)(?=[^\\w]|$)"
    f"|{WHERE_MISSAID}")
# Whom to ask (该问谁, 这事问谁啊; kb29), not "whoever I ask" (我问谁谁都说不知道, 问谁都
# 没用: a complaint, mend67).
_WHOM_ASKED = re.compile("问谁(?![谁都也])")
# 么 of degree and of alternatives (这么多, 那么贵, 多么, 要么): no question.
_NOT_ASKING = re.compile("这么|那么|多么|要么")
# Recogniser and accent confusions folded before comparing sounds.
_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
# A figure as an entry writes it: digits, or a Chinese numeral (几 and 半 too: "一般几天",
# "满半年" answer how long as surely as "十五个工作日" does).
_NUMERAL = "[0-9〇零一二两三四五六七八九十百千万几半]"


def numeral_run(not_after: str = "") -> str:
    """A run of ``_NUMERAL`` read from its first numeral only (a lookbehind): tried from every
    numeral of a long run, each search read the run to its end ("1" × 4,000: 78 ms a
    pattern; redos39). Whether a text holds a figure does not change: a start inside a run
    finds one only where the run's first would. A run right after a character of
    ``not_after`` was read from its second numeral (``(?<!第)`` before a run: 第十二个月 holds
    二个月, 第二年 nothing); it is read whole now where it has two numerals or more: the
    match starts one numeral earlier, and is found where it was."""
    if not not_after:
        return f"(?<!{_NUMERAL}){_NUMERAL}+"
    return (f"(?:(?<![{not_after}{_NUMERAL[1:-1]}]){_NUMERAL}+"
            f"|(?<=[{not_after}]){_NUMERAL}{{2,}})")


# What a caller asks the size of, each kind by the way it is asked, and the figure of that
# kind an entry must state to answer it: a question that asks nothing but a size (天然气一
# 立方多少钱, 赡养老人能扣多少) is answered by the entry's figure or not at all; an entry
# that shares the topic and states none (how to pay, how to apply, a hotline's number)
# answers a neighbouring question. Most specific first: each kind's asking words are taken
# out of the text before the next is looked for.
# A span of time as an entry states it (三个月, 十五个工作日, 半年): the unit after the figure.
DURATION_UNITS = "(?:个月|个星期|个工作日|工作日|年|天|周|星期|小时)"
# Whether a thing costs anything, asked (收费吗, 要不要钱, 免费吗, 工本费是多少): a price
# asked as much as 多少钱 (the ``money`` kind of ``QUANTITIES``; knowledge/details.py's cost
# detail reads it too). Not 缴费吗 (能在网上缴费吗 asks how to pay, not what it costs).
FEE_ASKED = ("(?:收费|收钱|要钱|花钱|免费)(?:吗|么|嘛|不|没|没有|呢|啊|吧)"
             "|(?:要不要|需不需要|用不用|是不是|收不收|花不花)(?:收费|收钱|钱|花钱|免费)"
             "|(?:费用|工本费|手续费)(?:是)?(?:多少|贵不贵|高不高)")
QUANTITIES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (kind, re.compile(asked), re.compile(stated)) for kind, asked, stated in (
        # kb43: a day off, asked whether the office works then (周末上不上班, 星期六能办吗,
        # 周日可以去领结婚证吗): the entry must say on which days it does (工作日, 周一至周五,
        # 节假日). Only as the clause's whole question: 这周末是不是要停电，在哪能查 asks
        # where to look.
        # kb46: only an office's day asked, as the entries' answers speak of days: of an
        # office's working days (``工作日``; 十五个工作日 is a span, the ``duration``). Not
        # an act that channels open every day do (周末能交电费吗: an App, 网上国网), nor a
        # rule on that day (周末垃圾也要分类吗): a day word then a question of opening,
        # going there, or the office handling it (办, 领, 受理).
        ("day", "(?:周末|周六|周日|周天|星期[六天日]|礼拜[六天日]|节假日|双休日?|休息日)"
                "[^\\W_]{0,10}?(?:上不上班|开不开门|办不办|营不营业|能不能办|让不让"
                "|(?:上班|开门|营业|办公|值班|受理|(?<!怎么)办|领|去)[^\\W_]{0,8}?(?:吗|么))",
         "(?<!个)工作日|周一|星期一|礼拜一|周末|节假日|双休|休息日"),
        # A share: 百分之几, 几成, or how much of a rate (比例是多少).
        ("rate", r"百分之(?:几|多少)|几成|(?<=比例|比率|费率|利率)\w{0,4}?多少",
         r"百分之|[%％]|" + _NUMERAL + "成"),
        # A price or a sum of money, or whether there is one (kb45: 收费吗, 要不要钱,
        # 工本费是多少: 身份证丢了重新办收费吗 was offered the replacement, which names no fee).
        ("money", FEE_ASKED + r"|多少钱|几块钱|多少块|多少元|多少万|多贵",
         numeral_run() + "(?:元|块|万|角)|免费"),
        # How long: a figure with a unit of time that counts (三个月内, 十五个工作日, 半年),
        # not a date's month (三月到六月底) nor the year after (第二年).
        ("duration", r"多久|多长时间|多长|(?:几|多少)(?:个月|个星期|个礼拜|个小时|个工作日|年|天|周"
                     r"|小时|工作日)",
         numeral_run("第") + DURATION_UNITS),
        # When: a day, a month, an hour (十一月十五日, 五月左右).
        ("date", r"几月份|几月|几号|几点|几时", numeral_run() + "(?:月|日|号|点)"),
        # kb45: whether a figure went up or down (涨了吗, 涨没涨, 有没有上调, 提高了没): the
        # entry must say it changes (调整, 上调), not only how to apply (今年高龄津贴涨了吗？
        # 八十岁每个月能拿多少 read out the allowance's entry, which states neither).
        ("change", r"(?:涨|上调|调高|上涨|下调|降)了?(?:吗|么|没有|没|不)|涨没涨|涨不涨"
                   r"|调没调|提高了(?:吗|么|没有|没)|提没提高|有没有(?:涨|上调|调高|上涨|提高|调整)",
         "调整|上调|调高|提高|上涨|涨"),
        # kb47: which districts, asked as a list (北京哪些区不让养大狗, 重点管理区都包括哪几个区):
        # the entry must name one of the city's districts; 重点管理区内不能养大型犬 says a rule
        # holds somewhere, not where.
        # Or whether a place lies in such a zone (朝阳区是不是禁养大型犬的区域).
        # Not the districts whose office serves or where a procedure is done (review140:
        # 哪些区的派出所能办居住证, 哪几个区能办异地就医备案): that asks where, which the
        # entry on doing it answers without naming a district.
        ("district", r"哪(?:些|几个)(?:区域|地区|区)(?!别|的|(?:都)?(?:能|可以|可)"
                     r"(?:去)?(?:办|交|缴|申|投诉|领|查|报))"
                     r"|(?:是不是|算不算|属不属于)[^\W_]{0,10}?(?:区域|管理区|范围)",
         "(?:东城|西城|朝阳|海淀|丰台|石景山|门头沟|房山|通州|顺义|昌平|大兴|怀柔|平谷|密云"
         "|延庆)区?"),
        # How many of anything else, or a bare 多少 (还剩多少, 能扣多少, 尾号是几): an
        # amount, never a date or a phone number. 好几, 这几, 前几 and 哪几 count nothing.
        ("amount", r"(?<![好这那前后哪十])几(?!乎)|多少",
         r"百分之|[%％]|" + numeral_run() + "(?:元|块|万|角|成|个|次|趟|项|样|种|类|家|人|岁|分)"),
    ))


# Han characters (a recogniser's homophone is one of them, and each is one syllable).
_HAN_RUN = re.compile("[\u4e00-\u9fff]+")
# Longest stretch of the caller's characters respelt as one of the entries' words.
RESPELL_MAX = 5
# Numerals and demonstratives: what a measure word (个) follows when it counts.
_COUNTING = frozenset("一二两三四五六七八九十百千几这那每哪整半某各上下")
# What a caller says between a verb and its object (:class:`_Spelling`): a measure word
# for one of what the object names, after 了 or not (报了个名, 买了套房, 办张卡).
_MEASURES = "个套张份本"
# kb45: or the result of the act, done (买完房, 办好证, 报完名): 刚买完房，我和我老婆的公积金
# 怎么都提出来 never said 买房, and the renters' drawing ranked first.
_RESULTS = "完好"
_SPLITTING = (*(m for w in _MEASURES for m in (w, f"了{w}")), *_RESULTS)
# A negation is what the caller means, never a slip (没气 is not 煤气).
_NEGATION = re.compile("[没不未别无]")


@dataclass(frozen=True)
class Doc:
    """What the index needs of an entry (plain data: the index outlives sessions)."""

    id: str
    title: str
    category: str
    answer: str
    keywords: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    # What callers call the entry (config/kb_aliases.toml): see :func:`with_aliases`.
    aliases: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None

    def current(self, today: date) -> bool:
        return within(self.valid_from, self.valid_until, today)


def within(valid_from: date | None, valid_until: date | None, today: date) -> bool:
    """An entry's validity window holds ``today`` (the hotline's local date; both ends
    count, and an open end is no limit): the one rule for searching and for answering."""
    return ((valid_from is None or valid_from <= today)
            and (valid_until is None or today <= valid_until))


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    category: str
    score: float  # ranking score (relative to this query's best)
    confidence: float  # whether it answers; compared with the threshold


@dataclass(frozen=True)
class Result:
    hits: list[Hit]  # best first, whatever their confidence
    question: bool
    answer: Hit | None  # the best hit if its confidence reaches the threshold, else None
    threshold: float = DEFAULT_MIN_CONFIDENCE
    features: dict[str, float] = field(default_factory=dict)


_tokenizer_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _jieba() -> jieba.Tokenizer:
    """A private tokenizer (others may add words to jieba's global one); made once, with
    the process's one build of jieba's dictionary (``ticketing.segmenter``)."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            _tokenizer = private_tokenizer()
        return _tokenizer


SYNONYMS_FILE = CONFIG_DIR / "kb_synonyms.toml"


def _load_synonyms(path: Path) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    with path.open("rb") as f:
        groups: dict[str, list[str]] = tomllib.load(f).get("canonical", {})
    to_word = {phrase: word for word, phrases in groups.items() for phrase in phrases}
    if not to_word:
        return None, {}
    alternation = "|".join(re.escape(p) for p in sorted(to_word, key=len, reverse=True))
    return re.compile(alternation), to_word


_SYNONYMS, _TO_WORD = _load_synonyms(SYNONYMS_FILE)

TOPICS_FILE = CONFIG_DIR / "kb_topics.toml"


def load_lists(path: Path, table: str) -> dict[str, tuple[str, ...]]:
    """A data file's table of phrase lists (topics, aliases, matters), each as a tuple.

    Operators edit these files (config/kb_aliases.toml): a mistake is a ValueError at start
    that names the file and the list, never a silent change of what is searched (review103:
    a phrase without its brackets was read as one alias per character)."""
    try:
        with path.open("rb") as f:
            lists: object = tomllib.load(f).get(table, {})
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from e
    if not isinstance(lists, dict):
        raise ValueError(f"{path}: [{table}] must be a table of phrase lists")
    for name, phrases in lists.items():
        # Phrases are kept apart by spaces in the index (:func:`_weighted`).
        if not isinstance(phrases, list) or not all(
                isinstance(p, str) and p and not any(c.isspace() for c in p) for p in phrases):
            raise ValueError(f"{path}: [{table}] {name} must be a list of phrases, each "
                             f"non-empty and without spaces: {phrases!r}")
    return {name: tuple(phrases) for name, phrases in lists.items()}


def load_topics(path: Path) -> dict[str, tuple[str, ...]]:
    return load_lists(path, "topics")


_TOPICS = load_topics(TOPICS_FILE)

ALIASES_FILE = CONFIG_DIR / "kb_aliases.toml"


def load_aliases(path: Path) -> dict[str, tuple[str, ...]]:
    """What callers call each entry, by entry id (config/kb_aliases.toml)."""
    return load_lists(path, "aliases")


_ALIASES = load_aliases(ALIASES_FILE)

MATTERS_FILE = CONFIG_DIR / "kb_matters.toml"


def load_matters(path: Path, table: str = "matters") -> dict[str, tuple[str, ...]]:
    """Each matter (config/kb_matters.toml) with the words that say it."""
    return load_lists(path, table)


# Matters named anywhere in the caller's words, and those counted only as the step asked
# (the ``[steps]`` table, see :func:`steps_asked`); an entry speaks of either in its text.
_ANYWHERE = load_matters(MATTERS_FILE)
_STEPS = load_matters(MATTERS_FILE, "steps")
_LAPSES = load_matters(MATTERS_FILE, "still")
# Matters named only where the question asks them (``[asked_clause]``: mend73).
_ASKED_CLAUSE = load_matters(MATTERS_FILE, "asked_clause")
# kb23's matters as review33 narrowed them (mend33): counted only against an entry whose
# title teaches no step the call asks (see :func:`loose_matters`, :meth:`Index.search`).
_LOOSE = load_matters(MATTERS_FILE, "loose")
_LOOSE_UNLESS = {m: re.compile("|".join(forms))
                 for m, forms in load_matters(MATTERS_FILE, "loose_unless").items()}
# Words in the matter's own clause that undo it there (a move into Beijing, or out of
# another place, is no move away from Beijing: review55).
_LOOSE_UNLESS_CLAUSE = {
    m: re.compile("|".join(forms))
    for m, forms in load_matters(MATTERS_FILE, "loose_unless_clause").items()}
# Words of an entry's text that speak of a matter besides its own (本人或家属, 多退少补).
_SPEAKS = load_matters(MATTERS_FILE, "speaks")
_MATTERS = {**_ANYWHERE, **_ASKED_CLAUSE, **_STEPS, **_LAPSES, **_LOOSE}
# mend73 (review72): a complaint's words are one list: those that name the complain and
# nuisance matters (投诉, 举报, 乱收费, 扰民, config/kb_matters.toml) report a problem too.
COMPLAINT_WORDS = _REPORTED + _ANYWHERE["complain"] + _ASKED_CLAUSE["nuisance"]
# Whether a step can still be taken (还能补报吗): what a deadline missed asks (``[still]``).
_STILL_ASKED = re.compile("还(能|可以|可不可以|让)")
_FORMS = frozenset(f for forms in _STEPS.values() for f in forms)
# The matters each word says (改: alter), for the act asked after "how" (step 10).
_VERB_MATTERS: dict[str, frozenset[str]] = {}
for _m, _forms in _MATTERS.items():
    for _form in _forms:
        _VERB_MATTERS[_form] = _VERB_MATTERS.get(_form, frozenset()) | {_m}


def with_topics(doc: Doc, topics: dict[str, tuple[str, ...]] | None = None) -> Doc:
    """``doc`` with what callers call its topics (config/kb_topics.toml) among its
    synonyms: each topic word its title, keywords or synonyms use brings its phrases."""
    topics = _TOPICS if topics is None else topics
    own = normalise("".join((doc.title, *doc.keywords, *doc.synonyms)))
    extra = [p for word, phrases in topics.items() if normalise(word) in own for p in phrases]
    if not extra:
        return doc
    return replace(doc, synonyms=tuple(dict.fromkeys((*doc.synonyms, *extra))))


def with_aliases(doc: Doc, aliases: Mapping[str, tuple[str, ...]] | None = None) -> Doc:
    """``doc`` with the names callers give it (config/kb_aliases.toml, by id) among its
    synonyms: a caller who does not know the official name (住房基金 for 公积金) meets the
    entry by words, not only by the sounds of a few syllables."""
    extra = (_ALIASES if aliases is None else aliases).get(doc.id, ())
    if not extra:
        return doc
    return replace(doc, aliases=tuple(dict.fromkeys((*doc.aliases, *extra))))


def normalise(text: str) -> str:
    """Lower case, no punctuation or spaces, digits spelt out by a recogniser as digits
    (幺二三二九 → 12329; entries write service numbers with digits), colloquial phrases as
    the word entries use (config/kb_synonyms.toml)."""
    text = _CLEAN.sub("", text.lower()).replace("_", "")
    text = _SPOKEN_NUMBER.sub(lambda m: m.group().translate(_DIGITS), text)
    return _SYNONYMS.sub(lambda m: _TO_WORD[m.group()], text) if _SYNONYMS else text


_OBJECTS = load_objects(OBJECTS_FILE, normalise)

# Words of an entry's title that make it one of redress (:class:`Index`, ``redress``):
# a channel of complaint (投诉, 维权, 12315, 申诉) or a dispute (纠纷, 不签).
_REDRESS_NAMED = tuple(dict.fromkeys(normalise(w) for w in (
    *_ANYWHERE["complain"], *_SPEAKS["complain"], *_STEPS["dispute"])))


def _segments(text: str) -> list[list[str]]:
    """jieba's words of ``text``, per stretch between question words: cut there first, as
    jieba glues a question word to its neighbour (去哪领 → 去/哪领, 失业金在哪里 → 失业/金在)
    and the content word is lost."""
    tok = _jieba()
    return [tok.lcut(chunk, HMM=False) for clause in _CLAUSE_END.split(text)
            for chunk in _ASKING.split(normalise(clause)) if chunk]


def words(text: str) -> list[str]:
    """Content words of ``text``, each with the shorter words inside it (公积金 → 公积,
    公积金), fillers dropped first: search mode alone would find 不能 inside 能不能."""
    tok = _jieba()
    return [part for chunk in _segments(text) for w in chunk if not _filler(w)
            for part in tok.lcut_for_search(w, HMM=False) if part not in STOP_WORDS]


@functools.lru_cache(maxsize=8192)
def _filler(word: str) -> bool:
    """A filler, or a dictionary word made of fillers only (打听一下, 请问一下)."""
    if word in STOP_WORDS:
        return True
    inner = [p for p in _jieba().lcut_for_search(word, HMM=False) if p != word]
    return bool(inner) and all(p in STOP_WORDS for p in inner)


def _fold(syllable: str) -> str:
    for a, b in _FOLDS:
        if syllable.startswith(a):
            syllable = b + syllable[len(a):]
            break
    if syllable.startswith("n") and not syllable.startswith("ng"):
        syllable = "l" + syllable[1:]
    return syllable[:-1] if syllable.endswith("ng") else syllable


def sounds(text: str) -> list[str]:
    """Pairs of neighbouring syllables of the content runs of ``text`` ("gon|ji", "ji|jin")."""
    runs: list[list[str]] = []
    for chunk in _segments(text):
        runs.append([])
        for w in chunk:
            if _filler(w):
                runs.append([])
            else:
                runs[-1].append(w)
    out: list[str] = []
    for run in runs:
        syl = [_fold(s) for s in lazy_pinyin("".join(run), style=Style.NORMAL, errors="default")]
        out.extend(f"{a}|{b}" for a, b in itertools.pairwise(syl))
    return out


class _Spelling:
    """The entries' own words, by sound, to respell a recogniser's homophones with.

    A small recogniser writes 居住正 for 居住证 and 叫社保 for 交社保: the sounds signal
    still meets the entry, but the words signal, and with it the confidence, loses the
    word, which costs most in a long story where every word counts. So a stretch of the
    caller's characters that sounds like one of the words an entry is about (its title's
    and keywords', see :meth:`_Syllable.alike`) is written as that word first, when it is
    less of a word itself: three or more characters jieba's dictionary does not know or
    knows as rarer (分内投放 → 分类投放), two characters only when it does not know them
    and they sound the same, tone and all (a pair of syllables is shared by too many
    words: 工伤 is not 工商, 往上 not 网上, and a lone 分内 stays).
    """

    def __init__(self, docs: Sequence[Doc]) -> None:
        self.freq = _jieba().FREQ
        # Any word of any entry is kept as the caller said it.
        self.known: set[str] = set()
        heads: set[str] = set()
        for doc in docs:
            for text in _fields(doc).values():
                self.known.update(w for w in words(text) if len(w) > 1 and _HAN_RUN.fullmatch(w))
            # The title's and each keyword's words, and runs of them (交社保 of 怎么交社保),
            # never across a question word or from one keyword into the next.
            for phrase in (doc.title, *doc.keywords, *doc.synonyms):
                for run in _HAN_RUN.findall(_ASKING.sub(" ", normalise(phrase))):
                    cut = list(itertools.accumulate(
                        (len(w) for w in _jieba().lcut(run, HMM=False)), initial=0))
                    heads.update(run[a:b] for a, b in itertools.combinations(cut, 2)
                                 if 2 <= b - a <= RESPELL_MAX)
        self.known |= heads
        # A caller splits a verb and its object with a measure word (备个案, 报个名, 登个记,
        # 办个证, 买套房, 办张卡), the done-mark 了 before it (报了个名, 买了套房子), its
        # result (买完房, 办好证; kb45), or a
        # compound with 的 after the word it starts with (居住的证, 停水的通知): the entries'
        # words said that way are read as the word. A measure word never after a numeral
        # or a demonstrative: 一个小区 counts, it is not 一小.
        self.joined: dict[str, str] = {}
        for h in heads:
            if not _HAN_RUN.fullmatch(h):
                continue
            if len(h) == 2 and h[0] not in _COUNTING and h[0] not in STOP_WORDS:
                for between in _SPLITTING:
                    # 交完了 is done, no 交了 split (暖气费交完了能开发票吗); 不好交 is
                    # hard to pay, no 不交 split (review135: it read out the heating stop).
                    if between not in _RESULTS or (h[1] not in STOP_WORDS
                                                   and not _NEGATION.match(h)):
                        self.joined.setdefault(f"{h[0]}{between}{h[1]}", h)
            for k in range(2, len(h)):
                if self._freq(h[:k]) and h[k:] not in STOP_WORDS:
                    self.joined.setdefault(f"{h[:k]}的{h[k:]}", h)
        self.split = (re.compile("|".join(sorted(self.joined, key=len, reverse=True)))
                      if self.joined else None)
        self.by_sound: dict[tuple[str, ...], list[tuple[str, list[_Syllable]]]] = {}
        for term in sorted(heads, key=lambda t: (-self._freq(t), t)):
            syl = _syllables(term)
            self.by_sound.setdefault(tuple(x.folded for x in syl), []).append((term, syl))

    def _freq(self, word: str) -> int:
        return self.freq.get(word) or 0

    def _heard_as(self, span: str, syl: list[_Syllable]) -> str | None:
        """The entries' most common word that ``span`` may be a slip for, if any."""
        pair = len(span) == 2
        if pair and (self._freq(span) or any(c in STOP_WORDS for c in span)):
            return None  # a word, or a word and a filler (是水 is not 试水)
        for term, own in self.by_sound.get(tuple(x.folded for x in syl), ()):
            if (all(a.alike(b, strict=pair) for a, b in zip(syl, own, strict=True))
                    and self._freq(span) < max(self._freq(term), 1)):
                return term
        return None

    def respell(self, text: str) -> str:
        if self.split is not None:
            text = self.split.sub(lambda m: self.joined[m.group()], text)
        return _HAN_RUN.sub(lambda m: self._run(m.group()), text)

    def _run(self, run: str) -> str:
        syl = _syllables(run)
        # Where the caller's own dictionary words are: two characters that cut one (是外
        # of 是外地) are no word misheard. Longer stretches may (居住正 of 居住/正要):
        # the recogniser's slip is what made jieba find the wrong word.
        inside: set[int] = set()
        start = 0
        for w in _jieba().lcut(run, HMM=False):
            if len(w) > 1 and self._freq(w):
                inside.update(range(start + 1, start + len(w)))
            start += len(w)
        out: list[str] = []
        i = 0
        while i < len(run):
            for n in range(min(RESPELL_MAX, len(run) - i), 1, -1):
                span = run[i:i + n]
                if span in self.known:
                    out.append(span)
                    break
                if (n == 2 and (i in inside or i + n in inside)) or _NEGATION.search(span):
                    continue
                term = self._heard_as(span, syl[i:i + n])
                if term is not None:
                    out.append(term)
                    break
            else:
                n = 1
                out.append(run[i])
            i += n
        return "".join(out)


class _Syllable(NamedTuple):
    folded: str  # toneless, confusions folded (see _fold)
    plain: str  # toneless
    tone: str  # 1-5

    def alike(self, other: _Syllable, *, strict: bool) -> bool:
        """Heard alike: the same syllable in another tone (叫 for 交), or a folded one in the
        same tone (经 for 金, 内 for 类); ``strict``, the same syllable and tone only. Not
        both at once: 三 (san1) is not 上 (shang4)."""
        if strict:
            return (self.plain, self.tone) == (other.plain, other.tone)
        return self.plain == other.plain or (self.folded, self.tone) == (other.folded,
                                                                         other.tone)


def _syllables(run: str) -> list[_Syllable]:
    """Each character's syllable of a run of Han characters (pinyin reads a run as a
    whole, so a character that has two readings gets the one its neighbours call for)."""
    plain = lazy_pinyin(run, style=Style.NORMAL, errors="default")
    toned = lazy_pinyin(run, style=Style.TONE3, errors="default", neutral_tone_with_five=True)
    if len(plain) != len(run) or len(toned) != len(run):  # not one syllable a character
        return [_Syllable(c, c, "") for c in run]
    return [_Syllable(_fold(p), p, t[-1:] if t[-1:].isdigit() else "")
            for p, t in zip(plain, toned, strict=True)]


class Story(NamedTuple):
    """The clauses of an utterance around its question (see :func:`story`)."""

    words: frozenset[str]  # content words only the clauses that ask nothing have
    sounds: frozenset[str]  # their syllable pairs, likewise
    asked: frozenset[str]  # content words of the clauses that ask


NO_STORY = Story(frozenset(), frozenset(), frozenset())


def told_apart(text: str) -> list[tuple[str, bool]]:
    """``text``'s clauses (cut at punctuation), each with whether it asks (a question word
    or form: 吗, 呢, 怎么, 哪里, 能…不); none when every clause asks or none does (a
    complaint, or a recogniser's text with no punctuation): no story to tell apart."""
    clauses = [c for c in _CLAUSE_END.split(text) if c.strip()]
    asking = [is_question(c) for c in clauses]
    if all(asking) or not any(asking):
        return []
    return list(zip(clauses, asking, strict=True))


def story(text: str) -> Story:
    """Split ``text`` into the clauses that ask and the story around them (see
    :func:`told_apart`)."""
    parts = told_apart(text)
    if not parts:
        return NO_STORY
    asked_w = {t for c, a in parts if a for t in words(c)}
    asked_s = {t for c, a in parts if a for t in sounds(c)}
    told_w = {t for c, a in parts if not a for t in words(c)}
    told_s = {t for c, a in parts if not a for t in sounds(c)}
    return Story(frozenset(told_w - asked_w), frozenset(told_s - asked_s), frozenset(asked_w))


# Every question word, longest first, to find where a clause asks (see :func:`asked_objects`).
_QUESTION_WORD = re.compile("|".join(sorted(
    {*QUESTION_WORDS, "怎么样", "在哪里", "在哪儿", "去哪里", "去哪儿", "呢", "有没有", "要不要"},
    key=len, reverse=True)))
_pos_lock = threading.Lock()
_pos: jieba.posseg.POSTokenizer | None = None


def _pos_tagger() -> jieba.posseg.POSTokenizer:
    """Part-of-speech tagging over the private tokenizer's dictionary; built once."""
    global _pos
    with _pos_lock:
        if _pos is None:
            # Imported here: its tables are 5.6 MB of Python source, ~3 CPU-s to compile in
            # a process without their bytecode (the test venv's), paid by every `hotline`
            # command that imports the knowledge base without tagging a question.
            import jieba.posseg

            _pos = jieba.posseg.POSTokenizer(_jieba())
        return _pos


# Words that ask how a thing is done: what follows them is the action asked about.
_HOW = re.compile("怎么样|怎么|怎样|如何|咋")
# Words that ask whether a thing may be done (能补办吗): the verb between them and 吗 is
# the action asked about.
_MODALS = frozenset({"能", "可以", "还能"})
# The same question asked as "may or may not" (能不能减免, 可不可以转让): it needs no 吗, so
# the verb must end the clause (能不能拿公积金给父母盖房 puts its verb after an object).
_MAY_OR_NOT_WORDS = ("能不能", "可不可以", "能否", "可否")
_MAY_OR_NOT = re.compile(f"({'|'.join(_MAY_OR_NOT_WORDS)})$")
# What else jieba tags the word that follows "how" (怎么转学, 怎么销户: nouns; 怎么更正, when
# it ends the clause: an adverb): whatever its tag, it is what the caller asks to do, as
# the word before "how" is what they ask about (see :func:`_how_any`).
_DONE_TAGS = frozenset("naljizd")
# Verbs that name doing any procedure, not which one (怎么办理, 咋弄, 怎么申请, 该怎么走):
# no entry is needed to say them.
ACTION_FRAME = frozenset({"办理", "申领", "搞", "做", "处理", "回事", "样", "走"})


def _action(tagged: list[jieba.posseg.pair], *, after_how: bool = False) -> str | None:
    """The verb that opens ``tagged`` (fillers skipped: 怎么自己交), unless it names doing
    any procedure (``ACTION_FRAME``) or another word comes first (怎么把他添上, 怎么往卡里写:
    the action follows its object, which the entry may well name another way)."""
    for n, p in enumerate(tagged):
        if p.flag == "p":
            return None
        if _filler(p.word):
            continue
        if p.word in ACTION_FRAME:
            return None
        if p.flag.startswith("v"):
            return str(p.word)
        if after_how and len(p.word) > 1 and p.flag[0] in _DONE_TAGS:
            if p.flag in ("d", "ad") and n + 1 < len(tagged):
                continue  # it says how the verb after it is done (怎么直接用)
            return str(p.word)
        return None
    return None


def _how_any(asked_with: str, after: str, word: str) -> bool:
    """``word`` ends the words before ``asked_with`` and ``after`` follows it: before "how"
    and nothing but doing any procedure (低保怎么申请, 残疾证怎么办), the word is what is
    asked about whatever jieba tags it (低保 as a verb), unless it is negated: a state of
    the story (旧家具不要了怎么处理)."""
    if _HOW.match(asked_with) is None or _NEGATION.match(word):
        return False
    return _action(_pos_tagger().lcut(_QUESTION_WORD.split(after)[0], HMM=False)) is None


def _when(word: jieba.posseg.pair) -> bool:
    """A word that says when or how often (jieba's time words, 每年, 每个月)."""
    return word.flag == "t" or (word.word.startswith("每") and len(word.word) > 1)


def _when_or_where(word: str) -> bool:
    """jieba tags ``word`` a time or a place word (以后, 今年, 里面): it names no thing."""
    tagged = _pos_tagger().lcut(word, HMM=False)
    return len(tagged) == 1 and tagged[0].flag[0] in "tf"


# The modal "should" where jieba reads a pronoun (该, "that"): see :func:`asked_objects`.
_SHOULD = frozenset({"该"})


def asked_objects(text: str) -> frozenset[str]:
    """The things ``text`` asks about: in each clause that asks, the noun that ends the
    words before a question word (暖气费发票怎么开: 发票; 公积金比例是多少: 比例;
    这合理吗: 合理), or any word there before "how" and doing any procedure (低保怎么申请,
    see :func:`_how_any`), unless it names what is asked of any procedure (``ASKED_FRAME``:
    要带什么材料). A caller who names an entry's topic and asks about another thing of it
    shares most words with the entry, which then answers a neighbouring question: this is
    what tells them apart (see :meth:`Index.search`, feature ``unasked``)."""
    out: set[str] = set()
    for clause in _CLAUSE_END.split(text):
        if not clause.strip() or not is_question(clause):
            continue
        t = _NOT_ASKING.sub("", normalise(clause))
        stretches = _QUESTION_WORD.split(t)
        asking = _QUESTION_WORD.findall(t)
        for n, stretch in enumerate(stretches[:-1]):  # each ends where a question word starts
            tagged = [p for p in _pos_tagger().lcut(stretch, HMM=False) if not _filler(p.word)]
            # When it is asked of (基数每年啥时候调, 发票明天能开吗) is no thing asked about:
            # the thing is the noun before it (kb26).
            # kb43: nor is a preposition before the question word (比例由哪个部门规定,
            # 暖气费归哪个单位): the thing is the noun before it.
            # kb44: nor 该 before it, "should" (暖气费该去哪儿交), which jieba tags a pronoun.
            while tagged[1:] and (_when(tagged[-1]) or tagged[-1].flag == "p"
                                  or tagged[-1].word in _SHOULD):
                tagged.pop()
            if not tagged:
                continue
            last = tagged[-1]
            thing = last.flag in _NOUN_TAGS or _how_any(asking[n], stretches[n + 1], last.word)
            if len(last.word) > 1 and thing and last.word not in ASKED_FRAME:
                out.add(last.word)
    return frozenset(out)


# What a charge is called by (服务费, 暖气费): see :meth:`Index.has`.
_CHARGE = "费"


# Prepositions of where or by what means (在外地, 到派出所, 用手机): not 给 or 对, whose
# noun is who the thing is for (给岁数大的人发的钱).
_WHERE_HOW = frozenset({"在", "到", "从", "往", "于", "用", "通过"})


def clause_things(text: str) -> frozenset[str]:
    """The things ``text`` (the clauses that ask) names: its nouns of two characters or
    more, not a time or place word (今年, 手机上's 上) nor what is asked of any procedure
    (``ASKED_FRAME``: 材料, 时间) or doing any (``ACTION_FRAME``: 办理), nor one right
    after a preposition of place or means (``_WHERE_HOW``: 在外地, 在手机上, 到派出所:
    where or how it is done, not what)."""
    tagged = _pos_tagger().lcut(normalise(text), HMM=False)
    return frozenset(p.word for n, p in enumerate(tagged)
                     if p.flag in _NOUN_TAGS and len(p.word) > 1
                     and p.word not in ASKED_FRAME and p.word not in ACTION_FRAME
                     and not (n and tagged[n - 1].word in _WHERE_HOW))


def asked_actions(text: str) -> frozenset[str]:
    """The actions ``text`` asks about: in each clause that asks, the verb right after a
    "how" word (怎么注销, 咋补一个, 如何转园: 注销, 补办, 转), or the verb alone between
    one that asks whether it may be done and 吗 (能补办吗, 可以退吗: 补办, 退), or the
    verb alone after "may or may not" at the end of the clause (能不能减免: 减免). A caller
    who names an entry's topic and asks to do another thing with it (注销 the licence the
    entry says how to get) shares most of its words: see :meth:`Index.search`, feature
    ``unacted``."""
    out: set[str] = set()
    for clause in _CLAUSE_END.split(text):
        if not clause.strip() or not is_question(clause):
            continue
        t = _NOT_ASKING.sub("", normalise(clause))
        for stretch in _HOW.split(t)[1:]:  # each one starts where a "how" word ends
            stretch = _QUESTION_WORD.split(stretch)[0]
            verb = (_action(_pos_tagger().lcut(stretch, HMM=False), after_how=True)
                    if stretch else None)
            if verb:
                out.add(verb)
        # Whether it may be done, the verb alone between 能 and 吗 (能补办吗, 能退吗).
        if t.endswith("吗"):
            tagged = _pos_tagger().lcut(t[:-1], HMM=False)
            if len(tagged) >= 2 and tagged[-2].word in _MODALS:
                verb = _action(tagged[-1:])
                if verb:
                    out.add(verb)
        # Tagged only where such words are: every search asks this of every asking clause.
        if not any(w in t for w in _MAY_OR_NOT_WORDS):
            continue
        tagged = _pos_tagger().lcut(t, HMM=False)
        if len(tagged) >= 2 and _MAY_OR_NOT.search("".join(p.word for p in tagged[:-1])):
            verb = _action(tagged[-1:])
            if verb:
                out.add(verb)
    return frozenset(out)


@functools.lru_cache(maxsize=16384)
def is_act(word: str) -> bool:
    """jieba's tagger reads ``word`` alone as one verb (v*). Not an adjective (a*): the
    tagger gives that to manner adverbs (重新, 直接) and states (着急, 怕冷), which say
    how or in what plight, not what the caller asks to be done."""
    if word in _ACTS_MISTAGGED:
        return True
    tagged = _pos_tagger().lcut(word, HMM=False)
    return len(tagged) == 1 and tagged[0].flag[:1] == "v"


# Verb-object words the dictionary tags as something else: 上门 (come to the home to do
# it) as a place name, so 能上门给办吗 asked no act (kb24's "left", kb26).
_ACTS_MISTAGGED = frozenset({"上门"})


@functools.lru_cache(maxsize=4096)
def _stem(char: str) -> str:
    """A character's toneless syllable: 交 and 缴 are one stem (交完, 缴纳). Not folded as
    the sounds signal folds a recogniser's confusions (sh/s, -ng/-n; step 1a respells a
    homophone already): folded, 申 of 申请 was the stem of 生活 and 剩饭, and the sorting
    entry spoke of applying for more bins (kb26). Cached: ``Index.unspoken`` asks it of
    the same few acts once per entry of every search."""
    return lazy_pinyin(char, style=Style.NORMAL, errors="default")[0]


def _head(word: str) -> str | None:
    """The one-character verb a compound is built on (``_COMPLEMENTS``), if it is one,
    or that a negation glued before it denies (不够, 不让, 没收)."""
    if len(word) == 2 and (word[1] in _COMPLEMENTS or word[0] == word[1]):
        return word[0]
    if len(word) == 2 and word[0] in _NEGATORS_GLUED:
        return word[1]
    if len(word) == 3 and (word[1] in _POTENTIAL or word[1:] in _DIRECTIONS):
        return word[0]
    return None


# Adverbs and modals the dictionary glues to the verb after them (想开, 还有, 刚满, 才能):
# they say when, whether or how much, never which matter. Not a negation: 不退, 没来电 say
# what the caller asks about.
_GLUED_LEADS = frozenset("想要能会该可刚才就还都也再又已先")
# Modals and their kin (let, need) that a negation before them leaves a modal.
_NEGATED_MODALS = frozenset("想要能会该可让用必")


def _unglued(word: str) -> str:
    """``word`` without the adverbs and modals (``_GLUED_LEADS``) glued before it, and a
    modal without its negation (不会, 不能, 不让, 不用: whether, as the modal itself)."""
    while len(word) > 1 and word[0] in _GLUED_LEADS:
        word = word[1:]
    if len(word) == 2 and word[0] in _NEGATORS_GLUED and word[1] in _NEGATED_MODALS:
        return word[1]
    return word


# A told event (首付都交完了, 在北京上班快一年了) ends what the caller tells before what they
# ask, where no pause or punctuation says so (a recogniser's run-on text): 了 as a word of its
# own, not of 了解, 为了, 除了 or 不了.
_TOLD_EVENT = re.compile("(?<![为除不得])了(?![解])")


def acts_said(text: str) -> frozenset[str]:
    """What the caller asks to be done (see feature ``unspoken``): the verbs (:func:`is_act`)
    of two or more characters, as whole words of the clauses that ask and of each step
    asked anywhere (我想退掉，怎么弄: 退掉; see :func:`steps_asked`), an adverb or modal
    glued before them taken off (:func:`_unglued`), not ``UNSPOKEN_FREE``. A story told
    around the question (我在北京上班了, 刚买了房) is the caller's situation, not the act
    asked; a single character (换, 交, 开 of 想开) is too often the entry's word shortened
    to count (as in the confidence, :meth:`_Signal.weights`)."""
    # Clauses end at a pause too (the recogniser's space), as for the [loose] matters.
    clauses = [c for part in _PAUSE.split(text) for c in _TOLD_EVENT.split(part) if c]
    asking = [c for c in clauses if is_question(c)]
    runs = [*_segments("，".join(asking if 0 < len(asking) < len(clauses) else clauses)),
            *(step for clause in clauses for step in steps_asked(normalise(clause)))]
    # A verb before 的 is said of a thing (剩下的, 买的房子), no act asked (kb26).
    return frozenset(w for run in runs
                     for w, after in zip(map(_unglued, run), [*run[1:], ""], strict=True)
                     if len(w) > 1 and not _filler(w) and w not in UNSPOKEN_FREE
                     and is_act(w) and after != "的")


# Twenty-fourth round (kb26). One-character verbs that name no matter of their own where
# they tell what happened (是, 有, 给, 办, 弄, 用, 找, 问, 去…): being, having, giving, doing
# in general, using, going and asking. A verb not among them (撬 of 让人撬了, 告 of 告我了,
# 骗 of 骗了我) names what was done to the caller, and an entry that never writes it
# answers another matter.
_FRAME_VERBS = frozenset("是有说让去来给在要想会能办弄搞做找问叫到用打走过了看得")
# Who did it to the caller (让人撬了, 被人冒领了, 有人冒充): the verb after is what happened.
_AGENTS = frozenset({"被", "让", "叫", "被人", "有人", "让人", "叫人"})


def _only_what_to_do(text: str) -> list[str] | None:
    """When the call asks nothing but what to do (怎么办, 咋办, 找谁, 这咋弄) the clauses
    before that are its question told as events: those clauses (cut at punctuation or a
    pause, each "what to do" taken out); None when a clause asks anything more
    (幼儿园怎么报名, 找谁给剪剪, 咋弄到卡里) or none asks what to do."""
    told: list[str] = []
    found = False
    for clause in filter(None, _PAUSE.split(text)):
        *_, last = [None, *_ANY_STEP.finditer(clause)]
        if last is not None:
            found = True
            told.append(clause[:last.start()])
            if words(clause[last.end():]):
                return None
        elif is_question(clause):
            if words(clause):
                return None
        else:
            told.append(clause)
    return told if found else None


def wrongs_told(text: str) -> frozenset[str]:
    """What happened that the caller asks what to do about (feature ``unspoken``), when
    the call asks nothing else (:func:`_only_what_to_do`): the verbs someone else did to
    them (补贴让人冒领了, 电表箱让人撬了, 有人冒充…上门, 告我了) or that did not happen
    (没打到卡上, 租客不交房租): the grievance is the matter, and an entry that never speaks
    of it (the pension entry of 冒领, the electricity bill's of 撬) answers only its topic.
    A single character counts here (撬, 偷, 告), unless it names no matter
    (``_FRAME_VERBS``): the event is said in the caller's plain verbs."""
    told = _only_what_to_do(text)
    out: set[str] = set()
    for clause in told or ():
        tagged = _pos_tagger().lcut(normalise(clause), HMM=False)
        for k, pair in enumerate(tagged):
            if pair.word in _AGENTS:
                out.add(_done_by(tagged[k + 1:]))
                continue
            if pair.flag[:1] != "v":
                continue
            # Negated (不交, 没打到) or done to the caller (告我, 骗了我).
            after = [p.word for p in tagged[k + 1:k + 3]]
            if not ((len(pair.word) > 1 and pair.word[0] in _NEGATORS_GLUED)
                    or (k > 0 and tagged[k - 1].word in _NEGATORS)
                    or after[:1] == ["我"] or after == ["了", "我"]):
                continue
            word = _unglued(pair.word + _complement(tagged[k + 1:]))
            out.add(word[1:] if len(word) > 1 and word[0] in _NEGATORS_GLUED else word)
    return frozenset(w for w in out if w and not _filler(w) and w not in UNSPOKEN_FREE
                      and not (len(w) == 1 and w in _FRAME_VERBS))


def _complement(tagged: list[jieba.posseg.pair]) -> str:
    """The direction or result the dictionary cut off a verb (没|打|到: 打到)."""
    return tagged[0].word if tagged[:1] and tagged[0].word in _COMPLEMENTS else ""


def _done_by(tagged: list[jieba.posseg.pair]) -> str:
    """The verb after a passive's or an agent's marker (让人撬了, 被小偷偷着用, 让人盗刷了,
    有人冒充…): the agent (a noun or pronoun, not the caller) and adverbs (偷偷) skipped,
    then the verb with its direction or result (取走), or the characters the dictionary
    knows no word of (盗刷: it tags 盗, 刷 alone). Empty where the caller is the one made
    to act (让我签)."""
    j = 0
    if tagged[j:j + 1] and tagged[j].flag[:1] in "nr":
        if tagged[j].word in ("我", "我们"):
            return ""
        j += 1
    while tagged[j:j + 1] and tagged[j].flag[:1] == "d":
        j += 1
    if not tagged[j:j + 1] or not (tagged[j].flag[:1] == "v" or tagged[j].flag == "zg"):
        return ""
    run = [tagged[j].word]
    while tagged[j + 1:j + 2] and tagged[j].flag == tagged[j + 1].flag == "zg":
        j += 1
        run.append(tagged[j].word)
    return _unglued("".join(run) + _complement(tagged[j + 1:]))


# A time run out, told (kb26): an expiry (过期了, 逾期), what was granted used up (领完了,
# 用完了), or a span gone by since the event that counts (离职都两年多了, 毕业已经两年了,
# 都过去一年多了). Not 快一年了 ("almost": the caller's situation, 在北京住了快一年了).
_LAPSE_TOLD = re.compile("(?:已经|都|过去|过了|超过)[^，。？！、\\s]{0,6}?"
                         "(?:年|月|天|号|周|星期|礼拜)多?了"
                         "|过期|超期|逾期|(?<![快要])到期[^，。？！、\\s]{0,6}?了|过了期|领完|用完|花完")
# An entry that speaks of a time limit: names it (过期, 时效, 期限…) and states a span
# (:func:`states`, duration: 有效期满前三个月内, 过期太久…签注一年).
_LAPSE_SPOKEN = re.compile("过期|逾期|超期|到期|期满|时效|期限|有效期")


def lapse_asked(text: str) -> bool:
    """The caller tells a time run out (``_LAPSE_TOLD``) and asks whether the thing may
    still be done (还能, 还可以, 还让: ``_STILL_ASKED``, as for the ``[still]`` matters):
    the question is the time limit, which an entry that states none (how to apply for
    arbitration, for the graduates' hukou, for unemployment pay) does not answer, however
    well it names the thing (feature ``lapsed``)."""
    said = normalise(text)
    return bool(_STILL_ASKED.search(said) and _LAPSE_TOLD.search(said))


# Where an answer lists what to bring or have (带上身份证、户口本和结婚证，到…; 需要经营者
# 身份证和…): up to where the caller goes (到, 去) or the clause ends.
_BRING = re.compile("(?:带上|带着|带|准备好|准备|需要|凭)([^。；！？，,到去]*)")
# The items of such a list.
_ITEMS = re.compile("[、和及与]|以及")


def materials(answer: str) -> frozenset[str]:
    """The items an entry's answer says the caller must bring or have (``_BRING``),
    normalised; not one of two the caller may choose (工作或住房证明: 没工作 may still
    bring the other). A caller who says they have none of one (没有结婚证) is not who
    the procedure is for (feature ``lacks``)."""
    return frozenset(normalise(item) for stretch in _BRING.findall(answer)
                     for item in _ITEMS.split(stretch) if item and "或" not in item)


def speaks_of_lapse(written: str) -> bool:
    """An entry's text (as written) names a time limit and states a span of time."""
    return bool(_LAPSE_SPOKEN.search(written)) and states(written, "duration")


# A claim: the caller asks to be compensated or to get money back (能找供电公司赔吗, 他们得
# 赔不, 能把钱要回来吗, 索赔, 追回), or who bears a cost (这个钱该我出吗, 谁负责). General
# Mandarin: 赔 is always compensation; 要回来, 讨回, 追回 take back what was taken or paid;
# 谁出, 该我出 ask whose the cost is. Not 退 alone (a refund matter, kb_matters'
# ``refund``) nor 拿回来 (a card or a document fetched back).
_CLAIM_ASKED = re.compile("赔|要回来|要不回来|要得回来|讨回|追回|"
                          "谁来?(?:出|掏|承担|负责|买单)|该我(?:出|掏|承担)")
# An entry that speaks of a claim: compensation, a refund of any kind (退税, 多退少补,
# 商家不给退, 退款), money returned or recovered, who bears a cost.
_CLAIM_SPOKEN = re.compile("赔|退(?![休出役学伍])|返还|追回|追缴|承担|负责|费用由")


def _asking_clauses(text: str) -> list[str]:
    """The clauses of ``text`` (as said: normalising drops the punctuation and puts 老人 for
    爸妈) that ask (:func:`told_apart`); all of it when it asks in every clause or in one
    run, none when it asks nothing."""
    parts = told_apart(text)
    if not parts:
        return [text] if is_question(text) else []
    # One with no word of its own (行不, 可以吗, 这咋办) asks of the clause before it.
    bare = [asks_ and not any(len(w) > 1 for w in words(c)) for c, asks_ in parts]
    return [c for n, (c, asks_) in enumerate(parts)
            if asks_ or (n + 1 < len(parts) and bare[n + 1])]


# Someone of the caller's family or another person the thing asked is done for (给…):
# general Mandarin kin and others (给我爸妈交医保, 给父母交养老保险, 给家里的保姆交社保).
_KIN = ("爸妈|爸爸|妈妈|父母|爹妈|老爸|老妈|爸|妈|老人|家人|家里人|亲属|亲戚|孩子|儿子|女儿|"
        "闺女|小孩|媳妇|老婆|老公|爱人|对象|丈夫|妻子|公公|婆婆|岳父|岳母|爷爷|奶奶|姥姥|"
        "姥爷|外公|外婆|保姆")
# Not 给 after a verb, which names who receives (租给别人, 卖给我, 交给家里人): the caller's
# own thing given, not a thing done for another.
_FOR_KIN = re.compile(f"(?<![租交卖借送递寄转发还让留分捐传嫁赔付退拿带供])给"
                      f"(?:[我咱俺们的家里]|老家的?){{0,3}}({_KIN})")
# A clause that fears (怕给家里人用了, 担心…): what may happen, not what is asked done. 别人
# is not among the kin above: 给别人用了 is as often "used by others" (``[loose]`` others).
_FEARED = re.compile("怕|担心|万一")
# An entry that speaks of acting for another: a kin word of the caller's (孩子, 老人), or
# a family or a proxy in general.
_KIN_SPOKEN = re.compile("家属|家人|亲属|委托|代办|代领|代理|代缴")


# The group a kin word belongs to, as an entry names those it is for: a parent or a
# grandparent is one of 老人 (给我爸办老年卡 is what the old-age card's entry answers), a
# son or a daughter one of the children.
_ELDERS = frozenset({"爸妈", "爸爸", "妈妈", "父母", "爹妈", "老爸", "老妈", "爸", "妈", "公公",
                     "婆婆", "岳父", "岳母", "爷爷", "奶奶", "姥姥", "姥爷", "外公", "外婆"})
_CHILDREN = frozenset({"孩子", "儿子", "女儿", "闺女", "小孩"})
_KIN_GROUPS = (
    (_ELDERS, re.compile("老人|老年")),
    (_CHILDREN, re.compile("孩子|儿童|子女|学生|新生儿|小孩|幼儿")),
)


def names_kin(written: str, kin: str) -> bool:
    """An entry's text (as written) names ``kin`` or the group of those it is for that
    ``kin`` belongs to (``_KIN_GROUPS``)."""
    return kin in written or any(kin in members and group.search(written)
                                 for members, group in _KIN_GROUPS)


def kin_asked(text: str) -> frozenset[str]:
    """Whom of the caller's family or others the asking clauses do the thing for (给父母
    交, 给我爸妈买药; feature ``for_kin``, kb27): an entry that never names them, nor a
    family or a proxy (``_KIN_SPOKEN``), tells the caller how to do it for themselves.
    Told, not asked (要去上海给闺女看孩子，看病医保咋用), it is the situation."""
    return frozenset(m.group(1) for c in _asking_clauses(text) if not _FEARED.search(c)
                     for m in _FOR_KIN.finditer(c))


# A cause asked (为什么, 为啥, 什么原因, 咋回事), and an entry that gives one or what may
# be happening (因为, 由于, 导致, 可能: the peak hours' "高层住户可能水压偏低").
_WHY_ASKED = re.compile("为什么|为啥|什么原因|啥原因|咋回事|怎么回事")
_WHY_SPOKEN = re.compile("因为|由于|原因|导致|造成|可能")


def why_asked(text: str) -> bool:
    """The asking clauses ask why (``_WHY_ASKED``; feature ``uncaused``, kb27): an entry
    that tells how to apply or pay and gives no cause (``_WHY_SPOKEN``) does not say why
    the caller's allowance stopped or the bill doubled."""
    return any(_WHY_ASKED.search(c) for c in _asking_clauses(text))


def claim_asked(text: str) -> bool:
    """The clauses that ask (all of a text that asks in one clause) ask for compensation
    or money back (``_CLAIM_ASKED``; feature ``unclaimed``, kb27). An entry that never
    speaks of one (``_CLAIM_SPOKEN``) answers how to pay, report or apply, not whether
    anyone pays the caller back: 停水一整天，冰箱里的东西坏了，能找自来水公司赔吗 against
    where to pay the water bill; 有人冒充燃气公司卖给我报警器，能把钱要回来吗 against how
    to tell a true gas inspector. Told, not asked (不给赔偿，我想申请仲裁), it is the
    situation."""
    return any(_CLAIM_ASKED.search(c) for c in _asking_clauses(text))


# Words that announce a question and ask nothing themselves (请问…是多少).
_ANNOUNCING = re.compile("请问|问一下|问问|想问|想知道|想了解|了解一下|咨询")
# The caller will look it up themselves (查查, 查一下 are 查询 by then: config/kb_synonyms.toml).
_OWN_LOOKUP = re.compile("(?:想|要|自己|我能|能不能)查询")


def looks_up_own(text: str) -> bool:
    """The caller will look a size of their own record up themselves (我想查查…扣了多少分),
    and says nothing after that but questions: a clause told after it (可12123一直登不上去,
    结果显示的分数不对) is what came of looking, a complaint (review123)."""
    clauses = [c for c in _CLAUSE_END.split(text) if c.strip()]
    first = next((k for k, c in enumerate(clauses) if _OWN_LOOKUP.search(normalise(c))), None)
    return first is not None and all(is_question(c) for c in clauses[first + 1:])


def still_asks(rest: str) -> bool:
    """``rest``, a question with what it was found to ask taken out, still asks something:
    words that announce a question (请问, 想知道) ask nothing themselves."""
    return is_question(_ANNOUNCING.sub("", _NOT_ASKING.sub("", normalise(rest))))


def quantities_asked(text: str) -> frozenset[str]:
    """The kinds of size ``text`` asks (see ``QUANTITIES``), when it asks nothing else: a
    caller who also asks how, where or whether (失业金怎么申请，一个月能领多少钱) is
    answered by the entry that says how, and the figure may be a part it leaves out."""
    if not is_question(text):
        return frozenset()
    rest = _ANNOUNCING.sub("", _NOT_ASKING.sub("", normalise(text)))
    kinds = set()
    for kind, asked, _ in QUANTITIES:
        rest, n = asked.subn("，", rest)
        if n:
            kinds.add(kind)
    return frozenset(kinds) if kinds and not is_question(rest) else frozenset()


def states(text: str, kind: str) -> bool:
    """``text`` (an entry's) states a figure of ``kind`` (see ``QUANTITIES``)."""
    return next(stated for k, _, stated in QUANTITIES if k == kind).search(text) is not None


def _as_written(text: str) -> str:
    """``text`` lower case without punctuation or spaces, its words as they were said or
    written: no colloquial phrase respelt (see :func:`asked_matters`)."""
    return _CLEAN.sub("", text.lower()).replace("_", "")


def asked_matters(text: str, matters: dict[str, tuple[str, ...]] | None = None
                  ) -> frozenset[str]:
    """The matters (config/kb_matters.toml) ``text`` names: what the caller wants done
    with the thing they ask about (提前还 a loan, 罚 for a wrong done, 销 an account, 修 a
    card), anywhere in the words, since the matter is often told before the clause that
    asks (公积金贷款想提前还一部分，怎么申请); a matter of the ``[steps]`` table only as
    the step asked (想停掉, 能改期吗; see :func:`steps_asked`), not in the caller's
    situation (对辞退决定不服，怎么申请劳动仲裁). A word of two or more characters where it
    begins and ends on jieba's word edges (还清 of 提前还清, not of 还清楚: 还 is "still"
    there, see :func:`_spans_words`); a single character where jieba reads it as a verb of
    its own (找谁修, not 修剪)."""
    if matters is not None:
        return _named(text, matters)
    stepped = stepped_matters(text)
    lapsed = _named(text, _LAPSES) if _STILL_ASKED.search(text) else frozenset()
    return _named(_DONE_MATTER.sub("，", _as_written(text)), _ANYWHERE) | stepped | lapsed \
        | clause_matters(text)


# kb43: a matter told as done (二手房已经过户了, 房子刚过户, 过户完了) is the caller's
# situation, a step behind them, not what they want done: 二手房已经过户了，公积金怎么取 asks
# the purchase drawing, and 房子刚过户，采暖费去哪交 how to pay the heating.
# Only the ``[done]`` matters: a loss (弄丢了) or a charge (多收了) told as done is the very
# matter the caller wants redressed.
_DONE_MATTER = re.compile(
    "(?:已经|刚刚|刚)(?:{0})|(?:{0})(?=了|完)".format(
        "|".join(sorted({f for m in load_matters(MATTERS_FILE, "done").get("matters", ())
                         for f in _ANYWHERE[m] if len(f) > 1}, key=len, reverse=True))))


# A choice asked (是去法院申请还是去仲裁委申请): its sides are what the caller asks between.
_CHOICE_ASKED = re.compile("是[^\\W_]{1,15}还是[^\\W_]*")
# A procedure's own act (``PROCEDURE_ACTS``) asked in a clause: what the question is about.
_ACT_ASKED = re.compile("|".join(PROCEDURE_ACTS))


def clause_matters(text: str) -> frozenset[str]:
    """The ``[asked_clause]`` matters ``text`` names where it asks them (mend73, review72): in
    a clause that asks, out of a choice's sides; or anywhere when no clause that asks names
    a procedure's act or step (吵得睡不着，找谁管: the nuisance is the matter asked). Told
    beside a question of a procedure (家里狗晚上叫得吵，…养狗登记要带什么) it is the caller's
    background."""
    asking = [c for c in _PAUSE.split(text) if c and is_question(c)]
    named: set[str] = set()
    for clause in asking:
        named |= _named(_CHOICE_ASKED.sub("，", clause), _ASKED_CLAUSE)
    if any(_ACT_ASKED.search(_ANY_STEP.sub("，", c)) or _steps_written(c) for c in asking):
        return frozenset(named)
    return frozenset(named) | _named(_CHOICE_ASKED.sub("，", text), _ASKED_CLAUSE)


# Where a ``[loose]`` matter's clause ends: punctuation or a pause (the recogniser's space).
_PAUSE = re.compile(r"[^\w]+")
# A clause that asks whether (不让办居住证吗): of the ``[loose_whether]`` matters it asks
# whether the step is refused, not tells that it was.
_WHETHER = re.compile("(吗|么|嘛)$")
_LOOSE_WHETHER = frozenset(load_matters(MATTERS_FILE, "loose_whether").get("matters", ()))


def loose_matters(text: str) -> frozenset[str]:
    """The ``[loose]`` matters (kb23's, narrowed by review33) ``text`` names, each in a
    clause (up to a pause) with none of its ``[loose_unless]`` words: 会不会不受理 and 不让
    办居住证吗 ask whether it will happen, 怕给别人用了 fears it, 孩子的户口我帮他办 is the
    child's entry's own caller; nor with a ``[loose_unless_clause]`` word in that clause
    (户口从老家迁出去落到北京 moves it into Beijing, not away)."""
    out: set[str] = set()
    whole = _as_written(text)
    for clause in _PAUSE.split(text):
        if not clause:
            continue
        for m in _named(clause, _LOOSE):
            unless = _LOOSE_UNLESS.get(m)
            if unless is not None and unless.search(whole):
                continue
            here = _LOOSE_UNLESS_CLAUSE.get(m)
            if here is not None and here.search(_as_written(clause)):
                continue
            if m in _LOOSE_WHETHER and _WHETHER.search(clause):
                continue
            out.add(m)
    return frozenset(out)


def steps_named(text: str) -> frozenset[str]:
    """The steps ``text`` asks (the first word of each of :func:`steps_asked`, with the
    actions of :func:`asked_actions`): an entry whose title teaches one answers the call,
    whatever ``[loose]`` matter it tells beside it (去年没录上，今年咋报名)."""
    said = _as_written(text)
    loose_forms = [f for forms in _LOOSE.values() for f in forms if f in said]
    out = set()
    for clause in _CLAUSE_END.split(text):
        clause = _as_written(clause)
        for step in steps_asked(clause):
            # After 申请 the thing applied for (申请减免, 去哪申请执行), as ``_starts_step``
            # reads.
            verb = step[1] if step[0] == "申请" and len(step) > 1 else step[0]
            # Doing any procedure teaches no step of its own (kb47: …要迁出，怎么办理 against
            # 应届毕业生怎么办理进京落户); the procedure named before it is the step
            # (review140: 户口迁回老家了 狗的登记怎么办理: 登记).
            if verb in ACTION_FRAME:
                verb = _done_before(clause) if verb == "办理" else ""
            # A step that is the matter itself (能转回老家吗: 转; 我能自己剪了吗: 剪; 要迁出
            # 怎么办理: 迁出) teaches nothing beside it.
            if _HAN_RUN.fullmatch(verb) and not any(verb in f for f in loose_forms):
                out.add(verb)
    return frozenset(out) | {a for a in asked_actions(text)
                             if not any(a in f for f in loose_forms)}


def _done_before(clause: str) -> str:
    """The word ``clause`` names just before its first asking word, fillers and modals
    skipped (狗的登记要怎么办理: 登记); empty where the asking word opens it (怎么办理)."""
    m = _STEP_ASKING.search(clause)
    ws = _jieba().lcut(clause[:m.start()], HMM=False) if m else []
    while ws and (_filler(ws[-1]) or not _HAN_RUN.fullmatch(ws[-1])):
        ws.pop()
    return ws[-1] if ws else ""


def stepped_matters(text: str) -> frozenset[str]:
    """The ``[steps]`` matters ``text`` asks as the step (see :func:`asked_matters`)."""
    stepped = _named(text, _STEPS)
    if not stepped:
        return stepped
    steps = _steps_written(text)
    return frozenset(m for m in stepped if any(_starts_step(s, f) for s in steps
                                               for f in _STEPS[m]))


def asks_only_steps(text: str) -> bool:
    """Every step ``text`` asks is a ``[steps]`` matter, and no clause without one asks
    anything but a bare what to do (怎么办, 这咋整): the matter is the whole question, not
    one of two asked in two clauses (要不要报告社区，办居住证需要啥条件; 出租登记备案怎么弄
    asks of its own thing: review29)."""
    def matter_step(clause: str) -> list[bool]:
        return [any(_starts_step(s, f) for f in _FORMS) for s in steps_asked(_as_written(clause))]

    clauses = [c for c in _CLAUSE_END.split(text) if c.strip()]
    steps = [m for c in clauses for m in matter_step(c)]
    if not steps or not all(steps):
        return False
    return not any(is_question(c) and words(_ANY_STEP.sub("，", c))
                   for c in clauses if not matter_step(c))


def told_matters(text: str) -> frozenset[str]:
    """Matters of the ``[steps]`` table ``text`` names when it asks no step at all
    (单位就是不执行，怎么办; 对仲裁结果不服，找哪里): whether the word is the caller's
    situation or what they want done can't be told, so an entry that lacks it is offered,
    never read out (feature ``untold``, capped at ``UNASKED_CAP``). A caller who asks a
    step (怎么申请劳动仲裁) told the word as their situation: it names no matter."""
    stepped = _named(text, _STEPS)
    if not stepped or _steps_written(text):
        return frozenset()
    # A question of another kind (采暖费执行什么标准, 供暖执行的是哪天到哪天) asks no step
    # either: the word is part of what it asks about, not a matter wanted done.
    return frozenset() if is_question(_ANY_STEP.sub("，", text)) else stepped


# Questions that ask what to do and name no step: 怎么办, 咋办, 找谁, 找哪里.
_ANY_STEP = re.compile("怎么办|咋办|咋整|怎么弄|咋弄|怎么搞|咋搞|怎么处理|该怎么|找谁|找哪里|"
                       "找哪儿|找哪|去哪办|去哪里办|去哪儿办")


def _named(text: str, matters: dict[str, tuple[str, ...]]) -> frozenset[str]:
    """The matters of ``matters`` whose words ``text`` has (see :func:`asked_matters`)."""
    said = _as_written(text)
    singles: set[str] | None = None
    edges: set[int] | None = None
    out: set[str] = set()
    for name, forms in matters.items():
        for form in forms:
            if form not in said:
                continue
            if len(form) > 1:
                if edges is None:  # cut only when a word of a matter is there to be read
                    edges = {e for _, start, end in _jieba().tokenize(said, mode="search",
                                                                      HMM=False)
                             for e in (start, end)}
                if _spans_words(said, form, edges):
                    out.add(name)
                    break
                continue
            if singles is None:  # tagged only when a single character is there to be read
                singles = {p.word for p in _pos_tagger().lcut(said, HMM=False)
                           if p.flag[0] in "vz"}
            if form in singles:
                out.add(name)
                break
    return frozenset(out)


def _steps_written(text: str) -> list[list[str]]:
    """:func:`steps_asked` of each clause of ``text`` as said (see :func:`_as_written`)."""
    return [s for clause in _CLAUSE_END.split(text) for s in steps_asked(_as_written(clause))]


def _starts_step(step: list[str], form: str) -> bool:
    """The step asked (its words, :func:`steps_asked`) is ``form``: begins with it, a single
    character as a word of its own (想停掉, 能停吗; not 要停气's 停气); after 申请 the thing
    applied for (能不能申请调剂)."""
    if step and step[0] == "申请":
        step = step[1:]
    return (step[0] == form) if len(form) == 1 and step else "".join(step).startswith(form)


# 还 read "still", not "repay": before a modal or a verb of being (提前还需要预约吗, 还是,
# 还有, 还能), which jieba cuts apart from it (还/需要) as often as it keeps them together.
# Not when the modal ends the question with no verb of its own (提前还可以吗, 提前还行不):
# "still" would leave 提前 nothing to come early, so 还 is the verb, "repay".
_STILL = re.compile("还(?=[要需得能可是有会用应该])"
                    "(?!(可以|能|行|可不可以|能不能|行不行)(吗|么|嘛|呢|啊|吧|不?$))")


def _spans_words(said: str, form: str, edges: set[int]) -> bool:
    """``form`` is found in ``said`` starting and ending where jieba's words do (``edges``,
    its search-mode cut: 罚款 of 罚款单 too), never across a word, nor with a 还 that reads
    "still" (``_STILL``): 还清 is no repayment in 还清楚 (还, 清楚), nor 提前还 in 提前还要
    or 提前还需要. A 还 the form reads "still" itself (还是不给) may."""
    still = {m.start() for m in _STILL.finditer(said)}
    # A form that says "still" itself (还是不给 of ``[after]``) reads its 还 so already.
    own = {m.start() for m in _STILL.finditer(form)}
    start = said.find(form)
    while start >= 0:
        end = start + len(form)
        if (start in edges and end in edges
                and not still.intersection(range(start, end)) - {start + k for k in own}):
            return True
        start = said.find(form, start + 1)
    return False


def speaks_of_matter(written: str, matter: str,
                     matters: dict[str, tuple[str, ...]] | None = None) -> bool:
    """An entry's text (``written``, see :func:`_as_written`) has a word of ``matter``."""
    if matters is None:
        return any(form in written for form in (*_MATTERS[matter], *_SPEAKS.get(matter, ())))
    return any(form in written for form in matters[matter])


# What negates the word after it (没到期, 不备案, 没有单位, 未成年).
_NEGATORS = frozenset({"没", "没有", "不", "未"})
# What denies that the caller is what the word after it names (我不是应届生, kb23): a
# state to come (没到期) may still be answered by the entry (换领 from three months
# before), who the entry is for is not the caller at all.
NOT_BEING = frozenset({"不是"})
# A caller who asks for someone else (帮我妈问问) or says what they are instead (不是失业，
# 是自己辞的职) has not said the entry is not for them (review33).
_FOR_ANOTHER = re.compile("帮|替|代|我妈|我爸|孩子|老人家|家里")


def not_being(text: str) -> frozenset[str]:
    """Who the caller says they are not (我不是应届生: 应届生): the whole word after 我不是,
    when the caller then says neither what they are instead (不是X，是Y) nor that they ask
    for another (我不是老人，帮我妈问问)."""
    if _FOR_ANOTHER.search(normalise(text)):
        return frozenset()
    out = set()
    clauses = [c for c in _PAUSE.split(text) if c]
    for n, clause in enumerate(clauses):
        normal = normalise(clause)
        _, sep, rest = normal.partition("我不是")
        rest = rest.removesuffix("的")  # 我不是租房住的: 租房住
        # The denied words end the clause, read whole: 我不是外地户口 denies 外地户口, not
        # 外地 (see :meth:`Index.search`, feature ``not_whom``).
        if sep and len(rest) > 1 and _HAN_RUN.fullmatch(rest) \
                and not any(c.startswith("是") for c in clauses[n + 1:]):
            out.add(rest)
    return frozenset(out)


def denied_words(text: str, negators: frozenset[str] = _NEGATORS) -> frozenset[str]:
    """The words ``text`` negates: each word of two or more characters right after a
    negation (身份证没到期: 到期; with ``NOT_BEING``, 我不是应届生: 应届生). Read after the
    colloquial phrases are respelt, so the caller's 没过期 is the 到期 an entry's title
    speaks of. A word the caller then asks how to do (孩子还没报名，幼儿园怎么报名) is a
    step not yet taken, not a situation denied."""
    normal = normalise(text)
    tok = _jieba().lcut(normal, HMM=False)
    negated = {w for n, w in itertools.pairwise(tok)
               if n in negators and len(w) > 1 and _HAN_RUN.fullmatch(w)}
    # The step asked (:func:`steps_asked`: 怎么报名，要带啥), its first word, not its
    # object: 失业 of 怎么申领失业保险金 is what the step is for, so 我没失业 still denies
    # the entry's 失业了.
    asked = {step[0] for clause in _CLAUSE_END.split(text)
             for step in steps_asked(normalise(clause))} if negated else set()
    return frozenset(negated - asked)


# Words after which the caller names the step they ask to have done: how (怎么补缴), whether
# they may, must or want to (能不能, 要不要, 可以, 还能, 需要, 想), where to (去哪申报).
# Not a bare 要, which tells what will happen as often (是不是要停水, 说要停气).
_STEP_ASKING = re.compile("怎么样|怎么|怎样|如何|咋|能不能|可不可以|要不要|需不需要|能否|可否"
                          "|可以|还能|能|需要|想|去哪儿|去哪里|去哪|在哪儿|在哪里|在哪|哪儿|哪里")
# An adverb that jieba makes one word with the asking word after it (不能, 只能, 才能 of
# 怎样才能, 不想, 谁能): the word still asks. Any other word a match begins inside of is a
# word of its own (可能, 功能, 智能, 性能, 本能, 新能源, 着想), which asks nothing.
_ASKING_LEADS = frozenset("不只才就还也都再又谁")
# A utility that stands alone as the subject, which jieba's dictionary joins to the 能
# after it (水能 and 电能, hydro and electric power, of 水能不能恢复, 电能恢复吗): the 能
# still asks, where the word ends within the asking word (not 电能表, the meter).
_ASKING_SUBJECTS = frozenset({"水", "电", "气", "煤气", "暖气", "燃气"})
# Words before the step that say going to do it, or how, not which step (需要去办停领吗,
# 要不要主动报告, 能先续期吗).
_BEFORE_STEP = frozenset({"去", "来", "办", "主动", "先", "自己", "再去"})


def steps_asked(clause: str) -> list[list[str]]:
    """The steps one clause asks to have done, each as jieba's words from the step on:
    after each word of ``_STEP_ASKING``, up to the next question word, fillers and
    ``_BEFORE_STEP`` skipped (怎么申领失业保险金: 申领…; 需要去办停领吗: 停, 领). Its first
    word is the step (step 13: a negated word the caller asks to do is not denied), and
    only there does a matter of the ``[steps]`` table count (step 12)."""
    out = []
    for stretch in _asking_stretches(clause):
        # Fillers are skipped only before the step: 再 of 再约 is a filler on its own.
        ws = _jieba().lcut(_QUESTION_WORD.split(stretch)[0], HMM=False)
        while ws and (ws[0] in _BEFORE_STEP
                      or (_filler(ws[0]) and "".join(ws[:2]) not in _FORMS)):
            ws = ws[1:]
        if ws:
            out.append(ws)
    return out


def _asking_stretches(clause: str) -> list[str]:
    """What follows each word of ``_STEP_ASKING`` in ``clause`` up to the next one, where
    the word asks as a word: it begins one of jieba's words; or ends one that an adverb
    begins (``_ASKING_LEADS``); or follows, in one jieba word, a subject of
    ``_ASKING_SUBJECTS`` (水能不能) or an asking word itself (想要不要: jieba's 想要 takes
    the first 要 of 要不要, read as 想 + 要不要). The 能 of 可能要停气吗 or 这个功能 asks
    no step."""
    word_at: dict[int, tuple[int, int]] = {}  # each character's offset -> its jieba word
    for _word, begin, end in _jieba().tokenize(clause, HMM=False):
        word_at.update(dict.fromkeys(range(begin, end), (begin, end)))
    asking: list[re.Match[str]] = []
    for m in _STEP_ASKING.finditer(clause):
        begin, end = word_at[m.start()]
        before = clause[begin:m.start()]
        if (not before or before[-1] in _ASKING_LEADS
                or (before in _ASKING_SUBJECTS and end <= m.end())
                or (asking and asking[-1].span() == (begin, m.start()))):
            asking.append(m)
    ends = [m.start() for m in asking[1:]] + [len(clause)]
    return [clause[m.end():end] for m, end in zip(asking, ends, strict=False)]


def situation_words(title: str) -> frozenset[str]:
    """The words of an entry's title that state the caller's situation: those before its
    "how" word (身份证快到期了怎么换新的: 身份证, 到期), the whole title when it has none.
    What follows "how" is the step it teaches (失业了怎么申领失业保险金: 申领), which a
    caller who has not yet taken it (还没申领) does not deny: they are who it answers."""
    return frozenset(words(_HOW.split(title)[0]))


def denies(word: str, situation: frozenset[str]) -> bool:
    """A word the caller negates (:func:`denied_words`) is the situation an entry's title
    states (:func:`situation_words`), whole or by a word inside it read as the title's
    words are (应届生 of 应届毕业生: 应届)."""
    return word in situation or any(w in situation for w in words(word))


def says_negated(entry_text: str, word: str, negators: frozenset[str] = _NEGATORS) -> bool:
    """An entry's normalised text speaks of ``word`` negated itself (没有单位的灵活就业)."""
    return any(f"{n}{word}" in entry_text for n in negators)


# kb38: the stages of a thing's life an entry's title may teach for one who holds it
# (config/kb_matters.toml, ``[held]``): renewing it, replacing it; the words of a title
# that also teaches getting it; the caller's words that say it is held.
_HELD = load_matters(MATTERS_FILE, "held")
# Replacing a thing is the reissue and lost matters' words (``[matters]``: 补办, 挂失, 丢失,
# 被盗…), one list (review88: kb38 kept a copy of them, and copies drift), normalised as
# the title and the caller's words are matched (证丢了 is 证丢失 by then).
_HELD_REPLACE = tuple(dict.fromkeys(normalise(w) for w in (*_ANYWHERE["reissue"],
                                                           *_ANYWHERE["lost"])))
_HELD_TAUGHT = re.compile("|".join(sorted((*_HELD["renew"], *_HELD_REPLACE), key=len,
                                          reverse=True)))
_HELD_SAID = re.compile("|".join(sorted((*_HELD["renew"], *_HELD_REPLACE, *_HELD["said"]),
                                        key=len, reverse=True)))
# What an entry that teaches only what its holder does with a thing weighs in the ranking
# against a caller who asks only how to get it (see :meth:`Index.search`): enough to rank
# the entry that teaches getting it first (the first-time 居住证 entry scores 0.87-0.99 of
# the renewal's on the thing's name alone), not so little that an entry sharing a stray
# word overtakes it where no entry teaches getting the thing (身份证怎么办).
HELD_PRIOR = 0.8
# How deep the search looks past a best-ranked entry about another object than the caller's
# (kb40): the runner-up and the one after it.
RULED_OUT_DEPTH = 3
# kb43: how near the best-ranked entry's score (a share of it) one must rank to take its
# place when the best lacks the thing asked: the words that named the best are the call's
# too, and an entry far behind shares only the thing.
PLACE_SCORE = 0.5


def held_only(title: str) -> bool:
    """The title teaches only what is done with a thing its holder already has: renewing
    it (居住证快到期了怎么签注续期) or replacing it (身份证丢了怎么补办), not getting it
    (护照怎么办理或者换发 teaches both). Its renew and replace words are taken out before
    the getting words are looked for: 换领 holds 领 and 补办 办."""
    t = normalise(title)
    return bool(_HELD_TAUGHT.search(t)) and not says_getting(t)


def says_getting(text: str) -> bool:
    """``text`` (normalised) has a getting word (``[held]``'s ``get``) as a word of its own
    once the renew and replace words are taken out: 换领 holds 领 and 补办 办."""
    rest = _HELD_TAUGHT.sub("，", text)
    return bool(set(_jieba().lcut(rest, HMM=False)) & set(_HELD["get"]))


# Words that name doing any procedure, not what is done (办理, 申领, 处理), or what is asked
# of any procedure (材料, 时间): a caller who asks how to get a thing says them of any entry.
_DOING = frozenset(_HELD["get"]) | ACTION_FRAME | ASKED_FRAME


def gotten(doc: Doc, about: Named) -> frozenset[tuple[str, str]]:
    """The documents and cards (``held`` families of config/kb_objects.toml, as family and
    member) that ``doc`` teaches getting: those its title is about, unless the title
    teaches only renewing or replacing them (:func:`held_only`), and those a keyword or
    synonym names with a getting word (办狗证, 领结婚证, 申领居住证; not a bare 居住证 among a
    school's materials, nor 居住证签注)."""
    got: set[tuple[str, str]] = set()
    if not held_only(doc.title):
        got |= {(f, m) for f, ms in _OBJECTS.held(about).items() for m in ms}
    for phrase in (*doc.keywords, *doc.synonyms):
        said = normalise(phrase)
        for p, pair in _OBJECTS.phrases(_OBJECTS.held(_OBJECTS.named(said))).items():
            if p in said and says_getting(said.replace(p, "，")):
                got.add(pair)
    return frozenset(got)


def holds(text: str) -> bool:
    """The caller's words say the thing is held already: it runs out, is renewed, changed,
    replaced or lost (到期, 续, 换, 补, 丢, 掉…: ``[held]``'s words anywhere, normalised).
    Any of them leaves the question as it was read before kb38: the list errs that way."""
    return bool(_HELD_SAID.search(normalise(text)))


def tells_of(text: str, things: Iterable[str]) -> bool:
    """The caller tells what happened to the thing (review88): one of ``things`` (the
    phrases that name it, normalised) before a told event's 了 (``_TOLD_EVENT``) in one
    clause (居住证到时候了怎么办, 身份证不知道扔哪儿了, 居住证时间到了). No one tells an
    event of a thing they have yet to get: the entry on getting it answers no more than
    one on renewing or replacing it, unless the caller's words say which (:func:`holds`)."""
    t = normalise(text)
    return any(p in clause[:m.start()] for clause in _PAUSE.split(t)
               for m in _TOLD_EVENT.finditer(clause) for p in things)


# A span asked with what it takes (要几天, 得几个月, 需要多少个工作日): 几 of its own counts
# nothing (好几天 tells how long a problem has gone on), after 要/得/需要 it asks (mend59).
# kb30: and before what comes at its end (几天能拿到, 多少天才能办好): how long to wait.
_SPAN_UNITS = "(?:天|月|星期|礼拜|小时|工作日|周|年)"
_SPAN_ASKED = re.compile(f"(?:要|得|需要)(?:几|多少)个?{_SPAN_UNITS}"
                         f"|(?<![好十没过])(?:几|多少)个?{_SPAN_UNITS}(?:才|就)?能")
# mend73 (review72): a span someone told the caller (窗口说几天能拿到, 他们说要几天) is what
# they were promised, not asked; and 没几天, 过几天 tell when, as 好几天 does.
_SPAN_TOLD = re.compile("(?<!听)说[^\\W_]*$")


def _span_asked(text: str) -> bool:
    """A span asked (``_SPAN_ASKED``) in a clause of ``text`` where no one's words come
    before it (``_SPAN_TOLD``)."""
    return any(not _SPAN_TOLD.search(clause[:m.start()])
               for clause in _CLAUSE_END.split(text)
               for m in _SPAN_ASKED.finditer(normalise(clause)))


def is_question(text: str) -> bool:
    t = _NOT_ASKING.sub("", normalise(text))
    return (any(w in t for w in QUESTION_WORDS) or bool(_ASKING_FORM.search(text.strip()))
            or bool(_WISH_ASKED.search(text.strip()))
            or _span_asked(text) or bool(_GUESS_ASKED.search(text.strip()))
            or bool(_WHOM_ASKED.search(t)))


def complaint_words(text: str, words_: Iterable[str] = COMPLAINT_WORDS + BLAME_WORDS) -> set[str]:
    """The complaint (and blame) words in ``text``. 还没 before the caller's own step not
    yet taken (还没办过护照, 还没办证，现在办要带什么: ``_NOT_YET_APPLIED``) reports no
    wait on anyone: it is who the entry is for (kb42)."""
    t = normalise(text)
    if "还没" in t:
        # Read in each clause: a 办 that ends its clause (社区还没办，找谁) has no object.
        t = "".join(_NOT_YET_APPLIED.sub("", normalise(c)) for c in _CLAUSE_END.split(text))
    return {w for w in words_ if w in t}


# 还没 and the caller's own 办: never done (办过) or a thing not yet got (办证, 办居住证).
# Not a result waited for (还没办下来, 还没办好, 还没办完, 还没办成), nor 办 with nothing
# after it (申请了俩月社区还没办, 派出所还没办呢): the office's delay, a complaint (review112).
# What follows 办 is its object, not a word that starts the next clause said without a
# pause (还没办去哪儿问问, 还没办找谁, 还没办也没人说).
_NOT_YET_APPLIED = re.compile("还没(?=办(?:过|(?!下来|好|完|成|妥|呢|啊|吧|呀|了|去|在|找|怎|咋|要"
                              "|能|哪|也|就|都|还|又|啥|什)[\u4e00-\u9fff]))")


def is_complaint(text: str) -> bool:
    return bool(complaint_words(text))


# kb44: an entry whose keywords name the caller's act only denied (不交暖气费, 没人住) ranks
# at this share of its score, for each such act the caller says undenied (这套房子的暖气费
# 怎么交: 交): it is the entry of those who do not. Its words count in full for one who
# denies the act too (暖气费能不交吗). As ``HELD_PRIOR``: behind, not out of the ranking.
DENIED_PRIOR = 0.8
# How many words after a negation it denies (没人住: 人, 住).
NEGATION_REACH = 2


def denies_act(phrase: str) -> str | None:
    """The act ``phrase`` opens by denying (不交暖气费: 交; 不供暖: 供暖; 没人住: 住, no one
    lives there), if it does; not 不动产权证 (a noun opening with 不)."""
    cut = _jieba().lcut(phrase, HMM=False)
    if not cut or cut[0] not in _NEGATORS_GLUED:
        return None
    return next((w for w in cut[1:NEGATION_REACH + 1] if is_act(w)), None)


def denied_acts(doc: Doc) -> frozenset[str]:
    """The stems (see :func:`_stem`) of the acts ``doc``'s keywords deny and that its
    title, other keywords and synonyms never name undenied."""
    denied = {kw: act for kw in doc.keywords if (act := denies_act(kw))}
    own = (*(kw for kw in doc.keywords if kw not in denied), doc.title, *doc.synonyms)
    return frozenset(_stem(a[0]) for a in denied.values()).difference(
        *(affirmed_acts(t) for t in own))


def affirmed_acts(text: str) -> frozenset[str]:
    """The stems of the acts ``text`` names with no negation before them (暖气费怎么交: 交;
    not 能不交吗)."""
    out: set[str] = set()
    for clause in _CLAUSE_END.split(normalise(text)):
        cut = _jieba().lcut(clause, HMM=False)
        for n, w in enumerate(cut):
            if is_act(w) and w[0] not in _NEGATORS_GLUED and not any(
                    p[:1] in _NEGATORS_GLUED or p[-1:] in _NEGATORS_GLUED
                    for p in cut[max(n - NEGATION_REACH, 0):n]):
                out.add(_stem(w[0]))
    return frozenset(out)


def _fields(doc: Doc) -> dict[str, str]:
    return {"title": doc.title, "keywords": " ".join(doc.keywords),
            "synonyms": " ".join(doc.synonyms), "aliases": " ".join(doc.aliases),
            "answer": doc.answer}


def _weighted(doc: Doc, analyse: Callable[[str], list[str]], *,
              heads: bool = False) -> list[str]:
    """The entry's terms, each field's as many times as it weighs (``heads``: all but the
    answer's)."""
    terms: list[str] = []
    for name, text in _fields(doc).items():
        if heads and name == "answer":
            continue
        if name in ("keywords", "synonyms", "aliases"):
            # Each keyword is its own phrase: no syllable pair across two keywords.
            toks = [t for kw in text.split() for t in analyse(kw)]
        else:
            toks = analyse(text)
        terms.extend(toks * FIELD_WEIGHTS[name])
    return terms


class _Signal:
    """BM25 over one kind of term, plus the IDF-weighted share of the query it covers."""

    def __init__(self, docs: Sequence[list[str]],
                 heads: Sequence[list[str]] | None = None) -> None:
        self.bm25 = BM25Plus(list(docs)) if docs else None
        self.sets = [set(d) for d in docs]
        # What each entry is about (title, keywords, synonyms): see :func:`confidence`.
        self.heads = [set(h) for h in heads] if heads is not None else self.sets
        self.chars = [set("".join(t for t in s if len(t) > 1)) for s in self.sets]
        n = max(len(docs), 1)
        df: dict[str, int] = {}
        for s in self.sets:
            for t in s:
                df[t] = df.get(t, 0) + 1
        # A plain, always-positive IDF for coverage; a term no entry has weighs the most.
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self.unknown_idf = math.log(1 + n / 2)

    def scores(self, query: list[str]) -> list[float]:
        if self.bm25 is None or not query:
            return [0.0] * len(self.sets)
        # BM25+ gives every entry delta·IDF for each query term, matched or not: take that
        # floor away so an entry sharing nothing scores 0 and margins compare matches only.
        floor = self.bm25.delta * sum(self.bm25.idf.get(t, 0.0) for t in query)
        return [max(float(s) - floor, 0.0) for s in self.bm25.get_scores(query)]

    def weights(self, query: list[str], i: int) -> tuple[float, float, float]:
        """IDF weight of the query's terms that entry ``i`` has, of those only its answer
        has (a part of the first), and of all of them."""
        weight = {t: self.idf.get(t, self.unknown_idf) for t in set(query)}
        covered = sum(w for t, w in weight.items() if t in self.sets[i])
        answer = sum(w for t, w in weight.items() if t in self.sets[i] and t not in self.heads[i])
        # A caller's single-character verb is often the entry's word shortened (查 for
        # 查询, 换 for 换领): half the credit, as it may as well mean something else.
        partly = sum(w for t, w in weight.items()
                     if len(t) == 1 and t not in self.sets[i] and t in self.chars[i])
        return covered + SINGLE_CHAR_CREDIT * partly, answer, sum(weight.values())

    def coverage(self, query: list[str], i: int) -> float:
        covered, _, total = self.weights(query, i)
        return covered / total if total else 0.0

    def told(self, query: list[str], i: int, context: frozenset[str]) -> float:
        """The share of the query's weight that is ``context`` (the story around the
        question) and that entry ``i`` lacks."""
        weight = {t: self.idf.get(t, self.unknown_idf) for t in set(query)}
        total = sum(weight.values())
        lacked = sum(w for t, w in weight.items() if t in context and t not in self.sets[i])
        return lacked / total if total else 0.0

    def answer_only(self, query: list[str], i: int) -> float:
        """The part of :meth:`coverage` that only entry ``i``'s answer has."""
        _, answer, total = self.weights(query, i)
        return answer / total if total else 0.0

    def said(self, query: list[str], i: int, *, answer_only: bool = False) -> float:
        """How much of entry ``i`` the query says, counted in rare words (a term only two
        entries have weighs one): an absolute amount, which extra words do not dilute
        (``answer_only``: of the words only its answer has)."""
        covered, answer, _ = self.weights(query, i)
        return (answer if answer_only else covered) / self.unknown_idf


class Index:
    """The published entries, ready to search. Built once per change of the entries."""

    def __init__(self, docs: Iterable[Doc],
                 aliases: Mapping[str, tuple[str, ...]] | None = None) -> None:
        aliases = _ALIASES if aliases is None else aliases
        # Topics before aliases: an alias that holds a topic word brings no topic's phrases.
        self.docs = [with_aliases(with_topics(d), aliases) for d in docs]
        # A typo in an id (kb14) or another city's entries (other ids): the operator reads
        # which aliases serve no entry here (review103).
        if unknown := sorted(set(aliases) - {d.id for d in self.docs}):
            _log.warning("kb aliases name no published entry, not searched: %s",
                         ", ".join(unknown))
        # An entry's own wording: a complaint word it uses itself (kb013's 商家不给退) is the
        # situation it answers, not a sign the caller wants a unit sent.
        self.texts = [normalise("".join(_fields(d).values())) for d in self.docs]
        # An entry whose title names a complaint or a dispute (去哪儿投诉商家, 被拖欠工资…投诉,
        # 和单位有纠纷, 单位不签劳动合同) is where a wronged caller turns: the wrong they tell
        # (老板不给加班钱, 钱一直拖着) is the situation it answers, so no complaint word counts
        # against it. A blame word still does (态度, 凭什么, 天天): it faults whoever it
        # names, the entry's office too (kb42). Named by the complain matter's words and a
        # dispute's (config/kb_matters.toml), not by every complaint word: a title with
        # 坏了 or 噪音 (路灯坏了找谁报修) teaches a repair or a rule (review112).
        self.redress = [any(w in normalise(d.title) for w in _REDRESS_NAMED) for d in self.docs]
        self.words = _Signal([_weighted(d, words) for d in self.docs],
                             [_weighted(d, words, heads=True) for d in self.docs])
        self.sounds = _Signal([_weighted(d, sounds) for d in self.docs])
        # kb44: the acts an entry's keywords name only denied (不交暖气费 of the heating stop),
        # which no other word of its title, keywords or synonyms names (see ``DENIED_PRIOR``).
        self.denied_acts = [denied_acts(d) for d in self.docs]
        self.spelling = _Spelling(self.docs)
        # What each entry is about, by the objects its title names (knowledge/objects.py).
        self.about = [_OBJECTS.named(d.title, title=True) for d in self.docs]
        self.mentions = [_OBJECTS.mentioned(t, d.title) for t, d in zip(self.texts, self.docs,
                                                                         strict=True)]
        # The entry's text as written, for the matters it speaks of (see :func:`asked_matters`),
        # and its title's words of the situation it answers (see :func:`situation_words`).
        self.written = [_as_written("".join(_fields(d).values())) for d in self.docs]
        self.situations = [situation_words(d.title) for d in self.docs]
        # What each entry's procedure needs brought (see :func:`materials`).
        self.materials = [materials(d.answer) for d in self.docs]
        # Whether each entry speaks of compensation or money back (see :func:`claim_asked`)
        # and gives a cause (see :func:`why_asked`).
        self.claims = [bool(_CLAIM_SPOKEN.search(t)) for t in self.written]
        self.causes = [bool(_WHY_SPOKEN.search(t)) for t in self.written]
        # Whether each entry states a time limit (see :func:`lapse_asked`).
        self.limits = [speaks_of_lapse("".join(_fields(d).values())) for d in self.docs]
        # Each title as said (see :func:`loose_matters`): which steps it teaches.
        self.titles = [_as_written(d.title) for d in self.docs]
        # The stems of each entry's verbs (their first character's syllable): a caller's
        # verb on the same stem (交完 of 缴纳, 换新 of 换领) is one the entry speaks of.
        self.stems = [{_stem(t[0]) for t in terms if is_act(t)} for terms in self.words.sets]
        # kb38: the documents and cards each entry teaches getting (see :func:`gotten`),
        # and those its title is about, whatever it teaches of them.
        self.gets = [gotten(d, a) for d, a in zip(self.docs, self.about, strict=True)]
        self.holdings = [frozenset((f, m) for f, ms in _OBJECTS.held(a).items() for m in ms)
                         for a in self.about]

    def is_whom(self, denied: str, i: int) -> bool:
        """The caller's denied words (:func:`not_being`) are who entry ``i``'s title is for:
        one word as :func:`denies` reads it (应届生 of 应届毕业生), more in the title as
        they were said (灵活就业; 外地户口 is not 外地)."""
        if len(_jieba().lcut(denied, HMM=False)) == 1:
            return denies(denied, self.situations[i])
        return denied in self.titles[i]

    def has(self, i: int, word: str) -> bool:
        """Entry ``i`` speaks of ``word`` anywhere (title, keywords, synonyms or answer):
        the word itself, a word of two or more characters inside it (违章 of 违章罚款), or
        every syllable pair of it (a homophone the respelling left alone). A charge named
        by what it is for (服务费, 管理费) is spoken of only by an entry that speaks of some
        charge (a word with 费): the words inside it name what the charge is for (kb47:
        课后服务费是哪个单位规定的 against the school entry's 入学服务平台)."""
        terms = self.words.sets[i]
        if word in terms:
            return True
        inside = (p for p in _jieba().lcut_for_search(word, HMM=False) if len(p) > 1)
        if (not word.endswith(_CHARGE) or any(_CHARGE in t for t in terms)) and any(
                p in terms for p in inside):
            return True
        pairs = sounds(word)
        return bool(pairs) and all(p in self.sounds.sets[i] for p in pairs)

    def names(self, i: int, word: str) -> bool:
        """Entry ``i``'s own words (title, keywords, synonyms, aliases; not its answer) have
        ``word`` or a word of two or more characters inside it (暖气 of 暖气费)."""
        heads = self.words.heads[i]
        return word in heads or any(p in heads for p in _jieba().lcut_for_search(word, HMM=False)
                                    if len(p) > 1)

    def names_only_thing(self, i: int, query: list[str], things: Iterable[str]) -> bool:
        """Of entry ``i``'s title, keywords and synonyms the caller's words say only the
        thing (``things``: its phrases; 居住证, and 居住 inside it) and what is said of any
        procedure (办理, 申请, 材料), nothing of what the entry is about (临时身份证怎么办
        says kb004's 临时, 居住证签注在哪办 kb002's 签注). Not its answer: the renewal's
        answer speaks of 派出所, 网上 and 带身份证 as the first application's does."""
        return all(w in _DOING or any(w in p for p in things)
                   for w in query if w in self.words.heads[i])

    def unheld(self, i: int, query: list[str], things: Mapping[str, tuple[str, str]],
               holding: bool, told_of: bool = False) -> bool:
        """The caller names a document or card (``things``: its phrases, each with its
        family and member) and says of entry ``i`` nothing but that thing, and the entry
        does not teach getting it (:func:`gotten`): either its title is not about it at
        all (居住证 among a school's materials, 驾驶证 in the traffic fines' answer), or
        it teaches only renewing or replacing it and the caller says nothing of holding it
        (``holding``: 居住证怎么办 against 居住证快到期了怎么签注续期).

        Or the caller tells an event of the thing (``told_of``, :func:`tells_of`) and says
        nothing of which stage of its life they ask (review88: 居住证到时候了怎么办 read
        the first-time entry out): then the entry that teaches getting it is held back as
        well, and nothing the caller said tells the entries apart."""
        mine = set(things.values())
        if (not things or (mine & self.gets[i] and not told_of)
                or (holding and mine & self.holdings[i])):
            return False
        return self.names_only_thing(i, query, things)

    def speaks_of_act(self, i: int, verb: str) -> bool:
        """Entry ``i`` speaks of doing what the caller's ``verb`` (the act asked, step 10)
        says: its text has the verb's first character (缴 of 缴纳 is in 缴费), or the verb
        says a matter (config/kb_matters.toml) the entry speaks of in its own words (改 of
        变更: kb42, 怎么改 of the designated-hospital entry)."""
        return verb[0] in self.texts[i] or any(
            speaks_of_matter(self.written[i], m) for m in _VERB_MATTERS.get(verb, ()))

    def unspoken(self, i: int, acts: frozenset[str]) -> bool:
        """Entry ``i`` never speaks of one of the caller's ``acts`` (:func:`acts_said`):
        its text (title, keywords, synonyms with topics, answer) holds neither the word,
        nor a verb on its stem (:func:`_stem`), nor the one-character verb it is built on
        (:func:`_head`: 拿 of 拿来, 退 of 退掉)."""
        text = self.texts[i]
        return any(w not in text and _stem(w[0]) not in self.stems[i]
                   and (_head(w) or w) not in text for w in acts)

    def search(self, text: str, *, today: date, category: str | None = None, limit: int = 5,
               min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Result:
        spoken = self.spelling.respell(text)
        qw, qs = words(spoken), sounds(spoken)
        question = is_question(text)
        said = named = _OBJECTS.named(spoken, caller=True)
        # A family the asking clauses name a member of is about those members: the story
        # around them may name another (户口本丢了怎么补办？身份证还在).
        asking = ""
        if parts := told_apart(spoken):
            asking = "，".join(c for c, asks_ in parts if asks_)
            named = {**named, **_OBJECTS.named(asking, caller=True)}
        told = story(spoken)
        objects_asked = asked_objects(spoken)
        actions_asked = asked_actions(spoken)
        sizes_asked = quantities_asked(spoken)
        # kb43: a size of their own record the caller will look up themselves (我想查查被拍
        # 了几次，扣了多少分) asks where to look: an entry whose title teaches looking it up
        # (交通违法怎么查询和处理) answers it without stating a figure. Not one asked of the
        # hotline (查一下停车费多少钱), nor against another entry (想查查维修资金还剩多少钱).
        own_lookup = bool(sizes_asked) and looks_up_own(spoken)
        # A [steps] matter asked as the step caps an entry that lacks it at "did you mean",
        # never zeroes it: a call often asks two steps in two clauses (要不要报告社区，办居住证
        # 需要啥条件), and the entry that answers the other one must still be offered
        # (review29: 12 of 30 such questions were filed as tickets).
        # Unless the step matter is all the call asks (去年报停了，今年想恢复供暖，怎么弄):
        # then it is the question, and an entry that lacks it answers another (kb23).
        stepped = stepped_matters(spoken)
        if stepped and asks_only_steps(spoken):
            stepped = frozenset()
        matters_asked = asked_matters(spoken) - stepped
        matters_told = told_matters(spoken) | stepped
        loose = loose_matters(spoken)
        steps = steps_named(spoken) if loose else frozenset()
        denied = denied_words(spoken)
        acts = acts_said(spoken) | wrongs_told(spoken)
        not_whom = not_being(spoken)
        lapse = lapse_asked(spoken)
        claim = claim_asked(spoken)
        why = why_asked(spoken)
        kin = kin_asked(spoken)
        # kb38: a caller who names only a document or card asks how to get it (居住证怎么办)
        # unless they say they hold it (到期, 丢…): an entry that teaches only renewing or
        # replacing it, or that only names it (a material, a means of payment), answers
        # something else. It ranks after one that teaches getting it, and is offered at
        # most (feature ``unheld``, :meth:`unheld`).
        # review88: and one who tells an event of the thing (居住证到时候了怎么办) holds it
        # or has applied: the entry on getting it is held back too, unless they say which.
        # Not where they name an act or a matter of their own (养老助残卡让人盗刷了, 刷不了
        # 了…能给修吗): the rules on acts and matters judge the entry then.
        things = _OBJECTS.phrases(_OBJECTS.held(named))
        holding = bool(things) and holds(spoken)
        told_of = (bool(things) and not (acts or matters_asked or matters_told or loose)
                   and tells_of(spoken, things))
        sw, ss = self.words.scores(qw), self.sounds.scores(qs)
        acts_done = affirmed_acts(spoken)
        # Only an entry that scores is ranked: asked of the others, it cost each search
        # that names a document 1.4 us an entry (review88).
        unheld = frozenset(i for i in range(len(self.docs)) if (sw[i] or ss[i])
                           and self.unheld(i, qw, things, holding, told_of))
        top_w, top_s = max(sw, default=0.0) or 1.0, max(ss, default=0.0) or 1.0
        ranked: list[tuple[float, int]] = []
        for i, doc in enumerate(self.docs):
            if not doc.current(today):
                continue
            score = sw[i] / top_w + ss[i] / top_s
            if category and doc.category == category:
                score *= CATEGORY_PRIOR
            if i in unheld:
                score *= HELD_PRIOR
            score *= DENIED_PRIOR ** len(self.denied_acts[i] & acts_done)
            if score > 0:
                ranked.append((score, i))
        ranked.sort(key=lambda p: (-p[0], self.docs[p[1]].id))
        if not ranked:
            return Result(hits=[], question=question, answer=None, threshold=min_confidence)
        best = ranked[0][0]
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        margin = (best - second) / best
        complaining = complaint_words(text)
        asking_complaints = complaint_words("，".join(c for c, asks_ in parts if asks_))
        # Words that ask nothing and report nothing: no complaint word, nothing negated,
        # no event told (停电了). All an entry's own, they name it, as a menu choice does.
        normal = normalise(text)
        bare = (not question and not complaining and not _NEGATION.search(normal)
                and not normal.endswith("了"))
        hits = []
        every: list[dict[str, float]] = []
        other_family: list[str | None] = []
        # Past ``limit`` only while the best-ranked entry is about another object than the
        # caller's: the next ones may take its place (below), and the IVR asks for one hit.
        for rank, (score, i) in enumerate(ranked[:max(limit, RULED_OUT_DEPTH)]):
            if rank >= limit and not ((ruled_out(every[0]) and other_family[0])
                                      or every[0]["unasked"]):
                break
            other = _OBJECTS.other_object(named, self.about[i], self.mentions[i])
            # A story counts for less only when the question is about the entry: the
            # entry has at least half of what the asking clauses say, or they say nothing
            # of their own (这可咋整). Else the story named the entry's topic and the
            # question asks what it does not answer (…，这合法吗; …，残疾人证在哪里申请).
            ctx = (told if not told.asked
                   or self.words.coverage(list(told.asked), i) >= STORY_ASKED else NO_STORY)
            # A complaint or blame word only the story has (他天天坐公交, 老是冷不丁就停水)
            # tells the situation when the asking clauses ask this entry's question in
            # words of their own: they alone say whether the caller wants a unit sent.
            # Asking clauses with nothing of their own (这可咋整) leave a complaint told
            # as a story a complaint.
            cw = asking_complaints if parts and told.asked and ctx is told else complaining
            f = {
                "words": self.words.coverage(qw, i),
                "words_answer": self.words.answer_only(qw, i),
                "said": self.words.said(qw, i),
                "said_answer": self.words.said(qw, i, answer_only=True),
                "sounds": self.sounds.coverage(qs, i),
                "words_told": self.words.told(qw, i, ctx.words),
                "sounds_told": self.sounds.told(qs, i, ctx.sounds),
                "margin": margin if rank == 0 else 0.0,
                "question": float(question),
                "bare": float(bare),
                "complaint": float(any(w not in self.texts[i] for w in cw)),
                "blame": float(any(w not in self.texts[i] for w in cw
                                   if w in BLAME_WORDS)),
                "other_object": float(other is not None),
                "unasked": float(any(not self.has(i, w) for w in objects_asked)),
                # Not even the verb's first character (缴 of 缴纳 is in 缴费, 接 of 接上 in
                # 接续): the entry never speaks of doing that.
                "unacted": float(any(not self.speaks_of_act(i, w) for w in actions_asked)),
                # The caller asks a size (a price, how long) the entry states no figure of.
                # Read in the entry as written: normalising drops the % of 12%.
                "unquantified": float(not (own_lookup and "查询" in self.titles[i])
                                      and any(not states("".join(_fields(self.docs[i]).values()),
                                                         k) for k in sizes_asked)),
                # The caller names a matter (repaying, a fine, cancelling, a repair) the entry
                # never speaks of: it answers another matter of the same thing.
                "unmatched": float(any(not speaks_of_matter(self.written[i], m)
                                       for m in matters_asked)),
                # kb23's matters (review33's narrowing): only against an entry whose title
                # teaches no step the call asks (去年没录上，今年咋报名 asks how to apply).
                "unmatched_loose": float(not any(w in self.titles[i] for w in steps)
                                         and any(not speaks_of_matter(self.written[i], m)
                                                 for m in loose)),
                # Such a matter told where no step is asked (单位就是不执行，怎么办): the
                # caller's situation or what they want done, which can't be told apart.
                "untold": float(any(not speaks_of_matter(self.written[i], m)
                                    for m in matters_told)),
                # The caller asks of an act (a verb: 投诉, 退掉, 冒领; :func:`is_act`) the entry
                # never speaks of: it names the topic and answers another matter of it.
                "unspoken": float(self.unspoken(i, acts)),
                # The caller asks whether a thing may still be done when its time ran out
                # (离职都两年多了，还能仲裁不) and the entry states no time limit (kb26).
                "lapsed": float(lapse and not self.limits[i]),
                # The caller asks to be compensated or paid back (能找自来水公司赔吗) and the
                # entry never speaks of it: it answers another matter of the topic (kb27).
                "unclaimed": float(claim and not self.claims[i]),
                # The caller asks it done for another (给父母交养老保险) and the entry never
                # names them, a family or a proxy: it is for the caller's own (kb27).
                # The caller asks why (高龄津贴突然不发了，是什么原因) and the entry gives no
                # cause: it tells how to apply, not what went wrong (kb27).
                "uncaused": float(why and not self.causes[i]),
                "for_kin": float(bool(kin) and not _KIN_SPOKEN.search(self.written[i])
                                 and any(not names_kin(self.written[i], k) for k in kin)),
                # The caller denies what the entry's title says their situation is (身份证
                # 没到期 against 身份证快到期了怎么换新的), and the entry never says it denied.
                "denied": float(any(denies(w, self.situations[i])
                                    and not says_negated(self.texts[i], w) for w in denied)),
                # The caller lacks a material the entry's procedure needs (没有结婚证
                # against 带上…户口本和结婚证): its answer is for who has it (kb26).
                "lacks": float(any(w in item for w in denied for item in self.materials[i]
                                   if not says_negated(self.texts[i], w))),
                # The caller says they are not who the entry's title is for (我不是应届生
                # against 应届毕业生怎么办理进京落户): its answer is for someone else.
                "not_whom": float(any(self.is_whom(w, i)
                                      and not says_negated(self.texts[i], w, NOT_BEING)
                                      for w in not_whom)),
                # The caller asks how to get a thing the entry teaches only to renew or
                # replace (居住证怎么办 against 居住证快到期了怎么签注续期; kb38).
                "unheld": float(i in unheld),
            }
            # The wrong a caller tells an entry of redress (``redress``) is its situation,
            # where the entry answers: not when it is held at "did you mean" by what else
            # the caller says (仲裁赢了，单位还是不给钱: the step was taken and failed).
            if (f["complaint"] and not f["blame"] and self.redress[i] and not capped(f)):
                f["complaint"] = 0.0
            every.append(f)
            other_family.append(other)
            hits.append(Hit(id=self.docs[i].id, title=self.docs[i].title,
                            category=self.docs[i].category, score=round(score / best, 4),
                            confidence=round(confidence(f), 4)))
        # kb40: the best-ranked entry is about another object than the caller's (想用公积金
        # 贷款买套二手房，咋申请: 买房以后怎么提取公积金 ranks first for 买房 and 公积金, and
        # the caller's 公积金 operation is a loan); an entry just after it whose title names
        # the caller's object in that family answers in its place (the loan entry, 0.87).
        # Only that: an entry after one ruled out for an act, a matter or a size it never
        # speaks of shares the topic, and as often lacks the same (measured: 4 more false
        # answers on the development files for 3 more right).
        # review97: no deeper than ``RULED_OUT_DEPTH`` whatever ``limit`` (the API's 5 put a
        # fifth entry first where the IVR's 1 did not), and not where the caller named the
        # best one's object too, in a story the asking clauses override (买房以后提取公积金，
        # 还能用来还贷款吗): the question relates the two, and the entry on either answers
        # only half of it.
        first = 0
        if (ruled_out(every[0]) and (family := other_family[0]) is not None
                and not _OBJECTS.same_object(said, self.about[ranked[0][1]], family)):
            first = next((k for k in range(1, min(len(hits), RULED_OUT_DEPTH))
                          if not ruled_out(every[k])
                          and _OBJECTS.same_object(named, self.about[ranked[k][1]], family)), 0)
        # kb43: the best-ranked entry lacks the thing the caller asks about (买了套二手房，
        # 暖气费去哪交: 买房以后怎么提取公积金 ranks first for 买 and 二手房, and has no
        # 暖气费); the first of the next two that no rule rules out, whose own words (title,
        # keywords, synonyms, aliases; an answer names much else) name that thing and that
        # ranks near it (``PLACE_SCORE``) answers in its place (the heating fee's). Not one
        # far behind (交了采暖费，发票在哪儿开 is still offered the heating fee's, not the
        # reimbursement's at 0.30 of its score), not after an entry ruled out (see above), nor for a
        # time or place word the asked noun may be (充了钱以后怎么弄: 以后 is in
        # 买房以后怎么提取公积金 and names nothing).
        elif every[0]["unasked"] and not ruled_out(every[0]) and (
                things_asked := [w for w in objects_asked if not _when_or_where(w)]):
            first = next((k for k in range(1, min(len(hits), RULED_OUT_DEPTH))
                          if not ruled_out(every[k])
                          and hits[k].score >= PLACE_SCORE
                          and all(self.names(ranked[k][1], w) for w in things_asked)), 0)
        # kb45: the story ranks an entry first that speaks nowhere, its answer included, of
        # a thing the asking clauses name (买了套二手房，今年的暖气费能在手机上交吗: no
        # question word, so no thing asked above; the purchase drawing ranks on 买 and
        # 二手房 of the story). The first of the
        # next two, as above, whose own words have a thing of the asking clauses whole
        # answers in its place (not a part of it: 医疗保险 is no 养老保险).
        elif (asking and not ruled_out(every[0])
              and (things := clause_things(asking))
              and not any(self.has(ranked[0][1], w) for w in things)):
            first = next((k for k in range(1, min(len(hits), RULED_OUT_DEPTH))
                          if not ruled_out(every[k])
                          and hits[k].score >= PLACE_SCORE
                          and any(w in self.words.heads[ranked[k][1]] for w in things)), 0)
            # Offered, never read out: the story may be what the caller asks about after
            # all (合同到期了单位不续签，有没有补偿 gives 补偿 to the arbitration entry).
            if first:
                every[first] = {**every[first], "placed": 1.0}
                hits[first] = replace(hits[first], confidence=round(confidence(every[first]), 4))
        if first:
            hits.insert(0, hits.pop(first))
            every.insert(0, every.pop(first))
        hits = hits[:limit]
        features = every[0]
        # A capped entry is offered, never read out, even where ``kb_answer_from`` is set at
        # or under ``UNASKED_CAP`` (review37).
        answer = (hits[0] if hits[0].confidence >= min_confidence and not capped(features)
                  else None)
        return Result(hits=hits, question=question, answer=answer, threshold=min_confidence,
                      features=features)


def confidence(f: dict[str, float], *, evidence_words: float = EVIDENCE_WORDS,
               evidence_power: float = EVIDENCE_POWER,
               answer_credit: float = ANSWER_CREDIT,
               story_weight: float = STORY_WEIGHT) -> float:
    """How sure the best entry answers: the share of what was said that it covers (the
    better of words and sounds, so a homophone costs little), lowered when the words are
    not a question or read as a complaint, raised a little by a clear lead (a little: the
    runner-up is often a near duplicate, 公积金 for rent or for a purchase, that the ranking
    already told apart).

    A long-winded caller adds context no entry has (where they came from, what happened,
    who told them), and every such word lowers the share. So when the caller has said more
    of the entry than a short question needs (``EVIDENCE_WORDS`` rare words' worth), the
    odds of the share grow with the square of how much more: the context then costs
    less. A complaint or an unanswerable question shares a word or two with an entry,
    which gains nothing, and the question factor is applied after, unchanged: a question
    that blames (``BLAME_WORDS``) counts as no question at all.

    ``answer_credit``: the share of its weight a word earns when only the entry's answer
    has it (``ANSWER_CREDIT``; 1 counts it as the title's).

    ``story_weight``: what a word of the story around the question that the entry lacks
    weighs (``STORY_WEIGHT``), once the caller said more of the entry than a short
    question does; 1 counts it as a word of the question."""
    if ruled_out(f):
        # The caller names another member of a family than the entry's title (驾驶证
        # against 身份证, a bite against the dog licence), or asks how to do a thing the
        # entry never speaks of doing (注销 the licence it says how to get; see
        # :func:`asked_actions`), or asks only a size (a price, how long) the entry states
        # no figure of (天然气一立方多少钱 against how to pay the gas bill; see
        # :func:`quantities_asked`), or names a matter of the thing (repaying, a fine,
        # cancelling, a repair; see :func:`asked_matters`) the entry never speaks of
        # (公积金贷款想提前还 against how to apply for the loan), or says they are not who
        # the entry is for (我不是应届生; feature ``not_whom``): however many words they
        # share, the entry answers a neighbouring question, and offering it would mislead.
        return 0.0
    value = _confidence(f, evidence_words=evidence_words, evidence_power=evidence_power,
                        answer_credit=answer_credit, story_weight=story_weight)
    # The caller asks about a thing the entry never speaks of (暖气费发票怎么开 against how
    # to pay the heating fee): the entry shares the topic, not the question. Never read
    # out directly; likely enough, it may still be offered for confirmation.
    # Likewise when the caller denies the situation the entry's title states (身份证没到期
    # against 身份证快到期了怎么换新的; feature ``denied``, see :func:`denied_words`): its
    # answer may still say what applies (换领 from three months before), so it may be
    # offered, never read out at once.
    # And when the caller names a matter (``told_matters``) the entry lacks but asks no
    # step: it may be what they want done, or only what happened to them.
    # And a matter told in passing (``loose_matters``: 没录上, 替他, 余额, 一次性…) the entry
    # never speaks of: the caller may be telling their situation or asking another matter;
    # two independent reviewers' own questions (review33, review36) showed such words told
    # before a plain how-to the entry answers, so the entry is offered, never read out.
    # And an act the caller asks (``acts_said``: 投诉, 退掉, 冒领) that the entry never
    # speaks of (feature ``unspoken``): it names the topic and answers another matter of
    # it, or says the same in words of its own; the caller tells which when offered.
    # Likewise a time run out the entry states no limit of (``lapsed``) and a material
    # the caller lacks (``lacks``; kb26).
    # And an entry that teaches only renewing or replacing a thing, for a caller who names
    # only the thing and says nothing of holding it (``unheld``; kb38): they ask how to get
    # it, and the entry answers another stage of its life.
    return min(value, UNASKED_CAP) if capped(f) else value


def ruled_out(f: dict[str, float]) -> bool:
    """Whether the features say the entry answers a neighbouring question, whatever else
    the caller said of it (confidence 0; see :func:`confidence`)."""
    return bool(f.get("other_object") or f.get("unacted") or f.get("unmatched")
                or f.get("unquantified") or f.get("not_whom"))


def capped(f: dict[str, float]) -> bool:
    """Whether the features hold an entry at "did you mean" (see :func:`confidence`): such an
    entry is offered at most, never read out, whatever threshold a deployment sets."""
    return bool(f.get("unasked") or f.get("denied") or f.get("untold") or f.get("unheld")
                or f.get("placed")
                or f.get("unmatched_loose") or any(f.get(k) for k in HELD_BACK))


def _confidence(f: dict[str, float], *, evidence_words: float, evidence_power: float,
                answer_credit: float, story_weight: float) -> float:
    # Words only the answer has count for less: the answer speaks of much else (业主 and
    # 同意 in the maintenance fund's answer do not make an owners' committee its topic).
    spared = 1.0 - answer_credit
    said = said_of_entry(f, answer_credit=answer_credit)
    # A caller who said little of the entry is no story around its question: the words
    # around one or two of the entry's words are the question (公司不干了要注销).
    told = said > evidence_words
    cut = 1.0 - story_weight
    w_scale = 1.0 / (1.0 - cut * f.get("words_told", 0.0)) if told else 1.0
    s_scale = 1.0 / (1.0 - cut * f.get("sounds_told", 0.0)) if told else 1.0
    said_words = (f["words"] - spared * f.get("words_answer", 0.0)) * w_scale
    covered = max(said_words, 0.5 * (said_words + f["sounds"] * s_scale))
    if 0.0 < covered < 1.0 and said > evidence_words:
        odds = covered / (1.0 - covered) * (said / evidence_words) ** evidence_power
        covered = odds / (1.0 + odds)
    asked = 1.0 if asks(f) else (0.75 if (f["question"] or names_entry(f))
                                 and not f.get("blame") else 0.5)
    return covered * asked * (0.9 + 0.1 * f["margin"])


def names_entry(f: dict[str, float]) -> bool:
    """The words ask nothing and report nothing (feature ``bare``) and are all the best
    entry's title, keywords or synonyms (交电费, 异地就医备案): a caller naming a service,
    as from a menu, who wants to know how it is done. Counted as a question that may read
    as a complaint (0.75, not 1): a state said that way (水压低) is sometimes a report."""
    return bool(f.get("bare")) and f["words"] >= 0.999 and not f.get("words_answer")


def said_of_entry(f: dict[str, float], *, answer_credit: float = ANSWER_CREDIT) -> float:
    """How much of the best entry the caller said, in rare words (see :meth:`_Signal.said`),
    a word only its answer has at ``answer_credit``."""
    return f.get("said", 0.0) - (1.0 - answer_credit) * f.get("said_answer", 0.0)


def worth_confirming(result: Result, confirm_from: float) -> Hit | None:
    """The best hit when it did not reach the result's threshold but reaches
    ``confirm_from`` and the words ask a question: likely enough to ask the caller "is this
    what you mean?", never a complaint's.

    Only when the caller said more of the entry than a short question does
    (``EVIDENCE_WORDS``): the turn is for a long story that buries its question. A short
    question that stays under the threshold left out what it is about (离婚 beside the
    marriage entry's 登记, a cat beside the dog licence): asking "did you mean <title>?"
    would only offer the caller the neighbouring topic.

    Except an entry held back only by an act it never speaks of (:func:`held_back`): it
    is offered whatever the caller said of it."""
    if result.answer is not None or not result.hits:
        return None
    f = result.features
    if not held_back(result) and (not asks(f) or said_of_entry(f) <= EVIDENCE_WORDS):
        return None
    return result.hits[0] if result.hits[0].confidence >= confirm_from else None


def held_back(result: Result) -> bool:
    """Only what the best entry never speaks of (``HELD_BACK``: an act asked, feature
    ``unspoken``; a time run out, ``lapsed``; a material the caller lacks, ``lacks``) kept
    it from being read out: without it the entry reaches the result's threshold. Such an
    entry is offered (:func:`worth_confirming`) even for a short question or one with a
    complaint word the confidence already weighed (商家不给退，我上哪儿说理去): the search
    read it as a question this entry answers, and the title the caller is asked about
    names what the entry does speak of, so a caller who asked another matter says no and
    is filed as a ticket, while one it answers, filed at once, would lose the answer."""
    f = result.features
    return (any(f.get(k) for k in HELD_BACK)
            and confidence({**f, **dict.fromkeys(HELD_BACK, 0.0)}) >= result.threshold)


# The caps :func:`held_back` offers even for a short question: each says the entry's text
# never speaks of what the caller asks (an act, a time limit, a material they lack), which
# the title the caller is asked about shows them.
HELD_BACK = ("unspoken", "lapsed", "lacks", "unclaimed", "for_kin", "uncaused")


def asks(f: dict[str, float]) -> bool:
    """The words ask a question and report no problem the entry does not speak of."""
    return bool(f.get("question")) and not f.get("complaint")
