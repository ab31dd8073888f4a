"""What a question is about: the objects of a family a caller or an entry's title names.

A caller asking about a neighbouring topic shares the entry's frame and most of its words
(驾驶证快到期了怎么换证 against 身份证快到期了怎么换新的; 社保卡丢了怎么补办 against
身份证丢了怎么补办): the coverage share cannot tell them apart, the object can. The families
and the phrases naming their members are data (config/kb_objects.toml); this module reads
them and says whether a caller names another member of a family than the entry's title.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from config.settings import CONFIG_DIR

OBJECTS_FILE = CONFIG_DIR / "kb_objects.toml"

# What a text names: family → the members named in it.
Named = Mapping[str, frozenset[str]]
# The member a family's general word names (宠物 for any pet): it stands for every member.
ANY = "*"
# A negation right before a phrase, with a modal between (不贷款, 不是要贷款, 没想办): the
# caller says what they do not want. Not a question's X不X (要不要贷款, 能不能转; any other
# in :func:`_denied`), nor 别 ending a word (特别想贷款, 区别; review128).
_DENIED_BEFORE = re.compile("(?:(?<!要)(?<!能)(?<!是)(?<!想)(?<!用)(?:不|没|没有)"
                            "|(?<![特区分个级类性差告识辨鉴离派])别)"
                            "(?:是|想|要|用|需要|是要|是想|打算)?$")


def _denied(before: str) -> bool:
    """Whether the words ``before`` a phrase deny it (``_DENIED_BEFORE``), but not when
    they ask it as a choice, the negation between the same character twice (需不需要贷款,
    有没有贷款, 打不打算贷款; review128: the loan was unnamed and the purchase drawing read
    out)."""
    m = _DENIED_BEFORE.search(before)
    if m is None:
        return False
    i = m.start()
    return not (i > 0 and before[i - 1] == before[i + 1:i + 2])


@dataclass(frozen=True)
class Family:
    name: str
    member_of: Mapping[str, str | None]  # phrase → member (None: names none, see load)
    # the family applies only to entries whose title has one of these (empty: any entry)
    frame: tuple[str, ...] = ()
    # an entry whose whole text names no member does not answer a caller who names one
    foreign: bool = False
    # an entry whose title names a member answers only a caller who names one too
    required: bool = False
    # members are got, then held, renewed and replaced (documents and cards: kb38)
    held: bool = False
    # kb46: title words of an entry about trade (buying, selling: 买东西, 商家), in which a
    # member is the goods: such an entry speaks of every member, ``foreign`` or not
    goods: tuple[str, ...] = ()
    # at each position, the longest phrase starting there (a lookahead: matches overlap)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    # the toneless syllables of the phrases of two or more characters, space-separated
    sounds: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alternation = "|".join(re.escape(p) for p in sorted(self.member_of, key=len,
                                                            reverse=True))
        object.__setattr__(self, "pattern", re.compile(f"(?=({alternation}))"))
        object.__setattr__(self, "sounds", tuple(sorted(
            {_toneless(p) for p, member in self.member_of.items()
             if member is not None and len(p) > 1})))

    def heard(self, text: str) -> bool:
        """``text`` has a phrase of two or more characters of this family by its sound, in
        any tone: a recogniser writes 养够 for 养狗 (two syllables are distinctive; a single
        one, 够 for 狗, is not)."""
        spoken = f" {_toneless(text)} "
        return any(f" {s} " in spoken for s in self.sounds)

    def named(self, text: str, *, denied: bool = True) -> frozenset[str]:
        """Every member a phrase names in ``text``, but a phrase inside a longer one names
        nothing (工作居住证 is not 居住证). Overlapping phrases both count: 自来水费 names
        the bill even though 来水 starts first. ``denied`` False: nor one the words deny
        (不是要贷款, 也不贷款; kb44)."""
        spans = [(m.start(), m.start() + len(m.group(1)), self.member_of[m.group(1)])
                 for m in self.pattern.finditer(text)]
        return frozenset(member for a, b, member in spans if member is not None
                         and (denied or not _denied(text[:a]))
                         and not any(c <= a and b <= d and (c, d) != (a, b) for c, d, _ in spans))


class Objects:
    """The families of ``config/kb_objects.toml``, ready to read texts with.

    Texts are compared after the same normalisation (``normalise``) the search applies,
    so that a caller's 不是北京户口 is 外地户口 on both sides."""

    def __init__(self, families: list[Family], normalise: Callable[[str], str]) -> None:
        self.families = families
        self.normalise = normalise

    def named(self, text: str, *, title: bool = False,
              caller: bool = False) -> dict[str, frozenset[str]]:
        """The members each family has in ``text`` (``title``: an entry's title, for which a
        family applies only within its frame; ``caller``: a caller's words, in which a
        ``required`` family's phrase misheard as a homophone names some member, so the
        recogniser's slip does not hold back the entry the caller asked about)."""
        t = self.normalise(text)
        out: dict[str, frozenset[str]] = {}
        for fam in self.families:
            if title and fam.frame and not any(w in t for w in fam.frame):
                continue
            found = fam.named(t, denied=not caller)
            if not found and caller and fam.required and fam.heard(t):
                found = frozenset({ANY})
            if found:
                out[fam.name] = found
        return out

    def mentioned(self, text: str, title: str) -> dict[str, frozenset[str]]:
        """What an entry's whole ``text`` names (``named``), and, in a family with
        ``goods`` words its ``title`` has, every member (``ANY``): a sick cat sold by a
        pet shop is the goods of the consumer complaint's 买东西…投诉商家, which speaks of
        no animal by name but of any (kb46: the pets family zeroed the complaint whenever
        an animal was named)."""
        out = self.named(text)
        t = self.normalise(title)
        for fam in self.families:
            if any(w in t for w in fam.goods):
                out[fam.name] = frozenset({ANY})
        return out

    def held(self, named: Named) -> Named:
        """The members of ``named`` that a resident gets and then holds (``held``
        families: documents and cards)."""
        return {f.name: named[f.name] for f in self.families if f.held and named.get(f.name)}

    def phrases(self, named: Named) -> dict[str, tuple[str, str]]:
        """The phrases (normalised) that name the members in ``named``, each with its
        family and member: every way of saying the thing (居住证, 暂住证)."""
        # Only the families named: every search asks this, most naming none (review88).
        return {p: (fam.name, member) for fam in self.families if named.get(fam.name)
                for p, member in fam.member_of.items()
                if member is not None and member in named[fam.name]}

    def other_object(self, caller: Named, about: Named, mentions: Named) -> str | None:
        """The family in which the caller asks of another object than the entry's, if any.

        ``about``: what the entry's title names; ``mentions``: what its whole text (title,
        keywords, synonyms, answer) names. The caller names members of a family and none
        of those the title names (another document, card, benefit or account operation
        than the entry's), or, in a ``foreign`` family, members the entry never speaks of
        (a cat or a parrot against the residence permit's 登记; a general word alone, as in
        宠物店, names no animal of the caller's; an entry about trade speaks of any member
        as goods, :meth:`mentioned`); or, in a ``required``
        family, none at all when the title names one (年检 or 狂犬疫苗 with no animal is a
        car's or a person's, not the dog licence's)."""
        for fam in self.families:
            said = caller.get(fam.name)
            own = about.get(fam.name)
            if not said:
                if fam.required and own:
                    return fam.name
                continue
            if own and not (said & own) and ANY not in said | own:
                return fam.name
            if fam.foreign and said - {ANY} and not mentions.get(fam.name):
                return fam.name
        return None

    @staticmethod
    def same_object(caller: Named, about: Named, family: str) -> bool:
        """Whether an entry's title (``about``) names, in ``family``, a member the caller
        names: the caller's object, not a word for any member of the family."""
        return bool((caller.get(family, frozenset()) & about.get(family, frozenset())) - {ANY})


