"""SIP URIs and name-addr values: the URI inside a header, its user part, host and port,
and where a dial target goes. Pure functions, no socket."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

DEFAULT_PORT = 5060

_TAG = re.compile(r";\s*tag=[^;>\s]*", re.IGNORECASE)


def strip_tag(value: str) -> str:
    """A From/To value without its tag (the dialog's URI as we put it in our requests)."""
    return _TAG.sub("", value)


# A name-addr's display name as a quoted string (RFC 3261 25.1: any character but an
# unescaped quote, a backslash escapes one), skipped before looking for the URI's "<".
_QUOTED = re.compile(r'\s*"(?:[^"\\]|\\.)*"', re.DOTALL)


def display_name_end(header_value: str) -> int:
    """Where a name-addr's quoted display name ends (0: none is quoted)."""
    quoted = _QUOTED.match(header_value)
    return quoted.end() if quoted else 0


def uri_of(header_value: str) -> str:
    """The URI inside a From/To/Contact/Route value (name-addr or addr-spec). A quoted
    display name may hold "<" and ">" (``"王 <办公室>" <sip:138...@gw>``): before
    (judge30) its first "<" was taken for the URI's, and the caller's number was lost."""
    rest = header_value[display_name_end(header_value):]
    if "<" in rest:
        return rest.split("<", 1)[1].split(">", 1)[0].strip()
    return rest.split(";", 1)[0].strip()


def uri_hostport(uri: str) -> tuple[str, int]:
    """Host and port of a SIP URI; ValueError when the port is not one (a peer's Contact
    with a port of thousands of digits must fail when the INVITE arrives, not at BYE)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[1] if "@" in rest else rest
    hostport = re.split(r"[;?>]", rest, maxsplit=1)[0]
    host, _, port = hostport.partition(":")
    if not port:
        return host, DEFAULT_PORT
    if not (port.isascii() and port.isdigit()) or len(port) > 5 or not 0 < int(port) < 65536:
        raise ValueError(f"bad port in {uri[:80]!r}")
    return host, int(port)


def unicast_ipv4(value: str) -> str:
    """``value`` if it is a unicast IPv4 address, the only kind our sockets send to;
    ValueError saying why otherwise. Host names are refused too: each packet to one
    would be a DNS look-up, on whatever thread sends it, as slow as its DNS server
    wants (an RTP stream, the timer thread that retransmits BYE for every call)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError as exc:
        raise ValueError(f"{value[:60]!r} is not an IP address") from exc
    if (ip.version != 4 or ip.is_multicast or ip.is_unspecified
            or ip == ipaddress.IPv4Address("255.255.255.255")):
        raise ValueError(f"{value} is not a unicast IPv4 address")
    return str(ip)


def uri_scheme(uri: str) -> str:
    """The scheme of a URI, lower case (RFC 3261 19.1.4: schemes compare case-blind)."""
    scheme, colon, _ = uri.partition(":")
    return scheme.strip().lower() if colon else ""


def uri_user(uri: str) -> str:
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split("@", 1)[0] if "@" in rest else ""


def plain_user(user: str) -> str:
    """A URI's user as it reads: its parameters dropped (``13912345678;cpc=ordinary``) and
    its %-escapes decoded (RFC 3261 19.1.4: ``sip:%2B8613912345678@`` is
    ``sip:+8613912345678@``, as some gateways write the caller's +). Left as written where
    the escapes decode to a control character or to no UTF-8: the caller's user reaches
    every log line of the call and its record (message.split_message refuses them raw)."""
    user = user.split(";", 1)[0]
    try:
        plain = unquote(user, errors="strict")
    except UnicodeDecodeError:
        return user
    return plain if plain.isprintable() else user


def sip_uri(user: str, host: str, port: int | None = None) -> str:
    """``sip:user@host[:port]`` (no user: ``sip:host[:port]``)."""
    hostport = host if port is None else f"{host}:{port}"
    return f"sip:{user}@{hostport}" if user else f"sip:{hostport}"


def dial_target(target: str, *, registrar: tuple[str, int] | None) -> tuple[str, tuple[str, int]]:
    """Request-URI and where to send the INVITE for ``target`` (a SIP URI, user@host, or a
    bare number). With a ``registrar`` (register mode) everything goes to it as outbound
    proxy and a bare number becomes number@registrar; without one (direct mode) the target
    must name its host. ValueError for a bare number in direct mode."""
    target = target.strip()
    if target.startswith(("sip:", "sips:")):
        uri = target
    elif "@" in target:
        uri = f"sip:{target}"
    elif registrar is not None:
        uri = sip_uri(target, *registrar)
    else:
        raise ValueError(f"direct mode needs a SIP URI to call, not {target!r}")
    return uri, registrar if registrar is not None else uri_hostport(uri)
