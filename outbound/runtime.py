"""Build the outbound worker from the settings (the composition used by the scheduler)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from outbound.dialers import Dialer, SipDialer, TwilioDialer
from outbound.prompts import PromptLibrary
from outbound.sms import make_sms
from outbound.worker import OutboundWorker
from ticketing.context import Domain

log = logging.getLogger("outbound")


def make_dialer(sessions: sessionmaker[Session], domain: Domain
                ) -> tuple[Dialer, Callable[[], None]]:
    """The configured dialer and how to stop it."""
    settings = domain.settings
    if settings.outbound.dialer == "twilio":
        return TwilioDialer(settings, sessions), lambda: None
    if settings.outbound.dialer == "sip":
        from telephony.sip.frontend import SipFrontEnd

        sip = settings.sip.model_copy(update={
            "port": settings.outbound.sip_port,
            "rtp_port_low": settings.outbound.sip_rtp_port_low,
            "rtp_port_high": settings.outbound.sip_rtp_port_high,
        })
        frontend = SipFrontEnd(sip, ring_timeout=settings.outbound.ring_seconds)
        frontend.start()
        return SipDialer(frontend, PromptLibrary(settings), settings), frontend.stop
    raise ValueError(f"unknown outbound.dialer {settings.outbound.dialer!r} (sip | twilio)")


def build_worker(sessions: sessionmaker[Session], domain: Domain
                 ) -> tuple[OutboundWorker, Callable[[], None]]:
    dialer, stop_dialer = make_dialer(sessions, domain)
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                            sms=make_sms(domain.settings))

    def stop() -> None:
        worker.shutdown(wait=False)
        stop_dialer()

    return worker, stop
