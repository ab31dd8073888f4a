"""SIP URIs and name-addr values: the URI inside a header, its user part, host and port,
and where a dial target goes. Pure functions, no socket."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

DEFAULT_PORT = 5060
# Linear white space between a message's tokens is SP and HTAB alone (RFC 3261 25.1; RFC
# 4566 5's one SP in SDP). str.split() and str.strip() without arguments also take
# U+3000, U+00A0 and every other Unicode space, which Kamailio reads as part of a token:
# a Via of "SIP/2.0/UDP evil<U+3000>192.0.2.9" had two words here and one there (review80
# closed the same trick for header names; review82 for the rest of SIP parsing).
LWS = " \t"
_LWS_RUN = re.compile("[ \t]+")


def lws_split(text: str, maxsplit: int = 0) -> list[str]:
    """``text``'s words between runs of SP and HTAB (``str.split()`` as SIP means it)."""
    return [w for w in _LWS_RUN.split(text.strip(LWS), maxsplit) if w]


def media_type(content_type: str) -> str:
    """A Content-Type value's type/subtype, lower case, without its parameters: what the
    SDP reader and an INFO's key reader both ask of it ("Application/SDP;x=1" is
    application/sdp)."""
    return content_type.split(";", 1)[0].strip(LWS).lower()


@dataclass(frozen=True)
class NameAddr:
    """One From/To/Contact/P-Asserted-Identity/Remote-Party-ID value, read once by
    ``parse_name_addr``: ``addr`` is the value up to its header parameters (display name and
    ``<URI>``, or the bare addr-spec), ``params`` those parameters as written, ``tag`` the
    ``tag`` one ("" without)."""

    display: str
    uri: str
    addr: str
    params: tuple[tuple[str, str], ...]

    @property
    def tag(self) -> str:
        # The last tag with a value: an empty ``;tag`` is no tag (``_has_tag`` asks this),
        # so we answer ``;tag;tag=ours`` and the ACK copying it must read "ours" (review74:
        # the first, "", matched no dialog).
        return next((v for n, v in reversed(self.params) if n.lower() == "tag" and v), "")

    def without_tag(self) -> str:
        """The value as written, less its ``tag`` parameter (the dialog's local or remote
        URI, RFC 3261 12.1.1, as we put it in every request of the dialog)."""
        kept = "".join(f";{n}={v}" if v else f";{n}" for n, v in self.params
                       if n.lower() != "tag")
        return self.addr + kept


def _outside_quotes(value: str) -> list[tuple[int, str]]:
    """(index, character) of each character of ``value`` outside quoted strings (RFC 3261
    25.1: a quoted string ends at the first quote no backslash escapes). ValueError for a
    quoted string never closed."""
    out, quoted, escaped = [], False, False
    for i, ch in enumerate(value):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
            continue
        out.append((i, ch))
    if quoted:
        raise ValueError(f"unclosed quoted string in {value[:60]!r}")
    return out


def split_header_list(value: str) -> list[str]:
    """A header's comma-separated values (Route, Via, P-Asserted-Identity, ...), split on
    commas outside quoted strings (escapes as ``_outside_quotes`` reads them) and
    outside ``<>``. A quoted string never closed is one value, as written."""
    try:
        outside = _outside_quotes(value)
    except ValueError:
        return [value.strip(LWS)] if value.strip(LWS) else []
    cuts, depth = [], 0
    for i, ch in outside:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            cuts.append(i)
    bounds = zip([-1, *cuts], [*cuts, len(value)], strict=True)
    return [part for a, b in bounds if (part := value[a + 1:b].strip(LWS))]


def _split_params(text: str) -> tuple[tuple[str, str], ...]:
    """``;name=value;flag`` (quoted values may hold ";") as (name, value) pairs, each
    stripped of the LWS RFC 3261 allows around "=" (``;TAG = 5``)."""
    cuts = [i for i, ch in _outside_quotes(text) if ch == ";"]
    params = []
    for a, b in zip(cuts, [*cuts[1:], len(text)], strict=False):
        name, _, val = text[a + 1:b].partition("=")
        # LWS is SP and HTAB: str.strip() made ``received<U+3000>`` a received (review80),
        # which Kamailio reads as another parameter and appends none after.
        if name.strip(" \t"):
            params.append((name.strip(" \t"), val.strip(LWS)))
    return tuple(params)


# A Via's sent-protocol (RFC 3261 25.1: protocol-name "/" version "/" transport, LWS
# around the slashes removed by the caller, names in any case).
_AROUND_SEPARATOR = re.compile("[ \t]*([/:])[ \t]*")
_SIP_2_TRANSPORT = re.compile(r"SIP/2\.0/[A-Za-z0-9.!%*_+`'~-]+", re.IGNORECASE | re.ASCII)


