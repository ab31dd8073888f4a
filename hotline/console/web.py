"""Shared machinery of the console pages: templates, the request's unit of work, errors.

Every page does all of its database work inside :func:`work`, in the endpoint's one worker
thread, and renders its template there too (for the reason given in
``ticketing.deps.unit_of_work``: on SQLite a session hopping threads deadlocks under load).
Endpoints are therefore plain ``def`` functions.
"""

from __future__ import annotations

import functools
import hmac
import json
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import quote

from fastapi import Request, params
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy.orm import Session

from hotline.console import auth, present, recordings
from hotline.console.auth import (
    ConsoleSession,
    CsrfFailed,
    LoginRequired,
    check_csrf,
    read_session,
    user_matches,
)
from ticketing.actors import Actor
from ticketing.classify import KIND_LABELS
from ticketing.context import Domain
from ticketing.models import Unit, User
from ticketing.service import REPLY_OUTCOMES, NotFound
from ticketing.states import Role

# The console's routes, and the app's split between them (pages for a browser) and the API
# (JSON): hotline.app answers an error under this prefix with a page.
PREFIX = "/console"
# How long a browser is told to wait during a database outage (the API's figure too).
OUTAGE_RETRY_AFTER_SECONDS = 5

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


@pass_context
def _local_time(ctx: Any, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(ctx["tz"]).strftime(fmt) if value else "—"


templates.env.filters.update(
    local=_local_time,
    status_label=present.status_label,
    category_label=present.category_label,
    event_label=present.event_label,
    pct=present.pct,
)
templates.env.globals.update(
    ROLE_LABELS=present.ROLE_LABELS,
    URGENCY_LABELS=present.URGENCY_LABELS,
    KIND_LABELS=KIND_LABELS,
    EMERGENCY_LABELS=present.EMERGENCY_LABELS,
    FIELD_LABELS=present.FIELD_LABELS,
    TYPED_LABELS=present.TYPED_LABELS,
    CHANNEL_LABELS=present.CHANNEL_LABELS,
    REPLY_OUTCOMES=REPLY_OUTCOMES,
)


class Forbidden(Exception):
    """The user's role may not open this page (shown as a 403 page with the message)."""


@dataclass(frozen=True)
class Me:
    """The logged-in user as pages show them; plain data, safe to use after the session."""

    id: int
    username: str
    name: str
    role: Role
    unit_name: str | None
    csrf: str
    reads_reports: bool = False  # ``reads_city_reports``: the menu links 月度通报 only then
    # ``recordings.may_hear`` of a call that filed no ticket: the menu links 无语音来电 only
    # then (before, the template named the roles itself: a second copy of the rule).
    hears_unfiled: bool = False

    @property
    def role_label(self) -> str:
        return present.ROLE_LABELS[self.role.value]


def reads_city_reports(actor: Actor, unit: Unit | None) -> bool:
    """Whether ``actor`` (of ``unit``) may read the monthly 通报, which is city-wide: whoever
    sees every ticket, or a supervisor of the top unit; a district's supervisor sees their
    own units' figures on the dashboard."""
    return actor.sees_everything or (actor.role is Role.SUPERVISOR and unit is not None
                                     and unit.parent_id is None)


@dataclass
class Work:
    session: Session
    actor: Actor
    me: Me
    domain: Domain

    def require(self, *roles: Role) -> None:
        if self.actor.role not in roles:
            raise Forbidden(f"您的角色（{self.me.role_label}）不能使用此页面。")


def signed_in(request: Request, *, csrf: str | None = None, post: bool = False) -> ConsoleSession:
    """The request's signed console session (LoginRequired without one); with ``post`` its
    CSRF token must match. Costs no database work: ``work`` asks this first, so a stranger
    buys nothing."""
    s = read_session(request)
    if s is None or s.user_id is None:
        raise LoginRequired
    if post:
        check_csrf(request, s, csrf)
    return s


@contextmanager
def work(request: Request, *, csrf: str | None = None, post: bool = False,
         read_only: bool = False) -> Iterator[Work]:
    """The logged-in user's session; with ``post`` the CSRF token must match first.
    ``read_only``: the page only reads, and on SQLite does not queue for the write lock."""
    s = signed_in(request, csrf=csrf, post=post)
    state = request.app.state
    session: Session = state.read_sessions() if read_only else state.sessions()
    try:
        user = session.get(User, s.user_id)
        if user is None or not user_matches(s, user):
            raise LoginRequired
        actor = Actor.of(user)
        request.state.actor = actor  # hotline.refusals logs a 403 or 404 answered to them
        me = Me(id=user.id, username=user.username, name=user.display_name,
                role=Role(user.role), unit_name=user.unit.name if user.unit else None,
                csrf=s.csrf, reads_reports=reads_city_reports(actor, user.unit),
                hears_unfiled=recordings.may_hear(actor, None))
        request.state.console_me = me
        yield Work(session=session, actor=actor, me=me, domain=request.app.state.domain)
    finally:
        session.rollback()
        session.close()


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status: int = 200) -> HTMLResponse:
    domain: Domain = request.app.state.domain
    ctx = {
        "me": getattr(request.state, "console_me", None),
        "tz": domain.tz,
        "now": domain.now(),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status, headers={
        # Pages carry callers' details: not kept in caches, not shown after logout via the
        # back button (framing: hotline.page_headers, for every answer).
        "Cache-Control": "private, no-store",
        "Referrer-Policy": "same-origin",
    })


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "message": message}, status)


