"""HTTP endpoints of the outbound service: Twilio's voice webhooks (signed, checked),
citizens' SMS replies (the SMS gateway's and Twilio's, signed, checked) and the
supervisors' review queue of dissatisfied citizens."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from config.settings import Settings
from outbound.dialers import (
    MAX_WRONG_KEYS,
    TWILIO_STATUS,
    TwilioDialer,
    twilio_webhook_base,
    twiml_for,
)
from outbound.inbound_sms import EMPTY_SECRET, receive
from outbound.models import OutboundAttempt, Outcome, SurveyReview
from outbound.survey import answer
from outbound.twilio_rest import UNKNOWN_CREATE, claims_unknown_create
from outbound.worker import conversation_for
from telephony.twilio import signature
from ticketing import queries, service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.deps import DomainDep, RowIdPath, Token, require, unit_of_work
from ticketing.inputs import MAX_ID
from ticketing.models import Ticket
from ticketing.schemas import Strict, SurveyBody, TicketOut
from ticketing.service import scope_filter
from ticketing.states import Role
from ticketing.views import act_on_ticket

log = logging.getLogger("outbound.views")

router = APIRouter(prefix="/api/v1/outbound", tags=["outbound"])
# The ticket route whose rule is the survey's (outbound.survey.answer), beside ticketing's.
tickets_router = APIRouter(prefix="/api/v1")


# --- Twilio webhooks -------------------------------------------------------------------
#
# Checked in this order:
# 1. telephony.twilio.signature (no auth token refuses everything) -> 403: nothing changes
#    before it passes;
# 2. the attempt is ours to act on (``_attempt_of``, the one check): it exists and is a
#    Twilio call (404), it has not ended (409), and the form's CallSid is the call our REST
#    request created (403). The one write before the CallSid check is the claim of an
#    attempt whose create went unanswered and unlisted (``_claim_unknown_create``): on the
#    same ``_attempt_of``, and only by the call that create asked for (signed, outbound-api,
#    same To and From, in the create's window: ``claims_unknown_create``), which is then
#    the attempt's CallSid. The status callback ends the attempt, so a replay of it (or of
#    any webhook) afterwards is a 409.

# Twilio may fetch /voice (or post a quick "failed" status) before the dialer has stored
# the CallSid its REST request returned; wait this long for it.
_CALL_REF_WAIT_SECONDS = 5.0
_CALL_REF_POLL_SECONDS = 0.05
_FINAL_STATUSES = frozenset({"completed", *TWILIO_STATUS})
# A row id: larger numbers would be a database error (500) on PostgreSQL, not a 422.
AttemptId = Annotated[int, Query(ge=1, le=MAX_ID)]
# Wrong keys in a row so far, carried in the <Gather> action URL (signed with it).
WrongKeys = Annotated[int, Query(ge=0, lt=MAX_WRONG_KEYS)]
_HANG_UP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'


class _Refused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "detail": self.detail}, self.status)


async def _signed_form(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    params, refused = await signature.read_signed_form(request, settings.twilio)
    if refused:
        log.warning("outbound twilio webhook %s refused: %s", request.url.path, refused)
        raise _Refused(403, "forbidden", refused)
    return params


def _attempt_of(session: Session, attempt_id: int) -> OutboundAttempt:
    """The live Twilio call attempt a webhook names, locked for the caller's transaction:
    the one check of the claim and of every webhook (``_bound_attempt``)."""
    attempt = session.scalars(select(OutboundAttempt).where(OutboundAttempt.id == attempt_id)
                              .with_for_update()).first()
    if attempt is None or attempt.channel != "call" or attempt.carrier != TwilioDialer.name:
        raise _Refused(404, "not_found", f"no Twilio call attempt {attempt_id}")
    if attempt.ended_at is not None:
        raise _Refused(409, "call_ended", f"call attempt {attempt_id} has already ended")
    return attempt


def _bound_attempt(*, session: Session, attempt_id: int, call_sid: str | None
                   ) -> OutboundAttempt:
    """The attempt this webhook may act on, locked for the caller's transaction."""
    attempt = _attempt_of(session, attempt_id)
    if not call_sid or attempt.call_ref != call_sid:
        raise _Refused(403, "forbidden", f"CallSid does not belong to attempt {attempt_id}")
    return attempt


