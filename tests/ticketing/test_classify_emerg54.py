"""Thirty-seventh round (emerg54): four emergency misreadings left by the round's reviews.

Sentences of our own (bench/data/emerg_own54.tsv), half punctuated, half as a recogniser
writes them: a fire only believed in, told with 是 after 以为 ("以为是着火了，其实是…", 119
before), and a real fire after such a belief (119); a boiler whose alarm sounds and whose
pressure is still climbing ("压力表指针没停地往上走", no rule's before), and calm boiler
questions; smoke that has not stopped with a fire guessed now ("烟没断过…好像是地下室着了",
the model's alone before); a quarrel or a shove that ended ("推了一下就散了", "吵了两句没动手",
the model's 110 alone before) and fights going on (110). docs/classification.md,
"Thirty-seventh round (emerg54)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from ticketing.classify import NO_VICTIM, classify

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own54.tsv"

shipped = _emerg36.shipped


def _rows() -> list[dict[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_emerg54_the_file_holds_six_of_each_family_and_their_twins() -> None:
    rows = _rows()
    for family in ("belief", "boiler", "smoke", "quarrel"):
        mine = [row for row in rows if row["family"] == family]
        assert len(mine) >= 9
        assert sum(" " in row["text"] for row in mine) >= 4
        assert {row["emergency"] for row in mine} >= {"none"}
        assert len({row["emergency"] for row in mine}) == 2


@pytest.mark.parametrize(("text", "service"), [(row["text"], row["emergency"]) for row in _rows()])
def test_emerg54_each_line_is_handed_to_its_service_or_stays(
    shipped, text: str, service: str,
) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [row["text"] for row in _rows()
                                  if row["family"] == "quarrel" and row["emergency"] == "none"])
def test_emerg54_a_quarrel_that_ended_marks_nobody_to_rescue(text: str) -> None:
    # The mark is what stops the model's hand-over (docs/classification.md, `unhurt`).
    assert any(m.startswith(NO_VICTIM) for m in classify(text, _emerg36.load_rules()).matched)
