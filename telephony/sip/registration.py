"""Registration with the upstream registrar (register mode): a small client that registers,
refreshes before the binding lapses and unregisters on the way out.

States (``RegistrationState``)::

    UNREGISTERED --start()--> REGISTERING --2xx--> REGISTERED --refresh 2xx--> REGISTERED
                                   |                    |  ^
                                   | no 2xx             |  | refresh 2xx
                                   v                    v  |
                       SipRegistrationError          RETRYING --refresh fails--> RETRYING
    any --stop()--> STOPPED

The first REGISTER must succeed (``start()`` raises otherwise: pyVoIP fault F5). A failed
refresh keeps the node listening, since calls in progress and INVITEs sent straight to it
still work, and is retried sooner than a routine refresh.

The client owns no socket and no thread of timers: it is given a request builder, an
``exchange`` that sends one request and waits for its final response, and a timer factory.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable

from telephony.sip.message import SipMessage
from telephony.sip.timers import Timer
from telephony.sip.transaction import Later

log = logging.getLogger("telephony.sip")

# (expires, challenge) -> REGISTER bytes; digest-answered when ``challenge`` is a 401/407.
BuildRegister = Callable[[int, SipMessage | None], bytes]
# (request, destination, timeout) -> its final response, or None when none came in time.
Exchange = Callable[[bytes, tuple[str, int], float], SipMessage | None]
# Runs a blocking job off the timer thread (a REGISTER can wait seconds for its answer).
Spawn = Callable[[Callable[[], None]], None]

# A failed refresh is retried after a quarter of the binding's life, at most this long.
MAX_RETRY_SECONDS = 30.0
# Unregistering on the way out: the process is stopping, a silent registrar must not hold it.
UNREGISTER_TIMEOUT = 1.0


class SipRegistrationError(RuntimeError):
    """The first REGISTER got no 2xx: start() fails loudly (pyVoIP fault F5)."""


class RegistrationState(enum.Enum):
    UNREGISTERED = "unregistered"  # not started
    REGISTERING = "registering"  # the first REGISTER is out
    REGISTERED = "registered"
    RETRYING = "retrying"  # a refresh failed: still listening, retried on a timer
    STOPPED = "stopped"


def _thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="sip-register", daemon=True).start()


class Registration:
    def __init__(self, *, registrar: tuple[str, int], username: str, can_authenticate: bool,
                 build: BuildRegister, exchange: Exchange, later: Later,
                 expires: int = 300, timeout: float = 4.0, spawn: Spawn = _thread) -> None:
        self.registrar = registrar
        self.username = username
        # Without a password a challenge cannot be answered: the 401 is the final word.
        self.can_authenticate = can_authenticate
        self.expires = expires
        self.timeout = timeout
        self.state = RegistrationState.UNREGISTERED
        self._build = build
        self._exchange = exchange
        self._later = later
        self._spawn = spawn
        self._timer: Timer | None = None

    def start(self) -> None:
        """Register, blocking up to ``timeout`` per REGISTER; raises SipRegistrationError."""
        self.state = RegistrationState.REGISTERING
        if not self.register(self.expires):
            raise SipRegistrationError(
                f"REGISTER to {self.registrar[0]}:{self.registrar[1]} as "
                f"{self.username!r} got no 2xx within {self.timeout} s"
            )
        self.state = RegistrationState.REGISTERED
        self._schedule_refresh(self.expires / 2)

    def stop(self) -> bool:
        """No more refreshes; True when the binding was good (``unregister`` then)."""
        was_registered = self.state is RegistrationState.REGISTERED
        self.state = RegistrationState.STOPPED
        if self._timer is not None:
            self._timer.cancel()
        return was_registered

    def unregister(self) -> bool:
        return self.register(0, timeout=UNREGISTER_TIMEOUT)

    def register(self, expires: int, timeout: float | None = None) -> bool:
        """One REGISTER (``expires`` 0: unregister), answered with digest credentials when
        challenged once; True on a 2xx."""
        timeout = self.timeout if timeout is None else timeout
        challenge: SipMessage | None = None
        for _ in range(2):  # plain, then digest-answered if challenged
            response = self._exchange(self._build(expires, challenge), self.registrar, timeout)
            if response is None:
                log.error("REGISTER to %s:%s: no answer", *self.registrar)
                return False
            if (response.status_code in (401, 407) and self.can_authenticate
                    and challenge is None):
                challenge = response
                continue
            ok = 200 <= response.status_code < 300
            if not ok:
                log.error("REGISTER to %s:%s refused: %s %s", *self.registrar,
                          response.status_code, response.reason)
            return ok
        return False

    def _schedule_refresh(self, delay: float) -> None:
        self._timer = self._later(delay, self._refresh)

    def _refresh(self) -> None:
        if self.state is RegistrationState.STOPPED:
            return
        # Never on the timer thread, which also retransmits for calls in progress.
        self._spawn(self._refresh_now)

    def _refresh_now(self) -> None:
        ok = self.register(self.expires)
        if self.state is RegistrationState.STOPPED:
            return
        if ok:
            self.state = RegistrationState.REGISTERED
            self._schedule_refresh(self.expires / 2)
        else:
            self.state = RegistrationState.RETRYING
            self._schedule_refresh(min(MAX_RETRY_SECONDS, self.expires / 4))


__all__ = ["Registration", "RegistrationState", "SipRegistrationError"]
