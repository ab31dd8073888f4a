"""The voice side of `hotline serve`: one speech model per process, the SIP IVR, and the
jobs that keep recordings from being lost (transcription backlog, spool recovery)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from asr.backlog import run_backlog
from asr.batch import transcribe_clean
from asr.engine import AsrEngine
from config import Settings
from ivr.intake import recover_spool
from ivr.runtime import IvrRuntime, load_engine, spool_for, start_ivr
from telephony.sip.floodguard import untrusted_direct_warning
from ticketing.context import Domain

log = logging.getLogger("hotline.voice")


@dataclass
class Voice:
    settings: Settings
    sessions: sessionmaker[Session]
    domain: Domain
    engine: AsrEngine | None
    ivr: IvrRuntime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start_ivr(self) -> None:
        """Start (or retry starting) the SIP front end; a registrar that is down at start-up
        must not keep the API and the schedulers down, so failures are logged and retried."""
        if self.ivr is not None or not self.settings.sip.enabled:
            return
        try:
            self.ivr = start_ivr(self.settings, self.sessions, self.domain, engine=self.engine)
        except Exception as exc:  # SipRegistrationError, port in use, ...
            log.error("IVR not answering yet (%s); retrying in 30 s", exc)
            return
        if warning := untrusted_direct_warning(self.settings.sip):
            log.warning("%s", warning)

    def tick(self) -> None:
        """Every 30 s: retry the IVR if it is down, settle spooled calls, run the backlog."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self.start_ivr()
            recover_spool(sessions=self.sessions, domain=self.domain,
                          spool=spool_for(self.settings))
            if self.engine is not None:
                engine = self.engine
                run_backlog(sessions=self.sessions, domain=self.domain, limit=20,
                            transcribe=lambda p: transcribe_clean(
                                engine, p, self.settings.asr.phrase_list))
        finally:
            self._lock.release()

    def stop(self) -> None:
        if self.ivr is not None:
            self.ivr.frontend.stop()
        if self.engine is not None:
            self.engine.close()


def start_voice(settings: Settings, sessions: sessionmaker[Session], domain: Domain) -> Voice:
    voice = Voice(settings=settings, sessions=sessions, domain=domain,
                  engine=load_engine(settings))
    voice.start_ivr()
    return voice
