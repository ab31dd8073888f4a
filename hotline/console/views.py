"""Login, the queue, the ticket page with its actions, and the recording player's source."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from hotline.console import auth, present, recordings
from hotline.console.web import (
    KEPT_MAX_CHARS,
    Forbidden,
    Kept,
    Work,
    error_page,
    is_htmx,
    kept_page,
    page,
    render,
    work,
)
from ticketing import (
    analytics,
    attachments,
    idempotency,
    merging,
    queries,
    service,
    supervision,
)
from ticketing.actors import mask_phone
from ticketing.classify import sub_category_in
from ticketing.context import Domain
from ticketing.deps import RowIdPath
from ticketing.directory import authenticate, end_sessions
from ticketing.holders import holders, receivers
from ticketing.inputs import (
    MAX_ID,
    BadCharacters,
    StateConflict,
    ascii_int,
    clean_text,
    echoed,
    in_order,
    local_aware,
    strip_unsafe,
)
from ticketing.models import Ticket, Unit, User
from ticketing.points import PENALTIES, PENALTY_ROLES, flag_penalty
from ticketing.reports import export_csv
from ticketing.respondent import MAX_LENGTH as RESPONDENT_MAX
from ticketing.service import InvalidInput, NotFound
from ticketing.states import (
    ACTION_LABELS,
    OPEN_STATUSES,
    STATUS_LABELS,
    Action,
    PermissionDenied,
    ReasonRequired,
    Role,
    Status,
    TransitionError,
    values,
)

router = APIRouter()
log = logging.getLogger("hotline.console")

QUEUE_PAGE_SIZE = 50
MAX_TEXT = 5000
MAX_REASON = 2000

HOME = {
    Role.OPERATOR: "/console/intake",
    Role.SUPERVISOR: "/console/dashboard",
    Role.KB_EDITOR: "/console/kb",
}

# Service errors about one input, in words a user can act on.
FIELD_MESSAGES = {
    "caller_phone": "来电号码格式不正确（请填写手机号码、带区号的固定电话或服务号码）。",
    "text": "请填写反馈内容。",
    "unit_id": "请选择存在且可接收工单的承办单位（须在您的管辖范围内；12345中心本身不承办工单）。",
    "handler_id": "所选承办人不属于该承办单位。",
    "demand": "请填写诉求内容。",
    "category": "请从列表中选择分类。",
    "sub_category": "所选细分类不属于所选分类，请重新选择。",
    "outcome": "请选择办理结果。",
    "reason": "请填写原因：部分解决或无法解决需说明原因，申请剔除需从列表中选择原因。",
    "urgency": "请从列表中选择紧急程度。",
    "lowered_urgency": "已派单工单调低紧急程度由12345中心办理（会延长承办单位的办结时限），"
                       "请联系中心。",
    # The field names the request field: 诉求类型 on the classification form, 扣分项 on
    # the penalty form.
    "kind": "请从列表中选择（诉求类型或扣分项）。",
    "emergency": "请从列表中选择紧急联动。",
    "respondent": f"反映主体不能超过 {RESPONDENT_MAX} 个字。",
    "file": "附件须为 JPEG、PNG 图片或 PDF 文件，且不能为空。",
    "attachment": "该类别的反馈须附上现场照片或证明材料（JPEG、PNG 或 PDF）。",
    "return_window": "已超过退单时限（工单到达本单位后的退单时限，且不晚于办理时限），"
                     "请联系12345中心改派。",
    # A form's one-time token (ticketing.idempotency): the form was filed already and has
    # been changed since, or the token is none of ours. The page comes back with a new one.
    idempotency.FIELD: "这张受理单已经提交过，内容又有改动。如是新的诉求，请核对后再次提交"
                       "（已换用新的受理单）。",
    idempotency.FORM_FIELD: "受理单已失效，请核对后再次提交。",
}
BAD_CHARACTERS = "内容含有不允许的控制字符（如 NUL、文字方向控制符），请删除后重新提交。"


def home_for(role: Role) -> str:
    return HOME.get(role, "/console/queue")


def safe_next(target: str | None) -> str | None:
    """Only console paths: a login link must not send anyone to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or target.startswith("//"):
        return None
    if parts.path != "/console" and not parts.path.startswith("/console/"):
        return None
    return target


def done_label(done: str) -> str:
    """The confirmation shown after a redirect (?done=sign → 签收)."""
    if done == "create":
        return "创建并受理"
    if done == "classification":
        return "确认分类"
    if done == "respondent":
        return "保存反映主体"
    try:
        return ACTION_LABELS[Action(done)]
    except ValueError:
        return ""


