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


@pytest.mark.parametrize(("text", "service"), _lines())
def test_emerg44_each_line_goes_to_its_service(text: str, service: str) -> None:
    got = classify(text)
    assert got.emergency == service, _cues(text)
    if service != "none":
        assert got.urgency == "urgent"
