"""`hotline serve`'s one HTTP process, and how it stops: the calls first, then HTTP.

uvicorn's own stop (SIGTERM, SIGINT) first closes its listener and finishes the open
requests (up to ``HTTP_STOP_SECONDS``), and only then does the app's shutdown begin the
IVR's stop. Meanwhile the SIP front end took new INVITEs (calls cut seconds later), the
callers up heard nothing, and Twilio's webhooks found no listener: Twilio played its own
English error (review70, judge29). Here the signal begins the drain at once
(``Background.drain``: new INVITEs 503 + Retry-After, the notices, the words filed within
``sip.stop_drain_seconds``, Twilio's calls told at their next webhook), the listener still
answering, and only when the drain is over is uvicorn asked to stop as before. The whole
stop stays within docker-compose.yml's stop_grace_period (its comment adds it up).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Generator
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.server import Server

from telephony.twilio.signature import in_use as twilio_in_use

log = logging.getLogger("hotline.serving")

# uvicorn's exit status for a server that never started (uvicorn.main.STARTUP_FAILURE).
STARTUP_FAILURE = 3


class DrainFirst(Server):
    """A uvicorn server whose first SIGTERM or SIGINT runs ``drain`` (on a thread: the
    event loop goes on serving meanwhile) and then stops as uvicorn does; the process
    still exits by the signal's default action afterwards, as with plain uvicorn.

    A second signal during the drain ends the process at once (``force``, exit status
    128 + the signal's number): the drain is abandoned, and what it had not filed is in the
    spool, filed by the next start's recovery as after a crash -- nothing lost. Before
    (mend74) it was uvicorn's graceful stop, which then waited for the drain behind the
    app's shutdown (12 s + 25 s). A signal after the drain (HTTP stopping) is uvicorn's
    own: its second one ends at once too."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], None], *,
                 force: Callable[[int], object] = os._exit,
                 at_signal: Callable[[], None] = lambda: None) -> None:
        super().__init__(config)
        self._drain = drain
        # Run in the signal handler itself, before the drain's thread exists: what must not
        # wait for that thread to be scheduled (no new call taken). Lock-free by contract.
        self._at_signal = at_signal
        self._force = force
        self.draining: threading.Thread | None = None
        # The signal that began the drain: raised again once the server is down
        # (``capture_signals``), so the process ends by it as with plain uvicorn.
        self.stop_signal: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's own (its handlers in, the ones before put back, then the signals it
        was handed raised again), and then the signal that began the drain, which never
        reached uvicorn's ``handle_exit``. Through the public hook: uvicorn's list of the
        signals it caught (``_captured_signals``) is private, and was appended to here
        before (loose31)."""
        with super().capture_signals():
            yield
        if self.stop_signal is not None:
            signal.raise_signal(self.stop_signal)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.draining is not None and not self.should_exit:
            log.warning("stopping: a second signal during the drain; exiting now, the calls "
                        "not yet filed are left to the spool (the next start files them)")
            for handler in logging.getLogger().handlers:  # os._exit flushes nothing
                with contextlib.suppress(Exception):
                    handler.flush()
            self._force(128 + sig)
            return
        if self.draining is not None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        self.stop_signal = sig  # raised again once the server is down (capture_signals)
        try:
            self._at_signal()
        except Exception:  # the drain below must start whatever this did
            log.exception("our stop: refusing new calls at the signal failed; the drain does")
        log.info("stopping: calls first (new ones refused, callers told), then HTTP")
        self.draining = threading.Thread(target=self._drain_then_exit, name="stop-drain",
                                         daemon=True)
        self.draining.start()

    def _drain_then_exit(self) -> None:
        try:
            self._drain()
        except Exception:  # the HTTP stop must come whatever the drain did
            log.exception("the stop's drain failed; stopping HTTP")
        finally:
            self.should_exit = True


def drain_app(app: FastAPI) -> None:
    """The stop's calls part for the app ``create_app`` made: its background's drain
    (``Background.drain``), with Twilio's calls told and waited for (``TwilioDialogue
    .drain``) where Twilio is used. Nothing before the app's start-up made its background:
    nothing of ours runs yet."""
    background = getattr(app.state, "background", None)
    if background is None:
        return
    if not twilio_in_use(app.state.settings):
        background.drain()
        return
    from ivr.twilio.views import dialogue_of

    dialogue = dialogue_of(app.state)
    dialogue.stopping.set()  # now: the drain's first steps (the backlog) take seconds
    background.drain(also=dialogue.drain)


def stop_taking_calls(app: FastAPI) -> None:
    """The stop's part that runs in the signal handler (``DrainFirst``'s ``at_signal``):
    the SIP front end takes no new INVITE from that instant."""
    background = getattr(app.state, "background", None)
    if background is not None:
        background.stop_taking_calls()


def serve_app(app: FastAPI, **bind: Any) -> None:
    """``uvicorn.run(app, **bind)`` with ``DrainFirst``'s stop."""
    server = DrainFirst(uvicorn.Config(app, **bind), lambda: drain_app(app),
                        at_signal=lambda: stop_taking_calls(app))
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
