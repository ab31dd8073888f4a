"""Web console for operators, handlers and supervisors, served under /console.

Server-rendered Jinja2 pages with htmx (vendored in static/) for the bits that update in
place; no front-end build. It lives in the composition root because its dashboard reads
the tables of ivr/ and asr/ as well as ticketing/, which must not depend on it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from hotline.console import dashboard, intake, kb, supervision, views
from hotline.console.web import (
    OUTAGE_RETRY_AFTER_SECONDS,
    PREFIX,
    STATIC_DIR,
    outage_page,
    too_long_page,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
router.include_router(views.router)
router.include_router(intake.router)
router.include_router(dashboard.router)
router.include_router(kb.router)
router.include_router(supervision.router)


def on_console(path: str) -> bool:
    """True for a path of the console's (a browser's pages), False for the API's."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


__all__ = ["OUTAGE_RETRY_AFTER_SECONDS", "on_console", "outage_page", "router", "static_files",
           "too_long_page"]