def _claim_unknown_create(request: Request, attempt_id: int, form: dict[str, str]) -> None:
    """A signed webhook of the call an unanswered, unlisted create asked for claims its
    attempt: its CallSid becomes the attempt's, once (outbound.twilio_rest)."""
    with transaction(request.app.state.sessions) as session:
        try:
            attempt = _attempt_of(session, attempt_id)
        except _Refused:
            return  # refused as such by _bound_attempt next
        if attempt.call_ref:
            return
        pending = (attempt.data or {}).get(UNKNOWN_CREATE)
        if not claims_unknown_create(pending, form, now=datetime.now(UTC),
                                     settings=request.app.state.settings):
            return
        data = dict(attempt.data or {})
        data.pop(UNKNOWN_CREATE)
        attempt.data = data
        attempt.call_ref = form["CallSid"]
        log.info("twilio call attempt %s: claimed by call %s (its create went unanswered)",
                 attempt_id, form["CallSid"])


def _check_attempt(request: Request, attempt_id: int, form: dict[str, str]) -> None:
    """_bound_attempt in its own transaction, waiting briefly for the dialer to store the
    CallSid of a call it has just created (or for the call's own webhook to claim it)."""
    call_sid = form.get("CallSid")
    deadline = time.monotonic() + _CALL_REF_WAIT_SECONDS
    while True:
        # Twilio may ring before its create times out at our end: tried again each wait.
        _claim_unknown_create(request, attempt_id, form)
        with request.app.state.sessions() as session:
            try:
                _bound_attempt(session=session, attempt_id=attempt_id, call_sid=call_sid)
                return
            except _Refused as refused:
                attempt = session.get(OutboundAttempt, attempt_id)
                pending = (refused.status == 403 and attempt is not None
                           and attempt.call_ref is None)
                if not pending or time.monotonic() >= deadline:
                    raise
        time.sleep(_CALL_REF_POLL_SECONDS)


def _twiml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _gather_url(settings: Settings, attempt_id: int, keys: str, wrong: int) -> str:
    query: dict[str, str | int] = {"attempt": attempt_id, "keys": keys}
    if wrong:
        query["wrong"] = wrong
    return f"{twilio_webhook_base(settings)}/gather?" + urlencode(query)


def _say_step(request: Request, attempt_id: int, keys: str, digit: str | None,
              form: dict[str, str], wrong: int = 0) -> str:
    _check_attempt(request, attempt_id, form)
    call_sid = form.get("CallSid")
    domain: Domain = request.app.state.domain
    conversation = conversation_for(sessions=request.app.state.sessions, domain=domain,
                                    attempt_id=attempt_id)
    if digit is None:
        conversation.answered(call_sid)
    elif digit and digit in conversation.step(keys).keys:
        keys += digit
        wrong = 0
        conversation.pressed(keys)
    elif digit:
        # The SIP dialer's bound: a line keying garbage is answered without an answer.
        conversation.wrong(digit, answered=keys, in_a_row=wrong)
        wrong += 1
        if wrong >= MAX_WRONG_KEYS:
            log.info("twilio call attempt %s: %d wrong keys, ending it", attempt_id, wrong)
            return _HANG_UP
    step = conversation.step(keys)
    if digit and wrong:  # asked again: the report was heard once already (Step.report)
        step = replace(step, report="")
    return twiml_for(step, action=_gather_url(domain.settings, attempt_id, keys, wrong),
                     key_timeout=domain.settings.outbound.key_timeout_seconds)


