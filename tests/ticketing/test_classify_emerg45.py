"""Thirty-third round (emerg45): crime and violence happening now, danger told inside a question.

Sentences of our own (bench/data/emerg_own45.tsv, committed before any rule changed), some
punctuated, some as a recogniser writes them: someone being beaten at home now, a group with
steel pipes or knives closing people in, a drunk or reckless driver still on the road, a
stranger taking a child while the family holds on, money just sent with the fraudster still on
the line (110); a stroke coming on or an asthma attack the inhaler does not stop, told inside a
question about the health insurance (120). Their calm twins stay with 12345: a fraud stopped in
time, money lost long ago, a driver who left the caller who is now safe, abuse seen on a
recording afterwards, a lift that trapped the caller before, sky lanterns stamped out, a stroke
long past, a martial-arts group with sticks. docs/classification.md, "Thirty-third round
(emerg45)".
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests.support.sweep import assert_every
from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify
from ticketing.intake_model import understand

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own45.tsv"

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped


def _lines() -> list[tuple[str, str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], row["urgency"], row["emergency"]) for row in rows]


def test_emerg45_each_line_is_handed_to_its_service_or_stays(shipped) -> None:
    # One sweep of the file's lines, each failing line named (tests/support/sweep.py).
    assert_every(_lines(), lambda line: assert_handed_or_kept(shipped, line[0], line[2]))


def assert_handed_or_kept(shipped, text: str, service: str) -> None:
    """The floor (the rules) and the system (rules and the shipped model) both: a hand-over
    the model alone makes is asked before it is put through (docs/ivr.md), so the rules
    must name these, and must name nothing for the calm twins."""
    rules, model = shipped
    got = classify(text, rules)
    assert got.emergency == service, _cues(text)
    if service != "none":
        assert got.urgency == "urgent", _cues(text)
    assert understand(text, rules, model).emergency == service, _cues(text)


def test_emerg45_the_file_holds_both_sides() -> None:
    lines = _lines()
    assert sum(service != "none" for _, _, service in lines) >= 30
    assert sum(service == "none" for _, _, service in lines) >= 30
