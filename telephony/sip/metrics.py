"""The SIP front ends' Prometheus figures, kept in this process (the database has the rest).

Registered once in prometheus_client's process registry; ``hotline.observability`` serves
it beside the figures read from the database.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from telephony.sip.frontend import SipFrontEnd

ANSWER_SECONDS = Histogram(
    "hotline_call_answer_seconds", "INVITE received to 200 OK sent, inbound calls",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
)
FLOOD_DROPPED = Counter(
    "hotline_sip_flood_dropped", "Out-of-dialog SIP requests dropped by the flood guard",
)
CALLS_BY_DTMF_MODE = Counter(
    "hotline_call_dtmf_mode", "Answered calls by how their keys arrive (rfc2833 | inband)",
    labelnames=["direction", "mode"],
)
# Callers turned away, by the final answer's code (a fixed set, never from the request): 486
# (every line, or the address's share of them, busy), 503 (stopping, no RTP port) and 480 (a
# ringing call we hung up, a front end that only places calls) are lost callers at a busy
# hour; 400, 404, 415, 416, 420, 422, 488 are scanners and peers we cannot talk with. Counted
# by ``Admission.count_refusal``. Before (judge29) only the log said it: a burst of 40
# callers on 20 lines turned 14 away and no figure of /metrics moved.
INVITES_REFUSED = Counter(
    "hotline_sip_invites_refused", "Inbound INVITEs answered with a final refusal, by code",
    labelnames=["code"],
)
FLOOD_BANS = Counter("hotline_sip_flood_bans", "Source addresses banned by the flood guard")
DELAYED_OFFERS = Counter(
    "hotline_sip_delayed_offers",
    "Inbound INVITEs without SDP answered with our offer, by how the wait for the answer in "
    "the ACK ended: answered, no_ack, ack_without_sdp, unusable_answer",
    labelnames=["outcome"],
)

_frontends: weakref.WeakSet[SipFrontEnd] = weakref.WeakSet()


def track(frontend: SipFrontEnd) -> None:
    _frontends.add(frontend)


def untrack(frontend: SipFrontEnd) -> None:
    _frontends.discard(frontend)


class ActiveCalls(Collector):
    """Calls up on this node right now, counted from the live front ends when scraped (no
    counter to drift when a call ends in an unexpected way)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("hotline_calls_active", "Calls up on this node",
                              labels=["direction"])
        counts = {"inbound": 0, "outbound": 0}
        for fe in list(_frontends):
            for call in fe.active_calls():
                counts[call.direction.value] = counts.get(call.direction.value, 0) + 1
        for direction, n in counts.items():
            g.add_metric([direction], n)
        yield g


REGISTRY.register(ActiveCalls())
