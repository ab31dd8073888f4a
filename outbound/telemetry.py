"""Outbound figures for Prometheus, kept in this process: how late each due item was
when a worker took it. The database side (oldest item still waiting) is read at scrape
time by ``hotline.observability``, so a dead worker shows up too."""

from __future__ import annotations

from prometheus_client import Histogram

from outbound.models import Kind

LATENESS_SECONDS = Histogram(
    "hotline_reminder_lateness_seconds", "Claim time minus due time of outbound work items",
    labelnames=["kind"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900),
)
# Served at zero from the start, as the other process figures are: a labelled series that
# appears only after its first claim leaves the dashboard with no data after a restart
# and cannot be told apart from a metric that is not exported at all.
for _kind in Kind:
    LATENESS_SECONDS.labels(_kind.value)
