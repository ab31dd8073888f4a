"""The order of `hotline serve`'s stop, socket-free (loose30): the signal begins the calls'
drain at once, HTTP stops only after it (``hotline.serving``); the real process, SIPp and
Twilio's webhooks: tests/twilio/test_serve_stop.py."""

from __future__ import annotations

import signal
import threading
from types import SimpleNamespace
from typing import Any

import uvicorn
from fastapi import FastAPI

from config import Settings
from hotline import serving
from hotline.serving import DrainFirst, drain_app
from hotline.wiring import Background


def _server(drain: Any) -> DrainFirst:
    return DrainFirst(uvicorn.Config(FastAPI()), drain)


def test_the_signal_drains_first_and_http_stops_after() -> None:
    """uvicorn's SIGTERM closed the listener at once, and the IVR's stop waited behind the
    open requests. Now the first signal starts the drain and the listener stays up
    (``should_exit`` unset) until it is over."""
    began, release = threading.Event(), threading.Event()

    def drain() -> None:
        began.set()
        release.wait(10)

    server = _server(drain)
    server.handle_exit(signal.SIGTERM, None)
    assert began.wait(10)
    assert not server.should_exit  # still serving: the API, Twilio's webhooks
    release.set()
    assert server.draining is not None
    server.draining.join(10)
    assert server.should_exit
    assert server.stop_signal == signal.SIGTERM  # the process still ends by it


def test_the_signal_that_began_the_drain_is_raised_again_once_the_server_is_down() -> None:
    """Through uvicorn's public ``capture_signals`` (loose31: before, uvicorn's private
    ``_captured_signals`` was appended to): its handlers in while serving, the ones before
    put back, then the drain's signal raised, so the process ends by it as with plain
    uvicorn (SIGTERM's default action: exit 143)."""
    raised: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda sig, _frame: raised.append(sig))
    try:
        server = _server(lambda: None)
        with server.capture_signals():
            assert signal.getsignal(signal.SIGTERM) == server.handle_exit
            signal.raise_signal(signal.SIGTERM)  # as `docker stop` sends it
            assert server.draining is not None
            server.draining.join(10)
            assert server.should_exit and not raised  # uvicorn's handler took it
        assert raised == [signal.SIGTERM]  # once, after the handler before was put back
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_second_signal_during_the_drain_ends_at_once_and_a_failed_drain_stops_http(
        ) -> None:
    """mend74: the second Ctrl-C was uvicorn's graceful stop, which then waited for the
    drain behind the app's shutdown (12 s + 25 s); now it ends the process at once."""
    release = threading.Event()
    forced: list[int] = []
    server = DrainFirst(uvicorn.Config(FastAPI()), lambda: release.wait(10),
                        force=forced.append)
    server.handle_exit(signal.SIGINT, None)
    assert not forced
    server.handle_exit(signal.SIGINT, None)  # a second Ctrl-C: the process ends now
    assert forced == [128 + signal.SIGINT]
    release.set()
    assert server.draining is not None
    server.draining.join(10)
    server.handle_exit(signal.SIGINT, None)  # after the drain: uvicorn's own (force_exit)
    assert server.force_exit and forced == [128 + signal.SIGINT]

    def broken() -> None:
        raise RuntimeError("the database is gone")

    server = _server(broken)
    server.handle_exit(signal.SIGTERM, None)
    assert server.draining is not None
    server.draining.join(10)
    assert server.should_exit


class _Recorded:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def drain(self, *, also: Any = None) -> None:
        self.events.append("background drain")
        if also is not None:
            also(0.0)


def test_twilio_callers_are_told_from_the_signal_on(monkeypatch: Any) -> None:
    """Twilio's webhooks answer with the stop's notice from the signal on, before the
    drain's first slow step (the backlog's wait), and the drain waits for its calls."""
    events: list[str] = []
    dialogue = SimpleNamespace(stopping=threading.Event(),
                               drain=lambda _deadline: events.append("twilio drain"))
    app = FastAPI()
    app.state.settings = Settings(twilio={"account_sid": "AC" + "0" * 32, "auth_token": "t"})
    app.state.background = _Recorded(events)

    def dialogue_of(state: Any) -> Any:
        events.append(f"told: {not dialogue.stopping.is_set()}")
        return dialogue

    monkeypatch.setattr("ivr.twilio.views.dialogue_of", dialogue_of)
    drain_app(app)
    assert dialogue.stopping.is_set()
    assert events == ["told: True", "background drain", "twilio drain"]
    # An app that has not started (no background yet) has nothing to drain.
    drain_app(FastAPI())
    assert serving.STARTUP_FAILURE == 3


