"""The Twilio side at our stop (twilio36): a journal entry of a call long gone does not hold
the drain, a live call still does; a caller mid-``<Record>`` keeps their complaint whether
the recording's callback comes during the drain or is lost with the process (the next
start asks Twilio, ``TwilioDialogue.reconcile``), one ticket either way. Real app, signed
webhooks, the local stand-in for Twilio's API (not Twilio)."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ivr.intake import CallJournal
from ivr.twilio import call_flow
from ivr.twilio.call_flow import TwilioDialogue, gone_after_seconds
from ivr.twilio.views import dialogue_of
from tests.twilio.helpers import Twilio, call_form, new_sid, twiml
from ticketing.models import utcnow

pytestmark = pytest.mark.usefixtures("decode_once")

# Bounds on waiting for the drain's thread, never what is asserted: the drain returns on
# its own, or is still waiting for the call that holds it.
_RETURNS_WITHIN = 30.0
_STILL_WAITING_AFTER = 1.0


def _dialogue(twilio: Twilio) -> TwilioDialogue:
    return dialogue_of(twilio.client.app.state)  # type: ignore[attr-defined]


def _draining(dialogue: TwilioDialogue) -> threading.Thread:
    """The stop's Twilio part as ``hotline.serving`` runs it, its deadline out of reach
    (the drain's clock is the tests' CPU time, ``budget_on_cpu_time``): it returns only
    when no call holds it."""
    dialogue.stopping.set()
    deadline = call_flow.time.monotonic() + 3600
    thread = threading.Thread(target=dialogue.drain, args=(deadline,), daemon=True)
    thread.start()
    return thread


def _gone_entry(dialogue: TwilioDialogue, twilio: Twilio) -> str:
    """A Twilio call in a dialogue as a process that died long ago left it: arrived and
    last written before ``gone_after_seconds``, and no webhook since."""
    sid = new_sid("CA")
    then = utcnow() - timedelta(seconds=gone_after_seconds(twilio.settings) + 60)
    spool = dialogue.calls.spool
    spool.write(CallJournal(call_id=sid, caller="+8613800138000", carrier="twilio",
                            arrived_at=then.isoformat(), answered_at=then.isoformat()))
    os.utime(spool.path(sid), (then.timestamp(), then.timestamp()))
    return sid


def test_a_journal_entry_of_a_call_long_gone_does_not_hold_the_drain(twilio: Twilio) -> None:
    dialogue = _dialogue(twilio)
    gone = _gone_entry(dialogue, twilio)
    drain = _draining(dialogue)
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()
    # Not settled by the drain: that is recovery's (its 15 minutes, or Twilio's word).
    assert dialogue.calls.spool.path(gone).exists()


def test_a_live_call_still_holds_the_drain_beside_a_gone_one(
        twilio: Twilio, sessions: sessionmaker[Session]) -> None:
    dialogue = _dialogue(twilio)
    _gone_entry(dialogue, twilio)
    live = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(live)))
    drain = _draining(dialogue)
    drain.join(_STILL_WAITING_AFTER)
    assert drain.is_alive()
    twilio.post("/twilio/status", call_form(live, CallStatus="completed"))
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()


def test_a_webhook_heard_is_a_sign_of_life_though_the_journal_is_old(twilio: Twilio) -> None:
    """Not every webhook writes the journal (a key that changes nothing): the webhook
    itself keeps the call live for the drain."""
    dialogue = _dialogue(twilio)
    sid = _gone_entry(dialogue, twilio)
    dialogue.heard(sid)
    drain = _draining(dialogue)
    drain.join(_STILL_WAITING_AFTER)
    assert drain.is_alive()
    twilio.post("/twilio/status", call_form(sid, CallStatus="completed"))
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()


def test_the_gone_rule_follows_the_calls_own_timers(make_twilio: Any) -> None:
    """A longer ``<Record>`` is a longer step: an entry is gone only after it."""
    short = make_twilio(sip={"max_record_seconds": 60}).settings
    long = make_twilio(sip={"max_record_seconds": 600}).settings
    assert gone_after_seconds(long) - gone_after_seconds(short) == 2 * (600 - 60)
