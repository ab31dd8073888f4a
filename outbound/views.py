"""HTTP endpoints of the outbound service: Twilio's voice webhooks (signed, checked) and
the supervisors' review queue of dissatisfied citizens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from config.settings import Settings
from outbound.dialers import TWILIO_STATUS, twilio_webhook_base, twiml_for
from outbound.models import OutboundAttempt, Outcome, SurveyReview
from outbound.worker import conversation_for
from ticketing.actors import mask_phone
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.inputs import MAX_ID
from ticketing.models import Ticket
from ticketing.schemas import Strict
from ticketing.service import scope_filter
from ticketing.states import Role
from ticketing.views import Token, require, unit_of_work

router = APIRouter(prefix="/api/v1/outbound", tags=["outbound"])


# --- Twilio webhooks -------------------------------------------------------------------


async def _signed_form(request: Request) -> dict[str, str]:
    """The POSTed parameters, after checking X-Twilio-Signature against the public URL
    Twilio was given (settings.twilio.public_base_url); 403 when it does not verify."""
    settings: Settings = request.app.state.settings
    params = {k: str(v) for k, v in (await request.form()).items()}
    if settings.twilio.verify_signatures:
        url = settings.twilio.public_base_url.rstrip("/") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get("x-twilio-signature", "")
        validator = RequestValidator(settings.twilio.auth_token)
        if not signature or not validator.validate(url, params, signature):
            raise HTTPException(403, "invalid Twilio signature")
    return params


def _twiml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _gather_url(settings: Settings, attempt_id: int, keys: str) -> str:
    return (f"{twilio_webhook_base(settings)}/gather?"
            + urlencode({"attempt": attempt_id, "keys": keys}))


def _say_step(request: Request, attempt_id: int, keys: str, digit: str | None,
              call_sid: str | None) -> str:
    domain: Domain = request.app.state.domain
    conversation = conversation_for(sessions=request.app.state.sessions, domain=domain,
                                    attempt_id=attempt_id)
    if digit is None:
        conversation.answered(call_sid)
    else:
        if digit and digit in conversation.step(keys).keys:
            keys += digit
            conversation.pressed(keys)
    step = conversation.step(keys)
    return twiml_for(step, action=_gather_url(domain.settings, attempt_id, keys),
                     key_timeout=domain.settings.outbound.key_timeout_seconds)


@router.post("/twilio/voice", include_in_schema=False)
async def twilio_voice(request: Request, attempt: int) -> Response:
    params = await _signed_form(request)
    body = await run_in_threadpool(_say_step, request, attempt, "", None, params.get("CallSid"))
    return _twiml(body)


@router.post("/twilio/gather", include_in_schema=False)
async def twilio_gather(request: Request, attempt: int, keys: str = "") -> Response:
    params = await _signed_form(request)
    digit = (params.get("Digits") or "")[:1]
    body = await run_in_threadpool(_say_step, request, attempt, keys, digit,
                                   params.get("CallSid"))
    return _twiml(body)


def _record_status(request: Request, attempt_id: int, params: dict[str, str]) -> None:
    domain: Domain = request.app.state.domain
    status = params.get("CallStatus", "")
    with transaction(request.app.state.sessions) as session:
        attempt = session.get(OutboundAttempt, attempt_id)
        if attempt is None:
            raise HTTPException(404, "unknown attempt")
        if status == "completed":
            outcome = Outcome.ANSWERED if attempt.answered_at else Outcome.NO_ANSWER
        else:
            outcome = TWILIO_STATUS.get(status, Outcome.FAILED)
        if attempt.ended_at is None:
            attempt.ended_at = domain.now()
            attempt.outcome = outcome.value
            attempt.call_ref = attempt.call_ref or params.get("CallSid")
            attempt.detail = f"twilio {status} {params.get('SipResponseCode', '')}".strip()


@router.post("/twilio/status", include_in_schema=False)
async def twilio_status(request: Request, attempt: int) -> Response:
    params = await _signed_form(request)
    await run_in_threadpool(_record_status, request, attempt, params)
    return Response(status_code=204)


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
             "caller_phone": mask_phone(t.caller_phone) if t.confidential else t.caller_phone,
             "unit_id": t.unit_id, "created_at": r.created_at, "resolved_at": r.resolved_at,
             "note": r.note}
            for r, t in session.execute(stmt).all()
        ]


@router.post("/reviews/{review_id}/resolve", response_model=ReviewOut)
def resolve_review(review_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: ResolveBody,
                   request: Request, token: Token) -> dict[str, Any]:
    from ticketing import service

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
                "caller_phone": mask_phone(ticket.caller_phone), "unit_id": ticket.unit_id,
                "created_at": review.created_at, "resolved_at": review.resolved_at,
                "note": review.note}
