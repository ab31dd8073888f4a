"""Review125: emerg50's guards against a caller in danger now (docs/classification.md,
"Review125"). Sentences of the reviewer's own: a thing and a person shut in told apart, a risk
heard of followed by a sign found now, an ambulance that came late today while the patient
still fails, people swept off in a riverbed told in other words. Each was a hand-over on
main before emerg50 (dbdba0af) and none, or no rule's, after it; calm twins beside them."""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from ticketing.classify import classify
from ticketing.intake_model import understand

shipped = _emerg36.shipped


@pytest.mark.parametrize(("text", "service"), [
    # A thing shut in, and a person inside told clauses later (`someone_inside`).
    ("手机和钥匙都锁在车里了 我闺女才两岁 在安全座椅上哭 门打不开", "119"),
    ("行李锁在车里了，这都不要紧，关键是我家宝宝还在里面，小脸都憋红了", "119"),
    ("钥匙手机都锁在里面了 里面还有个小孩 没大人 门打不开 快来人啊", "119"),
    ("我的包和钥匙都被锁在车里了，车里还有我家老人，八十多了，门打不开", "119"),
    # A risk heard of, then what the caller found (the hearsay `ahead` pattern).
    ("邻居说可能会煤气中毒 我去敲门没人应 里面一股煤气味 老两口都在家", "119"),
    ("朋友说这样装容易煤气中毒 我刚到家发现我老公倒在卫生间 怎么叫都不醒", "120"),
    # An ambulance late today, the patient still failing (`emergency.medical`'s 才到).
    ("打了急救电话 救护车半小时才来 我爸现在还没醒 心跳很弱", "120"),
    # Calm twins: stay as emerg50 made them.
    ("我的车钥匙锁在车里了 想问开锁公司电话", "none"),
    ("燃气热水器在洗澡间里 听人说会煤气中毒 现在没什么问题", "none"),
    ("上月我家老爷子突然喘不上气，打急救电话，救护车足足四十分钟才到，人抢救过来了", "none"),
])
def test_review125_a_guard_silences_no_danger_told_now(shipped, text: str, service: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize(("text", "handed"), [
    ("水库开闸了 河道里还有几个人在摸鱼 有一个被水带走了 看不见人了", True),
    # No mark, and no rule reads 卷跑: the model's none, as before emerg50 (left).
    ("上游放水了 河滩上还有人在玩 一个孩子让水卷跑了 看不见人了", False),
])
def test_review125_someone_carried_off_is_no_riverbed_unhurt(
    shipped, text: str, handed: bool,
) -> None:
    # The unhurt mark stops the model's hand-over: it must not be set where the water took
    # someone, in words other than 冲走 (the model's 119 before emerg50 on the first).
    rules, model = shipped
    assert not any("unhurt" in m for m in classify(text, rules).matched)
    assert (understand(text, rules, model).emergency != "none") is handed
