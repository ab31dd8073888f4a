"""Twilio's REST API as the outbound worker uses it: a bounded client, and a create (a call
or an SMS) that is never repeated once it may have been carried out.

Both the dialer and the SMS sender create through ``create_once``: the rule for what an
unanswered create made is one rule (review56: a read timeout was retried, so the citizen got
the SMS twice and a handler's call was rung twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from config.settings import Settings
from ticketing.outage import first_line

log = logging.getLogger("outbound.twilio")

# Twilio's date_created has whole seconds and its clock is not ours: a lookup of what an
# unanswered create made takes records from a little before the create was sent.
_LOOKUP_SLACK = timedelta(seconds=5)
# Twilio's lists lag its creates by seconds: a create not listed at the first lookup is
# looked for once more this long after, before it is taken as never made.
_RELOOK_SECONDS = 2.0


def twilio_client(settings: Settings):  # type: ignore[no-untyped-def]
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    # Bounded (settings.twilio.api_timeout_seconds): Twilio's client waits forever unless
    # told otherwise, and an API that took the connection and said nothing held the worker's
    # thread and the task's lease for good (judge27).
    client = Client(settings.twilio.account_sid, settings.twilio.auth_token,
                    http_client=TwilioHttpClient(timeout=settings.twilio.api_timeout_seconds))
    # Pointed at settings.twilio.api_base so a site (or a test) can use a stand-in.
    client.api.base_url = settings.twilio.api_base.rstrip("/")
    return client


def nothing_created(exc: BaseException) -> bool:
    """Whether a create that raised certainly made nothing at Twilio: Twilio refused it
    (a 4xx, 429 included: Twilio's error 20429 says such a request is never processed), or
    the connection was never made. Anything else (no answer in time, the connection
    dropped after the request went out, a 5xx) may have been carried out, and sending it
    again texted the citizen twice or rang the handler twice (review56). Twilio's error
    20500 says so of a 500 to an SMS or call create; a gateway's 502/504 stands in front
    of a request that may have gone through (twilio46: every 5xx was retried)."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ConnectTimeout
    from twilio.base.exceptions import TwilioRestException
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, TwilioRestException):
        return exc.status < 500
    if isinstance(exc, ConnectTimeout):
        return True
    if isinstance(exc, RequestsConnectionError):
        # requests wraps urllib3's MaxRetryError, whose reason says where it failed.
        reason = exc.args[0] if exc.args else None
        return isinstance(getattr(reason, "reason", reason), NewConnectionError)
    return False


def _created_since(listing: Callable[[], Iterable[Any]], *, since: datetime,
                   body: str | None) -> tuple[str | None, bool]:
    """The sid of what an unanswered create made, asked of Twilio's list API (the same
    number, from us, created since the create was sent, and for an SMS the same text), and
    whether Twilio answered the lookup at all (a failed lookup says nothing either way)."""
    try:
        records = list(listing())
    except Exception as exc:
        log.warning("looking up an unanswered Twilio create failed: %s", first_line(exc))
        return None, False
    for record in records:
        created = record.date_created
        if created is not None and created >= since and (body is None or record.body == body):
            return str(record.sid), True
    return None, True


@dataclass(frozen=True)
class Created:
    """What a create came to. ``sid`` set: Twilio has it (answered: ``made`` is its answer;
    or found in its list after an unanswered create: ``looked_up``). ``sid`` None: ``error``
    says why; ``refused`` when nothing was made (may be tried again), else unknown (never
    again)."""

    sid: str | None
    made: Any = None
    error: BaseException | None = None
    refused: bool = False
    looked_up: bool = False
    # Listed nowhere twice after a create that raised, and created once more (resend_unlisted).
    resent: bool = False


def create_once(create: Callable[[], Any], listing: Callable[[], Iterable[Any]], *,
                body: str | None = None, resend_unlisted: bool = False) -> Created:
    """``create()`` (Twilio's ``calls.create`` or ``messages.create``), and when it raises
    without certainly having made nothing (a 5xx, no answer in time: one rule), ``listing()``
    asked for what it made instead of creating again, twice, ``_RELOOK_SECONDS`` apart
    (Twilio's lists lag its creates). ``resend_unlisted``: what both lookups answered
    without listing is taken as never made and created once more (an SMS: nothing else
    would ever send it, where a second copy is a nuisance; review127). A lookup that fails
    says nothing: unknown, never created again (review56)."""
    since = datetime.now(UTC) - _LOOKUP_SLACK
    try:
        made = create()
        return Created(sid=str(made.sid), made=made)
    except Exception as exc:  # TwilioRestException, network errors
        if nothing_created(exc):
            return Created(sid=None, error=exc, refused=True)
        found, answered = _created_since(listing, since=since, body=body)
        if found is None and answered:
            time.sleep(_RELOOK_SECONDS)
            found, answered = _created_since(listing, since=since, body=body)
        if found is not None or not (answered and resend_unlisted):
            return Created(sid=found, error=exc, looked_up=found is not None)
        log.warning("a Twilio create failed (%s) and its list shows nothing such twice; "
                    "created once more", first_line(exc))
        first = exc
    try:
        made = create()
    except Exception as again:
        # Refused or unknown, never a third time here: the first may yet show up late.
        return Created(sid=None, error=again)
    return Created(sid=str(made.sid), made=made, error=first, resent=True)


# --- a call whose create went unanswered and unlisted ----------------------------------
#
# Twilio may have placed it all the same (its list lags its creates): the handler who
# picked up heard Twilio's error, since /voice refused a CallSid it had never been told
# (loose28). So the attempt keeps what was asked while its create is under way
# (``UNKNOWN_CREATE`` in its data: To, From, when; the ticket is the attempt's own), and
# the first signed webhook of a call with that To and From, within the time such a call can
# take to ring, is that call: it claims the attempt once, its CallSid stored as if the
# create had answered. The record goes when the create answers or certainly made nothing,
# or when the window has passed. The signature stays the gate; a signed webhook of another
# number, a second CallSid, or one past the window is refused as before.

UNKNOWN_CREATE = "unknown_create"
# Twilio queues a create before dialling; what it may add to the API's own time.
_QUEUE_SLACK = timedelta(seconds=30)


def unknown_create(*, to: str, from_: str, at: datetime) -> dict[str, str]:
    """The record kept on an attempt whose call create went unanswered and unlisted."""
    return {"to": to, "from": from_, "at": at.astimezone(UTC).isoformat()}


def unknown_create_window(settings: Settings) -> timedelta:
    """How long after the create was sent its call can still first reach a webhook: the
    create's own wait, Twilio's queue, the ring."""
    return (timedelta(seconds=settings.twilio.api_timeout_seconds) + _QUEUE_SLACK
            + timedelta(seconds=settings.outbound.ring_seconds))


def claims_unknown_create(pending: Any, form: dict[str, str], *, now: datetime,
                          settings: Settings) -> bool:
    """Whether a signed webhook's form is the call a pending unknown create asked for:
    the same To and From, an outbound REST call (Twilio's ``Direction``, on every call
    webhook: a form without it claims nothing; mend61), in the window."""
    if not isinstance(pending, dict) or not form.get("CallSid"):
        return False
    if form.get("Direction") != "outbound-api":
        return False
    if (form.get("To"), form.get("From")) != (pending.get("to"), pending.get("from")):
        return False
    try:
        at = datetime.fromisoformat(str(pending.get("at")))
    except ValueError:
        return False
    return at - _LOOKUP_SLACK <= now <= at + unknown_create_window(settings)