def login_redirect(request: Request) -> Response:
    target = "/console/login"
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(path, safe='')}"
    if is_htmx(request):
        # htmx would swap a redirect's page into a fragment; ask it to navigate instead.
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def outage_page(request: Request) -> HTMLResponse:
    """A 503 page in Mandarin for a database outage, with Retry-After. The sent form's
    fields (``keep_form``; files cannot be) come back in it, shown and in a form that sends
    them again to the same address: the operator's words are not lost with the request."""
    response = _unsaved(request, 503, outage=True)
    response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
    return response


def too_long_page(request: Request) -> HTMLResponse:
    """A 422 page for a request over the database's limits (``beyond_database_limits``):
    the form's words come back to be shortened and sent again."""
    return _unsaved(request, 422, outage=False)


@dataclass(frozen=True)
class SentForm:
    """What a console form sent, kept on the request by ``page`` for the app's database
    handler (``hotline.app``), which decides which page answers and logs it."""

    typed: dict[str, str | list[str]]
    files: tuple[str, ...]


_SENT_FORM = "console_sent_form"


def keep_form(request: Request, typed: dict[str, str | list[str]],
              files: tuple[str, ...]) -> None:
    setattr(request.state, _SENT_FORM, SentForm(typed, files))


def _unsaved(request: Request, status: int, *, outage: bool) -> HTMLResponse:
    sent: SentForm = getattr(request.state, _SENT_FORM, None) or SentForm({}, ())
    kept = _words(sent.typed)
    me = getattr(request.state, "console_me", None)
    return render(request, "unavailable.html", {
        "outage": outage, "kept": kept, "action": request.url.path, "files": sent.files,
        # The session's own token, as the form that was sent carried it.
        "csrf": me.csrf if me is not None else sent.typed.get("csrf", ""),
        "retry": OUTAGE_RETRY_AFTER_SECONDS,
    }, status)


