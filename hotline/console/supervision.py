"""The 多诉督办 record page, its 办结督办 form (the same service function, role check and
audit as POST /api/v1/supervision/{id}/close, ticketing.supervision) and its 并单 form: a
supervisor merges the record's tickets into one of them (ticketing.merging.merge_linked,
the merging service's rules and audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hotline.console.views import REFUSALS, refusal, ticket_refs, tickets_by_number
from hotline.console.web import Work, error_page, page, render, work
from ticketing import merging, queries, supervision
from ticketing.deps import RowIdPath
from ticketing.inputs import InvalidInput
from ticketing.reports import FIGURE_ROLES

router = APIRouter()

MAX_NOTE = 2000
# The record's actions are a supervisor's (as 办结督办); merging is also the merging
# service's to allow (an operator merges from the ticket page, not from here).
MERGE_ROLES = tuple(r for r in supervision.CLOSE_ROLES if r in merging.MERGE_ROLES)
DONE = {"close": "已办结督办件。", "merge": "已并单。"}


def _case_page(request: Request, w: Work, case_id: int, *, status: int = 200,
               error: str | None = None, note: str = "", done: str = "",
               form: dict[str, object] | None = None) -> Response:
    found = supervision.cases(session=w.session, actor=w.actor, case_id=case_id, limit=1)
    if not found:
        return error_page(request, 404, "未找到", "督办件不存在，或不在您的权限范围内。")
    case = found[0]
    # What the 并单 form offers: the record's tickets the merging service could take
    # (open, in no group); whether they may join one another is its to say.
    mergeable = [t for t in supervision.linked_tickets(session=w.session, case_id=case.id,
                                                       actor=w.actor)
                 if queries.is_open(t.status) and t.merged_into_id is None]
    return render(request, "supervision.html", {
        "case": case,
        "numbers": supervision.case_tickets(session=w.session, case_id=case.id,
                                              actor=w.actor),
        "place": supervision.place_text(case),
        "may_close": case.status == supervision.OPEN
        and w.actor.role in supervision.CLOSE_ROLES,
        "mergeable": mergeable if w.actor.role in MERGE_ROLES and len(mergeable) > 1 else [],
        "form": form or {},
        "error": error, "note": note, "done": DONE.get(done, ""),
    }, status)


@router.get("/supervision/{case_id}")
@page
def case_page(case_id: RowIdPath, request: Request, done: str = "") -> Response:
    with work(request) as w:
        w.require(*FIGURE_ROLES)  # who reads the records, as GET /api/v1/supervision
        return _case_page(request, w, case_id, done=done)


@router.post("/supervision/{case_id}/close")
@page
def close_case(
    case_id: RowIdPath,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    with work(request, csrf=csrf, post=True) as w:
        w.require(*supervision.CLOSE_ROLES)
        found = supervision.cases(session=w.session, actor=w.actor, case_id=case_id, limit=1)
        if not found:
            return error_page(request, 404, "未找到", "督办件不存在，或不在您的权限范围内。")
        try:
            if len(note) > MAX_NOTE:
                raise InvalidInput("note", "内容过长，请精简后再提交。")
            supervision.close_case(session=w.session, domain=w.domain, case=found[0],
                                   actor=w.actor, note=note)
            w.session.commit()
        except InvalidInput as exc:
            w.session.rollback()
            status, message = refusal(exc)
            return _case_page(request, w, case_id, status=status, error=message, note=note)
        return RedirectResponse(f"/console/supervision/{case_id}?done=close", status_code=303)


@router.post("/supervision/{case_id}/merge")
@page
def merge_tickets(
    case_id: RowIdPath,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    primary: Annotated[str, Form(max_length=20)] = "",
    others: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    """并单 of the record's tickets: ``others`` into ``primary``, with a reason."""
    form = {"primary": primary, "others": ticket_refs(others), "reason": reason}
    with work(request, csrf=csrf, post=True) as w:
        w.require(*MERGE_ROLES)
        found = supervision.cases(session=w.session, actor=w.actor, case_id=case_id, limit=1)
        if not found:
            return error_page(request, 404, "未找到", "督办件不存在，或不在您的权限范围内。")
        try:
            if not ticket_refs([primary]):
                raise InvalidInput("primary", "请选择主单。")
            main, = tickets_by_number(w, [primary])
            chosen = tickets_by_number(w, ticket_refs(others))
            merging.merge_linked(session=w.session, domain=w.domain, case_id=case_id,
                                 primary=main, others=chosen, actor=w.actor, reason=reason)
            w.session.commit()
        except REFUSALS as exc:
            w.session.rollback()
            status, message = refusal(exc)
            return _case_page(request, w, case_id, status=status, error=message, form=form)
        return RedirectResponse(f"/console/supervision/{case_id}?done=merge#merge",
                                status_code=303)
