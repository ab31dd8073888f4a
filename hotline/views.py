"""/metrics of the API, and who may read it and the details of /healthz.

Apart from ``hotline.observability`` (the logs, the figures, ``peer_allowed``): a process
without the HTTP API (`hotline serve --role ivr|outbound`, its status listener) logs and
counts with that module and never imports FastAPI (~0.3 CPU-s of every such start).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline.observability import METRICS_FORBIDDEN, peer_allowed

router = APIRouter()


def metrics_allowed(request: Request, token: str) -> bool:
    return peer_allowed(request.client.host if request.client else "", request.headers, token)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    if not metrics_allowed(request, request.app.state.settings.metrics_token):
        return Response(METRICS_FORBIDDEN, status_code=403, media_type="text/plain")
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
