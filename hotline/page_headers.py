"""Headers that keep every answer from being sniffed as another type or framed by another
site: the console's pages (callers' details, forms a framing page could trick a staff
member into sending), the public status page and the API alike. One place, the app's
outermost middleware, for every router, mount and error handler (sec57)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Framing refused for every answer; the standard header for browsers that read CSP, the
# old one for those that do not.
FRAMING = "frame-ancestors 'none'"
# The console and the status page load only their own scripts (htmx, console.js from
# /console/static) and no plugin; inline styles stay allowed (the monthly report's <style>,
# style attributes, htmx's indicator style). /docs is left this base policy alone: its
# Swagger UI is loaded from a CDN.
PAGES = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
         "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
         f"{FRAMING}")
STRICT_PREFIXES = ("/console", "/s/")


def policy_for(path: str) -> str:
    return PAGES if path.startswith(STRICT_PREFIXES) else FRAMING


class AddedHeaders:
    """An ASGI middleware that adds headers to every HTTP answer's start, from what the
    request asked (``scope``) and the headers the answer already names (lower-cased)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def added(self, scope: Scope, named: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                named = {name.lower(): value for name, value in headers}
                message["headers"] = [*headers, *self.added(scope, named)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PageHeaders(AddedHeaders):
    """``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and a
    ``Content-Security-Policy`` on every HTTP answer that does not name its own."""

    def added(self, scope: Scope, named: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        wanted = (
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", policy_for(scope.get("path", "")).encode()),
        )
        return [(name, value) for name, value in wanted if name not in named]
