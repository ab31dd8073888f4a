"""The 多诉督办 record page and its 办结督办 form: the same service function, role check and
audit as POST /api/v1/supervision/{id}/close (ticketing.supervision)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hotline.console.dashboard import DASHBOARD_ROLES
from hotline.console.views import refusal
from hotline.console.web import Work, error_page, page, render, work
from ticketing import supervision
from ticketing.inputs import InvalidInput

router = APIRouter()

MAX_NOTE = 2000


def _case_page(request: Request, w: Work, case_id: int, *, status: int = 200,
               error: str | None = None, note: str = "", done: bool = False) -> Response:
    found = supervision.cases(session=w.session, actor=w.actor, case_id=case_id, limit=1)
    if not found:
        return error_page(request, 404, "未找到", "督办件不存在，或不在您的权限范围内。")
    case = found[0]
    return render(request, "supervision.html", {
        "case": case,
        "numbers": supervision.case_tickets(session=w.session, case_id=case.id),
        "place": supervision.place_text(case),
        "may_close": case.status == supervision.OPEN
        and w.actor.role in supervision.CLOSE_ROLES,
        "error": error, "note": note, "done": done,
    }, status)


@router.get("/supervision/{case_id}")
@page
def case_page(case_id: int, request: Request, done: str = "") -> Response:
    with work(request) as w:
        w.require(*DASHBOARD_ROLES)  # who reads the records, as GET /api/v1/supervision
        return _case_page(request, w, case_id, done=done == "close")


@router.post("/supervision/{case_id}/close")
@page
def close_case(
    case_id: int,
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