@router.post("/twilio/voice", include_in_schema=False)
async def twilio_voice(request: Request, attempt: AttemptId) -> Response:
    try:
        params = await _signed_form(request)
        body = await run_in_threadpool(_say_step, request, attempt, "", None, params)
    except _Refused as refused:
        return refused.response()
    return _twiml(body)


@router.post("/twilio/gather", include_in_schema=False)
async def twilio_gather(request: Request, attempt: AttemptId, keys: str = "",
                        wrong: WrongKeys = 0) -> Response:
    try:
        params = await _signed_form(request)
        digit = (params.get("Digits") or "")[:1]
        body = await run_in_threadpool(_say_step, request, attempt, keys, digit, params,
                                       wrong)
    except _Refused as refused:
        return refused.response()
    return _twiml(body)


def _record_status(request: Request, attempt_id: int, params: dict[str, str]) -> None:
    domain: Domain = request.app.state.domain
    status = params.get("CallStatus", "")
    _check_attempt(request, attempt_id, params)
    with transaction(request.app.state.sessions) as session:
        # Checked again under the row lock: of two copies of the final callback at once,
        # only one ends the attempt.
        attempt = _bound_attempt(session=session, attempt_id=attempt_id,
                                 call_sid=params.get("CallSid"))
        if status not in _FINAL_STATUSES:
            return  # only the end of the call is recorded here
        if status == "completed":
            outcome = Outcome.ANSWERED if attempt.answered_at else Outcome.NO_ANSWER
        else:
            outcome = TWILIO_STATUS.get(status, Outcome.FAILED)
        attempt.ended_at = domain.now()
        attempt.outcome = outcome.value
        attempt.detail = f"twilio {status} {params.get('SipResponseCode', '')}".strip()


@router.post("/twilio/status", include_in_schema=False)
async def twilio_status(request: Request, attempt: AttemptId) -> Response:
    try:
        params = await _signed_form(request)
        await run_in_threadpool(_record_status, request, attempt, params)
    except _Refused as refused:
        return refused.response()
    return Response(status_code=204)


# --- citizens' SMS replies -------------------------------------------------------------
#
# Both answer 200 to any message that passed the signature check, whatever it was (an
# unknown sender too: the gateway must not retry it); what was done is logged.

SMS_SIGNATURE_HEADER = "X-Hotline-Signature"


def _gateway_refusal(secret: str, body: bytes, given: str | None) -> str | None:
    """Why the gateway's inbound SMS must be refused, or None. An HMAC under an empty key
    is anyone's to compute, so an empty secret refuses everything."""
    if not secret:
        return EMPTY_SECRET
    if not given:
        return f"{SMS_SIGNATURE_HEADER} missing"
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower().removeprefix("sha256=")):
        return f"{SMS_SIGNATURE_HEADER} invalid"
    return None


def _receive_sms(request: Request, sender: str, text: str, ref: str) -> str:
    with transaction(request.app.state.sessions) as session:
        return receive(session=session, domain=request.app.state.domain, sender=sender,
                       text=text, ref=ref).value


class InboundSms(BaseModel):
    id: str = Field(default="", max_length=128)
    text: str = Field(default="", max_length=2000)
    sender: str = Field(alias="from", min_length=1, max_length=32)


@router.post("/sms/inbound", include_in_schema=False)
async def gateway_sms(request: Request) -> Response:
    """The SMS gateway's inbound webhook: JSON {"id", "from", "text"}, signed with
    HMAC-SHA256 of the raw body under outbound.sms_inbound_secret (hex)."""
    settings: Settings = request.app.state.settings
    body = await request.body()
    refused = _gateway_refusal(settings.outbound.sms_inbound_secret, body,
                               request.headers.get(SMS_SIGNATURE_HEADER))
    if refused:
        log.warning("inbound SMS refused: %s", refused)
        return JSONResponse({"error": "forbidden", "detail": refused}, 403)
    try:
        msg = InboundSms.model_validate_json(body)
    except ValueError:
        return JSONResponse({"error": "invalid", "detail": "expected {id, from, text}"}, 422)
    await run_in_threadpool(_receive_sms, request, msg.sender, msg.text,
                            msg.id or hashlib.sha256(body).hexdigest()[:32])
    return JSONResponse({"ok": True})


