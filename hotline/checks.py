"""A check's verdict and the port checks: what `hotline doctor` reports and `hotline serve`
runs before it starts (the outbound dialer's port).

Apart from ``hotline.doctor``, whose other checks import the knowledge base, Alembic's
scripts and the SIP stack (~0.6 CPU-s): `hotline serve` needs only the port check, and
paid that import in every start of the roles that run the outbound worker (docs/suite.md,
thirty-sixth round).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from config import Settings
from telephony.sip.advertise import AdvertiseError, advertised_ip


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def port_check(name: str, host: str, port: int, kind: socket.SocketKind, setting: str) -> Check:
    proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            # Not required: the port may be held by the service this doctor is checking.
            return Check(name, False, f"{host}:{port}/{proto}: {exc}",
                         f"stop what holds the port (is the service already running?), or "
                         f"set {setting}", required=False)
    return Check(name, True, f"{host}:{port}/{proto} free")


def check_outbound_port(s: Settings) -> Check:
    """The outbound dialer's own SIP port (``hotline serve`` refuses to start without it)."""
    return port_check("outbound", s.sip.bind_ip, s.outbound.sip_port, socket.SOCK_DGRAM,
                      "HOTLINE_OUTBOUND__SIP_PORT")


def check_sip_address(s: Settings) -> Check:
    """The address our Contact and SDP name (``telephony.sip.advertise``): `hotline serve`
    refuses to start the SIP parts without one, as the front end would."""
    try:
        ip = advertised_ip(s.sip)
    except AdvertiseError as exc:
        return Check("sip address", False, str(exc),
                     "set HOTLINE_SIP__ADVERTISED_IP (or HOTLINE_SIP__BIND_IP to one address)")
    how = ("sip.advertised_ip" if s.sip.advertised_ip.strip() else
           "sip.bind_ip" if ip == s.sip.bind_ip else f"bound to {s.sip.bind_ip}: the route's")
    return Check("sip address", True, f"Contact and SDP name {ip} ({how})")
