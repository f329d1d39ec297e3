"""Reusable checks for provider configuration; every error says how to fix it."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from . import encoding
from .outbound.rendering import control_character
from .presets import recognise

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# RFC 9110 token characters.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
SENDER_ID = re.compile(r"[\w +\-.&]*\Z")


def validate_identifier(value: str) -> None:
    if not IDENTIFIER.match(value):
        raise ValidationError(
            "“%(value)s” is not a valid variable name: use letters, digits and "
            "underscores, starting with a letter (e.g. subAccountId).",
            code="invalid_variable_name",
            params={"value": value},
        )


def validate_header_name(value: str) -> None:
    if not HEADER_NAME.match(value):
        raise ValidationError(
            "“%(value)s” is not a valid header name: use letters, digits and "
            "- _ . only, with no spaces or colons (e.g. Content-Type).",
            code="invalid_header_name",
            params={"value": value},
        )


def validate_no_control_characters(value: str, *, what: str = "This value") -> None:
    """Refuse CR, LF, NUL, the other C0 controls and DEL, naming the one found."""
    found = control_character(value)
    if found is None:
        return
    name, position = found
    raise ValidationError(
        "%(what)s contains %(name)s at character %(position)d; remove it: control "
        "characters would split or corrupt the HTTP request.",
        # A line break keeps its own code: it is the one that injects headers.
        code="line_break" if "line break" in name else "control_character",
        params={"what": what, "name": name, "position": position},
    )


def validate_sender_id(value: str) -> None:
    validate_no_control_characters(value)
    if not SENDER_ID.match(value):
        raise ValidationError(
            "Sender IDs may contain letters, digits, spaces and + - . & only.",
            code="invalid_sender_id",
        )


def validate_sender_for_endpoint(sender_id: str, endpoint: str) -> None:
    """The documented sender-ID limits of the provider serving `endpoint`."""
    preset = recognise(endpoint) if sender_id else None
    if preset is None:
        return
    problems = preset.sender_rules.problems(sender_id, provider=preset.label)
    if problems:
        raise ValidationError(
            [ValidationError(p, code="sender_id_refused") for p in problems]
        )


# Blocks the IANA special-purpose registries mark as not globally reachable (or
# that no provider can live in) which Python 3.11's ipaddress still calls global.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(block)
    for block in (
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.88.99.0/24",  # 6to4 relay anycast, retired (RFC 7526)
        "::/96",  # IPv4-compatible, deprecated (RFC 4291): no public route
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): a site's own translators
        # Teredo, refused whole: the client address is obfuscated and the server
        # part names a relay, so no single IPv4 address says where it leads.
        "2001::/32",
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 segment identifiers (RFC 9602)
        "fec0::/10",  # site-local, deprecated (RFC 3879) yet routed inside sites
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix (RFC 6052)


def blocked_address(address: str) -> bool:
    """True for addresses a provider endpoint may not use in production.

    An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64, 6to4) is
    routed to that IPv4 address, so that is the one judged."""
    ip = ipaddress.ip_address(address)
    carried = carried_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return not_public(carried or ip)


def described(address: str) -> str:
    """The address, and the IPv4 address it leads to when it carries one."""
    ip = ipaddress.ip_address(address)
    carried = carried_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return f"{address}, which leads to {carried}" if carried else address


def carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return ip.ipv4_mapped or ip.sixtofour


def not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global alone lets multicast and the reserved blocks (IPv6 ::/8, 240/4) by.
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or any(ip in block for block in NOT_PUBLIC)
    )


ENDPOINT_EXAMPLE = "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages"
EXAMPLES = {
    "The Client URL": "https://auth.example.com/oauth/token",
    "The webhook URL": "https://app.example.com/hooks/smsbridge",
}


def validate_endpoint_url(url: str, *, what: str = "The endpoint") -> None:
    """Check a fully substituted endpoint URL (or an OAuth token URL, as `what`
    names it): HTTPS, and a public host."""
    validate_no_control_characters(url, what=what)
    parts = split_url(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            "Enter a full URL beginning with https://, e.g. %(example)s.",
            code="invalid_url",
            params={"example": EXAMPLES.get(what, ENDPOINT_EXAMPLE)},
        )
    validate_host(parts.hostname)
    if parts.username or parts.password:
        raise ValidationError(
            "Put credentials in Authentication or a header, not in the URL.",
            code="credentials_in_url",
        )
    if settings.SMS_ALLOW_PRIVATE_ENDPOINTS:
        return
    if parts.scheme != "https":
        raise ValidationError(
            "%(what)s must use HTTPS: your URL must begin with https://.",
            code="not_https",
            params={"what": what},
        )
    for address in resolve_host(parts.hostname):
        if blocked_address(address):
            raise ValidationError(
                "%(host)s is a loopback, private, link-local or reserved address "
                "(%(address)s); providers must be reachable on the public internet.",
                code="private_address",
                params={"host": parts.hostname, "address": described(address)},
            )


def split_url(url: str) -> SplitResult:
    """urlsplit, with every way a URL fails to parse as an error that says why."""
    try:
        parts = urlsplit(url)
    except ValueError as err:
        # Only a bracketed host fails to split: unmatched, or not an IPv6 address.
        raise ValidationError(
            "The host's square brackets are unmatched or hold no IPv6 address: "
            "write an IPv6 address inside both brackets, e.g. "
            "https://[2001:db8::1]/send, and a host name without them.",
            code="invalid_ipv6_host",
        ) from err
    port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
    if port and not (PORT.fullmatch(port) and 1 <= int(port) <= 65535):
        raise port_error(port)
    return parts


PORT = re.compile(r"[0-9]{1,5}")


def port_error(port: str) -> ValidationError:
    return ValidationError(
        "The port “%(port)s” is not valid: use a whole number from 1 to 65535 "
        "after the colon, or leave the port out to use the scheme's default "
        "(443 for https).",
        code="invalid_port",
        params={"port": port},
    )


# Letters (any script, for internationalised names), digits, dots, hyphens,
# underscores, and the colons of an IPv6 address.
HOST = re.compile(r"[\w.:-]+\Z")


def validate_host(host: str) -> None:
    if not HOST.match(host):
        raise ValidationError(
            "The host “%(host)s” contains characters a host name cannot have (such "
            "as a space, %% or /); check the endpoint and the variables it uses.",
            code="invalid_host",
            params={"host": host},
        )


def resolve_host(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as err:
        raise ValidationError(
            "The host %(host)s could not be found (DNS lookup failed); check "
            "the spelling of the endpoint.",
            code="unresolvable_host",
            params={"host": host},
        ) from err
    return sorted({info[4][0] for info in infos})


def validate_time_zone(value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValidationError(
            "“%(value)s” is not a time zone; use a name such as Asia/Singapore.",
            code="invalid_time_zone",
            params={"value": value},
        ) from err


def validate_record_path(value: str) -> None:
    """A path into each record of a batch answer needs its `0` step."""
    if value and "0" not in value.split("."):
        raise ValidationError(
            "Write the path of the first record with 0 for its position, e.g. "
            "messages.0.clientMessageId: the 0 stands for each record in turn.",
            code="record_path_without_index",
        )


def validate_segment_count(text: str) -> None:
    """The one limit on message length, wherever a message is created."""
    limit = settings.SMS_MAX_SEGMENTS
    # Every character costs at most two units and a segment holds at least 66,
    # so most texts are known to fit without counting them.
    if len(text) * 2 <= 66 * limit:
        return
    info = encoding.analyse(text)
    if info.segments > limit:
        raise ValidationError(
            "This message is %(segments)d segments long (%(summary)s); the maximum "
            "is %(limit)d. Shorten it.",
            code="too_long",
            params={"segments": info.segments, "summary": info.summary, "limit": limit},
        )
