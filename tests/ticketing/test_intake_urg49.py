"""Thirty-seventh round (urg49): danger words said calmly, which the model (not a rule)
raised to urgent.

Old wiring "worried about", a crack "for years", a dog that "might bite", a steep ramp where
"kids could fall", a pothole where "someone will fall one day", a dead tree branch "if the
wind blows": general calls (docs/labelling.md G, U4's "Not U4") whose danger word pushed the
shipped model's P(urgent) over ``DECISION["urgent"]``. The remedy is data, not a rule:
data/intake/train-urg49.tsv (95 general lines in ten such families, 49 urgent twins, half
in recogniser style), a candidate training source not yet shipped. These tests read
bench/data/urg_own49.tsv, 26 lines of our own never trained on, written before the rebuild:
the rules' own urgent calls there are not the model's to mend and are left out.
docs/classification.md, "Thirty-seventh round (urg49)".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from ticketing.classify import classify
from ticketing.degrade import degrade
from ticketing.intake_model import read_labelled, understand

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "urg_own49.tsv"
STYLES = ("clean", "recogniser")
# Calm lines (no rule's urgent) the shipped model raises to urgent: 3 clean and 2 in
# recogniser style (the pothole "早晚有人摔跟头", a stairwell's old cracks, a dead branch over
# parked cars). A rebuild with data/intake/train-urg49.tsv measured 1 and 1 but was not shipped
# (docs: it moved a pinned category); a floor, lower it when a shipped rebuild does better.
MODEL_RAISED = {"clean": 3, "recogniser": 2}

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped


def _said(text: str, style: str) -> str:
    return degrade(text) if style == "recogniser" else text


def _lines(urgency: str) -> list[str]:
    return [r.text for r in read_labelled(OWN)
            if (r.labels["urgency"] == "urgent") == (urgency == "urgent")]


@pytest.mark.parametrize("style", STYLES)
def test_urg49_the_model_raises_few_calm_worries(shipped, style: str) -> None:
    """Of the calm lines no rule calls urgent, how many the model raises (none of them is
    urgent: docs/labelling.md G and U4's "Not U4")."""
    rules, model = shipped
    raised = []
    for text in _lines("general"):
        said = _said(text, style)
        if classify(said, rules).urgency == "urgent":
            continue
        if understand(said, rules, model).urgency == "urgent":
            raised.append(said)
    assert len(raised) <= MODEL_RAISED[style], raised


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("text", _lines("urgent"))
def test_urg49_the_urgent_twins_stay_urgent(shipped, text: str, style: str) -> None:
    rules, model = shipped
    said = _said(text, style)
    assert understand(said, rules, model).urgency == "urgent", said