def refusal(exc: Exception) -> tuple[int, str]:
    """HTTP status and the zh-CN message for a refused action (same statuses as the API)."""
    if isinstance(exc, TransitionError):
        return 409, (f"当前状态（{STATUS_LABELS[exc.status]}）不能执行"
                     f"“{ACTION_LABELS[exc.action]}”。")
    if isinstance(exc, PermissionDenied):
        if exc.why_zh:
            return 403, exc.why_zh
        return 403, (f"您的角色（{present.ROLE_LABELS[exc.role.value]}）无权执行"
                     f"“{ACTION_LABELS[exc.action]}”。")
    if isinstance(exc, ReasonRequired):
        return 422, f"“{ACTION_LABELS[exc.action]}”需要填写理由。"
    if isinstance(exc, BadCharacters):
        return 422, BAD_CHARACTERS
    if isinstance(exc, attachments.AttachmentTooLarge):
        return 413, f"附件过大：每个文件不能超过 {exc.limit_mb:g} MB。"
    if isinstance(exc, InvalidInput):
        status = 409 if isinstance(exc, StateConflict) else 422
        return status, FIELD_MESSAGES.get(exc.field, str(exc))
    if isinstance(exc, StaleDataError):
        return 409, "工单刚被其他人修改，请刷新页面后重试。"
    raise exc


REFUSALS = (TransitionError, PermissionDenied, ReasonRequired, InvalidInput, StaleDataError)
REGRADE_REASON = "已派单的工单调低紧急程度须填写更正理由（这可能延长承办单位的办结时限）。"


# --- login ---------------------------------------------------------------------------


@router.get("/")
@page
def index(request: Request) -> Response:
    with work(request) as w:
        return RedirectResponse(home_for(w.actor.role), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    s = auth.read_session(request)
    if s is not None and s.user_id is not None:
        with request.app.state.sessions() as session:
            live = auth.user_matches(s, session.get(User, s.user_id))
        if live:
            return RedirectResponse(safe_next(next) or "/console/", status_code=303)
        # Signed but dead (token re-issued, user deactivated): start over, don't loop.
        s = None
    s = s or auth.new_session(None)
    response = render(request, "login.html", {"csrf": s.csrf, "next": safe_next(next) or ""})
    auth.set_cookie(request, response, s)
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    token: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
    kept: Annotated[str, Form(max_length=KEPT_MAX_CHARS)] = "",
) -> Response:
    s = auth.read_session(request)
    # No account's name holds a control character (ticketing.schemas.UserCreate), and
    # PostgreSQL refuses a NUL in any text: typed as is, "a\x00b" went into the failure
    # count and the look-up, and the login answered 500.
    username = strip_unsafe(username)

    def again(status: int, error: str) -> Response:
        fresh = s or auth.new_session(None)
        response = render(request, "login.html", {
            "csrf": fresh.csrf, "next": safe_next(next) or "", "error": error,
            "username": username, "kept": kept,
        }, status)
        auth.set_cookie(request, response, fresh)
        return response

    if s is None:
        return again(403, "登录页面已过期，请重新输入后登录。")
    try:
        auth.check_csrf(request, s, csrf)
    except auth.CsrfFailed:
        return again(403, "安全校验失败，请重新输入后登录。")
    limiter = auth.login_limiter(request)
    keys = auth.login_keys(request, username)
    # Counted and recorded before the token is checked, at once (no two attempts share one
    # place under the limit); while blocked, a right guess must not be told apart.
    attempt = limiter.admit(keys)
    if attempt is None:
        # The address only: a token pasted into the name field must not reach the log.
        log.warning("console login refused: too many failures (%s)", keys[1])
        minutes = auth.LOGIN_WINDOW_SECONDS // 60
        return again(429, f"登录失败次数过多，请 {minutes} 分钟后再试。")
    with request.app.state.sessions() as session:
        user = authenticate(session=session, username=username.strip(), token=token.strip())
        new = auth.new_session(user) if user is not None else None
        role = Role(user.role) if user is not None else None
        user_id = user.id if user is not None else None
    # One message for a wrong name and a wrong token: don't confirm which accounts exist.
    if new is None or role is None:  # already counted by admit
        log.info("console login failed (%s)", keys[1])
        return again(401, "用户名或令牌不正确。")
    limiter.succeeded(keys[0], attempt)
    # A form whose session had ended, its words carried through this login: back to the
    # one who typed them (another user logging in at that browser does not see them), to
    # be sent again, with this session's token, where they were going.
    carried = Kept.load(kept) if kept else None
    if carried is not None and carried.user_id == user_id and safe_next(carried.action):
        response: Response = kept_page(request, carried, new.csrf)
        auth.set_cookie(request, response, new)
        return response
    response = RedirectResponse(safe_next(next) or home_for(role), status_code=303)
    auth.set_cookie(request, response, new)
    return response


