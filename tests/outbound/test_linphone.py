"""A satisfaction callback answered by a second real SIP stack: the citizen's phone is
linphone's console client, registered at a real Kamailio under the citizen's number; our
SipDialer calls it, linphone answers by itself and the citizen presses 1 twice (RFC 2833,
linphone's default) -- the ticket is surveyed with the score those keys mean."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from outbound.models import Kind
from telephony.media.wav import write_wav_pcm16
from tests.outbound.support import attempts, close_ticket, drive, new_ticket, tasks, ticket

# The SIPp phones' fixtures: the same Kamailio, fast settings, front end and worker.
from tests.outbound.test_sip import (  # noqa: F401
    env,
    frontend,
    kamailio,
    short_prompts,
    sip_worker,
    survey_keys_after_ms,
)
from tests.support import harness
from tests.support.callers import silence_pcm16
from tests.support.linphone import AVAILABLE, Linphone
from tests.support.sipkit import rms
from ticketing.models import SurveyResult

pytestmark = [pytest.mark.sip,
              pytest.mark.skipif(not AVAILABLE, reason="linphone-cli not installed")]

CITIZEN = "13811112222"


def test_linphone_answers_the_survey_with_keys(env, frontend,  # noqa: F811
                                               kamailio: harness.Kamailio,  # noqa: F811
                                               tmp_path: Path) -> None:
    sessions, domain, city = env
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, number)
    says, heard = tmp_path / "quiet.wav", tmp_path / "heard.wav"
    write_wav_pcm16(says, silence_pcm16(30))
    phone = Linphone(tmp_path / "linphone", user=CITIZEN, play=says, record=heard,
                     registrar_port=kamailio.port, auto_answer=True).start()

    report_s = survey_keys_after_ms(env, number) / 1000

    def press_when_answered() -> None:
        # Each key cuts the question being read; the second answers the second question.
        # Keys while the handler's answer is read, before the first, would be dropped.
        phone.wait_for("connected", timeout=30)
        time.sleep(report_s)
        phone.keys("1")
        time.sleep(1.5)
        phone.keys("1")

    presser = threading.Thread(target=press_when_answered, daemon=True)
    try:
        presser.start()
        drive(sip_worker(env, frontend),
              lambda: any(t.status == "done" for t in tasks(sessions, number, Kind.SURVEY_CALL)),
              timeout=40)
        presser.join(timeout=10)
        phone.wait_for("ended", timeout=10)  # we hung up after thanking
    finally:
        phone.stop()

    t = ticket(sessions, number)
    assert t.status == "surveyed", phone.log_tail()
    with sessions() as s:
        result = s.scalars(select(SurveyResult).where(SurveyResult.ticket_id == t.id)).one()
    assert (result.keys, result.score) == ("11", 1.0)
    (call,) = attempts(sessions, number, Kind.SURVEY_CALL)
    assert (call.outcome, call.keys, call.carrier) == ("answered", "11", "sip")
    assert result.call_ref == call.call_ref
    assert phone.log_text().count("Finished sending RFC2833 dtmf") == 2
    with wave.open(str(heard), "rb") as w:  # linphone heard the questions
        assert rms(w.readframes(w.getnframes())) > 100
