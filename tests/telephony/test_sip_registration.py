"""The registration client's states, socket-free: real REGISTER requests (the transport's
builder, never started), a registrar stand-in that checks the digest answer the way a
registrar does, and timers fired by hand. The same client against Kamailio is in
tests/telephony/test_sip_inbound.py (register mode)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from config.settings import Settings
from telephony.sip.message import SipMessage, build_response
from telephony.sip.registration import (
    MAX_RETRY_SECONDS,
    UNREGISTER_TIMEOUT,
    Registration,
    RegistrationState,
    SipRegistrationError,
)
from telephony.sip.timers import Timer
from telephony.sip.transport import SipTransport

REGISTRAR = ("192.0.2.10", 5060)
REALM = "hotline.test"
NONCE = "5f1c0a7e"


class ManualTimers:
    """A timer factory whose timers fire when the test says so."""

    def __init__(self) -> None:
        self.pending: list[Timer] = []

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(delay, fn, args)  # ``when`` holds the delay: nothing runs by clock
        self.pending.append(timer)
        return timer

    def fire_next(self) -> float:
        timer = self.pending.pop(0)
        if not timer.cancelled:
            timer.fn(*timer.args)
        return timer.when


class Registrar:
    """Answers REGISTERs: 401 with a digest challenge to one without credentials, 200 to
    one whose digest matches ``password``; ``answer`` overrides (None: silence)."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.requests: list[tuple[SipMessage, float]] = []
        self.answer: int | str | None = "digest"
        self.meanwhile: Callable[[], None] | None = None  # runs while a REGISTER is out

    def exchange(self, data: bytes, dest: tuple[str, int], timeout: float) -> SipMessage | None:
        assert dest == REGISTRAR
        request = SipMessage(data)
        self.requests.append((request, timeout))
        if self.meanwhile is not None:
            self.meanwhile()
        if self.answer is None:
            return None
        if isinstance(self.answer, int):
            return SipMessage(build_response(request, self.answer, to_tag="r1"))
        auth = request.first("Authorization")
        if not auth:
            return SipMessage(build_response(request, 401, extra=[
                ("WWW-Authenticate", f'Digest realm="{REALM}", nonce="{NONCE}", algorithm=MD5')]))
        return SipMessage(build_response(request, 200 if self._valid(auth) else 403, to_tag="r1"))

    def _valid(self, auth: str) -> bool:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        ha1 = hashlib.md5(f"{self.username}:{REALM}:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"REGISTER:{fields['uri']}".encode()).hexdigest()
        expected = hashlib.md5(f"{ha1}:{NONCE}:{ha2}".encode()).hexdigest()
        return fields.get("username") == self.username and fields.get("response") == expected


def make_registration(password: str = "s3cret", registrar_password: str | None = None,
                      ) -> tuple[Registration, Registrar, ManualTimers]:
    sip = Settings().sip
    transport = SipTransport(registrar=REGISTRAR, username=sip.username, password=password,
                             bind=("127.0.0.1", 15060), on_message=lambda _m: None)
    registrar = Registrar(sip.username,
                          password if registrar_password is None else registrar_password)
    timers = ManualTimers()
    registration = Registration(
        registrar=REGISTRAR, username=sip.username, can_authenticate=bool(password),
        build=lambda expires, challenge: transport.register_request(
            expires=expires, challenge=challenge),
        exchange=registrar.exchange, later=timers.later,
        expires=sip.register_expires, spawn=lambda job: job())
    return registration, registrar, timers


def test_first_register_answers_the_digest_challenge_and_schedules_a_refresh() -> None:
    registration, registrar, timers = make_registration()
    assert registration.state is RegistrationState.UNREGISTERED
    registration.start()
    assert registration.state is RegistrationState.REGISTERED
    first, second = (r for r, _ in registrar.requests)
    assert not first.first("Authorization") and second.first("Authorization")
    assert first.call_id == second.call_id
    assert [t.when for t in timers.pending] == [registration.expires / 2]


def test_wrong_password_fails_after_one_answered_challenge() -> None:
    registration, registrar, _timers = make_registration(registrar_password="other")
    with pytest.raises(SipRegistrationError, match="got no 2xx"):
        registration.start()
    assert len(registrar.requests) == 2  # no loop of challenges
    assert registration.state is RegistrationState.REGISTERING


def test_a_challenge_without_a_password_is_the_final_word() -> None:
    registration, registrar, timers = make_registration(password="")
    with pytest.raises(SipRegistrationError):
        registration.start()
    assert len(registrar.requests) == 1 and not timers.pending


@pytest.mark.parametrize("answer", [403, 503, None])
def test_a_refusal_or_silence_fails_the_start(answer: int | None) -> None:
    registration, registrar, timers = make_registration()
    registrar.answer = answer
    with pytest.raises(SipRegistrationError):
        registration.start()
    assert len(registrar.requests) == 1 and not timers.pending
    assert registrar.requests[0][1] == registration.timeout


def test_a_failed_refresh_keeps_retrying_sooner_until_it_succeeds() -> None:
    registration, registrar, timers = make_registration()
    registration.start()
    registrar.answer = 503
    assert timers.fire_next() == registration.expires / 2
    assert registration.state is RegistrationState.RETRYING
    retry = min(MAX_RETRY_SECONDS, registration.expires / 4)
    assert [t.when for t in timers.pending] == [retry]
    registrar.answer = None  # the registrar is gone altogether
    timers.fire_next()
    assert registration.state is RegistrationState.RETRYING
    assert [t.when for t in timers.pending] == [retry]
    registrar.answer = "digest"  # back
    timers.fire_next()
    assert registration.state is RegistrationState.REGISTERED
    assert [t.when for t in timers.pending] == [registration.expires / 2]


def test_stop_cancels_the_refresh_and_unregisters_a_good_binding() -> None:
    registration, registrar, timers = make_registration()
    registration.start()
    sent = len(registrar.requests)
    assert registration.stop() is True
    assert registration.state is RegistrationState.STOPPED
    timers.fire_next()  # the refresh that was due: cancelled
    assert len(registrar.requests) == sent
    assert registration.unregister()
    request, timeout = registrar.requests[-1]
    assert request.first("Expires") == "0" and timeout == UNREGISTER_TIMEOUT


def test_stop_of_a_failing_registration_has_nothing_to_unregister() -> None:
    registration, registrar, timers = make_registration()
    registration.start()
    registrar.answer = 503
    timers.fire_next()
    assert registration.stop() is False


def test_a_refresh_that_returns_after_stop_changes_nothing() -> None:
    registration, registrar, timers = make_registration()
    registration.start()
    registrar.meanwhile = registration.stop  # the front end stops while the REGISTER is out
    timers.fire_next()
    assert registration.state is RegistrationState.STOPPED and not timers.pending
