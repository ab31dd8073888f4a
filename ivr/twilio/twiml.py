"""The TwiML answers of the Twilio call flow, built from the shared prompt catalog.

Every URL in the answers is absolute, built from ``settings.twilio.public_base_url``: it is
the URL Twilio will request and sign, so a relative URL would break behind a path prefix
and the signature check with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from config.settings import Settings
from ivr import prompts
from ivr.kb_answer import Part
from ivr.ticket_lookup import StatusReport

LANGUAGE = "zh-CN"

# Sentences the catalog (ivr/prompts.py) does not have yet; candidates to move there.
UNKNOWN_CALL = "抱歉，系统没有找到您的通话信息，请您重新拨打12345。再见。"
SERVICE_ERROR = "抱歉，系统暂时出现故障，请您稍后重新拨打12345。再见。"


@dataclass(frozen=True)
class Urls:
    """Absolute webhook URLs under the public base URL."""

    base: str

    def __call__(self, path: str, **query: str | int) -> str:
        url = self.base.rstrip("/") + "/twilio/" + path
        return f"{url}?{urlencode(query)}" if query else url


def _say(node: VoiceResponse | object, sentence: str) -> None:
    # speakable(): "12345" is read digit by digit, not as a quantity.
    node.say(prompts.speakable(sentence), language=LANGUAGE)  # type: ignore[attr-defined]


def record_silence_seconds(settings: Settings) -> int:
    """The <Record>'s silence ``timeout``: Twilio takes whole seconds, at least one (also
    what a step of a call can last, ``call_flow.longest_step_seconds``)."""
    return max(1, round(settings.sip.end_silence_seconds))


def _record(r: VoiceResponse, settings: Settings, urls: Urls, *, attempt: int = 1) -> None:
    """The recording turn: ends on #, on silence, or at the maximum length."""
    sip = settings.sip
    r.record(
        action=urls("recorded"), method="POST",
        play_beep=True, finish_on_key="#",
        max_length=sip.max_record_seconds,
        timeout=record_silence_seconds(settings),
        # Fires when the file is really downloadable (the action may come first), and
        # also after a hang-up mid-recording.
        recording_status_callback=urls("recording-status"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    # Reached only when nothing was recorded (Twilio skips the action on an empty
    # recording and goes on to the next verb).
    r.redirect(urls("silence", attempt=attempt), method="POST")


def greeting(settings: Settings, urls: Urls) -> str:
    """Greeting with 0/1 open while it plays, then straight into the recording: no menu
    before the caller may speak (GB/T 33358)."""
    r = VoiceResponse()
    g = r.gather(input="dtmf", num_digits=1, timeout=1, action=urls("menu"), method="POST",
                 action_on_empty_result=False)
    _say(g, prompts.text("greeting"))
    _record(r, settings, urls)
    return r.to_xml()


def record_again(settings: Settings, urls: Urls, sentence: str | None = None, *,
                 attempt: int = 1) -> str:
    r = VoiceResponse()
    if sentence:
        _say(r, sentence)
    _record(r, settings, urls, attempt=attempt)
    return r.to_xml()


def readback(sentence: str, urls: Urls, *, again: bool = False) -> str:
    """What was understood, then 1 confirm / 2 re-record / 0 operator. No key at all
    counts as confirmed: the complaint is never dropped for want of a key press."""
    r = VoiceResponse()
    g = r.gather(input="dtmf", num_digits=1, timeout=5, action=urls("confirm"), method="POST")
    if sentence:
        _say(g, sentence)
    _say(g, prompts.text("confirm_again" if again else "confirm"))
    r.redirect(urls("confirm"), method="POST")
    return r.to_xml()


def ask_callback_number(urls: Urls, *, then: str, attempt: int = 1, preface: str = "") -> str:
    """A withheld number: the caller may key one in for the callback, ending with #; # alone
    (or nothing) declines. The action gets the digits, or none (the redirect)."""
    r = VoiceResponse()
    if preface:
        _say(r, preface)
    action = urls("callback-number", then=then, attempt=attempt)
    # No numDigits: the entry is read to its # (or the pause), however long, the SIP rule
    # (``Dialogue._keyed_digits``): cut at a count, the rest of a long entry was keyed into
    # nothing, and the caller's # never reached us (mend61).
    g = r.gather(input="dtmf", finish_on_key="#", timeout=6, action=action, method="POST")
    _say(g, prompts.text("ask_callback_number" if attempt == 1 else "callback_number_invalid"))
    r.redirect(action, method="POST")
    return r.to_xml()


def filed(number: str, deadline: str | None, *, preface: str = "",
          recording_kept: bool = True) -> str:
    """The ticket number, then ``deadline`` (``decisions.deadline_told``), or without one
    (the words wait for the backlog) that staff will act on the recording -- only when we
    hold it (``recording_kept``): a recording whose download failed is not "已保存"."""
    r = VoiceResponse()
    if preface:
        _say(r, preface)
    _say(r, prompts.text("ticket_number") + prompts.digits_text(number) + "。")
    pending = prompts.words_pending(recording_kept=recording_kept)
    _say(r, deadline if deadline is not None else prompts.text(pending))
    _say(r, prompts.text("goodbye"))
    r.hangup()
    return r.to_xml()


def say_and_hang_up(*sentences: str) -> str:
    r = VoiceResponse()
    for s in sentences:
        _say(r, s)
    r.hangup()
    return r.to_xml()


def unknown_call() -> str:
    return say_and_hang_up(UNKNOWN_CALL)


def service_error() -> str:
    return say_and_hang_up(SERVICE_ERROR)


def filed_later() -> str:
    return say_and_hang_up(prompts.text("filed_later"), prompts.text("goodbye"))


def callback_left(preface: str = "") -> str:
    return say_and_hang_up(*filter(None, [preface]), prompts.text("operator_unavailable"))


def dial_operator(uri: str, urls: Urls, ring_seconds: int) -> str:
    return _dial(uri, prompts.text("transfer"), urls("dialed"), ring_seconds)


def dial_emergency(service_number: str, uri: str, urls: Urls, ring_seconds: int) -> str:
    """三号联动: "正在为您转接119" and the call goes to the service's line (or the duty
    operator); no read-back, no key. The action learns it was this hand-over."""
    return _dial(uri, prompts.text(f"emergency_transfer_{service_number}"),
                 urls("dialed", emergency=service_number), ring_seconds)


def offer_emergency(service_number: str, urls: Urls, wait_seconds: float) -> str:
    """A hand-over only the intake model asked for: "您反映的情况可能需要110处理，马上为您
    转接。不需要转接请按2。"; the action gets the key, or none after ``wait_seconds`` (the
    redirect): the hand-over goes ahead by default."""
    r = VoiceResponse()
    action = urls("emergency")
    g = r.gather(input="dtmf", num_digits=1, timeout=max(1, round(wait_seconds)),
                 action=action, method="POST")
    _say(g, prompts.text(f"emergency_offer_{service_number}"))
    r.redirect(action, method="POST")
    return r.to_xml()


def _dial(uri: str, sentence: str, action: str, ring_seconds: int) -> str:
    r = VoiceResponse()
    _say(r, sentence)
    d = r.dial(action=action, method="POST", timeout=ring_seconds)
    if uri.startswith(("sip:", "sips:")):
        d.sip(uri)
    else:  # a plain phone number: Twilio dials it on the PSTN
        d.number(uri)
    return r.to_xml()


def emergency_failed(service_number: str) -> str:
    """Nobody to put the caller through to: they must dial the service themselves."""
    return say_and_hang_up(prompts.text(f"emergency_failed_{service_number}"))


def kb_answer(part: Part, settings: Settings, urls: Urls) -> str:
    """A part of a knowledge entry's answer as the telephone reads it
    (``ivr.kb_answer.answer_reading``, the SIP line's rule): its intro (the entry's title
    first, or the detail the caller asked), the answer's words, then its menu:
    "问题解决了请按1，需要转办请按2" after the last part, "继续收听请按3…" (or, after the
    detail read first, "听其他内容请按3…") before another, where no key reads the next
    part. No key after the last goes on as 2 does (the redirect): the caller's words are
    never dropped for want of a key."""
    r = VoiceResponse()
    g = r.gather(input="dtmf", num_digits=1, timeout=key_seconds(settings),
                 action=urls("answer"), method="POST")
    if part.intro:
        _say(g, part.intro)
    _say(g, part.words)
    _say(g, prompts.text(part.menu))
    r.redirect(urls("answer"), method="POST")
    return r.to_xml()


def kb_answered() -> str:
    return say_and_hang_up(prompts.text("kb_answered"), prompts.text("goodbye"))


def preferences(settings: Settings, urls: Urls) -> str:
    """After the confirm key: 1 保密, 2 不要回访 (either, both or none), # or silence files
    the ticket. The keys come in one action (the gather ends on # or a pause)."""
    r = VoiceResponse()
    g = r.gather(input="dtmf", finish_on_key="#", timeout=key_seconds(settings),
                 action=urls("preferences"), method="POST")
    _say(g, prompts.text("preferences"))
    r.redirect(urls("preferences"), method="POST")
    return r.to_xml()


def key_seconds(settings: Settings) -> int:
    # The SIP dialogue's wait for a key; Twilio takes whole seconds.
    return max(1, round(settings.sip.confirm_timeout_seconds))


def status_report(report: StatusReport | None, settings: Settings, urls: Urls) -> str:
    """The caller's open tickets, and the answers of those closed lately, as
    ivr.ticket_lookup allows them to be told (None: lookup failed), then the recording turn
    for a new complaint."""
    r = VoiceResponse()
    if report is None:
        _say(r, prompts.text("status_unavailable"))
    elif report.no_number:
        _say(r, prompts.text("status_no_number"))
    elif report.tickets:
        _say(r, prompts.text("status_intro"))
        _say(r, prompts.status_count_text(report.open_count))
        for t in report.tickets:
            _say(r, prompts.status_item_text(t.tail, t.label))
    else:
        _say(r, prompts.text("status_none"))
    if report is not None and report.closed:
        _say(r, prompts.text("status_closed_intro"))
        for t in report.closed:
            _say(r, prompts.status_closed_text(t.tail, t.answer))
    for t in report.set_aside if report is not None else []:
        _say(r, prompts.status_set_aside_text(t.tail, t.answer))
    _say(r, prompts.text("status_done"))
    _record(r, settings, urls)
    return r.to_xml()


def ask_ticket_number(urls: Urls) -> str:
    """Key 1 from a number nobody vouched for (``ivr.caller_trust``): the caller keys a
    ticket number, ending with #; the action gets the digits, or none (the redirect)."""
    r = VoiceResponse()
    action = urls("ticket-number")
    g = r.gather(input="dtmf", finish_on_key="#", timeout=6, action=action, method="POST")
    _say(g, prompts.text("status_ask_ticket"))
    r.redirect(action, method="POST")
    return r.to_xml()


def status_keyed(sentence: str, settings: Settings, urls: Urls) -> str:
    """What the keyed ticket number gave (its step, not found, or no more tries), then
    the recording turn for a new complaint."""
    r = VoiceResponse()
    _say(r, sentence)
    _say(r, prompts.text("status_done"))
    _record(r, settings, urls)
    return r.to_xml()


def empty() -> str:
    """For callbacks whose answer Twilio ignores (status, recording status)."""
    return VoiceResponse().to_xml()


def hang_up() -> str:
    r = VoiceResponse()
    r.hangup()
    return r.to_xml()
