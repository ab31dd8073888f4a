"""The operator's intake form: a complaint taken by hand, classified like a call's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from hotline.console import present
from hotline.console.views import MAX_TEXT, refusal
from hotline.console.web import Work, page, render, work
from knowledge import service as kb
from knowledge.models import KbEntry
from ticketing import idempotency, service
from ticketing.classify import classify
from ticketing.context import Domain
from ticketing.inputs import StateConflict, has_text
from ticketing.intake_model import Understanding
from ticketing.models import Ticket, Unit
from ticketing.respondent import MAX_LENGTH as RESPONDENT_MAX
from ticketing.service import InvalidInput
from ticketing.states import FILING_ROLES

router = APIRouter()

INTAKE_ROLES = FILING_ROLES  # as POST /api/v1/tickets and the service


def _suggestion(w: Work, text: str) -> dict[str, object] | None:
    """What the IVR would make of these words: ticketing.classify and the rule table, and
    the knowledge entries that may answer them (the guessed category as the prior)."""
    text = text.strip()
    if not text:
        return None
    guess = classify(text, w.domain.classification)
    rule = w.domain.rules.match(guess.category, guess.district)
    unit = (w.session.scalars(select(Unit).where(Unit.code == rule.unit)).first()
            if rule else None)
    found = kb.search(session=w.session, text=text, today=kb.today(w.domain),
                      category=guess.category, limit=3)
    entries = {e.id: e for e in w.session.scalars(
        select(KbEntry).where(KbEntry.id.in_([h.id for h in found.hits])))}
    return {"guess": guess, "unit": unit, "kb": found, "kb_entries": entries}


def _understood_before_transaction(request: Request, demand: str, csrf: str
                                   ) -> Understanding | None:
    """The demand classified as the API does it (service.understand_demand), before
    ``work`` opens the writer's session: on SQLite its first statement takes the write
    lock, and every other creator would wait for the classifier. Only for a signed-in form
    post of a role that may file (checked on a reader's session): classifying is the
    costliest step a stranger, or a handler refused anyway, could buy."""
    with work(request, csrf=csrf, post=True, read_only=True) as w:
        w.require(*INTAKE_ROLES)
    domain: Domain = request.app.state.domain
    try:
        return service.understand_demand(domain=domain, demand=demand.strip())
    except InvalidInput:
        return None  # create_ticket refuses the same text where the form shows the error


def _form_page(form: dict[str, str], **extra: object) -> dict[str, object]:
    """The intake page's context. A fresh one-time token (``idempotency.new_form_token``)
    unless ``form`` keeps its own: a form refused for its input was filed by nobody (the
    token's claim rolled back with it), so the corrected form is still the same one."""
    return {"form": form, "categories": present.categories(), "respondent_max": RESPONDENT_MAX,
            "form_token": form.get(idempotency.FORM_FIELD) or idempotency.new_form_token(),
            **extra}


def _filed_once(w: Work, token: str, form: dict[str, str], create: Callable[[], Ticket]
                ) -> Ticket:
    """``create()``, or the ticket this form's token filed already: a resend of the form
    (a double click, the browser posting again) files nothing (``idempotency.create_once``,
    as the API's Idempotency-Key). The key is the user's own, like an API client's."""
    return idempotency.create_once(session=w.session, actor=w.actor,
                                   key=idempotency.form_key(token), body=form,
                                   now=w.domain.now(), create=create)


def _refused_form(form: dict[str, str], exc: InvalidInput) -> dict[str, str]:
    """The form to show again after ``exc``: the same token, unless the token is what was
    refused (the form was filed, with other content, or the token is no token of ours)."""
    if exc.field in (idempotency.FIELD, idempotency.FORM_FIELD):
        return {k: v for k, v in form.items() if k != idempotency.FORM_FIELD}
    return form


@router.get("/intake")
@page
def intake_form(request: Request) -> Response:
    with work(request) as w:
        w.require(*INTAKE_ROLES)
        return render(request, "intake.html", _form_page({}))


@router.post("/intake/suggest")
@page
def suggest(
    request: Request,
    demand: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with work(request, csrf=csrf, post=True) as w:
        w.require(*INTAKE_ROLES)
        return render(request, "_suggest.html", {"s": _suggestion(w, demand)})


@router.post("/intake")
@page
def create(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    caller_phone: Annotated[str, Form(max_length=32)] = "",
    caller_name: Annotated[str, Form(max_length=64)] = "",
    demand: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    address: Annotated[str, Form(max_length=256)] = "",
    # The form's maxlength is the column's; a longer value still reaches the service's one
    # rule (service.check_respondent) and its message (a client need not be a browser).
    respondent: Annotated[str, Form(max_length=4 * RESPONDENT_MAX)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    urgency: Annotated[str, Form(max_length=16)] = "",
    confidential: Annotated[str, Form(max_length=8)] = "",
    no_contact: Annotated[str, Form(max_length=8)] = "",
    form_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    form = {"caller_phone": caller_phone, "caller_name": caller_name, "demand": demand,
            "address": address, "respondent": respondent, "category": category,
            "urgency": urgency, "confidential": confidential, "no_contact": no_contact,
            idempotency.FORM_FIELD: form_token}
    understood = _understood_before_transaction(request, demand, csrf)
    with work(request, csrf=csrf, post=True) as w:
        w.require(*INTAKE_ROLES)
        try:
            if not has_text(demand):  # the API's rule (schemas.TicketCreate)
                raise InvalidInput("demand", "demand must not be empty")
            ticket = _filed_once(w, form_token, {"action": "create", **form}, lambda: (
                service.create_ticket(
                    session=w.session, domain=w.domain, actor=w.actor, channel="web",
                    understood=understood, caller_phone=caller_phone, demand=demand.strip(),
                    caller_name=caller_name.strip() or None,
                    confidential=bool(confidential), no_contact=bool(no_contact),
                    address=address.strip() or None,
                    # Blank: the service reads it from the words (ticketing.respondent).
                    respondent=respondent,
                    # Checked by the service (ticketing.inputs.check_category), as for the
                    # API.
                    category=category or None,
                    urgency=urgency if urgency in present.URGENCY_LABELS else None,
                    accept_now=True,  # accepted and dispatched by the rules, as the API's
                )))
            # Before the commit, as the ticket actions' (views.act): a read after it that
            # met an outage would show the filed ticket as 尚未保存.
            visible = w.actor.can_see(ticket)
            w.session.commit()
        except InvalidInput as exc:
            w.session.rollback()
            return render(request, "intake.html", _form_page(
                _refused_form(form, exc), error=refusal(exc)[1],
                s=_suggestion(w, demand)), 422)
        if not visible:
            return RedirectResponse(f"/console/queue?done=create&number={ticket.number}",
                                    status_code=303)
        return RedirectResponse(f"/console/tickets/{ticket.number}?done=create",
                                status_code=303)


@router.post("/intake/answer")
@page
def answer(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    entry_id: Annotated[str, Form(max_length=32)] = "",
    caller_phone: Annotated[str, Form(max_length=32)] = "",
    caller_name: Annotated[str, Form(max_length=64)] = "",
    demand: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    address: Annotated[str, Form(max_length=256)] = "",
    respondent: Annotated[str, Form(max_length=4 * RESPONDENT_MAX)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    urgency: Annotated[str, Form(max_length=16)] = "",
    confidential: Annotated[str, Form(max_length=8)] = "",
    no_contact: Annotated[str, Form(max_length=8)] = "",
    form_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """直接答复: the operator read the caller an entry's answer; the call is recorded as a
    ticket closed at intake, never dispatched (counted apart in the figures: 直办率)."""
    form = {"caller_phone": caller_phone, "caller_name": caller_name, "demand": demand,
            "address": address, "respondent": respondent, "category": category,
            "urgency": urgency, "confidential": confidential, "no_contact": no_contact,
            idempotency.FORM_FIELD: form_token}
    understood = _understood_before_transaction(request, demand, csrf)
    with work(request, csrf=csrf, post=True) as w:
        w.require(*INTAKE_ROLES)
        try:
            if not has_text(demand):  # the API's rule (schemas.TicketCreate)
                raise InvalidInput("demand", "demand must not be empty")
            # The same form's token: its answer button and its submit button are two
            # requests of one form, of which the first one sent files.
            ticket = _filed_once(
                w, form_token, {"action": "answer", "entry_id": entry_id, **form},
                lambda: kb.answer_from_entry(
                    session=w.session, domain=w.domain, actor=w.actor, entry_id=entry_id,
                    channel="web", caller_phone=caller_phone, demand=demand.strip(),
                    caller_name=caller_name.strip() or None, understood=understood,
                    respondent=respondent))
            w.session.commit()
        except (InvalidInput, service.NotFound) as exc:
            w.session.rollback()
            message = (refusal(exc)[1] if isinstance(exc, InvalidInput) and exc.field != "entry"
                       else "该知识条目已停用或不在有效期内，请重新选择。")
            kept = _refused_form(form, exc) if isinstance(exc, InvalidInput) else form
            return render(request, "intake.html", _form_page(
                kept, error=message, s=_suggestion(w, demand)),
                409 if isinstance(exc, StateConflict) else 422)
        return RedirectResponse(f"/console/tickets/{ticket.number}?done=answer",
                                status_code=303)