def parse_via(value: str) -> dict[str, object]:
    """One Via value (RFC 3261 20.42): ``type`` its sent-protocol (``SIP/2.0/UDP``),
    ``address`` its sent-by as (host, port) -- an IPv6 reference whole, less its brackets
    (``[2001:db8::9]:5060`` is ("2001:db8::9", 5060)) -- and each parameter by its name in
    lower case, read by the one header-parameter rule (``_split_params``: any case, LWS
    around ";" and "="; of a name written twice the last, as Kamailio's parse_via keeps
    it: a proxy appends its ``received`` after any the sender forged, review77). pyVoIP's
    parser (before mend71) missed ``;Received=`` and ``; received = x`` and cut an IPv6
    sent-by at its first colon ("[2001"). ValueError when the sent-protocol is not SIP 2.0's,
    or there is no sent-by, no host or a port that is not one, or a word beside the two."""
    cuts = [i for i, ch in _outside_quotes(value) if ch == ";"]
    head = value[:cuts[0]] if cuts else value
    # LWS may stand around the sent-protocol's "/" and the sent-by's ":" (RFC 3261 25.1
    # SLASH, COLON); with it gone, the two are the two words. Taking the last word as the
    # sent-by and the rest as the protocol (sip42) refused "192.0.2.1 : 5060" and read
    # "UDP  192.0.2.1 :5060" as the protocol "UDP192.0.2.1" and an empty host (review114).
    words = lws_split(_AROUND_SEPARATOR.sub(r"\1", head))
    if len(words) < 2:
        raise ValueError(f"no sent-by in Via {value[:60]!r}")
    if len(words) > 2:
        raise ValueError(f"more than a sent-protocol and a sent-by in Via {value[:60]!r}")
    sent_by = words[-1]
    if not sent_by.isascii():
        # A host is ASCII (a name's IDN in punycode): "evil<U+00A0>192.0.2.9" is no host
        # of any reader's, not 192.0.2.9 as a Unicode split made it (review82).
        raise ValueError(f"non-ASCII sent-by in Via {value[:60]!r}")
    if sent_by.startswith("["):
        host, bracket, port = sent_by[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise ValueError(f"bad IPv6 sent-by in Via {value[:60]!r}")
        port = port[1:]
    else:
        host, _, port = sent_by.partition(":")
    if not host:
        raise ValueError(f"no host in Via {value[:60]!r}")
    if port and (not (port.isascii() and port.isdigit()) or not 0 < int(port[:6]) < 65536):
        raise ValueError(f"bad port in Via {value[:60]!r}")
    protocol = words[0]
    if not _SIP_2_TRANSPORT.fullmatch(protocol):
        # RFC 3261 20.42: SIP/2.0/transport. "garbage 192.0.2.9" was read as a Via of
        # type "garbage" and answered 200 (sip42): nothing but SIP 2.0 is ours to answer.
        raise ValueError(f"bad sent-protocol in Via {value[:60]!r}")
    via: dict[str, object] = {"type": protocol,
                              "address": (host, int(port) if port else DEFAULT_PORT)}
    for name, val in _split_params(value[cuts[0]:] if cuts else ""):
        via[name.lower()] = val
    return via


def canonical_host(host: str) -> str:
    """One spelling of a host (review77: ``2001:DB8:0:0::9`` and ``2001:0db8::0009`` were
    two callers to ``KeyedLookups``): an IP address as ``ipaddress`` writes it, a dotted
    quad with leading zeros read in decimal as Kamailio's str2ip reads it when it decides
    whether to add ``received`` (``198.051.100.005`` is 198.51.100.5), a name in lower case."""
    host = host.strip(LWS)
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and 0 < len(p) <= 3 for p in parts) \
            and all(int(p) < 256 for p in parts):
        return ".".join(str(int(p)) for p in parts)
    return host.lower()


