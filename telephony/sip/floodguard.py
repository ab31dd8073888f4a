"""Per-source rate limit for requests that start something new (INVITE, REGISTER, OPTIONS).

Scanners (SIPVicious and its kin) sweep every port 5060 with thousands of INVITEs and
REGISTERs from one address. Kamailio's pike module stops them at the front; this guard is
the service's own line for a node reached directly (direct mode, a trunk without a proxy).

Each source address has a token bucket (``rate`` per second, ``burst`` deep). A source that
empties it is banned for ``ban_seconds``: its out-of-dialog requests are dropped without an
answer, since answering tells a scanner that someone is here. Requests inside a dialog that
already exists, from its peer, are never charged to the address, so a ban cannot cut a
call in progress (each dialog has a bucket of its own instead, by Call-ID and without a
ban: ``Admission.admit_in_dialog``; the same requests from another host are charged like
new ones, ``dialog.from_peer``). Trusted sources (the proxy every call comes through) are
never limited.

What a request costs (``telephony.sip.admission`` applies these):

- every new request (INVITE, REGISTER, OPTIONS, a stray BYE...) and every malformed
  datagram: one token;
- the ACK that completes a final answer we sent (486, 488...): nothing, it is part of that
  transaction; and the ACK of a *capacity* refusal (486 busy) gives the INVITE's token
  back: a carrier's SBC in a surge is a real SIP stack that completes its transactions;
- a call that proves real (ACKed and RTP received): its INVITE's token back, so a surge of
  complete calls never empties the bucket however long it lasts;
- an INVITE to a number that is not ours: ``COST_WRONG_NUMBER`` (extension guessing);
- a call we answered that never ACKs or never sends RTP: ``COST_ABANDONED_CALL`` more
  (holding lines with half-made calls, slowly enough to stay under the rate).
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

from config.numbering import without_separators

if TYPE_CHECKING:
    from config.settings import SipSettings

log = logging.getLogger("telephony.sip")

# Enough for a scan from many addresses without letting memory grow without bound.
MAX_TRACKED_SOURCES = 10_000

# Tokens charged (see the module docstring). With the shipped bucket (20 deep, 5/s) a
# sweep of wrong numbers is silenced after about 7 guesses at once (a person who misdials
# a few times is not), and a source whose answered calls keep being abandoned after about
# 4 of them in a few seconds.
COST_WRONG_NUMBER = 3.0
COST_ABANDONED_CALL = 5.0


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
            bucket = self._bucket(source_ip, now)
            if bucket.banned_until > now:
                self.dropped += 1
                return False
            self._refill(bucket, now)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return True
            bucket.banned_until = now + self.ban_seconds
            bucket.tokens = 0
            self.bans += 1
            self.dropped += 1
            return False

    def refund(self, source_ip: str, tokens: float = 1.0) -> None:
        """Give back what a request was charged once it proved legitimate (never beyond the
        burst, and never lifting a ban)."""
        with self._lock:
            bucket = self._buckets.get(source_ip)
            if bucket is not None and bucket.banned_until <= self.clock():
                bucket.tokens = min(self.burst, bucket.tokens + tokens)

    def penalize(self, source_ip: str, tokens: float) -> bool:
        """Charge ``tokens`` more for what a source did (a wrong number, an abandoned call).
        True when this starts a ban."""
        if self.is_trusted(source_ip):
            return False
        now = self.clock()
        with self._lock:
            bucket = self._bucket(source_ip, now)
            if bucket.banned_until > now:
                return False
            self._refill(bucket, now)
            bucket.tokens -= tokens
            if bucket.tokens >= 0:
                return False
            bucket.banned_until = now + self.ban_seconds
            bucket.tokens = 0
            self.bans += 1
            return True

    def set_trusted(self, trusted: Iterable[str]) -> None:
        """Replace the trusted addresses (a proxy's name may resolve anew after a restart)."""
        self.trusted = trusted_networks(trusted)

    def is_trusted(self, source_ip: str) -> bool:
        return is_trusted_source(source_ip, self.trusted)

    def _bucket(self, source_ip: str, now: float) -> _Bucket:
        bucket = self._buckets.get(source_ip)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, updated=now)
            self._buckets[source_ip] = bucket
            if len(self._buckets) > MAX_TRACKED_SOURCES:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(source_ip)
        return bucket

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now

    def banned(self, source_ip: str) -> bool:
        with self._lock:
            bucket = self._buckets.get(source_ip)
            return bucket is not None and bucket.banned_until > self.clock()


