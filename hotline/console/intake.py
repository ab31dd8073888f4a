"""The operator's intake form: a complaint taken by hand, classified like a call's words."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from hotline.console import present
from hotline.console.views import MAX_TEXT, refusal
from hotline.console.web import Work, page, render, signed_in, work
from knowledge import service as kb
from knowledge.models import KbEntry
from ticketing import service
from ticketing.classify import classify
from ticketing.context import Domain
from ticketing.intake_model import Understanding
from ticketing.models import Unit
from ticketing.respondent import MAX_LENGTH as RESPONDENT_MAX
from ticketing.service import InvalidInput
from ticketing.states import Role

router = APIRouter()

INTAKE_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)  # as POST /api/v1/tickets


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
    ``work`` opens the session: on SQLite its first statement takes the write lock, and
    every other creator would wait for the classifier. Only for a signed-in form post:
    classifying is the costliest step a stranger could buy."""
    signed_in(request, csrf=csrf, post=True)
    domain: Domain = request.app.state.domain
    try:
        return service.understand_demand(domain=domain, demand=demand.strip())
    except InvalidInput:
        return None  # create_ticket refuses the same text where the form shows the error


@router.get("/intake")
@page
def intake_form(request: Request) -> Response:
    with work(request) as w:
        w.require(*INTAKE_ROLES)
        return render(request, "intake.html", {"form": {}, "categories": present.categories(),
                                               "respondent_max": RESPONDENT_MAX})


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
) -> Response:
    form = {"caller_phone": caller_phone, "caller_name": caller_name, "demand": demand,
            "address": address, "respondent": respondent, "category": category,
            "urgency": urgency, "confidential": confidential, "no_contact": no_contact}
    understood = _understood_before_transaction(request, demand, csrf)
    with work(request, csrf=csrf, post=True) as w:
        w.require(*INTAKE_ROLES)
        try:
            if not demand.strip():
                raise InvalidInput("demand", "demand must not be empty")
            ticket = service.create_ticket(
                session=w.session, domain=w.domain, actor=w.actor, channel="web",
                understood=understood, caller_phone=caller_phone, demand=demand.strip(),
                caller_name=caller_name.strip() or None,
                confidential=bool(confidential), no_contact=bool(no_contact),
                address=address.strip() or None,
                # Blank: the service reads it from the words (ticketing.respondent).
                respondent=respondent,
                # Checked by the service (ticketing.inputs.check_category), as for the API.
                category=category or None,
                urgency=urgency if urgency in present.URGENCY_LABELS else None,
            )
            service.accept(session=w.session, domain=w.domain, ticket=ticket, actor=w.actor)
            w.session.commit()
        except InvalidInput as exc:
            w.session.rollback()
            return render(request, "intake.html", {
                "form": form, "categories": present.categories(),
                "respondent_max": RESPONDENT_MAX,
                "error": refusal(exc)[1],
                "s": _suggestion(w, demand),
            }, 422)
        if not w.actor.can_see(ticket, ticket.unit):
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
) -> Response:
    """直接答复: the operator read the caller an entry's answer; the call is recorded as a
    ticket closed at intake, never dispatched (counted apart in the figures: 直办率)."""
    form = {"caller_phone": caller_phone, "caller_name": caller_name, "demand": demand,
            "address": address, "respondent": respondent, "category": category,
            "urgency": urgency, "confidential": confidential, "no_contact": no_contact}
    understood = _understood_before_transaction(request, demand, csrf)
    with work(request, csrf=csrf, post=True) as w:
        w.require(*INTAKE_ROLES)
        try:
            if not demand.strip():
                raise InvalidInput("demand", "demand must not be empty")
            ticket = kb.answer_from_entry(
                session=w.session, domain=w.domain, actor=w.actor, entry_id=entry_id,
                channel="web", caller_phone=caller_phone, demand=demand.strip(),
                caller_name=caller_name.strip() or None, understood=understood,
                respondent=respondent)
            w.session.commit()
        except (InvalidInput, service.NotFound) as exc:
            w.session.rollback()
            message = (refusal(exc)[1] if isinstance(exc, InvalidInput) and exc.field != "entry"
                       else "该知识条目已停用或不在有效期内，请重新选择。")
            return render(request, "intake.html", {
                "form": form, "categories": present.categories(),
                "respondent_max": RESPONDENT_MAX, "error": message,
                "s": _suggestion(w, demand),
            }, 422)
        return RedirectResponse(f"/console/tickets/{ticket.number}?done=answer",
                                status_code=303)
