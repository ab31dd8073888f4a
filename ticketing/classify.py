"""Rule-based classification of Mandarin complaint text.

Turns what a caller said into a category, an urgency, a district, an address and a short
subject for the draft ticket. All vocabulary and weights live in ``config/classification.toml``
(category labels in ``config/categories.toml``) so policy owners can tune them without a code
change; this module only knows how to apply them. Rules are plain substring/regex matches:
predictable, auditable (every hit is reported in ``Classification.matched``) and fast enough
to run on every transcript.
"""

from __future__ import annotations

import re
import sys
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar

from config import CONFIG_DIR, get_settings
from ticketing.invisible import readable
from ticketing.pattern_growth import growth_fault, save_passes
from ticketing.pinyin import readings, syllable

__all__ = [
    "EMERGENCY_SERVICES",
    "KINDS",
    "KIND_LABELS",
    "URGENCY_LEVELS",
    "UTILITY_CATEGORIES",
    "Classification",
    "ClassificationRules",
    "category_label",
    "classify",
    "kind_over_model",
    "known_categories",
    "load_rules",
    "rule_patterns",
    "sub_categories",
    "sub_category_in",
    "sub_category_label",
    "sub_category_of",
    "sub_category_text",
    "without_everyday",
    "without_retracted",
]

# 水电气暖: fixed by the 12345 service standard (10-minute dispatch), so policy in code.
UTILITY_CATEGORIES: frozenset[str] = frozenset({"water", "power", "gas", "heating"})
# Most to least pressing; classify() returns the first level with a firing cue.
URGENCY_LEVELS: tuple[str, ...] = ("urgent", "livelihood", "general")
# 诉求类型 of the 12345 standard; "complaint" is what a caller means when nothing else is said.
KINDS: tuple[str, ...] = ("complaint", "report", "inquiry", "suggestion", "help", "praise")
# 诉求类型 as the console and the export show it.
KIND_LABELS: dict[str, str] = {"complaint": "投诉", "report": "举报", "inquiry": "咨询",
                               "suggestion": "建议", "help": "求助", "praise": "表扬"}
# Hand-over targets: police, fire and rescue, ambulance; "none" for everything else.
EMERGENCY_SERVICES: tuple[str, ...] = ("110", "119", "120", "none")

CATEGORIES_FILE = CONFIG_DIR / "categories.toml"
SUBJECT_MAX_CHARS = 20

_CLAUSE_BREAK = re.compile(r"[，。；！？、,.;!?\n]")
_CLAUSE_SPLIT = re.compile(r"[^，。；！？、,.;!?\n]+")
# What may close a call after its last clause: its marks and spaces.
_CLOSING = "，。；！？、,.;!?\n \t"
# Vosk emits Chinese as space-separated words; spaces carry no meaning between CJK chars.
# A run of spaces is read from its first (the lookbehinds): tried from each space of a long
# run that no CJK character follows, the second branch read the run to its end every time
# (" " × 4,000 cost 70 ms a text; redos39). A run after a CJK character, or before one, is
# matched whole as before.
_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff])\s+|(?<!\s)\s+(?=[\u4e00-\u9fff])")
_LEADING_FILLER = re.compile(
    r"^(你好|您好|喂|我想反映一下|我要反映|我想反映|我反映|我想咨询一下|我想咨询|咨询一下|想问一下"
    r"|我是|我们|我家|我|请问|那个)+"
)
_CN_NUM = "零一二三四五六七八九十百两"


# Marks in ``Classification.matched`` of a text that names nobody to rescue now
# (``_no_rescue``): the model's probability alone hands no such call over.
NO_VICTIM = "not_now.no_victim"
SILENCED = "not_now.silenced"
MADE_SAFE = "not_now.made_safe"
EVERYDAY_WORD = "not_now.everyday_word"
ON_PURPOSE = "not_now.on_purpose"
NO_RESCUE: tuple[str, ...] = (NO_VICTIM, SILENCED, MADE_SAFE, EVERYDAY_WORD, ON_PURPOSE)


@dataclass(frozen=True)
class Classification:
    category: str
    urgency: str
    district: str | None
    address: str | None
    subject: str
    matched: tuple[str, ...]  # rule ids/keywords that fired, for audit
    kind: str = "complaint"
    emergency: str = "none"
    # 细分类 inside ``category``; None when no sub-category rule fired or two tied.
    sub_category: str | None = None


@dataclass(frozen=True)
class Rule:
    """One weighted group of cues pointing at a category or an urgency level."""

    id: str
    target: str  # category code, or urgency level for urgency rules
    weight: float
    keywords: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    categories: frozenset[str]  # urgency rules only: applies to these categories; empty = all
    negatable: bool
    # A cue in a clause containing one of these words does not fire: "消防演习" speaks of
    # fire without one.
    unless: tuple[str, ...] = ()
    # The same words as one pattern: a word may be written as a pattern where a bare
    # character would stand in other words ("会不会", not 会: 这会儿, 开会; mend75).
    unless_pattern: re.Pattern[str] | None = None
    # Rules of [[kind_over_model]] only: the model's kinds this rule's kind replaces.
    replaces: frozenset[str] = frozenset()
    # ``unless`` read in every clause the cue's match covers, not only the clause it starts
    # in: for a rule whose habit word may follow its cue a clause later ("啪啪响，偶尔还有股
    # 焦味", review31). Opt-in: for other rules a word about the past in a middle clause
    # ("变压器，谁都知道危险，刚才有人触电了") silenced the danger told after it (review35).
    unless_over_match: bool = False
    # Anywhere in the call, not negated, this stops every cue of the rule: the caller gave
    # the scale of what the cue names ("暖气片漏水…滴滴答答的" is a drip, not a burst), and
    # a scale word is often said a clause after the cue.
    unless_call: re.Pattern[str] | None = None
    # One per pattern (empty: none has one): as ``unless_call``, for that pattern alone. A
    # pattern written as a table (``{ pattern = '…', unless_call = ['…'] }``) has it: a bang
    # in the street the caller then names fireworks, not a cylinder swelling the same call
    # names beside them (mend62, review63).
    pattern_unless_call: tuple[re.Pattern[str] | None, ...] = ()
    # An urgent or emergency cue fires only for a danger present now (see NotNow).
    now_only: bool = False
    # Each of these somewhere in the call, or no cue of the rule fires: the situation the cue
    # needs ("迷路" is a rescue out on a mountain at night, not in a new shopping centre).
    when_call: tuple[re.Pattern[str], ...] = ()
    # No cue fires where the caller made the source safe (``NotNow.made_safe``): gas
    # escaping is the fire service's until the valve is shut (B3/B4). Nineteenth round.
    quiet_when_made_safe: bool = False
    # Emergency rules only: its service is named only when no other rule's fires. What a
    # person threatens (不想活, 要跳楼: 110, B10) gives way once the act is told by another
    # rule: pills or poison swallowed (120, E3), gas turned on (119, E2). Twenty-fifth round.
    gives_way: bool = False

    @cached_property
    def any_keyword(self) -> re.Pattern[str] | None:
        """Whether any keyword is in a text at all, in one C-level scan: most rules match no
        given text, and looking for each keyword in turn was half of classifying (profile of
        bench/intake_profile.py). Patterns stay out: with them in, the scan cost ten times
        more than it saved."""
        return re.compile("|".join(map(re.escape, self.keywords))) if self.keywords else None

    @cached_property
    def starts(self) -> frozenset[str] | None:
        """Every character a cue of this rule can begin with: each keyword's first, and each
        one a pattern's match can begin with (``_match_starts``); None when a pattern's
        cannot be told. A text holding none of them gives the rule no hit, whatever its other
        conditions say: most rules are asked of every call, and most calls hold none of a
        rule's first characters (docs/scaling.md, twenty-ninth round)."""
        found: set[str] = set()
        for keyword in self.keywords:
            if not keyword:
                return None
            found.add(keyword[0])
        for starts in self.pattern_starts:
            if starts is None:
                return None
            found |= starts
        return frozenset(found)

    @cached_property
    def pattern_starts(self) -> tuple[frozenset[str] | None, ...]:
        """``_match_starts`` of each pattern, in order: a pattern none of whose first
        characters is in the text is not searched."""
        return tuple(_match_starts(pattern) for pattern in self.patterns)

    @cached_property
    def unguarded(self) -> Rule:
        """This rule without its guards (``unless_call``, ``pattern_unless_call``,
        ``unless_pattern``), what ``_guarded_cue`` weighs its hits against; itself when it
        has none. Made once a rule, so its screens (``starts``, ``any_keyword``) are read
        off its patterns once: made anew a call, they were read again for every guarded
        danger rule in every call with a fire or smoke word (~17 ms a call; docs/scaling.md,
        thirty-second round)."""
        if (self.unless_call is None and not self.pattern_unless_call
                and self.unless_pattern is None):
            return self
        return replace(self, unless_call=None, pattern_unless_call=(), unless_pattern=None)