def parse_name_addr(value: str) -> NameAddr:
    """The one reading of a name-addr or addr-spec value (RFC 3261 20.10, 25.1), as
    Kamailio's parse_nameaddr reads it: the URI is between the first "<" outside quoted
    strings, wherever it stands (``Bob "x<sip:1@h>" <sip:own@h>`` is own's), and the
    next ">"; without one, the value up to its first ";" is the URI, and every parameter
    after it is the header's (a ``;tag=`` in a quoted display name or inside the URI's
    ``<>`` is none). ValueError for a quoted string never closed or a "<" never closed."""
    value = value.strip(LWS)
    outside = _outside_quotes(value)
    lt = next((i for i, ch in outside if ch == "<"), None)
    if lt is not None:
        gt = value.find(">", lt)
        if gt < 0:
            raise ValueError(f"no '>' after '<' in {value[:60]!r}")
        display = value[:lt].strip(LWS)
        if display.startswith('"') and display.endswith('"') and len(display) >= 2:
            display = re.sub(r"\\(.)", r"\1", display[1:-1])
        return NameAddr(display=display, uri=value[lt + 1:gt].strip(LWS), addr=value[:gt + 1],
                        params=_split_params(value[gt + 1:]))
    semi = next((i for i, ch in outside if ch == ";"), len(value))
    return NameAddr(display="", uri=value[:semi].strip(LWS), addr=value[:semi].rstrip(LWS),
                    params=_split_params(value[semi:]))


def uri_of(header_value: str) -> str:
    """The URI inside a From/To/Contact/Route value (``parse_name_addr``); "" when the
    value cannot be read."""
    try:
        return parse_name_addr(header_value).uri
    except ValueError:
        return ""


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
    return scheme.strip(LWS).lower() if colon else ""


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


def number_in_context(user: str) -> str:
    """A telephone number as a tel: URI or a sip: URI's user writes it, parameters and all:
    the number as written (%-escapes decoded), and a local one's global ``phone-context``
    kept beside it in RFC 3966's own form (``65123456;phone-context=+86-21``). Where the
    context places the number is ``ticketing.phones.normalise``'s one rule, not ours
    (review74: glued here before every local number, a mobile in a Beijing context became
    +861013800138000, no number). A global number (``+86...``) or a domain's context: the
    number alone."""
    number, *params = user.split(";")
    number = plain_user(number).strip(LWS)
    if number.startswith("+"):
        return number
    for param in params:
        name, _, context = param.partition("=")
        context = plain_user(context).strip(LWS)
        if name.strip(LWS).lower() == "phone-context" and context.startswith("+"):
            return f"{number};phone-context={context}"
    return number


def uri_number(uri: str) -> str:
    """The number (or user) a sip:/sips:/tel: URI names, in its context
    (``number_in_context``); "" for any other scheme or a sip: URI with no user."""
    scheme, colon, rest = uri.partition(":")
    scheme = scheme.strip(LWS).lower()
    if not colon or scheme not in ("sip", "sips", "tel"):
        return ""
    if scheme == "tel":
        return number_in_context(rest)
    return number_in_context(rest.split("@", 1)[0]) if "@" in rest else ""


def uri_caller(value: str) -> str:
    """The party a From, To or asserted identity names: a sip:/sips: URI's user, a tel:
    URI's number (each in its ``phone-context``); "" for any other scheme. One rule for
    caller and callee (judge30: a From of ``tel:`` was refused 400; mend70: a tel: To named
    no callee)."""
    try:
        parsed = parse_name_addr(value)
    except ValueError:
        return ""
    uri = parsed.uri
    if uri_scheme(uri) == "tel":
        # ``tel:12345678;phone-context=+86-10;tag=x`` unbracketed: RFC 3261 20.10 makes its
        # parameters the header's, but phone-context can mean nothing there but the URI's.
        uri += "".join([f";{n}={v}" for n, v in parsed.params
                        if n.lower() == "phone-context"][:1])
    return uri_number(uri)


def written_as_uri(party: str) -> bool:
    """Whether a party a carrier names is a URI (``sip:+86...@city.sip.twilio.com``,
    ``tel:+86...``, Twilio's ``client:alice``) or a bare number (Twilio's E.164 ``From`` and
    ``To`` of a call from the phone network, or a word for a withheld one): a URI has a
    scheme, so a ":"; a bare number has none. The one test for Twilio's ``To``
    (``dialled_number``) and ``From`` (``ivr.caller_trust.twilio_caller``: a URI's caller is
    unverified, a bare number's vouched for by STIR/SHAKEN); review109: each wrote it."""
    return ":" in party


def dialled_number(to: str) -> str:
    """The number a caller dialled, from the To the carrier sent: a SIP To header, or
    Twilio's ``To`` parameter, which is the number in E.164 for a call from the phone
    network and the whole URI (``sip:12345@city.sip.twilio.com``) for a call to a SIP
    domain. A URI names its number as ``uri_caller`` reads it (``12345``); a bare number
    (no scheme, so no ":") is as written. The one rule for ``call_records.callee``, whichever
    front end took the call (mend91: Twilio's kept the whole URI)."""
    return uri_caller(to) if written_as_uri(to) else to.strip(LWS)


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
