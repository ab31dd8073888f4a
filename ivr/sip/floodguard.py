"""Per-source rate limit for requests that start something new (INVITE, REGISTER, OPTIONS).

Scanners (SIPVicious and its kin) sweep every port 5060 with thousands of INVITEs and
REGISTERs from one address. Kamailio's pike module stops them at the front; this guard is
the service's own line for a node reached directly (direct mode, a trunk without a proxy).

Each source address has a token bucket (``rate`` per second, ``burst`` deep). A source that
empties it is banned for ``ban_seconds``: its out-of-dialog requests are dropped without an
answer, since answering tells a scanner that someone is here. Requests inside a dialog that
already exists are never checked, so a ban cannot cut a call in progress. Trusted sources
(the proxy every call comes through) are never limited.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import SipSettings

log = logging.getLogger("ivr.sip")

# Enough for a scan from many addresses without letting memory grow without bound.
MAX_TRACKED_SOURCES = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float
    banned_until: float = 0.0


class FloodGuard:
    def __init__(self, *, rate: float, burst: int, ban_seconds: float,
                 trusted: Iterable[str] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("flood guard needs rate > 0 and burst >= 1")
        self.rate, self.burst, self.ban_seconds = rate, float(burst), ban_seconds
        self.set_trusted(trusted)
        self.clock = clock
        self.dropped = 0
        self.bans = 0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, source_ip: str) -> bool:
        """True to handle the request; False to drop it. A ban starts the moment a
        source empties its bucket (``bans`` counts them, so a caller can log each once)."""
        if self.is_trusted(source_ip):
            return True
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(source_ip)
            if bucket is None:
                bucket = _Bucket(tokens=self.burst, updated=now)
                self._buckets[source_ip] = bucket
                if len(self._buckets) > MAX_TRACKED_SOURCES:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(source_ip)
            if bucket.banned_until > now:
                self.dropped += 1
                return False
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return True
            bucket.banned_until = now + self.ban_seconds
            bucket.tokens = 0
            self.bans += 1
            self.dropped += 1
            return False

    def set_trusted(self, trusted: Iterable[str]) -> None:
        """Replace the trusted addresses (a proxy's name may resolve anew after a restart)."""
        self.trusted = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    def is_trusted(self, source_ip: str) -> bool:
        try:
            ip = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def banned(self, source_ip: str) -> bool:
        with self._lock:
            bucket = self._buckets.get(source_ip)
            return bucket is not None and bucket.banned_until > self.clock()


def is_address(entry: str) -> bool:
    """An address or a network (as opposed to a host name to resolve)."""
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def trusted_entries(sip: SipSettings) -> list[str]:
    """What the settings trust: ``trusted_sources``, plus the registrar in register mode."""
    entries = set(sip.trusted_sources)
    if sip.mode == "register":
        entries.add(sip.registrar_ip)
    return sorted(entries)


def resolve_trusted(entries: Iterable[str]) -> list[str]:
    """Addresses and networks as given; host names (``kamailio`` in docker-compose) turned
    into every IPv4 address they have now. A name that does not resolve is logged and
    skipped: the guard then limits that proxy like anyone else, which an operator sees as
    "SIP flood from ..." in the log rather than as silence."""
    out: list[str] = []
    for entry in entries:
        if is_address(entry):
            out.append(entry)
            continue
        try:
            infos = socket.getaddrinfo(entry, None, socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            log.error("trusted SIP source %r does not resolve (%s): not trusted", entry, exc)
            continue
        out.extend(sorted({str(info[4][0]) for info in infos}))
    return out