@dataclass(frozen=True)
class NotNow:
    """When the urgent and emergency cues are silent: the caller speaks of no danger present
    now. One mechanism for every such rule, so a past fire and a past fall are read alike."""

    # In the cue's clause: over and done ("上次", "昨天"), drills and talks included; words
    # and patterns as one regex.
    over: re.Pattern[str] | None
    # Anywhere in the text: the whole call is about something else than a rescue: it is over
    # (已经灭了), money after the fact (退货, 医药费, 谁出钱), a rumour checked (是真的吗) or
    # the cues of these kind rules (thanks, suggestions). Never a question as such: callers
    # in danger ask too.
    frame: re.Pattern[str] | None
    frame_rules: tuple[str, ...]
    # Anywhere in the text: the danger goes on ("还在冒烟", "血止不住"); then nothing above
    # silences a cue.
    still: re.Pattern[str] | None
    # In the cue's clause: it began then and has not ended ("昨天开始", "一直到现在"), so its
    # "昨天" is no past. Only the clause: "医药费到现在也不给" keeps a past injury past.
    ongoing: re.Pattern[str] | None = None
    # In the cue's clause, from the word on: a danger only imagined or heard of ("万一着火",
    # "会不会塌", "听说…爆炸"). What the clause said before the word stands: unpunctuated
    # speech is one clause, and "楼下着火了烟很大会不会烧上来" is a fire.
    ahead: re.Pattern[str] | None = None
    # In the clause, after the word of ``ahead``: where what it imagined ends ("梦见…吓醒一看",
    # the caller woke). What follows is told of now: a recogniser writes a call as one
    # clause, and "我梦见我爸心脏病犯了吓醒一看他真的倒在地上了" was quiet to its end (review22).
    ahead_ends: re.Pattern[str] | None = None
    # A plea for a service to come now ("快让救护车来", "快叫120", "赶紧派警察来"): present by
    # itself. A clause told of the past ends where it starts, and so does a report or a story
    # told (``told_ends``): "上礼拜我爸就说胸口疼今天早上突然倒了快让救护车来", a recogniser's
    # one clause, is a plea now (the lead, mend66).
    called_now: re.Pattern[str] | None = None
    # A word that turns to the caller's present ("今天", "这会儿", "刚才"): what an ``over``
    # word or a drill frames ends there ("上礼拜听了燃气讲座，今天家里煤气味特别大").
    now_turn: re.Pattern[str] | None = None
    # After a ``now_turn`` word, before the danger cue that makes it a happening: talk about
    # the frame (a course's sign-up, a recollection, a supposition), not the present.
    turn_talk: re.Pattern[str] | None = None
    # The words of ``ahead`` that suppose ("要是", "万一"): a ``still`` after one in its own
    # clause is supposed too ("要是摔倒了起不来"). Not hearsay: "听说屋里还有人" is a report.
    suppose: re.Pattern[str] | None = None
    # In the cue's clause, for the hand-over cues only: a danger that nearly happened
    # ("差点砸到孩子"). The hazard is there (urgent), but there is nobody to rescue. A match
    # with a group ``governs`` quiets only the cues that reach its word and start within
    # the group, the danger the 差点 governs: a blast told before it or a fire after it
    # keeps its cue ("轰的一声 玻璃全都震碎了 我差点摔了", one clause to a recogniser;
    # emerg46). A match without one quiets its whole clause.
    hazard_only: re.Pattern[str] | None = None
    # Anywhere in the text: a habit ("天天", "每天"). The cause is still there (B9), so like
    # ``still`` it keeps the urgent floor's cues, but a habit is no emergency now: the
    # hand-over cues stay silent where a past or a frame silenced them ("上个月有辆救护车没进来，
    # 天天停满车" is a fire lane, not 120; twelfth round).
    habit: re.Pattern[str] | None = None
    # Anywhere in the text: the one the danger came near is unhurt or out ("人没大事",
    # "司机没事在边上站着"), or it nearly happened (``hazard_only``). The hazard may stay
    # urgent (U4), but nobody is to be rescued (E4): the model's probability alone does not
    # hand the call over (``NO_VICTIM``, read by ticketing.intake_model.decide); a rule's
    # hand-over cue still does.
    unhurt: re.Pattern[str] | None = None
    # Anywhere in the text: the caller has shut the source and nobody is down ("我赶紧把总阀
    # 关了开了窗", B3/E4: urgent, no hand-over). Like ``unhurt`` it stops only the model's
    # hand-over (``MADE_SAFE``); a rule's cue still hands the call over.
    made_safe: re.Pattern[str] | None = None
    # Anywhere in the text: a fire, smoke or a dive made on purpose and nothing told beyond
    # it (paper burnt at a grave, incense on a balcony, a winter swimmer's dives). Like
    # ``made_safe`` it stops only the model's hand-over (``ON_PURPOSE``): the model reads
    # 着了, 冒烟 and 一上一下 as the danger. Thirty-first round (emerg36).
    on_purpose: re.Pattern[str] | None = None
    # Anywhere in the text, the span of each match: a question about a service or its number
    # ("救护车那个电话是一二零还是一一九", "想问下120救护车能不能跨区"). A cue inside it names the
    # service asked about, not a danger (B15); a cue outside it still fires ("我爸晕倒了，
    # 是打120还是119"). Silent for the floor and the hand-over alike, habit or not.
    asked: re.Pattern[str] | None = None
    # Anywhere in the text, the span of each match: a frame told in those words (an
    # ambulance's bill, an appliance's fault on use). As with a frame, a ``still`` anywhere
    # undoes it and a habit keeps the floor's cues; unlike a frame, a cue outside it keeps
    # its voice: a whole-call frame guarded by a list of dangers quieted those the list
    # missed (review22).
    frame_spans: re.Pattern[str] | None = None
    # Anywhere in the text: the one hurt is in care already or the danger was resolved ("现在
    # 在医院治着呢", "后来抢救过来了"). Every cue up to the end of its clause is silent (what
    # is told after it is a new danger), and like ``made_safe`` it stops the model's
    # hand-over too (``SILENCED``): nobody is left to send anyone to.
    treated: re.Pattern[str] | None = None
    # Part of ``still``: the words of it that a resolution told after them ends (刚才: when
    # the story began, not that it goes on). Review81.
    just_now: re.Pattern[str] | None = None
    # In the cue's clause, from the match on, and through the clauses after it that tell
    # what was reported (``seen_told``: "…在电视上看新闻，说一个小区着火了"): a danger seen
    # on a screen or in the news is someone else's, reported. Each clause at most
    # ``seen_reach`` characters past its telling word, up to a word of ``seen_ends``. A
    # ``still`` in the matched words ("我刚才在电视上看") is when the caller watched, not a
    # danger going on; one after them is ("电视上说…着火了火很大快来人", told without commas).
    # Nineteenth round and its review.
    seen: re.Pattern[str] | None = None
    # As ``seen``, a story told: a film, a drama, a novel ("电影里演的", "看了个电影，里头…").
    # Quiet as a report is, but a cue quiet only there does not mark the call ``SILENCED``:
    # the story says nothing of whether anyone here needs a rescue, and a danger told after
    # it with no cue of its own ("…我现在也闻到家里一股煤气味头晕得厉害") is the model's.
    # Twenty-third round (calm25).
    stories: re.Pattern[str] | None = None
    seen_told: re.Pattern[str] | None = None
    seen_ends: re.Pattern[str] | None = None
    # What ends a story's stretch, where it differs from a report's: a plot turns (突然) inside
    # the story ("看了个电影，电梯突然坠落"), a report's 突然 turns to the caller's own time.
    # Both read the words they share from one list (``told_ends`` in the rule file: the lead,
    # twenty-sixth round, after mend62 had to change one word in two copies). Twenty-fifth
    # round (cls28).
    stories_ends: re.Pattern[str] | None = None
    seen_reach: int = 15
    # In the cue's clause, from the match on: an animal or a thing is the one in trouble
    # ("猫爬到树上下不来了", "手机掉湖里了"), in a call that names no ``person`` anywhere (the
    # owner and a helper asked for are none: "我家的猫", "派人来") and no ``person_state``
    # outside the animal's own words (a body down, a person gone in: "…下去捡现在没动静了")
    # and no danger of another kind (``not_person_ends``: fire, gas, a live wire). Silent for
    # the floor and the hand-over alike, and no ``still`` undoes it: the cat still stuck is
    # still nobody's life. Twentieth round; the whole call since its review (cues20b).
    not_person: re.Pattern[str] | None = None
    person: re.Pattern[str] | None = None
    person_state: re.Pattern[str] | None = None
    not_person_ends: re.Pattern[str] | None = None
    # Anywhere in the text: a drill, a talk or a training course, a whole-call frame as
    # ``frame`` is, unless ``drills_real`` tells a danger that is real and now ("演练的时候
    # 真有一家管子漏了", "听讲座的时候前排一个大爷突然倒地上了") where no ``drills_feigned``
    # word stands within ``DRILL_WINDOW`` characters of it in its clause ("模拟有人晕倒",
    # "老人突然晕倒了应该怎么急救"). Twenty-fourth round (cls26).
    drills: re.Pattern[str] | None = None
    drills_real: re.Pattern[str] | None = None
    drills_feigned: re.Pattern[str] | None = None
    # Anywhere in the text, the span of each match: a fear of what has not happened ("怕着火",
    # "担心会炸"). A cue inside it is quiet for the floor and the hand-over, and marks nothing
    # for the model, as a story does: a fear says nothing of whether the call has a danger
    # of its own. A ``still`` anywhere ("已经冒烟了，怕着火") undoes it. Twenty-fourth round.
    feared: re.Pattern[str] | None = None
    # In a call told without punctuation (a recogniser's: no clause break anywhere): where
    # the stretch an ``over`` word frames ends, as a comma would end it ("至今", "结果",
    # "到现在"), when what follows tells a danger (``_happens``). "上礼拜公交急刹我爸摔了头
    # 至今昏迷不醒" was one clause, and its 上礼拜 silenced the coma told after it; the same
    # call with commas was 120. A call that holds a break reads its clauses as before.
    # Thirty-second round (clause42).
    over_breaks: re.Pattern[str] | None = None


# How far before and after a ``NotNow.drills_real`` match a feigning word counts.
DRILL_WINDOW = (12, 8)


@dataclass(frozen=True)
class PlaceName:
    """One name the district look-up knows."""

    rank: int  # 0 "朝阳区", 1 an area, 2 a bare "朝阳": the lowest rank in a text wins
    district: str | None  # None: no one district's ("西四环" runs through three)
    cue: str  # for Classification.matched
    name: str = ""  # as written


# A name as characters (exact pass) or as toneless syllables (the sound pass).
_Key = TypeVar("_Key", str, tuple[str, ...])


@dataclass(frozen=True)
class PlaceIndex:
    """[districts] and [areas] as two tables keyed by first character / first syllable,
    longest name first, so one left-to-right pass finds the longest name at each position:
    "朝阳门" (东城) is read before the "朝阳" inside it, "石景山" before "景山"."""

    by_char: Mapping[str, tuple[tuple[str, PlaceName], ...]]
    by_sound: Mapping[str, tuple[tuple[tuple[str, ...], PlaceName], ...]]


@dataclass(frozen=True)
class ClassificationRules:
    category_rules: tuple[Rule, ...]
    urgency_rules: tuple[Rule, ...]
    emergency_rules: tuple[Rule, ...]
    kind_rules: tuple[Rule, ...]
    priority: tuple[str, ...]
    fallback: str
    min_score: float
    negation_words: tuple[str, ...]
    negation_adjacent: tuple[str, ...]
    negation_max_gap: int
    negation_gap_breakers: str
    districts: tuple[str, ...]  # canonical names with 区
    areas: tuple[tuple[str, str], ...]  # (area, district), longest area first
    address_pattern: re.Pattern[str] | None
    intersection_pattern: re.Pattern[str] | None
    generic_names: tuple[str, ...]
    strong_address: re.Pattern[str] | None  # what makes an unanchored phrase an address
    bare_suffixes: frozenset[str]  # a suffix alone ("小区") is not an address
    source: Path | None = None
    # target = sub-category code, categories = the one category it belongs to.
    sub_category_rules: tuple[Rule, ...] = ()
    # [[kind_over_model]]: read after the model's kind (``kind_over_model``), never a vote.
    kind_over_model: tuple[Rule, ...] = ()
    # districts and areas compiled for the one-pass look-up; built by load_rules
    places: PlaceIndex | None = None
    not_now: NotNow | None = None
    # [negation] questions: "是不是", "会不会是" hold a negation word that negates nothing.
    negation_questions: tuple[str, ...] = ()
    # [negation] endless: runs that hold a negation word and say something goes on ("响个没完").
    negation_endless: tuple[str, ...] = ()
    # [handover] follows: services sent only when no other fires (the ambulance comes with
    # the fire service or the police to their scene).
    emergency_follows: frozenset[str] = frozenset()
    # [everyday_words]: every place one of them occurs (a lookahead, so overlapping ones too).
    everyday: re.Pattern[str] | None = None
    # Its last pattern's ``unless_after`` (a words' lookahead), or None: that pattern's match
    # is no everyday word when one of them is told anywhere after it.
    everyday_after: re.Pattern[str] | None = None
    # [negation] retracted: what a caller takes back in a self-correction ("那个燃气，不是，
    # 是配电室"): not the call's domain.
    retracted: re.Pattern[str] | None = None
    # [negation] set_aside: a matter the caller sets aside ("…算了那个先不说，主要是…") or
    # said before the main one named ("我打电话是因为…"): not the call's domain either.
    set_aside: re.Pattern[str] | None = None
    # [heard_as]: toneless readings of the words a recogniser writes by sound ("电体" for 电梯),
    # each to the word; the lengths to look for, longest first.
    heard_as: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    heard_lengths: tuple[int, ...] = ()
    # The first syllables of ``heard_as``'s readings: where a word can begin (``_heard``).
    heard_firsts: frozenset[str] = frozenset()
    # [heard_as] not_words: everyday words that sound as one of them ("颜色太浓艳", "被捆绑销
    # 售"), each match's characters left as written.
    heard_not: re.Pattern[str] | None = None
    # [heard_as] spellings: a danger word's recogniser spellings read only in their context
    # ("着货了" is 着火了, "装着货了" is not), each pattern to the word it is read as.
    heard_spellings: tuple[tuple[re.Pattern[str], str], ...] = ()


# --------------------------------------------------------------------------- labels


_SUB_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")


@lru_cache(maxsize=1)
def _taxonomy() -> tuple[Mapping[str, str], Mapping[str, Mapping[str, str]]]:
    """(category code -> label, category code -> {sub-category code -> label}), checked.

    Read once; the first caller is Domain.load (through load_rules), so a broken file stops
    the start instead of the first ticket.
    """
    with CATEGORIES_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    labels = dict(data["categories"])
    subs: dict[str, dict[str, str]] = {}
    for category, table in data.get("sub_categories", {}).items():
        if category not in labels:
            raise ValueError(f"{CATEGORIES_FILE}: [sub_categories.{category}]: unknown category")
        if not isinstance(table, dict):
            raise ValueError(f"{CATEGORIES_FILE}: sub_categories.{category} must be a table")
        seen: set[str] = set()
        for code, label in table.items():
            where = f"{CATEGORIES_FILE}: sub_categories.{category}.{code}"
            if not _SUB_CODE.fullmatch(code):
                raise ValueError(f"{where}: a code is lower-case ASCII, at most 32 characters")
            if not isinstance(label, str) or not label.strip():
                raise ValueError(f"{where}: needs a label")
            if label in seen:
                raise ValueError(f"{where}: label {label!r} used twice in {category}")
            seen.add(label)
        subs[category] = dict(table)
    return labels, subs


def _category_labels() -> Mapping[str, str]:
    return _taxonomy()[0]


def known_categories() -> tuple[str, ...]:
    """Every category code, in the order of config/categories.toml."""
    return tuple(_category_labels())


def category_label(code: str) -> str:
    """zh-CN label of a category code ("water" -> "供水"); unknown codes raise KeyError."""
    return _category_labels()[code]


def sub_categories(category: str) -> Mapping[str, str]:
    """Sub-category code -> zh-CN label of ``category``, in file order; empty for a category
    without any (or an unknown one)."""
    return _taxonomy()[1].get(category, {})


def sub_category_in(category: str, code: str) -> bool:
    """Whether ``code`` is a sub-category of ``category``."""
    return code in sub_categories(category)


def sub_category_label(category: str, code: str) -> str:
    """zh-CN label of a sub-category ("water", "cut" -> "停水"); KeyError if not of it."""
    return sub_categories(category)[code]


