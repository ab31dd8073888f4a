"""The trace of a staff account's refused request: one WARNING line naming the account.

A refused action changes nothing and its transaction rolls back, so it writes no audit
event; without this line only the access log said it, with an address and no user, and
nobody could tell that a handler kept trying another unit's tickets, or their own unit's
figures (trial55). One place for the API and the console: the unit of work
(``ticketing.deps.unit_of_work``, ``hotline.console.web.work``) leaves the account on the
request's state, and this middleware logs every 403 (who they are may not) and 404 (what
they may not see reads as nothing) answered to it."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.observability import shown_target
from ticketing.actors import Actor

log = logging.getLogger(__name__)

REFUSED = (403, 404)


def _logging_refusals(scope: Scope, send: Send) -> Send:
    """``send``, logging the start of a 403 or 404 answered to the account on the state."""

    async def watch(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in REFUSED:
            actor = scope.get("state", {}).get("actor")
            if isinstance(actor, Actor):
                log.warning("refused %s %s %s to user %s %s (%s, unit %s)",
                            message["status"], scope.get("method"),
                            shown_target(str(scope.get("path", ""))),
                            actor.id, actor.name, actor.role.value, actor.unit_code or "-")
        await send(message)

    return watch


class RefusalTrail:
    """ASGI middleware: every HTTP answer goes out through ``_logging_refusals``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        await self.app(scope, receive, _logging_refusals(scope, send) if http else send)