def test_the_drain_runs_once_and_the_engine_closes_after_it(settings: Settings) -> None:
    """The signal's drain and the app's shutdown both stop the background: the second
    does nothing but close the speech engine, after the drain."""
    events: list[str] = []
    ivr = SimpleNamespace(refuse_and_tell=lambda: events.append("refuse") or 0.0,
                          hang_up=lambda _deadline: events.append("hang up"))
    engine = SimpleNamespace(close=lambda: events.append("engine closed"))
    background = Background(settings=settings, sessions=None, domain=None,  # type: ignore[arg-type]
                            engine=engine, ivr=ivr)  # type: ignore[arg-type]
    background.drain(also=lambda _deadline: events.append("twilio"))
    assert events == ["refuse", "twilio", "hang up"]
    background.stop()
    assert events == ["refuse", "twilio", "hang up", "engine closed"]


def test_a_step_that_raises_leaves_the_drains_others_to_run(settings: Settings) -> None:
    """mend74 (review75): the Twilio side raising (a journal settled while the drain read
    the spool) left ``also``, the front end was never hung up, and the drain was marked
    done, so the stop after it closed the engine under a live SIP front end."""
    events: list[str] = []

    def twilio(_deadline: float) -> None:
        events.append("twilio")
        raise FileNotFoundError("CA0.json")

    ivr = SimpleNamespace(refuse_and_tell=lambda: events.append("refuse") or 0.0,
                          hang_up=lambda _deadline: events.append("hang up"))
    engine = SimpleNamespace(close=lambda: events.append("engine closed"))
    background = Background(settings=settings, sessions=None, domain=None,  # type: ignore[arg-type]
                            engine=engine, ivr=ivr)  # type: ignore[arg-type]
    background.drain(also=twilio)
    assert events == ["refuse", "twilio", "hang up"]
    background.stop()
    assert events == ["refuse", "twilio", "hang up", "engine closed"]


def test_an_ivr_start_once_the_stop_began_starts_nothing(settings: Settings,
                                                         monkeypatch: Any) -> None:
    """mend74 (review75): a start still retrying when the drain ran outlived it: a front
    end answering calls after the stop, under a closed engine."""
    started: list[str] = []
    monkeypatch.setattr(settings.sip, "enabled", True)
    background = Background(settings=settings, sessions=None, domain=None,  # type: ignore[arg-type]
                            engine=None)

    def start_during_the_drain(*_a: Any, **_k: Any) -> Any:
        started.append("started")
        background.drain()  # the signal came while the front end was starting
        return SimpleNamespace(stop=lambda: started.append("stopped"))

    monkeypatch.setattr("hotline.wiring.start_ivr", start_during_the_drain)
    background.start_ivr()
    assert started == ["started", "stopped"] and background.ivr is None
    background.start_ivr()  # the stop began: not even tried
    assert started == ["started", "stopped"]


def test_new_calls_are_refused_in_the_signal_handler_before_the_drain_thread_runs(
        settings: Settings) -> None:
    """A clean-clone CI run (thirty-fifth round) saw an INVITE sent 100 ms after SIGTERM
    answered 200: the refusal was the drain thread's first step, and under load that thread
    ran later. Now the handler itself stops the front end taking calls (lock-free), before
    the drain's thread exists; one that raises still leaves the drain to start."""
    events: list[str] = []
    release = threading.Event()

    def drain() -> None:
        events.append("drain thread")
        release.wait(10)

    frontend = SimpleNamespace(stop_taking=lambda: events.append("no new calls"))
    background = Background(settings=settings, sessions=None, domain=None,  # type: ignore[arg-type]
                            engine=None, ivr=SimpleNamespace(frontend=frontend))  # type: ignore[arg-type]
    app = FastAPI()
    app.state.background = background
    server = DrainFirst(uvicorn.Config(FastAPI()), drain,
                        at_signal=lambda: serving.stop_taking_calls(app))
    server.handle_exit(signal.SIGTERM, None)
    assert events[0] == "no new calls"  # done before handle_exit returned
    release.set()
    assert server.draining is not None
    server.draining.join(10)
    assert events == ["no new calls", "drain thread"]
    serving.stop_taking_calls(FastAPI())  # an app not started yet: nothing to stop

    def broken() -> None:
        raise RuntimeError("front end gone")

    server = DrainFirst(uvicorn.Config(FastAPI()), lambda: events.append("drained"),
                        at_signal=broken)
    server.handle_exit(signal.SIGTERM, None)
    assert server.draining is not None
    server.draining.join(10)
    assert events[-1] == "drained" and server.should_exit
