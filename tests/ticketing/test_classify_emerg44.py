"""Thirty-third round (emerg44): emergencies still missed or falsely handed over.

Sentences of our own (bench/data/emerg_own44.tsv, written before the rules were changed), as a
recogniser writes them: no punctuation, numbers as words. Each line's service is asserted of
the rules: a past injury with a mild state now and breath lost on the stairs of a broken lift
are complaints; a worry closed by its question before smoke now, a bang felt by its work, a
welder's sparks that set something alight, a strong gas smell beside an electric switch shut,
and the recogniser's 不省认事 and 没商来 are hand-overs. docs/classification.md,
"Thirty-third round (emerg44)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own44.tsv"
# Left to the model (the rules read no cue, the shipped model hands each over): 调进井里 is
# how a recogniser writes 掉进井里, and 调进 is also a transfer ("调进井下工区"); 着伙 is 着火,
# whose homophones are everyday runs (堆着货, 干着活儿). Not rewritten ([heard_as]).
MODEL_ONLY = {"邻居家小孩调进井里了 在底下哭", "工地上一个工人调进井里了 喊他也不答应",
              "隔壁厨房着伙了 烟从窗户往外冒"}


def _lines() -> list[tuple[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], row["emergency"]) for row in rows if row["text"] not in MODEL_ONLY]


def test_emerg44_each_line_goes_to_its_service() -> None:
    # One sweep of the file's lines, each failing line named (tests/support/sweep.py).
    def goes_to_its_service(line: tuple[str, str]) -> None:
        text, service = line
        got = classify(text)
        assert got.emergency == service, _cues(text)
        if service != "none":
            assert got.urgency == "urgent"

    assert_every(_lines(), goes_to_its_service)


@pytest.mark.parametrize(("text", "service"), [
    # Threats written against each guard of this round, after the rules.
    ("爬到十楼我奶奶就喘不上气了 嘴唇发乌", "120"),  # climb_breath: someone else's breath
    ("电梯坏了 我老伴爬了五楼 喘不上气 人直往下出溜", "120"),
    ("爬了六楼以后我妈突然喘不上气 脸都白了", "120"),
    ("天天施工 刚才轰的一声 楼都晃了 玻璃全碎了 有人躺地上流血", "119"),  # works, someone hurt
    ("过年放鞭炮 轰的一声 隔壁煤气罐炸了 玻璃全碎了", "119"),
    ("隔壁煤气罐炸了", "119"),
    ("万一着火怎么办 现在厨房已经烧起来了", "119"),
    ("煤气味很冲 我把水的总阀关了", "119"),  # made_safe: not the gas's valve
    # Calm beside them.
    ("要是现在着火了怎么办 楼里老人多", "none"),  # the present inside the supposition
    ("万一着火怎么办 现在楼道里堆满了电动车", "none"),
    ("楼下工地天天施工 砰的一声 玻璃全碎了 老吓人了", "none"),
    ("公交车每上来一个人都要刷卡", "none"),
    ("听邻居说以前有人家煤气罐炸了 想问问怎么检查", "none"),
])
def test_emerg44_a_guard_of_this_round_lets_a_threat_through(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)


def test_emerg44_the_gas_switch_shut_still_quiets_a_strong_smell() -> None:
    # B3: the caller shut the gas's own switch; urgent, no hand-over.
    got = classify("煤气味挺冲的 我把燃气的总闸关了 窗户也开了")
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues("煤气味挺冲的")
