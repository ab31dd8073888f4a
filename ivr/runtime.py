"""Start the phone front door: speech model, spool recovery, SIP front end, dialogues.

    ivr = start_ivr(settings, sessions, domain)   # raises SipRegistrationError (register mode)
    ...
    ivr.stop()

The speech model is loaded once and shared by every call (``AsrEngine``). Without a model
the phone line still works: calls are recorded, tickets are made with "（录音待转写）" and
a transcription job each, left for the backlog until a model is installed and the service
restarted. `hotline serve` wires this with the backlog and spool job in ``hotline.wiring``.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from asr.backlog import release_dead_claims
from ivr import kb_answer
from ivr.call_flow import IvrServices, run_call
from ivr.intake import Spool, recover_spool
from ivr.prompts import PromptLibrary
from telephony.call import CallHandle, Direction
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.ledger import ledger_dir
from ticketing.db import transaction
from ticketing.phones import call_number

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from asr.engine import AsrEngine
    from config.settings import Settings
    from ticketing.context import Domain

log = logging.getLogger("hotline.ivr")

INSTALL_HINT = "hotline asr fetch small-cn   (or: hotline asr fetch cn, the large model)"


def load_engine(settings: Settings) -> AsrEngine | None:
    """The configured Vosk model, or None (logged loudly) when it is not installed."""
    from asr.model_store import ModelError

    path = Path(settings.asr.model_dir) / settings.asr.model_name
    if not path.exists():
        log.warning("no speech model at %s: calls will be recorded and transcribed later. "
                    "Install one with: %s", path, INSTALL_HINT)
        return None
    try:
        from asr.engine import AsrEngine

        engine = AsrEngine.from_settings(settings)
    except (ModelError, ImportError) as exc:
        log.error("speech model at %s cannot be loaded (%s): calls will be recorded and "
                  "transcribed later. Reinstall with: %s --replace", path, exc, INSTALL_HINT)
        return None
    log.info("speech model %s loaded (%d decoding slots)", path, engine.workers)
    return engine


def spool_for(settings: Settings) -> Spool:
    return Spool(Path(settings.data_dir) / "spool" / "calls")


@dataclass
class IvrRuntime:
    services: IvrServices
    frontend: SipFrontEnd
    recovered: list[str] = field(default_factory=list)

    @property
    def engine(self) -> AsrEngine | None:
        return self.services.engine

    def refuse_and_tell(self) -> float:
        """A stop's first step (SIGTERM): new calls are refused 503 + Retry-After at once,
        and every dialogue leaves its turn, tells its caller the service stops (that their
        words are kept, when they are), hangs up and files what was said
        (``IvrServices.stopping``, ``Dialogue._s_hangup``). Returns the monotonic time
        ``sip.stop_drain_seconds`` from now, by which ``hang_up`` ends what is left."""
        self.frontend.refuse_calls()
        deadline = time.monotonic() + self.services.settings.sip.stop_drain_seconds
        self.services.stop_deadline = deadline  # before ``stopping``: every dialogue sees it
        self.services.stopping.set()
        for call in self.frontend.active_calls():
            if call.direction is Direction.INBOUND:
                # A wait for a key, a prompt playing and a transfer ringing end now: the
                # notice comes next.
                call.end_waits()
        return deadline

    def hang_up(self, deadline: float) -> None:
        """Wait for the dialogues to finish saving and filing until ``deadline``, then stop
        the front end (a BYE to any call still up). A dialogue not done by then is left to
        the spool: the next start's recovery files it ("服务恢复后补录"), once."""
        if not self.frontend.wait_handlers(deadline):
            log.warning("stopping: calls still saving after sip.stop_drain_seconds (%.0f s) "
                        "are left to the spool; the next start files them",
                        self.services.settings.sip.stop_drain_seconds)
        self.frontend.stop()

    def stop(self) -> None:
        """The whole stop: ``refuse_and_tell``, ``hang_up``, then the speech engine closes
        (not before: a dialogue filing its caller's words may still be decoding them)."""
        self.hang_up(self.refuse_and_tell())
        if self.services.engine is not None:
            self.services.engine.close()


def start_ivr(settings: Settings, sessions: sessionmaker[Session], domain: Domain, *,
              engine: AsrEngine | bool | None = True,
              on_backlog: Callable[[], object] | None = None) -> IvrRuntime:
    """Load the model (``engine=True``; or pass a loaded engine, or None for none), recover
    the spool, make the prompts, start the SIP front end in ``settings.sip.mode``.
    ``on_backlog`` is called when a call leaves its words to the transcription backlog."""
    if engine is True:
        engine = load_engine(settings)
    elif engine is False:
        engine = None
    prompts = PromptLibrary(settings)
    prompts.warm()  # espeak-ng for every fixed prompt now, not in front of the first caller
    kb_answer.warm(sessions=sessions, domain=domain)
    services = IvrServices(settings=settings, sessions=sessions, domain=domain,
                           prompts=prompts, spool=spool_for(settings), engine=engine,
                           on_backlog=on_backlog)
    recovered: list[str] = []
    try:
        # Before the front end starts no call of ours is live: what the spool holds as in
        # progress died with an earlier process, unless another process shares the spool.
        recovered = recover_spool(sessions=sessions, domain=domain, spool=services.spool,
                                  restarted=services.spool.take_over())
        if recovered:
            log.info("settled %d call(s) left in the spool by an earlier process: %s",
                     len(recovered), ", ".join(recovered))
    except Exception:  # never keep the phones down because of the spool
        log.exception("spool recovery failed; the voice job (hotline.wiring) retries it")
    try:
        with transaction(sessions) as session:
            freed = release_dead_claims(session=session)
        if freed:
            log.info("%d transcription job(s) held by a process of this host that died "
                     "are free again", len(freed))
    except Exception:  # their leases run out by themselves
        log.exception("freeing the transcription jobs of dead processes failed")

    def on_call(call: CallHandle) -> None:
        run_call(call, services)

    sip = settings.sip
    frontend = SipFrontEnd(settings, on_call, read_number=call_number,
                           rtp_timeout=sip.rtp_timeout,
                           register_expires=sip.register_expires, ring_timeout=sip.ring_timeout,
                           dialogs_dir=ledger_dir(settings.data_dir))
    services.frontend = frontend
    # Everything loaded so far lives as long as the process: freezing it keeps the
    # collector's full passes (which hold the GIL, and so every RTP sender) short.
    gc.collect()
    gc.freeze()
    frontend.start()
    log.info("IVR answering on %s:%s (%s mode, up to %d calls, ASR %s)", sip.bind_ip,
             frontend.local_port, sip.mode, sip.max_calls,
             "live" if engine is not None else "off: recordings go to the backlog")
    return IvrRuntime(services=services, frontend=frontend, recovered=recovered)