def sub_category_text(category: str, code: str | None) -> str:
    """What the console, the API and the export show: the label, "" for none, the code
    itself for one since removed from config/categories.toml (the row still shows)."""
    if not code:
        return ""
    return sub_categories(category).get(code, code)


# --------------------------------------------------------------------------- loading


def load_rules(path: Path | None = None) -> ClassificationRules:
    """Read and validate a classification rule file (default: settings.classification_file).

    Validation happens here, once, so a typo in the TOML fails at startup with the rule id
    instead of silently never matching.
    """
    path = Path(path) if path is not None else get_settings().classification_file
    return _load_rules(path, path.read_bytes())


# Keyed by the file's content: every Domain.load (each app, CLI command and test) shares one
# parse of the same rules (~20 ms of CPU each); an edited file is read again, however soon.
# The rules are frozen, so sharing them is safe.
@lru_cache(maxsize=8)
def _load_rules(path: Path, raw: bytes) -> ClassificationRules:
    data = _with_lists(tomllib.loads(raw.decode("utf-8")), path)
    categories = set(_category_labels())

    scoring = data.get("scoring", {})
    priority = tuple(scoring.get("priority", sorted(categories)))
    fallback = scoring.get("fallback", "other")
    for code in (*priority, fallback):
        if code not in categories:
            raise ValueError(f"{path}: unknown category {code!r} in [scoring]")

    category_rules = tuple(
        _parse_rule(raw, path, target_key="category", allowed=categories, negatable=False)
        for raw in data.get("category_rules", [])
    )
    # A floor cue (urgent or a hand-over) speaks of a danger now unless a rule says otherwise.
    urgency_rules = tuple(
        _parse_rule(raw, path, target_key="level", allowed=set(URGENCY_LEVELS), negatable=True,
                    now_only=raw.get("level") == "urgent")
        for raw in data.get("urgency_rules", [])
    )
    emergency_rules = tuple(
        _parse_rule(raw, path, target_key="service", allowed=set(EMERGENCY_SERVICES) - {"none"},
                    negatable=True, now_only=True)
        for raw in data.get("emergency_rules", [])
    )
    kind_rules = tuple(
        _parse_rule(raw, path, target_key="kind", allowed=set(KINDS), negatable=False)
        for raw in data.get("kind_rules", [])
    )
    kind_over_model = tuple(
        _parse_rule(raw, path, target_key="kind", allowed=set(KINDS), negatable=False)
        for raw in data.get("kind_over_model", [])
    )
    for rule in kind_over_model:
        if not rule.replaces or rule.replaces - set(KINDS):
            raise ValueError(f"{path}: kind_over_model {rule.id}: replaces must name kinds")
    # Read only by ``kind_over_model``: on any other rule it would be silently ignored, and
    # its writer believe the model's kind replaced (review81).
    for rule in (*category_rules, *urgency_rules, *emergency_rules, *kind_rules):
        if rule.replaces:
            raise ValueError(f"{path}: rule {rule.id}: replaces is for [[kind_over_model]] only")
    sub_category_rules = tuple(
        _parse_sub_rule(raw, path) for raw in data.get("sub_category_rules", [])
    )
    for rule in urgency_rules:
        if unknown := rule.categories - categories:
            raise ValueError(f"{path}: rule {rule.id}: unknown categories {sorted(unknown)}")

    not_now = _parse_not_now(data.get("not_now"), path, {r.id for r in kind_rules})
    follows = frozenset(data.get("handover", {}).get("follows", []))
    if unknown_services := sorted(follows - (set(EMERGENCY_SERVICES) - {"none"})):
        raise ValueError(f"{path}: handover.follows: unknown services {unknown_services}")
    negation = data.get("negation", {})
    districts = tuple(data.get("districts", {}).get("names", []))
    not_by_sound = data.get("districts", {}).get("not_by_sound", [])
    areas_raw: dict[str, str] = data.get("areas", {})
    for area, district in areas_raw.items():
        # "" marks a name that belongs to no one district but holds an area's name.
        if district not in districts and district != "":
            raise ValueError(f"{path}: area {area!r} maps to unknown district {district!r}")
    known = {*districts, *(d.removesuffix("区") for d in districts), *areas_raw}
    if unknown_names := sorted(set(not_by_sound) - known):
        raise ValueError(f"{path}: districts.not_by_sound: unknown names {unknown_names}")
    areas = tuple(sorted(areas_raw.items(), key=lambda kv: -len(kv[0])))
    places = _index_places(districts, areas, frozenset(not_by_sound))
    address = data.get("address", {})
    address_pattern, intersection_pattern = (
        _compile_address(address, districts, [a for a, d in areas if d]) if address
        else (None, None)
    )
    strong = [*address.get("strong_suffixes", [])]
    strong_address = (
        re.compile(
            rf"[\d{_CN_NUM}](?:{_alternation(address['unit_suffixes'])})|{_alternation(strong)}"
        )
        if address.get("unit_suffixes") and strong
        else None
    )

    rules = ClassificationRules(
        category_rules=category_rules,
        urgency_rules=urgency_rules,
        emergency_rules=emergency_rules,
        kind_rules=kind_rules,
        priority=priority,
        fallback=fallback,
        min_score=float(scoring.get("min_score", 1)),
        negation_words=tuple(negation.get("words", [])),
        negation_adjacent=tuple(negation.get("adjacent_only", [])),
        negation_max_gap=int(negation.get("max_gap", 2)),
        negation_gap_breakers=str(negation.get("gap_breakers", "")),
        districts=districts,
        areas=areas,
        address_pattern=address_pattern,
        intersection_pattern=intersection_pattern,
        generic_names=tuple(address.get("generic_names", [])),
        strong_address=strong_address,
        bare_suffixes=frozenset(
            [*address.get("road_suffixes", []), *address.get("place_suffixes", [])]
        ),
        source=path,
        sub_category_rules=sub_category_rules,
        kind_over_model=kind_over_model,
        places=places,
        not_now=not_now,
        negation_questions=tuple(negation.get("questions", [])),
        negation_endless=tuple(negation.get("endless", [])),
        emergency_follows=follows,
        **_everyday(data.get("everyday_words", {}).get("words", []), path,
                    data.get("everyday_words", {}).get("patterns", [])),
        retracted=_compiled(negation.get("retracted"), path, "[negation] retracted"),
        set_aside=_compiled(negation.get("set_aside"), path, "[negation] set_aside"),
        **_heard_as(data.get("heard_as", {}).get("words", []), path),
        heard_not=_compiled("|".join(data.get("heard_as", {}).get("not_words", [])), path,
                            "[heard_as] not_words"),
        heard_spellings=_heard_spellings(data.get("heard_as", {}).get("spellings", []), path),
    )
    # Every text a call or a filing role sends is scanned with each of these: one whose cost
    # grows faster than the text (a lookahead to the text's end from each of many places)
    # fails the load, a city's own rule file's too (redos39).
    for where, pattern in rule_patterns(rules):
        if fault := growth_fault(pattern):
            shown = pattern.pattern if len(pattern.pattern) <= 300 else (
                pattern.pattern[:300] + "…")
            raise ValueError(f"{path}: {where}: {fault}; in {shown!r}")
    save_passes()
    return rules


def rule_patterns(rules: ClassificationRules) -> Iterator[tuple[str, re.Pattern[str]]]:
    """Every pattern compiled from a rule file, named by where it is read."""
    groups: dict[str, tuple[Rule, ...]] = {
        "category": rules.category_rules, "urgency": rules.urgency_rules,
        "emergency": rules.emergency_rules, "kind": rules.kind_rules,
        "sub_category": rules.sub_category_rules, "kind_over_model": rules.kind_over_model,
    }
    for group, table in groups.items():
        for rule in table:
            where = f"{group}:{rule.id}"
            for i, pattern in enumerate(rule.patterns):
                yield f"{where}.patterns[{i}]", pattern
            for i, unless in enumerate(rule.pattern_unless_call):
                if unless is not None:
                    yield f"{where}.patterns[{i}].unless_call", unless
            for i, pattern in enumerate(rule.when_call):
                yield f"{where}.when_call[{i}]", pattern
            for name in ("unless_pattern", "unless_call"):
                if (pattern := getattr(rule, name)) is not None:
                    yield f"{where}.{name}", pattern
    for name in ("address_pattern", "intersection_pattern", "strong_address", "everyday",
                 "everyday_after", "retracted", "set_aside", "heard_not"):
        if (pattern := getattr(rules, name)) is not None:
            yield name, pattern
    for i, (pattern, _) in enumerate(rules.heard_spellings):
        yield f"heard_spellings[{i}]", pattern
    if rules.not_now is not None:
        for item in fields(rules.not_now):
            if isinstance(pattern := getattr(rules.not_now, item.name), re.Pattern):
                yield f"not_now.{item.name}", pattern