@router.post("/logout")
@page
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    s = auth.read_session(request)
    if s is not None:
        auth.check_csrf(request, s, csrf)
        if s.user_id is not None:
            # Ends the user's sessions in every browser, not only this one: the cookie
            # holds no server-side id to revoke alone, and "log out" after a lost laptop
            # should mean out everywhere. docs/console.md says so.
            with request.app.state.sessions() as session:
                user = session.get(User, s.user_id)
                if user is not None and auth.user_matches(s, user):
                    end_sessions(user)
                    session.commit()
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path=auth.COOKIE_PATH)
    return response


# --- queue ---------------------------------------------------------------------------


def _day(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, "日期格式应为 YYYY-MM-DD。") from None


def _day_start(domain: Domain, day: date, later: int, field: str) -> datetime:
    """The start of ``day`` + ``later`` days in the hotline's time zone, in UTC. The API's
    rule (``inputs.local_aware``): 0001-01-01 in Beijing has no UTC time, and 9999-12-31
    no next day; both were a 500."""
    try:
        return local_aware(datetime.combine(day + timedelta(days=later), time()), domain.tz,
                           field=field)
    except (InvalidInput, OverflowError):
        raise InvalidInput(field, "日期超出范围。") from None


def queue_filters(w: Work, *, status: str, category: str, q: str, since: str = "",
                  until: str = "", sub_category: str = ""
                  ) -> tuple[str, queries.Filters, queries.Filters]:
    """The queue's form as filters, for the list and its CSV export alike: the status
    chosen (normalised), the filters without the status (for the counts), and with it.
    ``since``/``until`` are local days of the call, both included. A category naming
    nothing is refused by the API's rule (``queries.check_filters``; ``InvalidInput`` in
    Mandarin): it was dropped, and ``export.csv?status=all&category=watr`` exported the
    whole queue as if filtered (review65). ``sub_category`` is a form value ("water:cut");
    it implies its category, and one of another category than the category chosen, or
    none the taxonomy holds, is dropped (the form keeps a stale one when the category
    changes)."""
    domain = w.domain
    category = category.strip()
    try:
        queries.check_filters(w.session, queries.Filters(category=category or None),
                              field="category")
    except InvalidInput:
        raise InvalidInput("category", f"没有分类“{echoed(category)}”：分类表中没有，"
                                       "也没有工单用过它。") from None
    sub_of, sub = present.split_sub_category(sub_category)
    if sub_of and not category:
        category = sub_of if sub_of in present.categories() else ""
    if sub_of != category or not sub_category_in(category, sub):
        sub = ""
    first, last = _day(since, "since"), _day(until, "until")
    in_order(first, last, field="until", detail="结束日期不能早于开始日期。")
    shared = queries.Filters(
        category=category or None, sub_category=sub or None, q=q.strip()[:64],
        received_from=_day_start(domain, first, 0, "since") if first else None,
        received_until=_day_start(domain, last, 1, "until") if last else None)
    if status == "open":
        return status, shared, replace(shared, open_only=True)
    if status == "overdue":
        return status, shared, replace(shared, overdue=True)
    if status == "unconfirmed":
        return status, shared, replace(shared, unconfirmed=True)
    if status in {s.value for s in Status}:
        return status, shared, replace(shared, status=status)
    return "all", shared, shared


