"""What a call leaves in the log: one line per dialogue step carrying the call id (and the
ticket number once there is one), the caller's number masked, and none of the caller's
words at INFO or above. Real SIPp caller, real Vosk, the service's own log formatter."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hotline.observability import JsonFormatter, MaskingFilter
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, assert_ok
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip


def test_every_step_logged_with_call_id_and_ticket_never_the_words(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    script = (CallerScript(tmp_path / "caller").wait(0.3)
              .say(korean_speech[PHRASES[0]], then_wait=0.3)
              .key("#", then_wait=1.5).key("1", then_wait=0))
    with caplog.at_level(logging.DEBUG):
        assert_ok(ivr.caller(script, timeout_s=90).run())
        (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert ticket is not None and ticket.transcript and "물이" in ticket.transcript

    mask, fmt = MaskingFilter(), JsonFormatter()
    lines = []
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        mask.filter(record)
        lines.append(json.loads(fmt.format(record)))
    steps = [line for line in lines if "step" in line]
    assert len(steps) >= 4  # greeting, listening, read-back, confirm, goodbye...
    assert all(line["call_id"] == rec.call_id for line in steps)
    assert steps[-1]["step"] == "done" and steps[-1]["ticket"] == ticket.number
    assert any(line["ticket"] is None for line in steps)  # before the ticket existed
    everything = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert CALLER not in everything and CALLER[:3] + "****" + CALLER[-4:] in everything
    for word in ticket.transcript.split():
        assert word not in everything, word


def test_a_long_from_user_is_cut_in_the_calls_summary_line(
        ivr_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """judge25's trial ("Left"): a From user of 300 characters (no number) was logged whole
    in the call's summary line. Now it is cut as the call record's column is, its length
    said (``ticketing.phones.caller_id_shown``, the rule beside the masking)."""
    ivr = ivr_factory(engine=None)
    long_user = "a" * 300
    script = CallerScript(tmp_path).wait(0.5).key("0", then_wait=0)  # no operator: callback
    with caplog.at_level(logging.INFO, logger="hotline.ivr"):
        assert_ok(ivr.caller(script, caller=long_user, timeout_s=60).run())
        (rec,) = ivr.wait_record()
    summary = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith(f"call {rec.call_id} from ")]
    assert len(summary) == 1, summary
    assert long_user not in summary[0]
    assert f"from {'a' * 64}…(300 chars): " in summary[0]