def _toneless(text: str) -> str:
    return " ".join(lazy_pinyin(text, style=Style.NORMAL, errors="ignore"))


def load_objects(path: Path, normalise: Callable[[str], str]) -> Objects:
    with path.open("rb") as f:
        data = tomllib.load(f).get("family", {})
    families = []
    for name, spec in data.items():
        members: dict[str, list[str]] = spec.get("members", {})
        # ``ignore``: phrases that hold a member's phrase and name no member (狂犬疫苗 is
        # a vaccine named after a disease, not a dog).
        member_of: dict[str, str | None] = {normalise(p): None for p in spec.get("ignore", ())}
        # ``general``: words for the family itself (宠物), which name any of its members.
        members = {ANY: list(spec.get("general", ())), **members}
        for member, phrases in members.items():
            for phrase in phrases:
                key = normalise(phrase)
                if member_of.setdefault(key, member) != member:
                    raise ValueError(f"{path}: {phrase!r} names two members of {name}")
        if not member_of:
            continue
        families.append(Family(name=name, member_of=member_of,
                               frame=tuple(normalise(w) for w in spec.get("frame", ())),
                               foreign=bool(spec.get("foreign", False)),
                               required=bool(spec.get("required", False)),
                               held=bool(spec.get("held", False)),
                               goods=tuple(normalise(w) for w in spec.get("goods", ()))))
    return Objects(families, normalise)