@router.get("/queue")
@page
def queue(request: Request, status: str = "open", category: str = "", q: str = "",
          page_no: Annotated[str, Query(alias="page")] = "1", done: str = "",
          number: str = "", since: str = "", until: str = "",
          sub_category: str = "") -> Response:
    with work(request) as w:
        now = w.domain.now()
        page_num = ascii_int(page_no) or 1
        page_num = page_num if page_num < 100000 else 1
        try:
            status, shared, chosen = queue_filters(w, status=status, category=category,
                                                   q=q, since=since, until=until,
                                                   sub_category=sub_category)
        except InvalidInput as exc:
            return error_page(request, 422, "查询条件有误", str(exc))
        category, q = shared.category or "", shared.q or ""
        sub_category = present.sub_category_value(shared.category, shared.sub_category)
        base = queries.conditions(w.actor, shared, now)
        counts = dict(w.session.execute(
            select(Ticket.status, func.count(Ticket.id)).where(*base).group_by(Ticket.status)
        ).all())
        found = queries.ticket_page(session=w.session, actor=w.actor, filters=chosen, now=now,
                                    page=page_num, page_size=QUEUE_PAGE_SIZE)
        overdue = w.session.scalar(select(func.count(Ticket.id)).where(
            *base, queries.overdue(now))) or 0
        rows, total = found.rows, found.total
        open_values = values(OPEN_STATUSES)
        listing = {"status": status, "category": category, "sub_category": sub_category,
                   "q": q, "since": since.strip(), "until": until.strip()}
        ctx = {
            "rows": [present.ticket_view(t, w.actor, now, masked=True,
                                         confirm_window=w.domain.confirm_window) for t in rows],
            "total": total,
            "counts": counts,
            "open_count": sum(counts.get(v, 0) for v in open_values),
            "overdue_count": overdue,
            "unconfirmed_count": w.session.scalar(select(func.count(Ticket.id)).where(
                *base, Ticket.needs_confirmation.is_(True))) or 0,
            "all_count": sum(counts.values()),
            **listing,
            # The export link carries the very filters of the list it sits under.
            "filter_query": urlencode({k: v for k, v in listing.items() if v}),
            "page": page_num,
            "pages": max(1, -(-total // QUEUE_PAGE_SIZE)),
            "categories": present.categories(),
            "sub_category_groups": present.sub_category_groups(),
            "statuses": [(s.value, STATUS_LABELS[s]) for s in Status],
            "done": done_label(done),
            "done_number": number if ascii_int(number) is not None else "",
        }
        template = "_queue_table.html" if is_htmx(request) else "queue.html"
        return render(request, template, ctx)


@router.get("/export.csv")
@page
def export(request: Request, status: str = "open", category: str = "", q: str = "",
           since: str = "", until: str = "", sub_category: str = "") -> Response:
    """The queue's tickets as the API's streaming CSV export (ticketing.reports), with the
    queue's filters; rows scoped and numbers masked by the reader's role as there."""
    with work(request) as w:
        try:
            _, _, chosen = queue_filters(w, status=status, category=category, q=q,
                                         since=since, until=until, sub_category=sub_category)
        except InvalidInput as exc:
            return error_page(request, 422, "查询条件有误", str(exc))
        actor, now = w.actor, w.domain.now()
    chunks = export_csv(sessions=request.app.state.sessions, actor=actor, tz=w.domain.tz,
                        filters=chosen, now=now)
    return StreamingResponse(
        (chunk.encode("utf-8") for chunk in chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"',
                 "Cache-Control": "private, no-store"})


# --- ticket page ---------------------------------------------------------------------


def render_ticket(request: Request, w: Work, ticket: Ticket, *, status: int = 200,
                  error: str | None = None, failed: str | None = None,
                  form: dict[str, str] | None = None, done: str = "") -> Response:
    now = w.domain.now()
    view = present.ticket_view(ticket, w.actor, now, masked=False,
                               confirm_window=w.domain.confirm_window)
    own_answer = (ticket.status == Status.REPLIED.value
                  and service.gave_the_answer(session=w.session, ticket=ticket, actor=w.actor))
    actions = present.available_actions(ticket.status, w.actor, own_answer=own_answer)
    recording_error: str | None = None
    has_recording = False
    may_hear = recordings.may_hear(w.actor, ticket)
    ref = recordings.find(w.session, ticket) if may_hear else None
    if ref is not None:
        # Checked here too, so the page says why instead of showing a player that fails.
        try:
            recordings.load_verified(w.domain.settings, ref)
            has_recording = True
        except recordings.RecordingProblem as exc:
            recording_error = str(exc)
    units: list[Unit] = []
    handlers: list[User] = []
    if Action.REASSIGN in actions or Action.DISPATCH in actions:
        # A supervisor 改派s within their own units (service.dispatch refuses the rest).
        # Where the service sends a ticket (ticketing.holders): never the centre's own unit.
        takes = receivers(w.domain.settings.centre_units)
        units = list(w.session.scalars(
            select(Unit).where(queries.unit_scope(w.actor), takes).order_by(Unit.path)))
        # Whoever the service takes (ticketing.holders): supervisors too, never the
        # disabled; it listed handlers only, a rule of its own (review56).
        handlers = list(w.session.scalars(
            select(User).join(Unit, User.unit_id == Unit.id).where(holders(), takes)
            .order_by(User.unit_id, User.id)))
    days = w.domain.settings.analytics.related_window_days
    may_merge = w.actor.role in merging.MERGE_ROLES
    duplicate_of = (queries.linked_original(ticket)
                    if queries.may_see_link(w.actor, ticket) else None)
    threshold = w.domain.settings.asr.low_confidence
    # 一诉多办: once dispatched, the handler sees the same problem nearby at a glance.
    related = (analytics.related_tickets(
        session=w.session, actor=w.actor, ticket=ticket, now=now,
        days=w.domain.settings.analytics.related_window_days)
        if ticket.dispatched_at is not None else [])
    return render(request, "ticket.html", {
        "related": related,
        "related_days": w.domain.settings.analytics.related_window_days,
        "supervision": supervision.cases_of_ticket(session=w.session, ticket_id=ticket.id),
        # 并单: the group this ticket is in, and what may be merged into it from here.
        "merged_into": merging.primary_of(session=w.session, ticket=ticket),
        "members": merging.members(session=w.session, primary=ticket, actor=w.actor),
        "may_merge": may_merge and queries.is_open(ticket.status)
        and ticket.merged_into_id is None,
        "merge_candidates": merging.candidates(
            session=w.session, actor=w.actor, ticket=ticket,
            since=now - timedelta(days=days)) if may_merge else [],
        "v": view,
        "ticket": ticket,
        "events": queries.visible_events(session=w.session, actor=w.actor, ticket=ticket),
        "segments": present.transcript_segments(ticket.transcript, ticket.transcript_meta,
                                                 threshold) if may_hear else [],
        "withheld": not may_hear,
        "has_recording": has_recording,
        "recording_error": recording_error,
        "actions": [a.value for a in actions],
        "units": units,
        "handlers": handlers,
        "exclusion_reasons": w.domain.settings.verification.exclusion_reasons,
        "penalties": PENALTIES if w.actor.role in PENALTY_ROLES else {},
        "duplicate_of": duplicate_of.number if duplicate_of else None,
        "error": error,
        "failed": failed,
        "form": form or {},
        "done": done_label(done),
        "is_escalation": present.event_is_escalation,
        "may_classify": w.actor.role in service.CLASSIFIER_ROLES,
        "may_set_respondent": w.actor.role in service.RESPONDENT_ROLES,
        "respondent_max": RESPONDENT_MAX,
        "categories": present.categories(),
        "sub_category_groups": present.sub_category_groups(),
        "sub_category_value": present.sub_category_value(ticket.category, ticket.sub_category),
        "attachments": [(a, attachments.problem(w.domain.settings, a))
                        for a in attachments.of_ticket(session=w.session, ticket=ticket)],
        "attachment_required": (ticket.category
                                in w.domain.settings.attachments.required_categories),
        "attachment_mb": w.domain.settings.attachments.max_bytes / 2**20,
        "attachment_files": attachments.MAX_FILES,
    }, status)


@router.get("/tickets/{number}")
@page
def ticket_page(number: str, request: Request, done: str = "") -> Response:
    with work(request) as w:
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        return render_ticket(request, w, ticket, done=done)


def _int_or_none(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    number = ascii_int(value)
    # Past the database's INTEGER no row can match, and PostgreSQL's driver would raise.
    if number is None or number > MAX_ID:
        raise InvalidInput(field, f"{field} must be a row id")
    return number


def _perform(w: Work, ticket: Ticket, action: Action, form: dict[str, str],
             files: list[UploadFile] | None = None) -> None:
    """Call the same service function the API endpoint for ``action`` calls."""
    common = {"session": w.session, "domain": w.domain, "ticket": ticket, "actor": w.actor}
    # The API's bodies apply the same rule (ticketing.schemas.Strict).
    form = {**form, **{k: clean_text(form[k], field=k, multiline=True)
                       for k in ("text", "reason", "note")}}
    reason = form["reason"].strip()
    if len(reason) > MAX_REASON or len(form["text"]) > MAX_TEXT:
        raise InvalidInput("length", "内容过长，请精简后再提交。")
    match action:
        case Action.ACCEPT:
            service.accept(**common)
        case Action.SIGN:
            service.sign(**common, via="web")
        case Action.REPLY:
            limit = w.domain.settings.attachments.max_bytes
            if len(files or []) > attachments.MAX_FILES:
                raise InvalidInput("files", f"一次最多上传 {attachments.MAX_FILES} 个附件。")
            for upload in files or []:
                data = attachments.read_upload(upload.file, limit)
                if not upload.filename and not data:
                    continue  # the file input left empty: the browser sends a blank part
                attachments.add(session=w.session, domain=w.domain, ticket=ticket,
                                actor=w.actor, data=data, filename=upload.filename)
            service.reply(**common, text=form["text"], outcome=form["outcome"],
                          reason=reason or None)
        case Action.CLOSE:
            service.close(**common, note=form["note"].strip() or None)
        case Action.RETURN:
            service.return_ticket(**common, reason=reason)
        case Action.SEND_BACK:
            service.send_back(**common, reason=reason)
        case Action.REQUEST_EXCLUSION:
            service.request_exclusion(**common, reason=form["exclusion_reason"],
                                      text=form["text"])
        case Action.DENY_EXCLUSION:
            service.deny_exclusion(**common, reason=reason)
        case Action.EXCLUDE:
            service.exclude(**common, reason=reason)
        case Action.REJECT:
            service.reject_redo(**common, reason=reason)
        case Action.UNMERGE:
            merging.unmerge(**common, reason=reason)
        case Action.DISPATCH | Action.REASSIGN:
            unit_id = _int_or_none(form["unit_id"], "unit_id")
            if unit_id is None:
                raise InvalidInput("unit_id", "unit required")
            handler_id = _int_or_none(form["handler_id"], "handler_id")
            if action == Action.DISPATCH:
                service.dispatch(**common, unit_id=unit_id, handler_id=handler_id)
            else:
                service.reassign(**common, unit_id=unit_id, handler_id=handler_id,
                                 reason=reason or None)
        case _:
            raise InvalidInput("action", "此操作不能在控制台执行。")


CONSOLE_ACTIONS = {a.value: a for a in (
    Action.ACCEPT, Action.DISPATCH, Action.SIGN, Action.REPLY, Action.CLOSE, Action.RETURN,
    Action.EXCLUDE, Action.REJECT, Action.REASSIGN, Action.SEND_BACK,
    Action.REQUEST_EXCLUSION, Action.DENY_EXCLUSION, Action.UNMERGE,
)}


@router.post("/tickets/{number}/penalty")
@page
def penalty(
    number: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A supervisor's penalty (资料不全, 重大负面舆情) with the reason: the API's rule."""
    with work(request, csrf=csrf, post=True) as w:
        w.require(*PENALTY_ROLES)
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        try:
            flag_penalty(session=w.session, domain=w.domain, ticket=ticket, actor=w.actor,
                         kind=kind, reason=reason)
            w.session.commit()
        except InvalidInput as exc:
            w.session.rollback()
            status, message = refusal(exc)
            return render_ticket(request, w, ticket, status=status, error=message)
        return RedirectResponse(f"/console/tickets/{ticket.number}#timeline", status_code=303)


# Registered before the generic action route, which would otherwise take "classification".
@router.post("/tickets/{number}/classification")
@page
def classification(
    number: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    urgency: Annotated[str, Form(max_length=16)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    emergency: Annotated[str, Form(max_length=8)] = "",
    sub_category: Annotated[str, Form(max_length=80)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    form = {"category": category, "urgency": urgency, "kind": kind, "emergency": emergency}
    with work(request, csrf=csrf, post=True) as w:
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        try:
            if w.actor.role not in service.CLASSIFIER_ROLES:
                return error_page(request, 403, "无权操作", "您的角色不能确认或更正分类。")
            service.confirm_classification(
                session=w.session, domain=w.domain, ticket=ticket, actor=w.actor,
                **{k: v or None for k, v in form.items()},
                sub_category=_sub_category_choice(ticket, category or ticket.category,
                                                  sub_category), reason=reason or None)
            w.session.commit()
        except REFUSALS as exc:
            w.session.rollback()
            status, message = refusal(exc)
            if isinstance(exc, InvalidInput) and exc.field == "reason":
                message = REGRADE_REASON  # not the reply's or 申请剔除's reason
            ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
            return render_ticket(request, w, ticket, status=status, error=message,
                                 failed="classification",
                                 form={**form, "sub_category": sub_category,
                                       "reason": reason})
        return RedirectResponse(f"/console/tickets/{ticket.number}?done=classification",
                                status_code=303)


def _sub_category_choice(ticket: Ticket, category: str, value: str) -> str | None:
    """The form's 细分类 for service.confirm_classification: None when left as it was (a
    category change then clears one the new category lacks), "" for none, else the code,
    which must be of the category chosen on the same form."""
    if value == present.sub_category_value(ticket.category, ticket.sub_category):
        return None
    if not value:
        return ""
    of, code = present.split_sub_category(value)
    if of != category:
        raise InvalidInput("sub_category", f"sub_category {echoed(value)!r} is not of "
                                           f"{echoed(category)!r}")
    return code


def _refs(typed: str) -> list[str]:
    """Ticket numbers typed in one box, separated by anything that is not a digit."""
    return re.findall(r"[0-9]+", typed)[:50]


def ticket_refs(ticked: list[str] | None) -> list[str]:
    """The ticket numbers ticked on a 并单 form (checkbox values), junk left out."""
    return [o for o in (ticked or [])[:50] if re.fullmatch(r"[0-9]{1,20}", o)]


def tickets_by_number(w: Work, refs: list[str]) -> list[Ticket]:
    """The tickets a 并单 form names, each as ``w.actor`` may see it; one they may not see
    is reported as not found, as service.get_ticket does."""
    chosen = []
    for ref in refs:
        try:
            chosen.append(service.get_ticket(session=w.session, actor=w.actor, ref=ref))
        except NotFound as exc:
            raise InvalidInput("others", f"未找到工单{ref}。") from exc
    return chosen


# Registered before the generic action route, which would otherwise take "merge".
@router.post("/tickets/{number}/merge")
@page
def merge(
    number: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    others: Annotated[list[str] | None, Form()] = None,
    typed: Annotated[str, Form(max_length=1000)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """并单: the duplicates ticked on the page (and any numbers typed) into this ticket;
    the API's rules (ticketing.merging)."""
    form = {"typed": typed, "reason": reason}
    with work(request, csrf=csrf, post=True) as w:
        primary = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        refs = list(dict.fromkeys([*ticket_refs(others), *_refs(typed)]))
        try:
            chosen = tickets_by_number(w, refs)
            merging.merge(session=w.session, domain=w.domain, primary=primary,
                          others=chosen, actor=w.actor,
                          reason=clean_text(reason, field="reason", multiline=True))
            w.session.commit()
        except REFUSALS as exc:
            w.session.rollback()
            status, message = refusal(exc)
            primary = service.get_ticket(session=w.session, actor=w.actor, ref=number)
            return render_ticket(request, w, primary, status=status, error=message,
                                 failed="merge", form=form)
        return RedirectResponse(f"/console/tickets/{primary.number}?done=merge#merge",
                                status_code=303)


# Registered before the generic action route, which would otherwise take "respondent".
@router.post("/tickets/{number}/respondent")
@page
def respondent(
    number: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    # The form's maxlength is the column's; a longer value still reaches the service's one
    # rule and its message (a client need not be a browser).
    respondent: Annotated[str, Form(max_length=4 * RESPONDENT_MAX)] = "",
) -> Response:
    """Set, correct or clear the 反映主体: the API's rule (service.set_respondent)."""
    with work(request, csrf=csrf, post=True) as w:
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        if w.actor.role not in service.RESPONDENT_ROLES:
            return error_page(request, 403, "无权操作", "您的角色不能修改反映主体。")
        try:
            service.set_respondent(session=w.session, domain=w.domain, ticket=ticket,
                                   actor=w.actor, respondent=respondent)
            w.session.commit()
        except REFUSALS as exc:
            w.session.rollback()
            status, message = refusal(exc)
            ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
            return render_ticket(request, w, ticket, status=status, error=message,
                                 failed="respondent", form={"respondent": respondent})
        return RedirectResponse(f"/console/tickets/{ticket.number}?done=respondent",
                                status_code=303)


@router.post("/tickets/{number}/{action}")
@page
def act(
    number: str,
    action: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    text: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form(max_length=16)] = "",
    exclusion_reason: Annotated[str, Form(max_length=32)] = "",
    unit_id: Annotated[str, Form(max_length=12)] = "",
    handler_id: Annotated[str, Form(max_length=12)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    with work(request, csrf=csrf, post=True) as w:
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        chosen = CONSOLE_ACTIONS.get(action)
        if chosen is None:
            return error_page(request, 404, "未找到", "没有这个操作。")
        form = {"text": text, "reason": reason, "note": note, "unit_id": unit_id,
                "handler_id": handler_id, "outcome": outcome,
                "exclusion_reason": exclusion_reason}
        try:
            _perform(w, ticket, chosen, form, files)
            # Asked before the commit (the flush has moved the unit): a database failing
            # after it would show a saved action as 尚未保存, offered to be done again.
            visible = queries.may_see_ticket(w.actor, ticket)
            w.session.commit()
        except REFUSALS as exc:
            w.session.rollback()
            status, message = refusal(exc)
            # Re-read: the refused attempt changed nothing, show the ticket as it is now.
            ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
            return render_ticket(request, w, ticket, status=status, error=message,
                                 failed=chosen.value, form=form)
        if not visible:
            # 退单 or 改派 out of the user's scope: the ticket page would now be a 404.
            return RedirectResponse(
                f"/console/queue?done={chosen.value}&number={ticket.number}", status_code=303)
        return RedirectResponse(f"/console/tickets/{ticket.number}?done={chosen.value}",
                                status_code=303)


# --- reply attachments -----------------------------------------------------------------


@router.get("/tickets/{number}/attachments/{attachment_id}")
@page
def attachment(number: str, attachment_id: RowIdPath, request: Request) -> Response:
    """A photo or document of the reply, for whoever may see the ticket (the API's rule),
    only while it matches the SHA-256 taken at upload."""
    with work(request) as w:
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        att = attachments.get(session=w.session, ticket=ticket, attachment_id=attachment_id)
        try:
            data = attachments.load_verified(w.domain.settings, att)
        except attachments.AttachmentProblem as exc:
            return error_page(request, exc.status, "附件无法提供", str(exc))
        return Response(data, media_type=att.media_type,
                        headers=attachments.download_headers(att))


# --- recording -----------------------------------------------------------------------


@router.get("/tickets/{number}/recording")
@page
def recording(number: str, request: Request) -> Response:
    with work(request) as w:
        ticket = service.get_ticket(session=w.session, actor=w.actor, ref=number)
        if not recordings.may_hear(w.actor, ticket):
            # The same answer as a ticket out of scope: nothing to learn from probing.
            raise service.NotFound(number)
        ref = recordings.find(w.session, ticket)
        if ref is None:
            return error_page(request, 404, "没有录音", "该工单没有通话录音。")
        try:
            data = recordings.load_verified(w.domain.settings, ref)
        except recordings.RecordingProblem as exc:
            return error_page(request, exc.status, "录音无法播放", str(exc))
        filename = f"{ticket.number}.wav"
    return recording_response(request, data, filename)


@router.get("/calls/unfiled")
@page
def unfiled_calls(request: Request) -> Response:
    """The calls that filed nothing (``no_speech``: a fax machine's tones, no speech) and
    kept their recording, for whoever may hear them (``recordings.may_hear``)."""
    with work(request) as w:
        if not recordings.may_hear(w.actor, None):
            raise Forbidden("未形成工单的来电录音不属于任何承办单位，仅话务员和管理员可查看。")
        calls = [(c, mask_phone(c.caller)) for c in recordings.unfiled(w.session, w.actor)]
        return render(request, "unfiled_calls.html", {
            "calls": calls, "limit": recordings.UNFILED_LISTED})


@router.get("/calls/{record_id}/recording")
@page
def call_recording(record_id: RowIdPath, request: Request) -> Response:
    """A call record's recording (a call that filed no ticket has no other route), under
    the rule of every recording route (``recordings.may_hear``): out of scope is 404."""
    with work(request) as w:
        rec = recordings.call_of(w.session, w.actor, record_id)
        if rec is None:
            return error_page(request, 404, "没有录音", "没有这条来电录音，或不在您的权限范围内。")
        try:
            data = recordings.load_verified(w.domain.settings, recordings.of_call(rec))
        except recordings.RecordingProblem as exc:
            return error_page(request, exc.status, "录音无法播放", str(exc))
    return recording_response(request, data, f"call-{record_id}.wav")


def recording_response(request: Request, data: bytes, filename: str) -> Response:
    """A verified recording as a player asks for it (a ``Range`` to seek: 206, or 416)."""
    headers = {
        "Accept-Ranges": "bytes",
        # Recordings are personal data: never kept by shared caches or the browser's disk.
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    try:
        span = recordings.byte_range(request.headers.get("range"), len(data))
    except recordings.RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{len(data)}"
        return Response(status_code=416, headers=headers)
    if span is None:
        return Response(data, media_type="audio/wav", headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start:end + 1], status_code=206, media_type="audio/wav",
                    headers=headers)
