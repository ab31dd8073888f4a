"""Review of topic45 (review129): a matter set aside that was the only matter.

`[negation] set_aside` dropped the call's only matter for the category, and the call was filed
under the wrong unit, where what followed named none of its own: a signpost pointing back in
other words ("楼上漏水好几天了，我打电话就是因为这个", "…为了刚才说的那个", "主要是想问这个怎么办"),
someone else's dismissal ("燃气公司说那就下次再说，我们现在都不敢做饭"), and 算了 with no topic
named, the caller's frustration ("…物业就是不管，算了不说了，我们就想问问能不能找你们协调").
Sentences of our own, clean and as a recogniser writes them. docs/classification.md,
"Thirty-fifth round (topic45)".
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from ticketing.classify import without_retracted
from ticketing.intake_model import understand

shipped = _emerg36.shipped

# (call, the category the shipped system gave the whole call before topic45, where it is the matter)
ONLY_MATTER = [
    ("楼上漏水好几天了，我打电话就是因为这个。", None),  # a signpost pointing back
    ("楼上漏水好几天了，我打电话就是为了刚才说的那个。", None),
    ("楼上漏水好几天了，我打电话就是因为上面说的那个事儿。", None),
    ("楼上漏水好几天了 我 打电话 就是 因为 这个", None),
    ("暖气一直不热，物业也不管，我打电话主要是想问这个怎么办。", "heating"),
    # someone else's dismissal, not the caller's
    ("燃气表漏气，燃气公司说那就下次再说，我们现在都不敢做饭。", "gas"),
    ("我家停电了，电工说那个改天再说，今天我们一家人都摸黑。", "power"),
    ("暖气不热，物业说这个不重要，我们家老人都冻感冒了。", "heating"),
    # 算了 as the caller's frustration, the same matter asked after
    ("楼上漏水三个月了，物业就是不管，算了不说了，我们就想问问能不能找你们协调。", None),
    ("楼上 漏水 三个月 了 物业 就是 不管 算了 不 说 了 我们 就 想 问问 能不能 找 你们 协调", None),
    ("我们家这个楼上的住户啊他们家卫生间的防水没做好一直往我们家渗水天花板都发霉了墙皮也掉了"
     "找了物业好几次物业就说让我们自己协商算了不说了我们现在就想知道怎么办", None),
]


@pytest.mark.parametrize(("text", "category"), ONLY_MATTER)
def test_review129_the_only_matter_is_not_set_aside(
        shipped, text: str, category: str | None) -> None:
    rules, _ = shipped
    assert without_retracted(text, rules) is None


@pytest.mark.parametrize(("text", "category"), [c for c in ONLY_MATTER if c[1]])
def test_review129_the_system_files_the_only_matter(
        shipped, text: str, category: str) -> None:
    rules, model = shipped
    assert understand(text, rules, model).category == category


# A matter set aside for another one named is still dropped (the round's own intent).
@pytest.mark.parametrize(("text", "category"), [
    ("小区停车乱收费的事另说，今天我家暖气一点都不热。", "heating"),
    ("先不说物业费的事，我家停水三天了。", "water"),
    ("还有个事儿，社区的健身器材坏了，算了这个回头再说，先说我妈看病报销的事。", "health"),
    ("我们小区路灯坏了，不过我今天打电话是因为孩子转学的事。", "education"),
])
def test_review129_a_matter_set_aside_for_another_is_still_dropped(
        shipped, text: str, category: str) -> None:
    rules, model = shipped
    assert without_retracted(text, rules) is not None
    assert understand(text, rules, model).category == category
