"""The one X-Twilio-Signature check, for every Twilio webhook we serve.

Inbound (``ivr.twilio.views``, /twilio/*) and outbound (``outbound.views``,
/api/v1/outbound/twilio/*) both call :func:`refusal` before they read anything else of the
request. The rules, in order:

1. No auth token, no webhook. An HMAC over an empty key is something anyone can compute,
   so an empty token must never verify -- and with ``verify_signatures`` off it still
   refuses: an unconfigured install must not take unsigned calls either.
2. ``verify_signatures`` off (a local development switch, flagged at start-up and by
   ``hotline doctor``): accepted without a signature.
3. Otherwise the signature must match the *public* URL Twilio requested
   (``twilio.public_base_url`` + path + query; behind a proxy the Host we see is not the
   one Twilio signed) and every form parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from twilio.request_validator import RequestValidator

from config.settings import Settings, TwilioSettings

HEADER = "X-Twilio-Signature"


class _Params(dict[str, list[str]]):
    """Form parameters with repeats kept: the validator signs every value of a name."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def public_url(settings: TwilioSettings, path: str, query: str) -> str:
    """The URL Twilio requested, as it signed it."""
    url = settings.public_base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def refusal(settings: TwilioSettings, *, url: str, params: Iterable[tuple[str, object]],
            signature: str | None) -> str | None:
    """Why the webhook must be refused (403), or None when it may be served.

    ``params`` are the form's (name, value) pairs, repeats included; a value that is not
    text (a file upload) is never part of a Twilio webhook and is refused.
    """
    if not settings.auth_token:
        return "no Twilio auth token is configured: Twilio webhooks are refused"
    if not settings.verify_signatures:
        return None
    if not signature:
        return f"{HEADER} missing"
    form = _Params()
    for name, value in params:
        if not isinstance(value, str):
            return f"form field {name} is not text"
        form.setdefault(name, []).append(value)
    if not RequestValidator(settings.auth_token).validate(url, form, signature):
        return f"{HEADER} invalid"
    return None


async def read_signed_form(request: Request, settings: TwilioSettings
                           ) -> tuple[dict[str, str], str | None]:
    """The webhook's form fields and, when it must be refused, why (else None)."""
    form = await request.form()
    reason = refusal(settings, url=public_url(settings, request.url.path, request.url.query),
                     params=form.multi_items(), signature=request.headers.get(HEADER))
    return {k: v for k, v in form.items() if isinstance(v, str)}, reason


def in_use(settings: Settings) -> bool:
    """Whether this install talks to Twilio at all: it dials or texts through it, or has
    an account (inbound calls need it to download their recordings)."""
    tw = settings.twilio
    return (settings.outbound.dialer == "twilio" or settings.outbound.sms_provider == "twilio"
            or bool(tw.account_sid or tw.auth_token))


@dataclass(frozen=True)
class Problem:
    text: str
    # Blocks operation (hotline doctor FAILs); otherwise a warning.
    serious: bool


def posture_problems(settings: Settings) -> list[Problem]:
    """What is unsafe or broken about the Twilio settings, for the start-up log and
    ``hotline doctor``. Installs that do not use Twilio only get warnings: their Twilio
    webhooks are refused anyway."""
    tw = settings.twilio
    used = in_use(settings)
    problems = []
    if not tw.verify_signatures:
        problems.append(Problem(
            "twilio.verify_signatures is off: webhooks are taken unsigned (local development "
            "only; anyone who can reach the API could answer calls, sign tickets and fill in "
            "surveys)", serious=used))
    if not tw.auth_token:
        problems.append(Problem(
            "twilio.auth_token is empty: every Twilio webhook is refused (403)"
            + ("" if used else "; fine while Twilio is not used"), serious=used))
    if urlsplit(tw.api_base).scheme != "https":
        problems.append(Problem(
            f"twilio.api_base {tw.api_base!r} is not https: the account credentials and the "
            "recordings would cross the network in clear text", serious=False))
    return problems
