"""SMS providers behind one interface: ``send(to=..., text=..., ref=...) -> SmsResult``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx

from config.settings import Settings
from outbound.twilio_rest import create_once, twilio_client

log = logging.getLogger("outbound.sms")


@dataclass
class SmsResult:
    ok: bool
    ref: str | None = None
    detail: str = ""
    # Neither sent nor refused: the provider may have it (a create unanswered in time that
    # a lookup did not find). Settled as Outcome.UNKNOWN, never sent again.
    unknown: bool = False


class SmsSender(Protocol):
    name: str

    def send(self, *, to: str, text: str, ref: str) -> SmsResult: ...


class LogSms:
    """The embedded default: writes the message to the log and sends nothing."""

    name = "log"

    def __init__(self) -> None:
        log.warning("SMS provider is 'log': NO SMS WILL BE SENT. Set outbound.sms_provider "
                    "to 'webhook' or 'twilio' to reach handlers and citizens.")

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        # The text names the complaint (a place, an answer) and carries the citizen's status
        # link: no log line's, like every citizen's words (docs/security.md). What would
        # have been sent is the attempt's detail, which the ticket's trail says
        # (outbound.worker._audit), where the ticket's own words already are (mend91).
        log.warning("SMS NOT SENT (log provider) to %s [%s], %d characters; its text is "
                    "on the ticket's trail", to, ref, len(text))
        return SmsResult(ok=True, ref=f"log:{ref}", detail=text)


class WebhookSms:
    """POSTs {"id", "to", "text"} as JSON; ``id`` lets the gateway drop a repeat."""

    name = "webhook"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url:
            raise ValueError("outbound.sms_webhook_url is empty")
        self.url = url
        self.client = httpx.Client(timeout=timeout)

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        try:
            r = self.client.post(self.url, json={"id": ref, "to": to, "text": text})
        except httpx.HTTPError as exc:
            return SmsResult(ok=False, detail=f"webhook: {exc}"[:500])
        if r.status_code >= 300:
            return SmsResult(ok=False, detail=f"webhook HTTP {r.status_code}: {r.text[:200]}")
        return SmsResult(ok=True, ref=ref, detail=f"HTTP {r.status_code}")


class TwilioSms:
    name = "twilio"

    def __init__(self, settings: Settings, client=None) -> None:  # type: ignore[no-untyped-def]
        self.client = client or twilio_client(settings)
        self.from_number = settings.twilio.from_number

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        created = create_once(
            lambda: self.client.messages.create(to=to, from_=self.from_number, body=text),
            lambda: self.client.messages.list(
            to=to, from_=self.from_number, limit=20), body=text, resend_unlisted=True)
        if created.refused:
            return SmsResult(ok=False, detail=f"twilio: {created.error}"[:500])
        if created.sid is None:
            # Sent, unanswered, not listed: Twilio may have it. Failed and retried, the
            # citizen got it twice (review56); Twilio's SMS API takes no id to drop a repeat by.
            log.warning("SMS to %s [%s]: Twilio did not answer and lists no such "
                        "message; not sent again", to, ref)
            return SmsResult(ok=False, unknown=True, detail=(
                f"twilio: create unanswered ({created.error}); no such message listed, "
                "not sent again")[:500])
        if created.resent:
            return SmsResult(ok=True, ref=created.sid, detail=(
                f"twilio: create failed ({created.error}), listed nowhere, sent again once")[:500])
        if created.looked_up:
            return SmsResult(ok=True, ref=created.sid,
                             detail="twilio: create unanswered, found in its message list")
        return SmsResult(ok=True, ref=created.sid, detail=str(created.made.status))


def make_sms(settings: Settings) -> SmsSender:
    provider = settings.outbound.sms_provider
    if provider == "log":
        return LogSms()
    if provider == "webhook":
        return WebhookSms(settings.outbound.sms_webhook_url)
    if provider == "twilio":
        return TwilioSms(settings)
    raise ValueError(f"unknown outbound.sms_provider {provider!r} (log | webhook | twilio)")