# Where a pattern uses a [lists] list: <name>, not a named group's (?P<name>...).
_LIST_USE = re.compile(r"(?<!\?P)<(\w+)>")
_LIST_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _with_lists(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The rule file with every ``<name>`` put as its [lists] alternation ``(?:a|b|…)``.

    One list, written once, read by every pattern that names it (the machines a body is
    drawn into, a child's names, the present's words): copies of a list drift, and a drifted
    copy is a rule that reads one wording and not its twin. A list may name a list written
    above it. A name no list has, and a list nothing names, fail the load: a typo would
    otherwise match the literal "<name>" and never fire.
    """
    raw = data.get("lists", {})
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: [lists] must be a table")
    named: dict[str, str] = {}
    used: set[str] = set()

    def put(text: str, where: str) -> str:
        def one(match: re.Match[str]) -> str:
            if _in_class(text, match.start()):
                # "[<child>]" would be a class of the alternation's characters, "(", "?",
                # ":" and "|" among them: a rule that compiles and reads the wrong thing.
                raise ValueError(f"{path}: {where}: list <{match.group(1)}> inside a "
                                 "character class [...]")
            if match.group(1) not in named:
                raise ValueError(f"{path}: {where}: unknown list <{match.group(1)}> (a list "
                                 "is named in [lists], above any list that uses it)")
            used.add(match.group(1))
            return named[match.group(1)]
        return _LIST_USE.sub(one, text)

    for name, entries in raw.items():
        where = f"lists.{name}"
        if not _LIST_NAME.fullmatch(name):
            raise ValueError(f"{path}: {where}: a list's name is lower-case ASCII")
        if (not isinstance(entries, list) or not entries
                or not all(isinstance(e, str) and e for e in entries)):
            raise ValueError(f"{path}: {where}: a list is one or more patterns")
        named[name] = "(?:" + "|".join(put(e, where) for e in entries) + ")"
        _compiled(named[name], path, where)

    def walk(value: Any, where: str) -> Any:
        if isinstance(value, str):
            return put(value, where)
        if isinstance(value, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            at = f"{where} {value['id']}" if isinstance(value.get("id"), str) else where
            return {k: walk(v, f"{at}.{k}") for k, v in value.items()}
        return value

    out = {key: walk(value, key) for key, value in data.items() if key != "lists"}
    if unused := sorted(set(named) - used):
        raise ValueError(f"{path}: [lists]: {unused} named by no pattern")
    return out


def _in_class(pattern: str, at: int) -> bool:
    """Whether ``pattern[at]`` lies inside a character class ``[...]`` (escapes skipped; a
    "]" first in a class, or after its "^", is a member, as ``re`` reads it)."""
    inside, i = False, 0
    while i < at:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if not inside and char == "[":
            inside = True
            i += 1
            if i < at and pattern[i] == "^":
                i += 1
            if i < at and pattern[i] == "]":
                i += 1
            continue
        if inside and char == "]":
            inside = False
        i += 1
    return inside


def _heard_as(words: list[str], path: Path) -> dict[str, Any]:
    """The [heard_as] table: every toneless reading of each word (``readings``) to the word."""
    if any(len(w) < 2 for w in words):
        raise ValueError(f"{path}: heard_as: a word has two characters at least")
    table: dict[tuple[str, ...], str] = {}
    for word in words:
        if not (sounds := readings(word)):
            raise ValueError(f"{path}: heard_as: {word!r} has a character of no reading")
        for sound in sounds:
            table.setdefault(sound, word)
    return {"heard_as": table,
            "heard_lengths": tuple(sorted({len(w) for w in words}, reverse=True)),
            "heard_firsts": frozenset(sound[0] for sound in table)}


def _heard_spellings(items: list[dict[str, str]], path: Path,
                     ) -> tuple[tuple[re.Pattern[str], str], ...]:
    """[heard_as] spellings: each ``pattern`` to the ``word`` it is read as. A pattern
    matches as many characters as the word has (its context in lookarounds), so a cue read
    in the word stays where the caller said it."""
    out = []
    for i, item in enumerate(items):
        where = f"[heard_as] spellings[{i}]"
        pattern = _compiled(item.get("pattern"), path, where)
        word = item.get("word", "")
        if pattern is None or len(word) < 2:
            raise ValueError(f"{path}: {where}: needs a pattern and a word of two characters")
        if re._parser.parse(pattern.pattern).getwidth() != (len(word), len(word)):  # type: ignore[attr-defined]
            raise ValueError(f"{path}: {where}: matches other than {len(word)} characters")
        out.append((pattern, word))
    return tuple(out)


def _compiled(pattern: str | None, path: Path, where: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern) if pattern else None
    except re.error as exc:
        raise ValueError(f"{path}: {where}: bad pattern: {exc}") from exc


def _everyday(words: list[str], path: Path,
              patterns: Sequence[str | Mapping[str, str]] = ()) -> dict[str, Any]:
    """One lookahead for the words and the patterns: each match is an everyday word, read as
    a whole (a pattern is a word that takes forms: "审批卡住了", "手续一直卡着"). The last
    pattern may be a table with ``unless_after``: words that, told anywhere after its match,
    make it none (``_everyday_spans`` reads them once a text: a lookahead to the text's end
    read the rest of the text from each match, a 200-character one lost a person shut in
    told later in a long call; review94)."""
    if any(len(w) < 2 for w in words):
        raise ValueError(f"{path}: everyday_words: a word has two characters at least")
    after = None
    if any(isinstance(p, Mapping) for p in patterns[:-1]) or (
            patterns and isinstance(patterns[-1], Mapping)
            and set(patterns[-1]) != {"pattern", "unless_after"}):
        raise ValueError(f"{path}: everyday_words: only the last pattern may be a table, of "
                         "pattern and unless_after (a match that fails it is tried no further)")
    if patterns and isinstance(patterns[-1], Mapping):
        after = _compiled(f"(?=(?:{patterns[-1]['unless_after']}))", path,
                          "everyday_words: unless_after")
        patterns = [*patterns[:-1], f"(?P<{_AFTER}>{patterns[-1]['pattern']})"]
    parts = [*([_alternation(words)] if words else []), *(f"(?:{p})" for p in patterns)]
    if not parts:
        return {"everyday": None, "everyday_after": None}
    try:
        return {"everyday": re.compile(f"(?=({'|'.join(parts)}))"), "everyday_after": after}
    except re.error as exc:
        raise ValueError(f"{path}: everyday_words: bad pattern: {exc}") from exc


# The group of [everyday_words]' last pattern when it has ``unless_after``.
_AFTER = "unless_after"


def _parse_not_now(raw: Mapping[str, Any] | None, path: Path, kind_ids: set[str]) -> NotNow | None:
    if not raw:
        return None
    if unknown := sorted(set(raw.get("frame_rules", [])) - kind_ids):
        raise ValueError(f"{path}: not_now.frame_rules: unknown kind rules {unknown}")

    def one(words: Iterable[str], patterns: Iterable[str]) -> re.Pattern[str] | None:
        # One alternation: a scan per text instead of one per word (classify runs per call).
        parts = [*(f"(?:{p})" for p in patterns), *([_alternation(words)] if words else [])]
        return re.compile("|".join(parts)) if parts else None

    # <now> and <stops> (the present's words, what ends a span) are [lists] lists, put in
    # by the load (``_with_lists``) as every other.
    spans = raw.get("frame_spans", [])
    near_misses = raw.get("hazard_only", [])
    told_ends = [*raw.get("told_ends", []), *raw.get("called_now", [])]
    try:
        for key in ("over_patterns", "frame_patterns", "still", "just_now", "ongoing",
                    "ahead_patterns", "ahead_ends", "called_now", "now_turn", "turn_talk",
                    "hazard_only", "habit", "unhurt", "made_safe", "on_purpose", "asked",
                    "frame_spans", "treated", "seen", "stories", "seen_told", "told_ends",
                    "seen_ends", "stories_ends", "not_person", "person", "person_state",
                    "not_person_ends", "drills_real", "drills_feigned", "feared",
                    "over_breaks"):
            for pattern in raw.get(key, []):
                re.compile(pattern)
        return NotNow(
            over=one(raw.get("over", []), raw.get("over_patterns", [])),
            frame=one(raw.get("frame_words", []), raw.get("frame_patterns", [])),
            frame_rules=tuple(raw.get("frame_rules", [])),
            still=one([], [*raw.get("still", []), *raw.get("just_now", [])]),
            just_now=one([], raw.get("just_now", [])),
            ongoing=one([], raw.get("ongoing", [])),
            ahead=one([*raw.get("ahead", []), *raw.get("suppose", [])],
                      raw.get("ahead_patterns", [])),
            ahead_ends=one([], raw.get("ahead_ends", [])),
            called_now=one([], raw.get("called_now", [])),
            now_turn=one([], raw.get("now_turn", [])),
            turn_talk=one([], raw.get("turn_talk", [])),
            suppose=one(raw.get("suppose", []), []),
            hazard_only=one([], near_misses),
            habit=one([], raw.get("habit", [])),
            unhurt=one([], raw.get("unhurt", [])),
            made_safe=one([], raw.get("made_safe", [])),
            on_purpose=one([], raw.get("on_purpose", [])),
            asked=one([], raw.get("asked", [])),
            frame_spans=one([], spans),
            treated=one([], raw.get("treated", [])),
            seen=one([], raw.get("seen", [])),
            stories=one([], raw.get("stories", [])),
            seen_told=one([], raw.get("seen_told", [])),
            seen_ends=one([], [*told_ends, *raw.get("seen_ends", [])]),
            stories_ends=one([], [*told_ends, *raw.get("stories_ends", [])]),
            seen_reach=int(raw.get("seen_reach", 15)),
            not_person=one([], raw.get("not_person", [])),
            person=one([], raw.get("person", [])),
            person_state=one([], raw.get("person_state", [])),
            not_person_ends=one([], raw.get("not_person_ends", [])),
            drills=one(raw.get("drills", []), []),
            drills_real=one([], raw.get("drills_real", [])),
            drills_feigned=one([], raw.get("drills_feigned", [])),
            feared=one([], raw.get("feared", [])),
            over_breaks=one([], raw.get("over_breaks", [])),
        )
    except re.error as exc:
        raise ValueError(f"{path}: not_now: bad pattern: {exc}") from exc


def _parse_sub_rule(raw: Mapping[str, Any], path: Path) -> Rule:
    """A [[sub_category_rules]] entry: its sub-category must be one of its category's."""
    category = raw.get("category")
    if category not in _category_labels():
        raise ValueError(f"{path}: rule {raw.get('id')}: unknown category {category!r}")
    rule = _parse_rule(raw, path, target_key="sub_category",
                       allowed=set(sub_categories(category)), negatable=False)
    return replace(rule, categories=frozenset({category}))


def _parse_rule(
    raw: Mapping[str, Any], path: Path, *, target_key: str, allowed: set[str], negatable: bool,
    now_only: bool = False,
) -> Rule:
    rule_id = raw.get("id") or f"<unnamed {target_key} rule>"
    target = raw.get(target_key)
    if target not in allowed:
        raise ValueError(
            f"{path}: rule {rule_id}: {target_key} {target!r} is not one of {sorted(allowed)}"
        )
    entries = [p if isinstance(p, Mapping) else {"pattern": p} for p in raw.get("patterns", [])]
    try:
        patterns = tuple(re.compile(p["pattern"]) for p in entries)
    except (re.error, KeyError) as exc:
        raise ValueError(f"{path}: rule {rule_id}: bad pattern: {exc}") from exc
    keywords = tuple(raw.get("keywords", []))
    if not keywords and not patterns:
        raise ValueError(f"{path}: rule {rule_id}: needs keywords or patterns")
    unless_call = _call_pattern(raw.get("unless_call"), path, rule_id)
    pattern_unless_call = tuple(_call_pattern(p.get("unless_call"), path, rule_id)
                                for p in entries)
    try:
        when_call = tuple(re.compile(p) for p in raw.get("when_call", []))
    except re.error as exc:
        raise ValueError(f"{path}: rule {rule_id}: bad when_call: {exc}") from exc
    return Rule(
        id=rule_id,
        target=target,
        weight=float(raw.get("weight", 1)),
        keywords=keywords,
        patterns=patterns,
        categories=frozenset(raw.get("categories", [])),
        negatable=bool(raw.get("negatable", negatable)),
        unless=tuple(raw.get("unless", [])),
        unless_pattern=_call_pattern(raw.get("unless"), path, rule_id),
        unless_call=unless_call,
        pattern_unless_call=(pattern_unless_call if any(pattern_unless_call) else ()),
        when_call=when_call,
        now_only=bool(raw.get("now_only", now_only)),
        quiet_when_made_safe=bool(raw.get("quiet_when_made_safe", False)),
        unless_over_match=bool(raw.get("unless_over_match", False)),
        gives_way=bool(raw.get("gives_way", False)),
        replaces=frozenset(raw.get("replaces", [])),
    )


def _call_pattern(alternatives: list[str] | None, path: Path,
                  rule_id: str) -> re.Pattern[str] | None:
    """An ``unless_call`` list as one pattern (none for an empty or missing list)."""
    try:
        return re.compile("|".join(f"(?:{p})" for p in alternatives)) if alternatives else None
    except re.error as exc:
        raise ValueError(f"{path}: rule {rule_id}: bad unless_call: {exc}") from exc


def _alternation(words: Iterable[str]) -> str:
    # Longest first so the regex engine prefers "号楼" over "号".
    # Equal lengths in a fixed order: a set's order changes with each process's hash seed, and
    # with it the pattern's text (the growth check's passes are kept by it: pattern_growth).
    # Two different literals of one length never match at the same place: no match changes.
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _trie(words: Iterable[str]) -> str:
    """An alternation of ``words`` as a prefix tree: re tries every branch of a flat
    alternation at every position, and with ~850 area names that doubled the address pass
    (0.2 → 0.4 ms a text); a tree behind a first-character set test brought it to 0.17 ms.
    Longer words are still tried first."""
    tree: dict[str, Any] = {}
    for word in sorted(set(words)):
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + pattern(child) for ch, child in node.items() if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        if "" in node:  # a word ends here: the longer ones first, then this one
            return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"
        return body

    # The look-ahead turns away a character that starts no word in one set test.
    firsts = "".join(re.escape(ch) for ch in sorted(tree))
    return f"(?:(?=[{firsts}]){pattern(tree)})"


def _compile_address(
    cfg: Mapping[str, Any], districts: tuple[str, ...], areas: list[str]
) -> tuple[re.Pattern[str], re.Pattern[str]]:
    stop = re.escape(cfg.get("stop_chars", ""))
    name = rf"[^\s\W{stop}]"  # any word character (CJK, digit, letter) that is not a stop char
    bare = [d.removesuffix("区") for d in districts]
    district = rf"(?:{_alternation(districts)}|{_alternation(bare)})"
    unit = _alternation(cfg.get("unit_suffixes", []))
    qualifier = _alternation(cfg.get("qualifiers", []))
    # Bounded: an unbounded digit run nested in the {0,8} chain backtracks quadratically
    # on a long run of digits (5000 of them took 5 s); no address number is longer.
    number = rf"[东西南北]?[\d{_CN_NUM}]{{1,8}}(?:{unit})"
    area = _trie(areas) if areas else r"(?!x)x"
    # One alternation, longest first, so "兴谷街道" ends in 街道 rather than 街.
    suffix = _alternation([*cfg.get("road_suffixes", []), *cfg.get("place_suffixes", [])])
    named = rf"{name}{{0,6}}(?:{suffix})"
    numbered = rf"{name}{{1,6}}?{number}"
    # Areas are tried before generic components so "和平里" is not cut at the stop char "和".
    component = rf"(?:{area}|{number}|{named}|{numbered})"
    chain = (
        rf"(?P<district>{district})?(?P<area>{area})?"
        rf"(?P<body>(?:{component}){{0,8}})(?:{qualifier})?"
    )
    street = rf"{name}{{1,8}}?(?:大街|大道|路|街)"
    cross = (
        rf"(?P<district>{district})?(?:{area})?"
        rf"{street}(?:和|与|跟|同){street}的?(?:交叉口|十字路口|路口|交口|交汇处)"
    )
    return re.compile(chain), re.compile(cross)


# --------------------------------------------------------------------------- matching


def _normalize(text: str) -> str:
    # Characters that show nothing (inputs.invisible) split a cue no reader sees split:
    # "燃\u200b气泄\u200b漏" was graded general, its address and title misread (review111).
    return _CJK_SPACE.sub("", readable(text)).strip()


def _heard(text: str, rules: ClassificationRules) -> str:
    """``text`` (normalised) with a recogniser's homophones of the [heard_as] words written as
    the words ("电体的事卡了俩利拜" → 电梯的事卡了俩礼拜), so that a rule reads what was said.
    Only a spelling that keeps a character of the word in its place and swaps at most one in
    three ("点题" shares nothing with 电梯: another word), and of the word's length: a cue's
    place in the text stays where it was."""
    if not rules.heard_as and not rules.heard_spellings:
        return text
    # Each character read once, and a window looked up only where a word can begin: every
    # window of every length read ~9 syllables a character, 458 us a 166-character call
    # against 49 now (docs/scaling.md, thirty-sixth round). A word written over a window
    # moves the scan past it, so the text ahead is always as written.
    sounds = [syllable(ch) for ch in text]
    firsts = rules.heard_firsts or frozenset(sound[0] for sound in rules.heard_as)
    chars, kept = _spelled(text, rules)
    i = 0
    while i < len(chars):
        if sounds[i] in firsts:
            for n in rules.heard_lengths:
                if i + n > len(chars) or any(kept[i:i + n]):
                    continue
                word = rules.heard_as.get(tuple(sounds[i:i + n]))
                written = text[i:i + n]
                if word and written != word and _swapped_few(written, word):
                    chars[i:i + n] = word
                    i += n - 1
                    break
        i += 1
    return "".join(chars)


def _spelled(text: str, rules: ClassificationRules) -> tuple[list[str], bytearray]:
    """``text``'s characters with a danger word's spellings in their context ([heard_as]
    spellings) written as the word, and which characters the scan by sound must leave alone:
    those the [heard_as] exceptions cover and the words just written."""
    chars = list(text)
    kept = bytearray(len(text) + 1)
    for m in rules.heard_not.finditer(text) if rules.heard_not else ():
        kept[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    for pattern, word in rules.heard_spellings:
        for m in pattern.finditer(text):
            if not any(kept[m.start():m.end()]):
                chars[m.start():m.end()] = word
                kept[m.start():m.end()] = b"\x01" * len(word)
    return chars, kept


def _swapped_few(written: str, word: str) -> bool:
    differ = sum(a != b for a, b in zip(written, word, strict=True))
    return differ < len(word) and differ <= max(1, len(word) // 3)


@lru_cache(maxsize=8)
def _breaks(text: str) -> tuple[int, ...]:
    """Where the clause breaks of ``text`` are: once per text, every cue asks. A walk back
    per cue was quadratic on a long text without punctuation (a recogniser's: one clause),
    1,250 quiet cues of 5,000 characters took 0.7 s."""
    return tuple(m.start() for m in _CLAUSE_BREAK.finditer(text))


def _clause_start(text: str, pos: int) -> int:
    return _clause(text, pos)[0]


def _negated(text: str, pos: int, rules: ClassificationRules, danger: bool = False) -> bool:
    prefix = text[_clause_start(text, pos) : pos]
    # A danger asked about ("是不是着火了") is suspected now; an outage asked about
    # ("是不是要停水") may be a plan, so only the floor's cues read the question so.
    for question in rules.negation_questions if danger else ():
        # Masked, not removed: the gap to an earlier negation keeps its length.
        prefix = prefix.replace(question, "?" * len(question))
    for endless in rules.negation_endless:
        prefix = prefix.replace(endless, "?" * len(endless))
    for gap in range(rules.negation_max_gap + 1):
        end = len(prefix) - gap
        if any(ch in rules.negation_gap_breakers for ch in prefix[end:]):
            break
        if prefix[:end].endswith(rules.negation_words):  # a tuple: any of them
            return True
    return prefix.endswith(rules.negation_adjacent)


def _clause(text: str, pos: int) -> tuple[int, int]:
    """Start and end of the clause around ``pos``."""
    breaks = _breaks(text)
    i = bisect_left(breaks, pos)
    return breaks[i - 1] + 1 if i else 0, breaks[i] if i < len(breaks) else len(text)


@lru_cache(maxsize=8)
def _everyday_spans(text: str, everyday: re.Pattern[str],
                    after: re.Pattern[str] | None = None) -> tuple[tuple[int, int], ...]:
    r"""Where the everyday words are in ``text``: once per text, every rule asks. The last
    pattern's match is none where an ``after`` word starts at or after its end (what a
    lookahead ``(?![\s\S]*words)`` at its end read, the text read once)."""
    last = max((m.start() for m in after.finditer(text)), default=-1) if after else -1
    return tuple((m.start(), m.end(1)) for m in everyday.finditer(text)
                 if not (m.groupdict().get(_AFTER) is not None and last >= m.end(1)))


def _in_everyday_word(text: str, pos: int, end: int, rules: ClassificationRules) -> bool:
    """Whether the cue at ``pos:end`` is part of a longer everyday word: it lies inside one
    ("爆炸性", "跳楼价") or shares characters with one without holding it ("写着火爆" is
    写着 + 火爆, no 着火). The longer word is read, as place names are ("西单元" is no 西单)."""
    if rules.everyday is None:
        return False
    spans, starts, reach = _everyday_index(text, rules.everyday, rules.everyday_after)
    # A word begun before the cue that runs into it. Each cue looked through every word of
    # the text: a long text of many was quadratic ("卡一年" × 2,666 cost 1.2 s; redos39).
    i = bisect_left(starts, pos)
    if i and reach[i - 1] > pos:
        return True
    # A word begun inside the cue (one at most per position) that runs past its end.
    return any(stop > end for _, stop in spans[i:bisect_left(starts, end, i)])


@lru_cache(maxsize=8)
def _everyday_index(text: str, everyday: re.Pattern[str], after: re.Pattern[str] | None
                    ) -> tuple[tuple[tuple[int, int], ...], list[int], list[int]]:
    """``_everyday_spans``, their starts (in order: one match per position) and the furthest
    end among the first i, once per text (keyed by the text: its hash is kept)."""
    spans = _everyday_spans(text, everyday, after)
    return (spans, [start for start, _ in spans],
            list(accumulate((stop for _, stop in spans), max)))


def _excepted(text: str, pos: int, end: int, rule: Rule) -> bool:
    """Whether an ``unless`` word is in the clause the cue at ``pos:end`` starts in, or, for
    a rule with ``unless_over_match``, in any clause the match covers."""
    if rule.unless_pattern is None:
        return False
    start, stop = _clause(text, pos)
    if rule.unless_over_match:
        stop = _clause(text, max(pos, end - 1))[1]
    return rule.unless_pattern.search(text, start, stop) is not None


# (clause start, quiet from, clause end, reach): a cue that starts in the clause and ends
# after "quiet from" (and no later than "reach") is silent; "quiet from" is the clause start
# unless a word of `ahead` set it. Only an animal's span has a reach (``_not_person_spans``).
Span = tuple[int, int, int, int]
_NO_REACH = sys.maxsize


def _quiet_spans(
    text: str, rules: ClassificationRules,
) -> tuple[tuple[Span, ...], tuple[Span, ...], tuple[Span, ...], tuple[Span, ...]]:
    """Where in ``text`` (normalised) the cues of danger now do not fire, for the urgent
    floor and for the hand-over: the whole text when the call is framed as thanks, a
    suggestion, a rumour checked or money after the fact, else each clause that tells of a
    danger over, and the rest of each clause from a word that makes it imagined or heard
    of, and each question about a service or its number (``asked``) and each frame told in
    a span (``frame_spans``: an ambulance's bill, an appliance's fault); for the hand-over also
    each clause that tells of a danger that nearly happened; nowhere when the text says the
    danger goes on. One pass for both (classify runs per call). Third: the spans a habit
    left live for the floor alone, silent for the hand-over; fourth: the stories told
    (``NotNow.stories``), which mark nothing for the model."""
    cfg = rules.not_now
    if cfg is None:
        return (), (), (), ()
    # Once per text: the still test skips their words, the quiet spans are theirs.
    seen, stories = _seen_spans(text, cfg)
    # A cue quiet only inside a story leaves the model free (``NotNow.stories``).
    told_stories = tuple((first, start, end, _NO_REACH) for first, start, _, end in stories)
    asked = tuple(cfg.asked.finditer(text)) if cfg.asked else ()
    # An animal's or a thing's plight is nobody's danger, going on or not.
    beings = _not_person_spans(text, cfg)
    # The one hurt in care or the danger resolved (``NotNow.treated``): the story up to the
    # clause that says so is over, its "刚才" included ("孩子刚才一转眼不见了，还好半分钟就
    # 找着了"); a sign told after it still goes on. Twenty-ninth round (emerg34); only the
    # ``just_now`` words since review81 (``_goes_on``).
    resolved = cfg.treated.search(text) if cfg.treated else None
    resolved_end = _clause(text, max(resolved.end() - 1, 0))[1] if resolved else 0
    if _goes_on(text, cfg, seen, asked, beings, resolved_end):
        return beings, beings, (), ()
    # A habit keeps the floor's cues (B9) and silences the hand-over's as before.
    habit = bool(cfg.habit and cfg.habit.search(text))
    # A drill framed up to a turn to the caller's present covers only what comes before it.
    drill = _drill(text, cfg)
    drill_turn = (_turn_at(text, word.end(), len(text), cfg, rules)
                  if drill and cfg.drills and (word := cfg.drills.search(text)) else None)
    if (cfg.frame and cfg.frame.search(text)) or (drill and drill_turn is None) or any(
        _rule_hits(rule, text, rules) for rule in rules.kind_rules if rule.id in cfg.frame_rules
    ):
        whole: tuple[Span, ...] = ((0, 0, len(text), _NO_REACH),)
        return ((), whole, whole, ()) if habit else (whole, whole, (), ())
    spans: list[Span] = [(0, 0, drill_turn, _NO_REACH)] if drill_turn is not None else []
    hazard: list[Span] = []
    for m in _CLAUSE_SPLIT.finditer(text):
        clause, (start, end) = m.group(0), m.span()
        if cfg.ongoing and cfg.ongoing.search(clause):
            continue
        if cfg.over and (word := cfg.over.search(clause)):
            spans.extend(_over_spans(text, start, end, start + word.end(), cfg, rules))
        elif cfg.ahead and (word := cfg.ahead.search(clause)):
            stop = cfg.ahead_ends.search(clause, word.end()) if cfg.ahead_ends else None
            spans.append((start, start + word.start(), start + stop.start() if stop else end,
                          _NO_REACH))
        if cfg.hazard_only:
            hazard.extend(_hazard_spans(cfg.hazard_only, clause, start, end))
    if cfg.frame_spans:
        spans.extend((m.start(), m.start(), m.end(), _NO_REACH)
                     for m in cfg.frame_spans.finditer(text))
    # A service asked about is no danger, habit or not (B15). Nor is what the story told up
    # to the clause that says the one hurt is in care or it was resolved; a danger told after
    # it ("…在医院治着呢，家里老二也开始上吐下泻了") is a new one and keeps its cues.
    # A pattern may name the parts that are quiet (named groups): in "消防车鸣着笛过去了，
    # 往东边开的，是不是哪儿着火了" the vehicle and the question, not what lies between.
    told: list[Span] = [(first, start, end, _NO_REACH) for first, start, _, end in seen]
    told.extend(beings)
    # A fear of what has not happened ("怕着火") marks nothing, as a story does.
    feared = tuple((m.start(), m.start(), m.end(), _NO_REACH)
                   for m in (cfg.feared.finditer(text) if cfg.feared else ()))
    told.extend(feared)
    told_stories = (*told_stories, *feared)
    for m in asked:
        parts = [m.span(g) for g, v in m.groupdict().items() if v is not None] or [m.span()]
        told.extend((start, start, end, _NO_REACH) for start, end in parts)
    if resolved_end:
        told.append((0, 0, resolved_end, _NO_REACH))
    if habit:
        return tuple(told), (*spans, *told, *hazard), tuple(spans), told_stories
    return (*spans, *told), (*spans, *told, *hazard), (), told_stories


def _hazard_spans(pattern: re.Pattern[str], clause: str, start: int,
                  end: int) -> Iterator[Span]:
    """The quiet stretches of a near miss in ``clause`` (at ``start``..``end`` of the
    text): from a ``governs`` match's word to the end of what it governs, else the whole
    clause (``NotNow.hazard_only``). A cue that runs up to the word is the near miss's own
    (the knife in "有人拿着刀差点砍到我"); one that ends a character or more before it was told
    of something else ("窗户玻璃全都震碎了我差点摔了")."""
    for m in pattern.finditer(clause):
        if "governs" in m.re.groupindex and m.group("governs") is not None:
            yield start, start + max(m.start() - 1, 0), start + m.end("governs"), _NO_REACH
        else:
            yield start, start, end, _NO_REACH
            return


def _over_spans(text: str, start: int, end: int, said: int, cfg: NotNow,
                rules: ClassificationRules) -> Iterator[Span]:
    """The quiet stretches of the clause ``text[start:end]``, whose first ``over`` word ends
    at ``said``: from the clause start to a plea or a turn to the present told after the
    word, else to its end. In a call told without punctuation the stretch ends too at an
    ``over_breaks`` word a danger follows (``_over_cut``), as a comma would end it; the rest
    is read as the next clause, quiet again from an ``over`` word in it."""
    first = start
    while True:
        cut = _over_cut(text, said, end, cfg, rules)
        last = end if cut is None else cut
        plea = cfg.called_now.search(text, said, last) if cfg.called_now else None
        turn = _turn_at(text, said, last, cfg, rules)
        stops = [x for x in (plea.start() if plea else None, turn) if x is not None]
        yield first, first, min(stops, default=last), _NO_REACH
        if cut is None or cfg.over is None or not (word := cfg.over.search(text, cut, end)):
            return
        first, said = cut, word.end()


def _over_cut(text: str, pos: int, end: int, cfg: NotNow,
              rules: ClassificationRules) -> int | None:
    """Where, in a text with no clause break at all (a recogniser's), the first
    ``over_breaks`` word in ``text[pos:end]`` that a danger follows (``_happens``) starts;
    None in a text with a break: a writer's clauses are read as written."""
    if cfg.over_breaks is None or _told_in_clauses(text):
        return None
    return next((m.start() for m in cfg.over_breaks.finditer(text, pos, end)
                 if _happens(text, m.end(), cfg, rules)), None)


@lru_cache(maxsize=8)
def _told_in_clauses(text: str) -> bool:
    """Whether ``text`` holds a clause break other than its closing marks and a decimal
    point: a call typed in one run and closed with a 。, or a recogniser's whose number
    clean-up wrote 三十九点五 as 39.5 (asr.cleanup, what the IVR files), is told without
    punctuation all the same (review102). Once per text: asked for every clause."""
    tail = len(text.rstrip(_CLOSING))
    return any(at < tail and not (text[at] == "." and text[at - 1:at].isdigit()
                                  and text[at + 1:at + 2].isdigit())
               for at in _breaks(text))


def _turn_at(text: str, pos: int, stop: int, cfg: NotNow,
             rules: ClassificationRules) -> int | None:
    """Where ``text[pos:stop]`` turns to the caller's present: the first ``now_turn`` word
    after which its clause tells a happening (``_happens``), or None. A turn followed by
    more talk about the frame ("培训现在报名的话…", "今天想起来还后怕当时…") is none."""
    if cfg.now_turn is None:
        return None
    for turn in cfg.now_turn.finditer(text, pos, stop):
        if _happens(text, turn.end(), cfg, rules):
            return turn.start()
    return None


def _happens(text: str, pos: int, cfg: NotNow, rules: ClassificationRules) -> bool:
    """Whether the clause from ``pos`` tells a danger cue (an emergency rule's or the urgent
    floor's, read bare) with no ``turn_talk`` word before it or just after it."""
    stop = _clause(text, pos)[1]
    # A cue starts in the clause; some run on past its comma ("哮喘犯了，喘得…说不上来").
    # Each search from here is remembered (``_search_from``): a text of many turns read the
    # rest of the text once a turn, with the square of its length (review94).
    ends = [m.end() for rule in _danger_rules(rules) for p in rule.patterns
            if (m := _search_from(p, text, pos)) and m.start() < stop]
    ends.extend(m.end() for rule in _danger_rules(rules) for kw in rule.keywords
                if (m := _search_from(_literal(kw), text, pos)) and m.end() <= stop)
    if not ends:
        return False
    return not (cfg.turn_talk and _search_from(
        cfg.turn_talk, text, pos, min(min(ends), stop) + DRILL_WINDOW[1]))


@lru_cache(maxsize=8)
def _searched(text: str) -> dict[tuple[re.Pattern[str], int | None],
                                  tuple[int, re.Match[str] | None]]:
    """The last search of ``text`` by each pattern (and end): its start and its match."""
    return {}


def _search_from(pattern: re.Pattern[str], text: str, pos: int,
                 endpos: int | None = None) -> re.Match[str] | None:
    """``pattern.search(text, pos, endpos)``, answered from the last search where it must
    give the same match: a search finds the first start at or after ``pos`` where the
    pattern matches (what it matches there does not depend on ``pos``: lookbehinds and ``^``
    read the whole text), so a later ``pos`` up to that start finds it again, and after no
    match none. Positions asked in order then read the text once a pattern."""
    seen = _searched(text)
    last = seen.get((pattern, endpos))
    if last is not None and last[0] <= pos and (last[1] is None or pos <= last[1].start()):
        return last[1]
    found = pattern.search(text, pos, len(text) if endpos is None else endpos)
    seen[(pattern, endpos)] = (pos, found)
    return found


@lru_cache(maxsize=4096)
def _literal(word: str) -> re.Pattern[str]:
    return re.compile(re.escape(word))


def _danger_rules(rules: ClassificationRules) -> tuple[Rule, ...]:
    """The rules whose cues tell a danger now: every hand-over's and the urgent floor's."""
    return (*rules.emergency_rules, *(r for r in rules.urgency_rules if r.target == "urgent"))


def _drill(text: str, cfg: NotNow) -> bool:
    """Whether ``text`` is framed as a drill, a talk or a training course (``NotNow.drills``)
    and tells no danger that is real now (``NotNow.drills_real``, unless feigned, supposed
    or asked about in the words around it: ``NotNow.drills_feigned``)."""
    if cfg.drills is None or not cfg.drills.search(text):
        return False
    for m in cfg.drills_real.finditer(text) if cfg.drills_real else ():
        first, last = _clause(text, m.start())
        around = (max(first, m.start() - DRILL_WINDOW[0]),
                  min(max(last, m.end()), m.end() + DRILL_WINDOW[1]))
        if not (cfg.drills_feigned and cfg.drills_feigned.search(text, *around)):
            return False
    return True


def _goes_on(text: str, cfg: NotNow, seen: tuple[Seen, ...],
             asked: tuple[re.Match[str], ...], beings: tuple[Span, ...] = (),
             resolved_end: int = 0) -> bool:
    """Whether ``text`` says the danger goes on (``still``), outside what a clause supposes:
    in "老人要是在家摔倒了起不来，有没有一键呼叫" the "起不来" follows "要是" and is as
    supposed as the fall (tenth round: the rules handed this question to 120). A ``just_now``
    word told before ``resolved_end`` (the clause that says it was resolved) is the resolved
    story's; any other sign before it may be another's or a new danger, and counts ("老人还没
    找着，孩子已经找着了", "我爸刚才晕倒了，现在又叫不醒了，上次已经康复了": review81)."""
    if cfg.still is None:
        return False
    # When the caller watched or the vehicle passed ("我刚才在电视上看", "刚才消防车过去了")
    # is no danger going on: only the words of the match, not the report told after them
    # ("电视上说…着火了火很大快来人" is the caller's fire, told without commas).
    # Nor is an animal still stuck or bleeding ("狗还在流血"): its plight is nobody's danger.
    skip = sorted([*((start, words) for _, start, words, _ in seen),
                   *(m.span() for m in asked),
                   *((start, end) for _, start, end, _ in beings)])
    starts = [start for start, _ in skip]
    # The furthest any of the first i reaches (a seen and an asked match may overlap).
    reach = list(accumulate((end for _, end in skip), max))
    for m in cfg.still.finditer(text):
        if (i := bisect_right(starts, m.start())) and m.start() < reach[i - 1]:
            continue
        if m.start() < resolved_end and cfg.just_now and cfg.just_now.match(text, m.start()):
            continue
        word = (cfg.suppose.search(text, _clause_start(text, m.start()), m.start())
                if cfg.suppose else None)
        if word is None:
            return True
    return False


# (clause start, match start, end of the matched words, end of the quiet stretch)
Seen = tuple[int, int, int, int]


def _seen_spans(text: str, cfg: NotNow) -> tuple[tuple[Seen, ...], tuple[Seen, ...]]:
    """The reports and stories told in ``text`` (``NotNow.seen`` and ``NotNow.stories``), in
    order, and the stories alone (see ``_told_spans``)."""
    reports = _told_spans(text, cfg, cfg.seen, cfg.seen_ends)
    stories = _told_spans(text, cfg, cfg.stories, cfg.stories_ends or cfg.seen_ends)
    return (tuple(sorted((*reports, *stories))) if reports and stories
            else reports or stories), stories


def _told_spans(text: str, cfg: NotNow, seen: re.Pattern[str] | None,
                ends: re.Pattern[str] | None) -> tuple[Seen, ...]:
    """Each match of ``seen`` (a report seen or heard on a medium, ``NotNow.seen``, or a
    story told, ``NotNow.stories``): quiet from the match to the
    end of its clause and of each clause after it that tells the report (``seen_told``),
    each at most ``seen_reach`` characters past its telling word (a recogniser writes a
    call as one clause: "电视上说今天大风楼下电动车着火了火很大快来人"), and up to a word that
    turns to the caller's own place or time (``ends``: ``seen_ends`` or ``stories_ends``,
    "…我们楼现在着火了"). A match that takes in its clause's comma ("看了个电影，") tells
    what follows it, the next clause. A match
    inside the stretch of the one before adds nothing (and on a long text would make the
    work quadratic)."""
    if seen is None:
        return ()
    spans: list[Seen] = []
    last = 0
    for m in seen.finditer(text):
        if m.start() < last:
            continue
        first, clause_end = _clause(text, m.start())
        if m.end() > clause_end:
            clause_end = _clause(text, m.end())[1]
        end = min(clause_end, m.end() + cfg.seen_reach)
        while (cfg.seen_told and end == clause_end < len(text) and text[end] in "，,、"
               and (told := cfg.seen_told.match(text, end + 1))):
            clause_end = _clause(text, end + 1)[1]
            end = min(clause_end, told.end() + cfg.seen_reach)
        if ends and (stop := ends.search(text, m.end(), end)):
            end = stop.start()
        spans.append((first, m.start(), m.end(), end))
        last = max(end, m.end())
    return tuple(spans)


def _not_person_spans(text: str, cfg: NotNow) -> tuple[Span, ...]:
    """Where an animal or a thing is the one in trouble (``NotNow.not_person``): from the
    match to the end of its clause, in a call with no ``person_state`` outside the animal's
    own words, no danger of another kind (``not_person_ends``) and no ``person`` from the
    match's clause on. The rest of the call, not the clause: a recogniser writes a call as
    one clause, and a person told a clause later ("手机掉井里了，娃下去捡，现在没动静了") is the
    one in danger. A person told only in a clause before it sets the scene ("我刚才在湖边拍照，
    手机掉水里了", "有人拉粘鸟网，好多鸟挂在上面扑腾"); a cue that starts in the animal's clause
    then stays quiet only up to its end, else it may run over commas ("狗被车撞了，后腿都是血")."""
    if cfg.not_person is None:
        return ()
    found = list(cfg.not_person.finditer(text))
    if not found or (cfg.not_person_ends and cfg.not_person_ends.search(text)):
        return ()
    if cfg.person_state:
        starts = [m.start() for m in found]
        for b in cfg.person_state.finditer(text):
            # Inside a match it is the animal's ("狗摔伤了"); matches do not overlap.
            i = bisect_right(starts, b.start())
            if not i or b.end() > found[i - 1].end():
                return ()
    last = -1  # where the last person is named
    if cfg.person:
        for last_person in cfg.person.finditer(text):
            last = last_person.start()
    spans: list[Span] = []
    done = -1  # the end of the last span: one per clause
    for m in found:
        if m.start() < done:
            continue
        first, done = _clause(text, m.start())
        if last >= first:
            # A person is named in or after this clause: it and every later animal clause
            # keep their cues (a later one after that person too: on the safe side).
            break
        spans.append((m.start(), m.start(), done, _NO_REACH if last < 0 else done))
    return tuple(spans)


def _no_rescue(text: str, rules: ClassificationRules, handover_quiet: tuple[Span, ...],
               habit_only: tuple[Span, ...], emergency: str,
               stories: tuple[Span, ...] = ()) -> list[str]:
    """Marks (for ``Classification.matched``) of a text that names nobody to rescue now:
    ``NO_VICTIM`` when it says the one the danger came near is unhurt or out, or that it
    nearly happened (``NotNow.unhurt``, ``NotNow.hazard_only``); ``EVERYDAY_WORD`` when a
    hand-over cue lies in an everyday word and nothing else hands over; ``SILENCED`` when a
    hand-over cue is there but ``[not_now]`` silenced it (over, framed, imagined, asked
    about), or, with no cue heard, the one hurt is in care or it was resolved
    (``NotNow.treated``); neither where a habit keeps the cues live for the floor: a past
    danger whose cause is still there (B9) is the model's to weigh, as before
    ("天天喝酒打老婆，昨天打得满脸是血")."""
    cfg = rules.not_now
    if cfg is None:
        return []
    marks = [f"{NO_VICTIM}:{m.group(0)}" for p in (cfg.unhurt, cfg.hazard_only)
             if p and (m := p.search(text))][:1]
    if cfg.made_safe and (m := cfg.made_safe.search(text)):
        marks.append(f"{MADE_SAFE}:{m.group(0)}")
    if (emergency == "none" and cfg.on_purpose and cfg.on_purpose.search(text)
            and (guarded := _guarded_cue(text, rules))):
        marks.append(f"{ON_PURPOSE}:{guarded}")
    if emergency == "none" and (eaten := _eaten_cue(text, rules, handover_quiet)):
        marks.append(f"{EVERYDAY_WORD}:{eaten}")
    # A cue quiet only inside a story (``NotNow.stories``) leaves the model free: "看了个电影
    # 里面有人煤气中毒我现在也闻到家里一股煤气味头晕得厉害" (the film's 中毒 is quiet, the smell
    # and the dizziness are the model's). Twenty-third round (calm25).
    if (emergency == "none" and handover_quiet and not habit_only
            and (heard := _emergency(text, rules, stories)[1])):
        marks.append(f"{SILENCED}:{heard[0]}")
    elif (emergency == "none" and not habit_only and handover_quiet and cfg.treated
            and (m := cfg.treated.search(text))):
        marks.append(f"{SILENCED}:{m.group(0)}")
    return marks


def _guarded_cue(text: str, rules: ClassificationRules) -> str | None:
    """A cue of danger now that a rule's own ``unless`` or ``unless_call`` silenced, or None. With
    ``NotNow.on_purpose`` it names a fire, smoke or a dive made on purpose whose words the
    rules heard and read as the purpose's ("上坟烧的纸都着了"): the model reads the same words
    as the danger. A call that only names a barbecue, a grave or a cigarette beside another
    danger the rules do not read ("燃气调压箱一直在漏气…旁边有人抽烟") silences no cue here,
    and the model weighs it as before. Whether the cue was also past or a habit does not
    matter here: the model hears those words too ("每天早晚冒烟，是在熏腊肉"). Thirty-first
    round (emerg36)."""
    for rule in _danger_rules(rules):
        if (bare := rule.unguarded) is rule:
            continue
        heard = _rule_hits(rule, text, rules)
        for hit in _rule_hits(bare, text, rules):
            if hit not in heard:
                return f"{rule.id}:{hit}"
    return None


def _eaten_cue(text: str, rules: ClassificationRules, quiet: tuple[Span, ...]) -> str | None:
    """A cue of danger now (a hand-over's or the urgent floor's) that lies wholly inside an
    everyday word ("补偿款卡在区里出不来了": money stuck, nobody trapped), or None. The rules
    read the word; the model reads the same characters as the danger and would hand the call
    over alone. A cue that only shares characters with the word is no such cue: "电梯卡了俩
    礼拜…我妈在里棉" (a recogniser's 里面) is a lift stuck again, the model's to weigh.
    Twenty-seventh round (cls30)."""
    if rules.everyday is None or not (spans := _everyday_spans(text, rules.everyday,
                                                            rules.everyday_after)):
        return None
    words = [text[start:stop] for start, stop in spans]
    plain = replace(rules, everyday=None, everyday_after=None)
    for rule in _danger_rules(rules):
        for hit in _rule_hits(rule, text, plain, quiet):
            if any(hit in word for word in words) and hit not in _rule_hits(rule, text, rules,
                                                                            quiet):
                return f"{rule.id}:{hit}"
    return None


class _Spans(tuple[Span, ...]):
    """Quiet spans sorted by clause start, with the furthest end among the first i: a cue is
    looked up from where its position falls back to the last span that may hold it, not
    against every span. A text of many clauses has many spans and many cues ("狗被车撞了，
    流血" repeated: every clause an animal's), and the scan of all of them was quadratic."""

    firsts: list[int]
    reach_back: list[int]

    def __new__(cls, spans: Iterable[Span] = ()) -> _Spans:
        self = super().__new__(cls, sorted(spans))
        self.firsts = [span[0] for span in self]
        self.reach_back = list(accumulate((span[2] for span in self), max))
        return self


def _quiet(start: int, end: int, spans: tuple[Span, ...]) -> bool:
    if not spans:
        return False
    index = spans if isinstance(spans, _Spans) else _Spans(spans)
    i = bisect_right(index.firsts, start)
    while i and index.reach_back[i - 1] > start:
        i -= 1
        _, quiet_from, last, reach = index[i]
        if start < last and quiet_from < end <= reach:
            return True
    return False


def _said(words: re.Pattern[str] | None, text: str, rules: ClassificationRules) -> bool:
    """Whether ``words`` (an ``unless_call``) are said somewhere in the call, not negated."""
    return words is not None and any(not _negated(text, m.start(), rules)
                                     for m in words.finditer(text))


def _rule_hits(rule: Rule, text: str, rules: ClassificationRules,
               quiet: tuple[Span, ...] = ()) -> list[str]:
    """Distinct cues of ``rule`` present in ``text`` (at least once not negated, excepted or,
    for a rule of danger now, inside a ``quiet`` span)."""
    chars = _characters(text)
    if rule.starts is not None and rule.starts.isdisjoint(chars):
        return []  # no cue can begin anywhere in the text
    screen = rule.any_keyword
    keywords = rule.keywords if screen is not None and screen.search(text) else ()
    if not keywords and not rule.patterns:
        return []
    # The call-wide conditions are read once a cue is found, not before: most rules asked
    # find none, and an ``unless_call`` said in the call cost a negation read a match of it
    # for every such rule (docs/scaling.md, thirty-sixth round). Pure reads of the text: the
    # hits are the same.
    gate: list[bool] = []

    def open_to_cues() -> bool:
        if not gate:
            gate.append(not (
                _said(rule.unless_call, text, rules)
                or not all(p.search(text) for p in rule.when_call)
                or (rule.quiet_when_made_safe and rules.not_now is not None
                    and rules.not_now.made_safe is not None
                    and rules.not_now.made_safe.search(text) is not None)))
        return gate[0]

    def fires(pos: int, end: int) -> bool:
        return not (
            (rule.negatable and _negated(text, pos, rules, rule.now_only))
            or _excepted(text, pos, end, rule)
            or _in_everyday_word(text, pos, end, rules)
            or (rule.now_only and _quiet(pos, end, quiet))
        )

    hits: list[str] = []
    for kw in keywords:
        start = text.find(kw)
        if start != -1 and not open_to_cues():
            return []
        while start != -1:
            if fires(start, start + len(kw)):
                hits.append(kw)
                break
            start = text.find(kw, start + 1)
    for i, (pattern, starts) in enumerate(zip(rule.patterns, rule.pattern_starts, strict=True)):
        if starts is not None and starts.isdisjoint(chars):
            continue  # it cannot match here (nor would its unless_call matter)
        for n, m in enumerate(pattern.finditer(text)):
            if n == 0 and (not open_to_cues() or (
                    rule.pattern_unless_call
                    and _said(rule.pattern_unless_call[i], text, rules))):
                if not gate[0]:
                    return []
                break  # this pattern's own unless_call was said
            if fires(m.start(), m.end()):
                hits.append(m.group(0))
                break
    return hits


# The characters of a text, once for its every rule (a call's few texts: as said, the words
# heard, the words without a retraction); ``Rule.starts`` is checked against them.
_characters = lru_cache(maxsize=16)(frozenset)


class _Untold(ValueError):
    """A node of a pattern whose first characters ``_match_starts`` does not list."""


# A character class wider than this is not listed: such a pattern is not screened.
_WIDEST_CLASS = 1024


def _match_starts(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Every character a match of ``pattern`` can begin with, read off the standard
    library's parse of the pattern (``re._parser``, the tree ``re.compile`` compiles); None
    when that is not told: the pattern may match the empty string, may begin with any
    character (``.``, a negated class, ``\\d``, a back-reference), ignores case, or holds
    a node this does not know. None only costs the screen, never a hit: the rule's
    patterns are searched as before. tests/ticketing/test_classify_screen.py checks the
    characters against every match of every shipped pattern in the labelled texts."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        from re import _parser  # type: ignore[attr-defined]

        found, may_be_empty = _starts_of(_parser.parse(pattern.pattern, pattern.flags))
    except (ImportError, AttributeError, IndexError, KeyError, TypeError, ValueError, re.error):
        return None  # another Python's parser, or a node not known here: no screen
    return None if may_be_empty else frozenset(found)


def _starts_of(items: Iterable[tuple[Any, Any]]) -> tuple[set[str], bool]:
    """The first characters of a sequence of parsed nodes, and whether it may match empty."""
    found: set[str] = set()
    for op, arg in items:
        starts, may_be_empty = _node_starts(str(op), arg)
        found |= starts
        if not may_be_empty:
            return found, False
    return found, True


def _node_starts(op: str, arg: Any) -> tuple[set[str], bool]:
    if op == "LITERAL":
        return {chr(arg)}, False
    if op == "IN":  # a class: literals and ranges only (no negation, no category)
        chars: set[str] = set()
        for kind, value in arg:
            if str(kind) == "LITERAL":
                chars.add(chr(value))
            elif str(kind) == "RANGE" and value[1] - value[0] <= _WIDEST_CLASS:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:
                raise _Untold(f"{kind} in a class")
        return chars, False
    if op == "SUBPATTERN":  # a group: (number, flags added, flags removed, its nodes)
        if arg[1] & re.IGNORECASE:
            raise _Untold("a group that ignores case")
        return _starts_of(arg[3])
    if op == "ATOMIC_GROUP":
        return _starts_of(arg)
    if op == "BRANCH":  # (None, alternatives)
        found: set[str] = set()
        empty = False
        for alternative in arg[1]:
            starts, may_be_empty = _starts_of(alternative)
            found |= starts
            empty = empty or may_be_empty
        return found, empty
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):  # (least, most, nodes)
        starts, may_be_empty = _starts_of(arg[2])
        return starts, may_be_empty or arg[0] == 0
    if op in ("AT", "ASSERT", "ASSERT_NOT"):  # anchors and look-arounds match no character
        return set(), True
    raise _Untold(op)


def _score_categories(
    text: str, rules: ClassificationRules
) -> tuple[str, list[str], dict[str, list[str]]]:
    scores: dict[str, float] = {}
    cues: dict[str, list[str]] = {}
    matched: list[str] = []
    for rule in rules.category_rules:
        hits = _rule_hits(rule, text, rules)
        if hits:
            scores[rule.target] = scores.get(rule.target, 0.0) + rule.weight * len(hits)
            cues.setdefault(rule.target, []).extend(hits)
            matched.extend(f"{rule.id}:{h}" for h in hits)
    order = {code: i for i, code in enumerate(rules.priority)}
    ranked = sorted(scores, key=lambda c: (-scores[c], order.get(c, len(order))))
    if not ranked or scores[ranked[0]] < rules.min_score:
        return rules.fallback, matched, cues
    return ranked[0], matched, cues


def _urgency(text: str, category: str, rules: ClassificationRules,
             quiet: tuple[Span, ...] = ()) -> tuple[str, list[str]]:
    fired: dict[str, list[str]] = {}
    for rule in rules.urgency_rules:
        if rule.categories and category not in rule.categories:
            continue
        if hits := _rule_hits(rule, text, rules, quiet):
            fired.setdefault(rule.target, []).extend(f"{rule.id}:{h}" for h in hits)
    for level in URGENCY_LEVELS:
        if level in fired:
            return level, fired[level]
    return "general", []


def _emergency(text: str, rules: ClassificationRules,
               quiet: tuple[Span, ...] = ()) -> tuple[str, list[str]]:
    """The service with the most cues (file order breaks ties) among those that lead a
    scene ([handover] follows: the ambulance comes along with them), or "none". A rule
    that ``gives_way`` counts only when no other rule fires (a threat to one's life once
    the act is told: pills taken, gas turned on)."""
    fired: dict[str, list[str]] = {}
    giving_way: dict[str, list[str]] = {}
    for rule in rules.emergency_rules:
        if hits := _rule_hits(rule, text, rules, quiet):
            into = giving_way if rule.gives_way else fired
            into.setdefault(rule.target, []).extend(f"{rule.id}:{h}" for h in hits)
    fired = fired or giving_way
    if not fired:
        return "none", []
    leading = [s for s in fired if s not in rules.emergency_follows] or list(fired)
    service = max(leading, key=lambda s: len(fired[s]))
    return service, fired[service]


def _kind(text: str, rules: ClassificationRules) -> tuple[str, list[str]]:
    for rule in rules.kind_rules:
        if hits := _rule_hits(rule, text, rules):
            return rule.target, [f"{rule.id}:{h}" for h in hits]
    return "complaint", []


def kind_over_model(text: str, kind: str,
                    rules: ClassificationRules | None = None) -> tuple[str, list[str]]:
    """The kind of the call once the ``[[kind_over_model]]`` rules have read it: the first
    rule whose ``replaces`` holds ``kind`` (the model's reading, or the rules' where no model
    is trained) and whose cue fires gives its kind, with its hits; else ``kind`` unchanged.
    These rules are not among the votes the model was trained on, so adding one moves no
    probability: it names a usage the model reads too seldom to learn (kind33)."""
    rules = rules if rules is not None else _default_rules()
    if not any(kind in rule.replaces for rule in rules.kind_over_model):
        return kind, []
    norm = _normalize(text)
    for rule in rules.kind_over_model:
        if kind in rule.replaces and (hits := _rule_hits(rule, norm, rules)):
            return rule.target, [f"{rule.id}:{h}" for h in hits]
    return kind, []


def _sub_category(text: str, category: str,
                  rules: ClassificationRules) -> tuple[str | None, list[str]]:
    """The sub-category of ``category`` with the highest score, or None when no rule of that
    category fires or the best two tie (no guess: an operator sets it)."""
    scores: dict[str, float] = {}
    hits_of: dict[str, list[str]] = {}
    for rule in rules.sub_category_rules:
        if category not in rule.categories:
            continue
        if hits := _rule_hits(rule, text, rules):
            scores[rule.target] = scores.get(rule.target, 0.0) + rule.weight * len(hits)
            hits_of.setdefault(rule.target, []).extend(f"{rule.id}:{h}" for h in hits)
    ranked = sorted(scores.values(), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None, []
    best = max(scores, key=lambda code: scores[code])
    return best, hits_of[best]


def sub_category_of(text: str, category: str,
                    rules: ClassificationRules | None = None) -> tuple[str | None, list[str]]:
    """The sub-category the rules find in ``text`` inside ``category`` (None when in doubt)
    and the cues that chose it; for a category decided by something other than the rules
    (the learned model)."""
    rules = rules if rules is not None else _default_rules()
    return _sub_category(_normalize(text), category, rules)


# A shorter name is not looked for by sound: two syllables sound like too many ordinary
# words and word pairs ("通风太差" reads feng tai, 丰台; "还垫付" hai dian, 海淀). So a bare
# "海淀" is found as written only; "海淀区" and "门头沟" by sound as well.
MIN_SOUND_NAME = 3


def _index_places(districts: tuple[str, ...], areas: tuple[tuple[str, str], ...],
                  not_by_sound: frozenset[str]) -> PlaceIndex:
    names: dict[str, PlaceName] = {}
    for area, district in areas:
        names[area] = PlaceName(1, district or None, f"area:{area}", area)
    for district in districts:
        names[district] = PlaceName(0, district, f"district:{district}", district)
        bare = district.removesuffix("区")
        names.setdefault(bare, PlaceName(2, district, f"district:{bare}", bare))
    sounds: dict[tuple[str, ...], PlaceName] = {}
    for name, place in names.items():
        # A name of no district is read by sound too: it hides the names inside it there too.
        if name in not_by_sound or len(name) < MIN_SOUND_NAME:
            continue
        for reading in readings(name):
            # A reading two names share (none in the shipped file) keeps the better-ranked.
            if reading not in sounds or sounds[reading].rank > place.rank:
                sounds[reading] = replace(place, cue=f"sound:{name}")
    return PlaceIndex(by_char=_by_first(names), by_sound=_by_first(sounds))


def _by_first(table: Mapping[_Key, PlaceName]) -> dict[Any, tuple[tuple[_Key, PlaceName], ...]]:
    out: dict[Any, list[tuple[_Key, PlaceName]]] = {}
    for key, place in sorted(table.items(), key=lambda kv: -len(kv[0])):
        out.setdefault(key[0], []).append((key, place))
    return {first: tuple(entries) for first, entries in out.items()}


def _scan(seq: _Key, table: Mapping[Any, tuple[tuple[_Key, PlaceName], ...]],
          fits: Callable[[int, PlaceName], bool] | None = None
          ) -> list[tuple[int, int, PlaceName]]:
    """Leftmost-longest names in ``seq``, not overlapping: (start, end, name). ``fits``:
    whether a name whose key matches at a position is taken there."""
    found: list[tuple[int, int, PlaceName]] = []
    i, end = 0, len(seq)
    while i < end:
        for key, place in table.get(seq[i], ()):
            if seq[i:i + len(key)] == key and (fits is None or fits(i, place)):
                found.append((i, i + len(key), place))
                i += len(key)
                break
        else:
            i += 1
    return found


def _misspelt(written: str, name: str) -> bool:
    """Whether ``written``, which sounds like ``name``, is that name misspelt: a recogniser
    swaps a character or so; ordinary words that happen to sound like a name share few of its
    characters ("孩子住院" has zi zhu yuan, 紫竹院; "可以录音" ke yi lu, 科怡路). The last
    character must be as written: a word plus a homophone of a place word is not the place
    ("和平解决" is no 和平街, "学院录取" no 学院路)."""
    differ = sum(a != b for a, b in zip(written, name, strict=True))
    if written[-1] == name[-1] and differ <= max(1, len(name) // 4):
        return True
    # A recogniser writes 区 as 去 or 趋 as often as not: then the name before it must pass
    # on its own ("超阳去" is 朝阳区; "大性去" is too far).
    return len(name) > 2 and name.endswith("区") and _misspelt(written[:-1], name[:-1])


def _district(text: str, rules: ClassificationRules) -> tuple[str | None, str | None]:
    """District and the audit cue; explicit "X区" beats an area, which beats a bare name;
    the earliest of equals wins. Names are read as written first, and by sound (a recogniser's
    homophones: "潮阳区", "海电区") only when that finds none, or when what it found lies
    inside an "X区" heard in full: "势景山区" is 石景山区 misspelt, not 景山 (东城)."""
    index = rules.places
    if index is None:
        return None, None
    text = "".join(text.split())  # "朝阳 区": a recogniser spaces words
    written = _scan(text, index.by_char)
    found = [f for f in written if f[2].district]
    if not any(place.rank == 0 for _, _, place in found):
        # What is written as a name of no district is that, whatever it sounds like:
        # "大型区域" is no 大兴区.
        hidden = [(start, end) for start, end, place in written if place.district is None]
        sounds = tuple(syllable(ch) for ch in text)
        heard = [(start, end, place) for start, end, place in _scan(
                     sounds, index.by_sound,
                     lambda i, p: _misspelt(text[i:i + len(p.name)], p.name))
                 if place.district and not any(s < end and start < e for s, e in hidden)]
        if found:
            heard = [(start, end, place) for start, end, place in heard if place.rank == 0
                     and any(start <= s and e <= end for s, e, _ in found)]
        found += heard
    if not found:
        return None, None
    _, _, place = min(found, key=lambda f: (f[2].rank, f[0]))
    return place.district, place.cue


def _address(text: str, rules: ClassificationRules) -> str | None:
    """Longest location phrase, or None; a district alone is not an address (see district)."""
    if rules.intersection_pattern and (m := rules.intersection_pattern.search(text)):
        return m.group(0)
    if rules.address_pattern is None:
        return None
    best: str | None = None
    for m in rules.address_pattern.finditer(text):
        place = (m.group("area") or "") + m.group("body")  # what follows the district
        if not place or place in rules.bare_suffixes or place.startswith(rules.generic_names):
            continue
        # Without a district or known area in front, demand a real place marker and a name:
        # "一栋", "过马路", "线路" end like addresses but are not.
        if not m.group("district") and not m.group("area"):
            strong = rules.strong_address and rules.strong_address.search(place)
            if not strong or len(place) < 4:
                continue
        if best is None or len(m.group(0)) > len(best):
            best = m.group(0)
    return best


def _subject(text: str, label: str, cues: list[str], strip: list[str]) -> str:
    """Category label plus the clause that best explains it, cut to SUBJECT_MAX_CHARS."""
    clauses = [c for c in _CLAUSE_BREAK.split(text) if c]
    if not clauses:
        return label
    # The first clause naming the problem; callers lead with where they live.
    clause = next((c for c in clauses if any(cue in c for cue in cues)), clauses[0])
    for place in sorted(filter(None, strip), key=len, reverse=True):
        if len(clause.replace(place, "")) >= 4:
            clause = clause.replace(place, "")
    clause = _LEADING_FILLER.sub("", clause).lstrip("的在") or clause
    room = SUBJECT_MAX_CHARS - len(label) - 1
    if len(clause) > room:
        # Keep the words around the last cue that still fits: that is the complaint itself.
        ends = [clause.rfind(cue) + len(cue) for cue in cues if cue in clause]
        end = max([e for e in ends if e <= len(clause)], default=room)
        clause = clause[:room] if end <= room else clause[end - room : end]
    return f"{label}：{clause}"


def without_everyday(text: str, rules: ClassificationRules) -> str | None:
    """``text`` (normalised, as written) without the everyday words that ate a cue of danger
    now (``EVERYDAY_WORD``), or None when it holds none: the rest of the call, for the model
    to weigh alone. The mark cancels the cue the word ate, not the call: in "工资卡在老板手里
    出不来 工人在塔吊上要跳" the wages stuck are no one trapped, the worker on the crane is the
    model's to hand over (review67). Spans are read on the heard text, which keeps the
    written length."""
    if rules.everyday is None:
        return None
    norm = _normalize(text)
    spans = _everyday_spans(_heard(norm, rules), rules.everyday, rules.everyday_after)
    if not spans:
        return None
    kept, last = [], 0
    for start, stop in sorted(spans):
        kept.append(norm[last:max(last, start)])
        last = max(last, stop)
    return "".join(kept) + norm[last:]


def without_retracted(text: str, rules: ClassificationRules) -> str | None:
    """``text`` (normalised) without the words the caller took back in a self-correction
    ("嗯那个燃气，不是，是楼下配电室…" -> "嗯是楼下配电室…") or set aside for another matter
    ("充电桩……算了那个先不说，主要是今天停电了" -> "主要是今天停电了"), or None when nothing
    was: what the call is about, for its category. Only for the category: a danger said and
    taken back or set aside is still read by the floor and the hand-over, the safe side."""
    if rules.retracted is None and rules.set_aside is None:
        return None
    # Kept for the text's next ask: ``classify`` and then ``intake_model.understand`` read
    # each call's (docs/scaling.md, thirty-sixth round).
    return _without_retracted(text, rules.retracted, rules.set_aside)


@lru_cache(maxsize=8)
def _without_retracted(text: str, retracted: re.Pattern[str] | None,
                       set_aside: re.Pattern[str] | None) -> str | None:
    # The pause around 不是 is read before _normalize drops a recogniser's spaces: "燃气 不是
    # 是配电室" takes 燃气 back, "暖气费不对，是按…算的" (no pause before) takes nothing.
    spaced = readable(text)
    said = spaced
    for dropped in (retracted, set_aside):
        if dropped is not None:
            said = dropped.sub("", said)
    return _normalize(said) if said != spaced else None


def classify(text: str, rules: ClassificationRules | None = None) -> Classification:
    """Classify one complaint transcript (zh-CN) with the given or default rules."""
    rules = rules if rules is not None else _default_rules()
    norm = _normalize(text)
    category, category_hits, cues = _score_categories(without_retracted(text, rules) or norm,
                                                      rules)
    # Danger now is read from what was said, a recogniser's homophones of the [heard_as]
    # words undone; the category, the place and the subject from the text as written.
    heard = _heard(norm, rules)
    quiet, handover_quiet, habit_only, stories = (_Spans(spans)
                                                  for spans in _quiet_spans(heard, rules))
    urgency, urgency_hits = _urgency(heard, category, rules, quiet)
    emergency, emergency_hits = _emergency(heard, rules, handover_quiet)
    if emergency != "none":
        urgency = "urgent"  # a hand-over to 110/119/120 is life or property safety
    elif habit_only and _emergency(heard, rules, quiet)[0] != "none":
        # A hand-over cue a habit left live for the floor alone is a danger cue there (B9):
        # "消防通道天天停满车，上个月救护车没进来" stays urgent, with no hand-over.
        urgency = "urgent"
    kind, kind_hits = _kind(norm, rules)
    sub_category, sub_hits = _sub_category(norm, category, rules)
    district, district_cue = _district(norm, rules)
    address = _address(norm, rules)
    label = category_label(category)
    matched = [*category_hits, *urgency_hits, *emergency_hits, *kind_hits, *sub_hits,
               *_no_rescue(heard, rules, handover_quiet, habit_only, emergency, stories)]
    if district_cue:
        matched.append(district_cue)
    return Classification(
        category=category,
        urgency=urgency,
        district=district,
        address=address,
        subject=_subject(
            norm,
            label,
            cues.get(category, []),
            [address or "", district or "", (district or "").removesuffix("区")],
        ),
        matched=tuple(matched),
        kind=kind,
        emergency=emergency,
        sub_category=sub_category,
    )


@lru_cache(maxsize=1)
def _default_rules() -> ClassificationRules:
    return load_rules()
