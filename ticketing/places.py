"""Where a complaint is, below the district: street (街道/乡镇) and community (社区/村).

Hot spots, 多诉督办 and 一诉多办 group tickets by place; an exact address string is too
fine (every caller words it differently) and a district too coarse. The names come from
the gazetteer (settings.gazetteer_file, config/gazetteer.toml: data, not code); its
districts are the classifier's (config/classification.toml), so the two cannot disagree
about what a district is.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from config.settings import CONFIG_DIR

GAZETTEER_FILE = CONFIG_DIR / "gazetteer.toml"

COMMUNITY_SUFFIXES = ("社区", "村")
# A name short enough to be a word ("花园") is not matched without its suffix.
MIN_BARE_NAME = 3
# Names the caller says that are not a place's own name.
GENERIC_PLACES = frozenset({"农村", "城中村", "新农村", "本村", "我村", "该村", "同村", "本社区",
                            "该社区", "这个社区", "我们社区", "小区", "该小区", "本小区",
                            "这个小区", "我们小区", "老旧小区", "各小区"})
# Characters that end a place name when read backwards from its suffix: a caller's
# "我住在幸福社区" is 幸福社区, not 我住在幸福社区.
_STOP = "的在我住是了和与跟及到从向往路号，。、；：！？,.;:!?（）() \t\n\"'“”"
# "中关村大街" is a road and "中关村东路" too: a 村 followed by a road word is part of a name.
_UNKNOWN_COMMUNITY = re.compile(
    rf"([^{re.escape(_STOP)}]{{2,8}}?)(社区|小区|村(?!大街|大道|路|街|桥|站|东|西|南|北|地区))")
_UNKNOWN_STREET = re.compile(rf"([^{re.escape(_STOP)}]{{2,6}}?)(街道)")


@dataclass(frozen=True)
class Place:
    district: str | None = None
    street: str | None = None
    community: str | None = None


# spoken name → the places it names (several when the name repeats across districts)
Table = tuple[tuple[str, tuple[Place, ...]], ...]
# A table's names by their first character: a text can hold only the names that begin with
# one of its own characters.
Index = dict[str, Table]


@dataclass(frozen=True)
class Gazetteer:
    districts: tuple[str, ...]
    # longest name first so "望京西园三区" wins over anything inside it
    communities: Table
    streets: Table
    # ``communities`` and ``streets`` by first character (``_indexed``). Looking a text up
    # name by name cost ~0.1 ms a ticket for the demo city's 158 names, inside SQLite's
    # writers' turn, and grows with the city: a real one's tens of thousands of community
    # and estate names would cost milliseconds a ticket (thirtieth round).
    community_index: Index = field(default_factory=dict, compare=False, hash=False)
    street_index: Index = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "community_index", _indexed(self.communities))
        object.__setattr__(self, "street_index", _indexed(self.streets))


def _indexed(table: Table) -> Index:
    by_first: dict[str, list[tuple[str, tuple[Place, ...]]]] = {}
    for entry in table:
        by_first.setdefault(entry[0][:1], []).append(entry)
    return {first: tuple(entries) for first, entries in by_first.items()}


def load_gazetteer(districts: tuple[str, ...], path: Path = GAZETTEER_FILE) -> Gazetteer:
    """Read and check the gazetteer against the classifier's district list."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    communities: dict[str, set[Place]] = {}
    streets: dict[str, set[Place]] = {}
    for district, by_street in data.items():
        if district not in districts:
            raise ValueError(f"{path}: {district!r} is not a district of the classifier")
        for street, by_community in by_street.items():
            streets.setdefault(street, set()).add(Place(district, street))
            for community, estates in by_community.items():
                place = Place(district, street, community)
                bare = community.removesuffix("社区")
                names = {community, *estates}
                if bare != community and len(bare) >= MIN_BARE_NAME:
                    names.add(bare)
                for name in names:
                    communities.setdefault(name, set()).add(place)

    def ordered(table: dict[str, set[Place]]) -> Table:
        return tuple((name, tuple(sorted(places, key=lambda p: (p.district or "",
                                                                   p.street or ""))))
                     for name, places in sorted(table.items(), key=lambda kv: (-len(kv[0]),
                                                                                 kv[0])))

    return Gazetteer(districts=districts, communities=ordered(communities),
                     streets=ordered(streets))


@lru_cache(maxsize=4)
def gazetteer_for(districts: tuple[str, ...], path: Path = GAZETTEER_FILE) -> Gazetteer:
    return load_gazetteer(districts, path)


def _known(text: str, index: Index, district: str | None) -> Place | None:
    found: list[tuple[int, int, Place]] = []
    # Only the names that begin with a character of the text (an empty one, a slip in the
    # data, is found anywhere: as before). In any order: two names found at one position
    # with one length are one name, so the earliest and longest is one whatever the order.
    for first in {*text, ""}:
        for name, places in index.get(first, ()):
            pos = text.find(name)
            if pos < 0:
                continue
            fitting = [p for p in places if district is None or p.district == district]
            # A name in several districts, with no district said, names none of them.
            if len(fitting) == 1:
                found.append((pos, -len(name), fitting[0]))
    return min(found, key=lambda f: (f[0], f[1]))[2] if found else None


def _cut(text: str, names: tuple[str, ...]) -> str:
    # District names are not part of the place name that follows them. A name whose first
    # character is not in the text is not in it, and no cut puts it there (a cut only adds
    # "，"), so it is not looked for.
    present = set(text)
    for name in names:
        if name and name[0] not in present:
            continue
        text = text.replace(name, "，")
        present.add("，")
    return text


def _unknown(pattern: re.Pattern[str], text: str) -> str | None:
    for m in pattern.finditer(text):
        name = m.group(1) + m.group(2)
        if name not in GENERIC_PLACES and not m.group(1).endswith(("这个", "那个", "哪个")):
            return name
    return None


def locate(text: str, gazetteer: Gazetteer, district: str | None = None) -> Place:
    """Street and community named in ``text`` (an address or a demand), and the district
    they lie in when the text did not say it. ``district``: the one the classifier found,
    which decides between places of the same name."""
    text = re.sub(r"\s", "", text or "")
    if not text:
        return Place(district)
    community = _known(text, gazetteer.community_index, district)
    if community is not None:
        return community
    street = _known(text, gazetteer.street_index, district)
    rest = _cut(text, (*gazetteer.districts, *(n for n, _ in gazetteer.streets)))
    name = _unknown(_UNKNOWN_COMMUNITY, rest)
    if street is not None:
        return Place(street.district, street.street, name)
    return Place(district, _unknown(_UNKNOWN_STREET, rest), name)
