"""Whether a recogniser's transcript can be acted on unseen: the one rule (docs/asr.md,
docs/classification.md "A transcript nobody should trust").

The classifier reads whatever words it is given. A transcript the recogniser itself gave
little credit (every word a guess: Vosk's word confidence is its posterior probability of
that word) or one that is not Mandarin at all (Hangul, kana or Latin from a wrong model, a
fax tone decoded into syllables) still came out with a category, and the ticket went to a
handler with nothing behind it. Such a ticket is *unheard*: accepted and kept like any other
(number, recording, transcript), flagged 待确认 and held for an operator, who listens to the
recording and confirms or corrects it, as a ticket that says too little is
(``ticketing.substance``, ``queries.held``).

An emergency reading is never held (``held_if_unheard``), nor a rule's urgent cue: a
transcript this poor that still names a fire, someone collapsed or a gas leak goes at once,
since a false alarm costs a transfer and a held emergency could cost a life (the rule the
too-little hold keeps too: ``intake_model.understand``). An urgency the model alone raised is
held: on words this poor it reads noise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ticketing.intake_model import Understanding
from ticketing.substance import units

LOW_CONFIDENCE = "low_confidence"
NOT_CHINESE = "not_chinese"
# What the audit and the console say of each (zh-CN: the operators read it).
REASON_LABELS = {
    LOW_CONFIDENCE: "识别置信度过低",
    NOT_CHINESE: "转写不是中文",
}

# A Han character (the unified blocks and their extensions, compatibility ideographs).
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def mean_confidence(meta: Mapping[str, Any] | None) -> float | None:
    """The mean word confidence of a transcript's recogniser words (``asr.backlog.
    transcript_meta``: ``{"words": [{"w", "c"}]}``); None when it has none to judge by (a
    typed demand, a transcript from elsewhere): such a transcript is not distrusted for it."""
    words = (meta or {}).get("words")
    if not isinstance(words, list):
        return None
    confs = [float(w["c"]) for w in words
             if isinstance(w, Mapping) and isinstance(w.get("c"), int | float)
             and not isinstance(w.get("c"), bool) and 0.0 <= w["c"] <= 1.0]
    return sum(confs) / len(confs) if confs else None


def unheard(text: str, meta: Mapping[str, Any] | None, *, trust_below: float) -> str | None:
    """Why the transcript ``text`` (its recogniser's ``meta``) is not to be acted on unseen,
    or None. ``LOW_CONFIDENCE``: its words' mean confidence is below ``trust_below``.
    ``NOT_CHINESE``: fewer than half of its letter units (``substance.units``: a Latin run
    counts one, so "KTV" or "WiFi" in a Mandarin sentence weighs a word, not its letters) are
    Han characters. A text with no letter at all is the too-little rule's, not this one's."""
    found = units(text)
    if found and 2 * sum(1 for u in found if _HAN.fullmatch(u)) < len(found):
        return NOT_CHINESE
    mean = mean_confidence(meta)
    if mean is not None and mean < trust_below:
        return LOW_CONFIDENCE
    return None


def held_if_unheard(guess: Understanding, reason: str | None, *,
                    urgent_cue: bool = False) -> Understanding:
    """``guess`` held for an operator when its transcript is unheard (``reason``): 待确认,
    marked ``unheard``. An emergency reading is not held, nor one a rule's urgent cue
    (``urgent_cue``: the rules alone read the text urgent) made urgent (the module's
    docstring says why); each stays flagged 待确认 so that someone looks at the words."""
    if reason is None:
        return guess
    if guess.emergency != "none" or (urgent_cue and guess.urgency == "urgent"):
        return replace(guess, needs_confirmation=True)
    return replace(guess, needs_confirmation=True, unheard=reason)
