"""A reminder or survey call the SIP front end cannot route, socket-free: with the shipped
settings (direct mode, no registrar, ``sip_uri_template = "{phone}"``) a handler's number is
a bare number, which direct mode cannot send anywhere. The attempt ends FAILED with the
reason, one warning line, instead of an exception logged with its traceback at every poll."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config.settings import Settings
from outbound.dialers import SipDialer
from outbound.models import Outcome
from outbound.prompts import PromptLibrary
from telephony.call import DialOutcome
from telephony.sip.uri import dial_target


class DirectModeFrontEnd:
    """Resolves the target by the front end's own rule (direct mode: no registrar); a
    resolvable one would be dialled, which this test never reaches."""

    def call(self, target: str, *, timeout: float | None = None) -> DialOutcome:
        dial_target(target, registrar=None)
        raise AssertionError(f"{target!r} should not have been dialable")


def test_a_bare_number_in_direct_mode_fails_the_attempt_with_its_reason(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path)
    dialer = SipDialer(DirectModeFrontEnd(), PromptLibrary(settings),  # type: ignore[arg-type]
                       settings)
    with caplog.at_level(logging.WARNING, logger="outbound.dialers"):
        result = dialer.call(to="13811112222", conversation=None)  # type: ignore[arg-type]
    assert result.outcome is Outcome.FAILED
    assert "not dialable" in result.detail and "SIP URI" in result.detail
    (record,) = [r for r in caplog.records if r.name == "outbound.dialers"]
    assert record.levelno == logging.WARNING and record.exc_info is None
