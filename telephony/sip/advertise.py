"""The address the SIP front end names itself by: the one rule for its Contact, its Via,
the REGISTER, and the c=/o= of every SDP it sends (docs/sip.md, "Thirty-sixth round
(advert50)").

A socket bound to a wildcard (``sip.bind_ip = 0.0.0.0``, as docker-compose's nodes are)
takes packets on every address, but 0.0.0.0 named to a peer is nowhere: c=IN IP4 0.0.0.0
is "on hold" (RFC 2543), so a phone sends and plays no audio, and a Contact of 0.0.0.0
sends every in-dialog request nowhere. The address advertised is, in order:

1. ``sip.advertised_ip`` when set (a NAT's public address, a host's carrier-facing one);
2. ``sip.bind_ip`` when it is an address of its own;
3. for a wildcard bind, the local address the kernel would send from toward the peer that
   calls come through: the registrar (register mode), else the first trusted source, else
   the default route (``DEFAULT_ROUTE_PROBE``, a documentation address never answered).
   A UDP socket's ``connect`` picks the route and ``getsockname`` reads it; nothing is
   sent.

Still a wildcard, or no route at all: ``AdvertiseError``, and the front end does not start.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from config.settings import SipSettings
from telephony.sip.uri import unicast_ipv4

# Where a direct-mode node trusting no proxy looks for its own address: the route a packet
# to TEST-NET-1 (RFC 5737, never assigned, so never a real peer) would take, which is the
# default route's. Any port: only the route is read.
DEFAULT_ROUTE_PROBE = ("192.0.2.1", 5060)

Route = Callable[[str, int], str]


class AdvertiseError(RuntimeError):
    """No address to name ourselves by: the front end must not start."""


def route_source(host: str, port: int) -> str:
    """The local address the kernel sends from toward ``host``: connecting a UDP socket
    chooses the route and sends nothing. OSError when there is no route (or no such name)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        return str(sock.getsockname()[0])


def is_wildcard(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip()).is_unspecified
    except ValueError:
        return False  # a host name names a host


def _peer(sip: SipSettings) -> tuple[str, int, str]:
    """Whom calls come through, to find our address toward: (host, port, which setting)."""
    if sip.mode == "register":
        return sip.registrar_ip, sip.registrar_port, "sip.registrar_ip"
    if sip.trusted_sources:
        first = sip.trusted_sources[0].strip()
        try:
            # A network ("10.0.0.0/8"): its first address is on the route to all of it.
            net = ipaddress.ip_network(first, strict=False)
            first = str(next(iter(net.hosts()), net.network_address))
        except ValueError:
            pass  # a host name: connect resolves it
        return first, 5060, "sip.trusted_sources[0]"
    return *DEFAULT_ROUTE_PROBE, "the default route"


def advertised_ip(sip: SipSettings, route: Route = route_source) -> str:
    """The address our Contact, Via, REGISTER and SDP name (the module's rule). Raises
    AdvertiseError naming the setting to change when there is none but a wildcard."""
    if sip.advertised_ip.strip():
        chosen, source = sip.advertised_ip.strip(), "sip.advertised_ip"
    elif not is_wildcard(sip.bind_ip):
        return sip.bind_ip
    else:
        host, port, source = _peer(sip)
        try:
            chosen = route(host, port)
        except OSError as exc:
            raise AdvertiseError(
                f"sip.bind_ip is {sip.bind_ip} (every address) and no route toward {host} "
                f"({source}) to take ours from ({exc}): set HOTLINE_SIP__ADVERTISED_IP to "
                "the address callers and the proxy reach this node on") from exc
        source = f"our address toward {host} ({source})"
    try:
        return unicast_ipv4(chosen)
    except ValueError as exc:
        raise AdvertiseError(
            f"the SIP address to advertise, {source}, {exc}: a Contact or SDP c= naming it "
            "reaches nobody (c=0.0.0.0 is 'on hold': no audio). Set HOTLINE_SIP__ADVERTISED_IP "
            "to the address callers and the proxy reach this node on") from exc
