"""Twilio voice webhooks: the HTTP side of the Twilio carrier.

Each webhook is checked in this order, and nothing is touched before the checks pass:
1. ``telephony.twilio.signature`` (X-Twilio-Signature over the public URL and the form;
   no auth token refuses everything) -> 403 otherwise;
2. the form fields the step needs -> 400 naming the first missing or malformed field.
The call flow itself (database, download, Vosk) is blocking work and runs in a worker
thread, one thread per request, so the event loop keeps serving other calls.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter
from starlette.datastructures import State

from config.settings import Settings
from ivr.prompts import EMERGENCY_SERVICES_SPOKEN
from ivr.twilio import twiml
from ivr.twilio.call_flow import RecordingNotFetched, TwilioDialogue
from ivr.twilio.fetch import SID_RE
from telephony.sip.uri import dialled_number
from telephony.twilio import signature
from ticketing.phones import mask

log = logging.getLogger("hotline.ivr.twilio")

# New Twilio calls this node turned away (a fixed set of reasons, never from the request):
# "stopping", our stop had begun (``_handle``'s 503). Before (mend74) they left no trace.
CALLS_REFUSED = Counter("hotline_twilio_calls_refused",
                        "New Twilio calls answered with HTTP 503, by reason",
                        labelnames=["reason"])

router = APIRouter(prefix="/twilio", tags=["twilio"])

_SID_FIELDS = ("CallSid", "RecordingSid")
# A webhook answers within this long of its arrival, whatever its step still waits for:
# Twilio stops waiting at 15 s (TCP connect included) and plays its own English error
# (or requests the number's fallback URL), our late answer thrown away. A step held up
# by SQLite's write lock (its busy wait is 30 s; filing the ticket and settling the call
# waited 60 s in all) goes on in its thread and is answered for (``TwilioDialogue.late``).
ANSWER_WITHIN_SECONDS = 12.0
_dialogue_guard = threading.Lock()


class _Rejected(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _dialogue(request: Request) -> TwilioDialogue:
    return dialogue_of(request.app.state)


def resume_bridges(state: State) -> None:
    """Where the app starts (its lifespan): a spool holding Twilio calls bridged by an
    earlier process gets the bridges' watcher now, not at the next new bridge (review53).
    An install that talks to no Twilio makes no dialogue for it."""
    if signature.in_use(state.settings):
        dialogue = dialogue_of(state)
        dialogue.resume_bridges()
        dialogue.reconcile_later()  # the calls an earlier process left: Twilio's word


def dialogue_of(state: State) -> TwilioDialogue:
    """The app's one TwilioDialogue (and so one bridges' watcher a process)."""
    with _dialogue_guard:  # one per app: its per-call locks must be shared by all requests
        dialogue = getattr(state, "twilio_dialogue", None)
        if dialogue is None:
            dialogue = TwilioDialogue(
                settings=state.settings, sessions=state.sessions,
                read_sessions=state.read_sessions, domain=state.domain,
                # Read per use: the engine may be loaded (or swapped) after start-up.
                engine=lambda: getattr(state, "asr_engine", None),
            )
            state.twilio_dialogue = dialogue
    return dialogue


async def _checked_form(request: Request, required: tuple[str, ...]) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    values, refused = await signature.read_signed_form(request, settings.twilio)
    if refused:
        log.warning("twilio webhook %s refused: %s", request.url.path, refused)
        raise _Rejected(JSONResponse({"error": "forbidden", "detail": refused}, 403))
    for name in required:
        if not values.get(name, "").strip():
            raise _Rejected(JSONResponse(
                {"error": "invalid_input", "detail": f"form field {name} is required",
                 "field": name}, 400))
    for name in _SID_FIELDS:
        if name in values and not SID_RE.match(values[name]):
            raise _Rejected(JSONResponse(
                {"error": "invalid_input", "detail": f"form field {name} is not a Twilio SID",
                 "field": name}, 400))
    return values


async def _handle(request: Request, required: tuple[str, ...],
                  step: Callable[[TwilioDialogue, dict[str, str], float], str], *,
                  at_stop: bool = True, new_call: bool = False) -> Response:
    """``at_stop``: once our stop began the step is the stop's notice instead
    (``TwilioDialogue.stop_notice``); False for the steps that carry what the caller said
    or how the call ended (a recording, a dial's end, the status), which go on as usual
    (the recording's then ends with the notice)."""
    started = time.monotonic()  # the 15 s Twilio allows run from here
    try:
        form = await _checked_form(request, required)
    except _Rejected as rejected:
        return rejected.response
    dialogue = _dialogue(request)
    if call_sid := form.get("CallSid"):
        dialogue.heard(call_sid)  # a sign of life, read by the stop's drain
    if at_stop and dialogue.stopping.is_set():
        if new_call and dialogue.calls.find(form["CallSid"]) is None:
            return _refused_at_stop(form)
        step = _stop_notice
    try:
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(dialogue.executor, step, dialogue, form, started)
        # Waited in turns, the time left read each turn by the clock the budget is kept
        # in (``time.monotonic``; the tests' is CPU time, so a loaded test machine does
        # not make every slow webhook late).
        while not running.done() and (
                left := started + ANSWER_WITHIN_SECONDS - time.monotonic()) > 0:
            await asyncio.wait({running}, timeout=left)
        if running.done():
            xml = running.result()
        else:
            running.add_done_callback(_log_late_failure)
            log.warning("twilio webhook %s for call %s still running after %.1f s: "
                        "answered before Twilio gives up", request.url.path,
                        form.get("CallSid"), time.monotonic() - started)
            xml = await loop.run_in_executor(None, dialogue.late, form.get("CallSid", ""))
    except RecordingNotFetched as exc:
        # A recording status callback (no TwiML the caller hears): its download failed
        # and its URL is kept; the error is what a retry policy can send again (mend89).
        log.warning("twilio webhook %s answered 503: %s", request.url.path, exc)
        return Response(twiml.empty(), status_code=503, media_type="application/xml")
    except Exception:
        # A 500 makes Twilio play its own English error message to the caller; an
        # apology in Mandarin is better, and the spool still holds the call.
        log.exception("twilio webhook %s failed for call %s", request.url.path,
                      form.get("CallSid"))
        xml = twiml.service_error()
    return Response(xml, media_type="application/xml")


def _refused_at_stop(form: dict[str, str]) -> Response:
    """A new call once our stop began: HTTP 503, so that Twilio requests the number's
    Fallback URL (another node, docs/twilio.md "Our stop and Twilio's callers"); with none
    set Twilio plays its own error message. Logged and counted, the number masked. Before
    (mend74) it heard our "服务即将暂停" and hung up: no trace here, and a Fallback URL
    pointed at another node was never used."""
    CALLS_REFUSED.labels(reason="stopping").inc()
    log.warning("twilio call %s from %s refused: our stop has begun (HTTP 503, Twilio "
                "turns to the number's Fallback URL)", form["CallSid"], mask(form["From"]))
    return Response(twiml.empty(), status_code=503, media_type="application/xml",
                    headers={"Retry-After": "30"})


def _stop_notice(dialogue: TwilioDialogue, form: dict[str, str], _started: float) -> str:
    return dialogue.stop_notice(form["CallSid"])


def _log_late_failure(running: asyncio.Future[str]) -> None:
    if not running.cancelled() and (exc := running.exception()) is not None:
        log.error("twilio webhook step answered late failed: %r", exc)


def _attempt(request: Request) -> int:
    raw = request.query_params.get("attempt", "1")
    # str.isdigit() is true for "²" and other Unicode digits int() refuses; only our own
    # URLs carry this, so anything but a short ASCII number is the first attempt.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else 1


@router.post("/voice")
async def voice(request: Request) -> Response:
    """An incoming call: greeting (0 operator, 1 status) and the recording turn. Its
    StirVerstat (Twilio's STIR/SHAKEN verdict on From) says whether key 1 may read what
    that number filed (``ivr.caller_trust``); SipSourceIp (a call that reached Twilio over
    SIP) is where it came from, counted for keyed ticket numbers."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.incoming(f["CallSid"], f["From"],
                                                    f.get("StirVerstat", ""),
                                                    f.get("SipSourceIp", ""),
                                                    callee=dialled_number(f.get("To", ""))),
                         new_call=True)


@router.post("/menu")
async def menu(request: Request) -> Response:
    """A key pressed during the greeting."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.menu(f["CallSid"], f.get("Digits", "")))


@router.post("/ticket-number")
async def ticket_number(request: Request) -> Response:
    """The ticket number keyed at key 1 by a caller whose number nobody vouched for."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.keyed_ticket(f["CallSid"], f.get("Digits", "")))


@router.post("/recorded")
async def recorded(request: Request) -> Response:
    """The <Record> action: fetch and transcribe the recording, read back or file."""
    return await _handle(
        request, ("CallSid", "From", "RecordingSid", "RecordingUrl"),
        lambda d, f, t: d.recorded(f["CallSid"], f["RecordingSid"], f["RecordingUrl"], t),
        at_stop=False)


@router.post("/recording-status")
async def recording_status(request: Request) -> Response:
    """recordingStatusCallback (carries no From): the recording file is ready."""
    return await _handle(
        request, ("CallSid", "RecordingSid", "RecordingUrl", "RecordingStatus"),
        lambda d, f, t: d.recording_ready(f["CallSid"], f["RecordingSid"], f["RecordingUrl"],
                                          f["RecordingStatus"], t),
        at_stop=False)


@router.post("/confirm")
async def confirm(request: Request) -> Response:
    """1 confirm (or no key), 2 re-record, 0 operator, after the read-back."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.confirm(f["CallSid"], f.get("Digits", "")))


@router.post("/answer")
async def answer(request: Request) -> Response:
    """1 resolved (直接答复), 2 or no key on to the read-back, 0 operator, after a
    knowledge entry's answer."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.answer(f["CallSid"], f.get("Digits", "")))


@router.post("/preferences")
async def preferences(request: Request) -> Response:
    """1 保密, 2 不要回访 (# or nothing: as they are), after the confirm key."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.preferences(f["CallSid"], f.get("Digits", "")))


@router.post("/callback-number")
async def callback_number(request: Request) -> Response:
    """The digits a caller with a withheld number keyed in for the callback (or none)."""
    then = "callback" if request.query_params.get("then") == "callback" else "file"
    attempt = _attempt(request)
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.callback_number(f["CallSid"], f.get("Digits", ""),
                                                           then, attempt))


@router.post("/dialed")
async def dialed(request: Request) -> Response:
    """The <Dial> action after the transfer to the operator or an emergency hand-over."""
    # Only our own (signed) URLs carry it; anything but a service number is no hand-over.
    raw = request.query_params.get("emergency")
    emergency = raw if raw in EMERGENCY_SERVICES_SPOKEN else None
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.dialed(f["CallSid"], f.get("DialCallStatus", ""),
                                                  emergency, f.get("CallStatus", "")),
                         at_stop=False)


@router.post("/emergency")
async def emergency(request: Request) -> Response:
    """The key (or none) after a hand-over only the model asked for was announced (the
    service is the call's journal's, ``handover_asked``). At our stop too: the answer
    still puts the caller through (Twilio runs the <Dial>), or, declined, files the call
    with the stop's notice (``TwilioDialogue.emergency``)."""
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.emergency(f["CallSid"], f.get("Digits", "")),
                         at_stop=False)


@router.post("/silence")
async def silence(request: Request) -> Response:
    """Reached after a <Record> that recorded nothing."""
    attempt = _attempt(request)
    return await _handle(request, ("CallSid", "From"),
                         lambda d, f, _: d.silence(f["CallSid"], attempt))


@router.post("/status")
async def status(request: Request) -> Response:
    """The call status callback (configure it on the number): how the call ended."""
    return await _handle(request, ("CallSid", "From", "CallStatus"),
                         lambda d, f, t: d.status(f["CallSid"], f["CallStatus"], t),
                         at_stop=False)