@router.post("/twilio/sms", include_in_schema=False)
async def twilio_sms(request: Request) -> Response:
    """Twilio's inbound SMS webhook (the one signature check, telephony.twilio.signature)."""
    try:
        params = await _signed_form(request)
    except _Refused as refused:
        return refused.response()
    sender = (params.get("From") or "")[:32]
    if sender:
        await run_in_threadpool(_receive_sms, request, sender, params.get("Body") or "",
                                (params.get("MessageSid") or "")[:128])
    return _twiml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>")


# --- review queue ----------------------------------------------------------------------


class ReviewOut(BaseModel):
    id: int
    ticket: str
    closure_round: int
    reason: str
    keys: str | None
    caller_phone: str | None
    unit_id: int | None
    created_at: datetime
    resolved_at: datetime | None
    note: str | None


class ResolveBody(Strict):  # the API's text rule (ticketing.inputs.clean_text) for the note
    note: str


@tickets_router.post("/tickets/{ref}/survey", response_model=TicketOut)
def keyed_survey(ref: str, body: SurveyBody, request: Request, token: Token,
                 domain: DomainDep) -> TicketOut:
    """回访 keyed in by the centre from a callback (operators, admins), once per closure:
    it acts as the same answer on the survey call (unresolved: 驳回重办; dissatisfied: the
    review queue)."""
    return act_on_ticket(request, token, domain, ref, answer, resolved=body.resolved,
                         satisfied=body.satisfied, keys=body.keys)


@router.get("/reviews", response_model=list[ReviewOut])
def list_reviews(request: Request, token: Token, include_resolved: bool = False
                 ) -> list[dict[str, Any]]:
    """Dissatisfied citizens' tickets waiting for a supervisor, oldest first."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.SUPERVISOR, Role.ADMIN)
        stmt = (select(SurveyReview, Ticket).join(Ticket, Ticket.id == SurveyReview.ticket_id)
                .where(scope_filter(actor)).order_by(SurveyReview.id))
        if not include_resolved:
            stmt = stmt.where(SurveyReview.resolved_at.is_(None))
        return [
            {"id": r.id, "ticket": t.number, "closure_round": r.closure_round,
             "reason": r.reason, "keys": r.keys,
             "caller_phone": queries.caller_phone_for(actor, t, masked=True),
             "unit_id": t.unit_id, "created_at": r.created_at, "resolved_at": r.resolved_at,
             "note": r.note}
            for r, t in session.execute(stmt).all()
        ]


@router.post("/reviews/{review_id}/resolve", response_model=ReviewOut)
def resolve_review(review_id: RowIdPath, body: ResolveBody,
                   request: Request, token: Token) -> dict[str, Any]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.SUPERVISOR, Role.ADMIN)
        row = session.execute(
            select(SurveyReview, Ticket).join(Ticket, Ticket.id == SurveyReview.ticket_id)
            .where(SurveyReview.id == review_id, scope_filter(actor))
        ).first()
        if row is None:
            raise HTTPException(404, "review not found")
        review, ticket = row
        if review.resolved_at is None:
            now = request.app.state.domain.now()
            review.resolved_at, review.resolved_by, review.note = now, actor.id, body.note
            service.record_event(session=session, ticket=ticket, actor=actor,
                                 action="survey_review", note=body.note,
                                 data={"review": review.id}, at=now)
        session.commit()
        return {"id": review.id, "ticket": ticket.number, "closure_round": review.closure_round,
                "reason": review.reason, "keys": review.keys,
                "caller_phone": queries.caller_phone_for(actor, ticket, masked=True),
                "unit_id": ticket.unit_id,
                "created_at": review.created_at, "resolved_at": review.resolved_at,
                "note": review.note}
