"""反映主体: whom or what a complaint is about (a company, shop, property-management firm,
construction site, landlord, public office), read from the caller's words by the rules of
settings.respondent_file (config/respondent.toml: data, not code).

The rules extract only what the words name; they never guess. "鑫源建筑工地" and
"望京西园三区的物业" are respondents, "楼下的饭店" and "我们小区物业" name nobody and give
None, and so does anything where the name's beginning is unclear. An operator sets or
corrects it on the ticket (ticketing.service.set_respondent).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from config.settings import CONFIG_DIR

RESPONDENT_FILE = CONFIG_DIR / "respondent.toml"
# The stored column's width (Ticket.respondent); what an operator types is held to it.
MAX_LENGTH = 100
# The characters read backwards beyond max_name to find where a name begins.
_LOOKBACK = 6


@dataclass(frozen=True)
class RespondentRules:
    min_name: int
    max_name: int
    # One alternation of every suffix, longest first so that at one place the longest wins.
    direct: re.Pattern[str]
    linked: re.Pattern[str]
    stop_words: tuple[str, ...]
    generic: frozenset[str]


def _alternation(words: set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def load_rules(path: Path = RESPONDENT_FILE) -> RespondentRules:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    direct = {s for group in data["suffixes"].values() for s in group}
    linked = {s for group in data["linked"].values() for s in group}
    if not direct or not linked:
        raise ValueError(f"{path}: no suffixes")
    # "望京西园三区的物业公司": a linked suffix extends to the direct suffix it begins.
    linked |= {s for s in direct if any(s.startswith(x) for x in linked)}
    min_name, max_name = int(data["min_name"]), int(data["max_name"])
    if not 1 <= min_name <= max_name:
        raise ValueError(f"{path}: need 1 <= min_name <= max_name")
    return RespondentRules(
        min_name=min_name, max_name=max_name,
        direct=re.compile(_alternation(direct)),
        linked=re.compile(f"的({_alternation(linked)})"),
        stop_words=tuple(sorted(set(data["stop"]["words"]), key=len, reverse=True)),
        generic=frozenset(data["generic"]["names"]),
    )


@lru_cache(maxsize=4)
def rules_for(path: Path = RESPONDENT_FILE) -> RespondentRules:
    return load_rules(path)


def _name_before(text: str, end: int, rules: RespondentRules) -> str | None:
    """The name that ends at ``end``, or None when there is none or its start is unclear."""
    start = end
    limit = max(0, end - rules.max_name - _LOOKBACK)
    while start > limit and text[start - 1].isalnum():
        start -= 1
    run = text[start:end]
    bounded = start == 0 or not text[start - 1].isalnum()
    cut = max((run.rfind(w) + len(w) for w in rules.stop_words if w in run), default=-1)
    if cut < 0:
        if not bounded or len(run) > rules.max_name:
            return None  # an unpunctuated run: where the name begins is a guess
        name = run
    else:
        name = run[cut:]
    if not rules.min_name <= len(name) <= rules.max_name or name in rules.generic:
        return None
    if name.isdigit():
        return None
    return name


def extract(text: str | None, rules: RespondentRules) -> str | None:
    """The first party the text names (in the order said), or None."""
    text = re.sub(r"\s", "", text or "")
    if not text:
        return None
    found: list[tuple[int, str]] = []
    for m in rules.direct.finditer(text):
        name = _name_before(text, m.start(), rules)
        if name is not None:
            found.append((m.start() - len(name), name + m.group(0)))
    for m in rules.linked.finditer(text):
        name = _name_before(text, m.start(), rules)
        if name is not None:
            found.append((m.start() - len(name), name + m.group(0)))
    if not found:
        return None
    # Earliest first; at one place the longest ("望京西园三区的物业公司" over its 物业).
    return min(found, key=lambda f: (f[0], -len(f[1])))[1][:MAX_LENGTH]
