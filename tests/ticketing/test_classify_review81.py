"""Review81: emerg34's resolution (``NotNow.treated``) ended every ``still`` word told before
it, so a call that resolved one thing while another is still in danger, or that closed on a
past recovery after a danger now, was handed to no one. Only ``just_now`` (刚才) is the
resolved story's now. Sentences of our own; the rules alone (``classify``) and the shipped
model with them, as bench/heldout_score.py reads a call."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify, load_rules
from ticketing.intake_model import SHIPPED_DIR, IntakeModel, ModelStore, understand

# Silenced on emerg34's merge (37320e18), handed over before it (28f0fa9e) and again now.
# The rules' own cue where they have one (None: no rule cue, the model's alone, which the
# resolution's SILENCED mark had stopped).
STILL_IN_DANGER: list[tuple[str, str, str | None]] = [
    # One found, another still missing, the missing one told first.
    ("老人有老年痴呆，出去三个小时了还没找着，孩子倒是已经找着了", "110", "110"),
    ("老人还没找着，孩子已经找着了", "110", None),
    # A danger now, then a recovery from a past illness.
    ("我爸刚才晕倒了，现在又叫不醒了，上次已经康复了", "120", "120"),
]


@cache
def _model() -> IntakeModel | None:
    return ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()


@pytest.mark.parametrize(("text", "service", "ruled"), STILL_IN_DANGER)
def test_review81_a_resolution_does_not_end_a_danger_told_before_it(
        text: str, service: str, ruled: str | None) -> None:
    if ruled is not None:
        assert classify(text).emergency == ruled, _cues(text)
    assert understand(text, load_rules(), _model()).emergency == service


@pytest.mark.parametrize("calm", [
    # emerg34's own: 刚才 is the resolved story's.
    "刚才孩子在超市不见了，还好半分钟就找着了，建议加个广播",
    "孩子刚才一转眼不见了，还好半分钟就找着了，想建议商场多装几个广播",
])
def test_review81_just_now_before_the_resolution_stays_resolved(calm: str) -> None:
    assert classify(calm).emergency == "none", _cues(calm)
    assert understand(calm, load_rules(), _model()).emergency == "none"