def source_call_limit(sip: SipSettings) -> int:
    """Calls one untrusted source address may have up at once."""
    return max(1, int(sip.max_calls * sip.source_call_share))


# The core's reader of a number that came with a call (``ticketing.phones.call_number``):
# a number, its global ``phone-context`` beside it as ``uri.number_in_context`` writes it,
# in E.164 or None. Handed in by whoever builds the front end (telephony imports only
# config): the one rule for "who calls" (a From, key 1, the ticket) and for "which number
# was dialled" (here), so that the two never read one number two ways.
ReadNumber = Callable[[str], str | None]


class OurNumbers:
    """Whether the number a Request-URI dials (``uri.uri_number``: a sip: user or a tel:
    number, %-escapes decoded, a global ``phone-context`` kept beside it) is the hotline.

    Read as ``read_number`` reads a caller, it is one of ``numbers`` read the same way:
    ``+8612345``, ``010-12345``, ``12345;phone-context=+86-10`` are one service number, and a
    context names a network (``12345;phone-context=+1-212`` is New York's, not ours: before,
    its parameters were dropped unread and it was let in). Or, with no context, it is
    written as the operator listed it (visual separators aside, ``config.numbering``), or
    is ``username`` (the registrar rewrites the Request-URI to our Contact): a PBX
    extension no reader takes for a public number still answers."""

    def __init__(self, sip: SipSettings, read_number: ReadNumber) -> None:
        self._read = read_number
        self._listed = frozenset(sip.numbers) | {without_separators(n) for n in sip.numbers}
        self._username = sip.username
        self._e164 = frozenset(e for e in map(read_number, sip.numbers) if e)

    def __contains__(self, dialled: str) -> bool:
        if not dialled:
            return False
        if ";" not in dialled and (dialled in self._listed or dialled == self._username
                                   or without_separators(dialled) in self._listed):
            return True
        return self._read(dialled) in self._e164


def is_our_number(sip: SipSettings, dialled: str, read_number: ReadNumber) -> bool:
    """``dialled`` (``uri.uri_number`` of a Request-URI) is the hotline (``OurNumbers``)."""
    return dialled in OurNumbers(sip, read_number)


def untrusted_direct_warning(sip: SipSettings) -> str:
    """What an operator must hear when direct mode trusts no trunk (empty when it does, or
    in register mode): one address, even a carrier's SBC, is then treated as one caller."""
    if sip.mode != "direct" or sip.trusted_sources:
        return ""
    return (f"direct SIP mode with no trusted trunk (sip.trusted_sources is empty): each "
            f"address may hold {source_call_limit(sip)} of {sip.max_calls} lines and send "
            f"{sip.flood_rate_per_second:g} new requests/s, so a carrier SBC sending every "
            "call from one address gets 486 beyond that; list the SBC in "
            "HOTLINE_SIP__TRUSTED_SOURCES")


def is_address(entry: str) -> bool:
    """An address or a network (as opposed to a host name to resolve)."""
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def trusted_networks(trusted: Iterable[str]) -> Networks:
    """Resolved trusted entries (``resolve_trusted``) as networks to test sources against."""
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def is_trusted_source(source_ip: str, trusted: Networks) -> bool:
    """The one test of a source address against what the settings trust, both carriers:
    the SIP front end's (admission, the flood guard, ``identity.caller_address``) and
    Twilio's ``SipSourceIp`` (``counted_source``)."""
    try:
        ip = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def counted_source(source_ip: str, trusted: Networks) -> str:
    """The address a caller's keyed ticket numbers are counted by (``ivr.ticket_lookup``)
    when all that is known is where the call came from: none ("") from a trusted trunk,
    whose address is every caller's of the city (the SIP rule of
    ``identity.caller_address`` for a trusted source that names no caller below it). Twilio's
    ``SipSourceIp`` behind one carrier SIP/BYOC trunk was counted as it came, and the whole
    city shared one count, 30 an hour (review62)."""
    return "" if is_trusted_source(source_ip, trusted) else source_ip


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
