"""Twenty-ninth round (kind33): kind rules read after the model's kind, never among its votes.

Sentences of our own (about a third as a recogniser writes them: no punctuation, spaces),
in the three usages the model reads too seldom on the dev files: a proposal of something new
for everyone (K5), a question about what the rules require or allow (K4) and a party
without the licence its work needs (K2). Beside each, a near case sharing its words keeps the
model's kind: the caller's own home, a request for an amount owed, a legitimacy question, a
reading the rule never replaces. docs/classification.md, "Twenty-ninth round (kind33)".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ticketing.classify import kind_over_model, load_rules
from ticketing.intake_model import understand

# (text, the model's kind, the kind after the rules)
TURNED: list[tuple[str, str, str]] = [
    # A proposal of something new for everyone.
    ("小区后门那条路晚上黑乎乎的，能不能装几个路灯", "complaint", "suggestion"),
    ("我想问一下，公园门口能不能设个公交站，老人走过去太远", "inquiry", "suggestion"),
    ("希望街道给每个楼道配个灭火器，现在一个都没有", "complaint", "suggestion"),
    ("菜市场 门口 老 堵车 能 不能 建 个 停车场", "complaint", "suggestion"),
    ("燃气报警器能不能统一给独居老人装上", "inquiry", "suggestion"),
    # What the rules require or allow.
    ("物业说装修押金交了不退，这个押金必须交吗", "complaint", "inquiry"),
    ("单位没给我交公积金，我都离职半年了，还能补交吗", "complaint", "inquiry"),
    ("孩子 在 学校 摔 了 自 己 垫 的 医 药 费 能 报 销 吗", "complaint", "inquiry"),
    ("网上买的羽绒服穿了两回就跑毛，这种还能投诉吗？", "complaint", "inquiry"),
    # A party without the licence its work needs.
    ("楼下新开的牙科诊所，我去补了颗牙一直疼，听说那大夫根本没有行医资格", "complaint",
     "report"),
    ("装修队把我家电线接得乱七八糟，后来才知道他们没资质", "complaint", "report"),
    ("早市上 卖 的 那种 三无 辣条 孩子 吃了 拉肚子", "complaint", "report"),
]

KEPT: list[tuple[str, str]] = [
    # The caller's own home or dealings: no proposal for everyone.
    ("我想问问我家能不能装个燃气报警器，自己买的行不行", "inquiry"),
    ("我们家楼上漏水，能不能派个师傅来修一下", "complaint"),
    # A repair or a supply set right is no proposal (no "one more" of anything).
    ("路灯坏了半个月了，能不能赶紧修好", "complaint"),
    # An amount asked of the party that owes it: a complaint.
    ("暖气一冬天都不热，供热公司能退一部分钱吗", "complaint"),
    ("饭馆 的 菜 里 吃 出 钢丝 能 赔 点 吗", "complaint"),
    # A question of legitimacy is a grievance (K4's boundary).
    ("物业说不交停车费就不让进，必须交吗，这合理吗", "complaint"),
    # A person in trouble or a wrongdoer comes first: never replaced.
    ("我刚给骗子转了五万，钱还能退回来吗，能不能帮帮我", "help"),
    ("小区门口那家黑诊所天天给老人输液，能不能装个监控", "report"),
    # A licence the caller asks about for themselves is a question, never replaced.
    ("我想开个小吃店，没有营业执照能先干着吗", "inquiry"),
]


@pytest.mark.parametrize(("text", "model_kind", "want"), TURNED)
def test_kind33_a_usage_the_model_misses_turns_its_kind(text: str, model_kind: str,
                                                        want: str) -> None:
    kind, hits = kind_over_model(text, model_kind)
    assert kind == want, hits
    assert hits and all(h.startswith("kind.") for h in hits)


@pytest.mark.parametrize(("text", "model_kind"), KEPT)
def test_kind33_a_near_case_keeps_the_model_kind(text: str, model_kind: str) -> None:
    assert kind_over_model(text, model_kind) == (model_kind, [])


def test_kind33_without_a_model_the_rules_kind_is_read_the_same_way() -> None:
    rules = load_rules()
    got = understand("村口那条路晚上没灯，能不能装几个路灯", rules, None)
    assert got.kind == "suggestion"
    assert any(m.startswith("kind.proposal:") for m in got.matched)
    # With no [[kind_over_model]] rule the rules' kind stands: the table is the only cause.
    bare = understand("村口那条路晚上没灯，能不能装几个路灯", replace(rules, kind_over_model=()),
                      None)
    assert bare.kind != "suggestion"


@pytest.mark.parametrize(("old", "new", "error"), [
    ('replaces = ["complaint", "inquiry"]', 'replaces = ["grievance"]',
     "replaces must name kinds"),
    # Only [[kind_over_model]] reads ``replaces``: on a [[kind_rules]] rule it would do
    # nothing, so the file is refused when read (review81).
    ('id = "kind.inquiry"', 'id = "kind.inquiry"\nreplaces = ["complaint"]',
     r"kind\.inquiry: replaces is for"),
])
def test_kind33_a_rule_must_name_the_kinds_it_replaces(tmp_path: Path, old: str, new: str,
                                                       error: str) -> None:
    source = Path(load_rules().source or "")
    text = source.read_text(encoding="utf-8")
    bad = text.replace(old, new, 1)
    assert bad != text
    path = tmp_path / "classification.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        load_rules(path)