def _words(typed: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
    """The fields a form's user filled in, to be shown again: not the CSRF token (the page
    that sends them again carries its own session's), not the empty ones."""
    return {name: value for name, value in typed.items() if value and name != "csrf"}


def _form_fields(fn: Callable[..., Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The names of ``fn``'s form fields, and of its file fields (a ``File`` is a ``Form``
    to FastAPI, but no page can send a file back: the user chooses it again)."""
    fields, files = set(), []
    for name, hint in typing.get_type_hints(fn, include_extras=True).items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, params.File):
                files.append(name)
            elif isinstance(meta, params.Form):
                fields.add(name)
    return frozenset(fields), tuple(files)


def typed_fields(kwargs: dict[str, Any], fields: frozenset[str]) -> dict[str, str | list[str]]:
    """What the user typed or chose in a form, by field (the CSRF token included: the page
    that sends it again needs it, and it is the session's own)."""
    return {name: value for name, value in kwargs.items()
            if name in fields and isinstance(value, str | list)}


# The most a form's kept words may take in the login page: sent again percent-encoded, a
# Chinese character is 9 bytes of the login's body, which max_body_bytes (64 KiB) bounds. A
# reply of 5,000 characters fits; more is the plain redirect, the words lost as before.
KEPT_MAX_CHARS = 6 * 1024


@dataclass(frozen=True)
class Kept:
    """A form sent after its session ended, carried through the login page (a hidden field,
    never the URL nor a log): whose page sent it, where to, what was in it."""

    user_id: int
    action: str
    fields: dict[str, str | list[str]]
    files: tuple[str, ...]

    def dump(self) -> str:
        return json.dumps({"u": self.user_id, "a": self.action, "f": self.fields,
                           "x": list(self.files)}, ensure_ascii=False)

    @classmethod
    def load(cls, blob: str) -> Kept | None:
        try:
            data = json.loads(blob)
            kept = cls(user_id=int(data["u"]), action=str(data["a"]), fields=dict(data["f"]),
                       files=tuple(str(f) for f in data["x"]))
        except (ValueError, KeyError, TypeError):
            return None
        if not all(isinstance(v, str) or (isinstance(v, list)
                                           and all(isinstance(i, str) for i in v))
                   for v in kept.fields.values()):
            return None
        return kept


def _sender(request: Request, typed: dict[str, str | list[str]]) -> int | None:
    """The user whose console page sent ``typed``: the cookie's signature and the form's
    CSRF token vouch for it even after the session ended (logged out or its token rotated
    elsewhere, expired); None when nothing does (no cookie, another site's form)."""
    s = auth.decode(auth.signing_key(request), request.cookies.get(auth.COOKIE), now=0)
    given = typed.get("csrf")
    if s is None or s.user_id is None or not isinstance(given, str) \
            or not hmac.compare_digest(given, s.csrf):
        return None
    return s.user_id


def login_keeping(request: Request, typed: dict[str, str | list[str]],
                  files: tuple[str, ...]) -> Response:
    """The login page for a form whose session ended, its words kept in the page to be sent
    again after the login (``views.login``); a page read, or a form with nothing typed or
    not vouched for, is the usual redirect."""
    fields = _words(typed)
    user_id = _sender(request, typed) if request.method == "POST" and fields else None
    if user_id is None or is_htmx(request):
        return login_redirect(request)
    blob = Kept(user_id, request.url.path, fields, files).dump()
    if len(blob) > KEPT_MAX_CHARS:
        return login_redirect(request)
    fresh = auth.new_session(None)
    response = render(request, "login.html", {
        "csrf": fresh.csrf, "next": "", "kept": blob,
        "error": "登录已失效（可能已在别处退出，或访问令牌已更换）。您刚才填写的内容尚未保存，"
                 "已暂存在本页：重新登录后即可核对并提交。"}, 401)
    auth.set_cookie(request, response, fresh)
    return response


def kept_page(request: Request, kept: Kept, csrf: str) -> HTMLResponse:
    """After the login: the kept words under one button that sends them where they were
    going, with the new session's CSRF token."""
    return render(request, "kept.html", {
        "kept": kept.fields, "action": kept.action, "files": kept.files,
        "csrf": csrf})


P = ParamSpec("P")


def page(fn: Callable[P, Response]) -> Callable[P, Response]:
    """Turn the console's exceptions into pages: login redirect, 403, 404; any other error
    goes on to the app's handlers with the form's words kept on the request (``keep_form``:
    a database outage's page shows them)."""
    fields, files = _form_fields(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs["request"]
        assert isinstance(request, Request)
        try:
            return fn(*args, **kwargs)
        except LoginRequired:
            return login_keeping(request, typed_fields(kwargs, fields), files)
        except CsrfFailed:
            return error_page(request, 403, "安全校验失败",
                              "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")
        except NotFound:
            return error_page(request, 404, "未找到", "工单不存在，或不在您的权限范围内。")
        except Forbidden as exc:
            return error_page(request, 403, "无权访问", str(exc))
        except Exception:
            # A database error is the app's to answer (hotline.app: outage or too long,
            # logged there as the API's are); its page needs the form's words.
            keep_form(request, typed_fields(kwargs, fields), files)
            raise

    return wrapper
