"""Which addresses Salon may fetch from the web (the SSRF rules), without any I/O.

Only public unicast addresses are fetched: private, loopback, link-local, multicast, reserved,
unspecified and shared (carrier NAT) addresses are refused, and so are IPv6 forms that carry
one of them (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64). An admin may allow some
anyway (``SALON_FETCH_ALLOW_PRIVATE``: networks such as ``10.1.0.0/16`` or host names), for a
self-hosted service on the private network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from salon.domain.errors import SalonError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Codes of FetchRefused: one per reason a fetch does not happen or fails.
FETCH_BAD_URL = "FETCH_BAD_URL"  # not http(s), no host, credentials in it, malformed
FETCH_ADDRESS_REFUSED = "FETCH_ADDRESS_REFUSED"  # resolves to a non-public address
FETCH_DNS_FAILED = "FETCH_DNS_FAILED"  # the host name does not resolve
FETCH_TOO_MANY_REDIRECTS = "FETCH_TOO_MANY_REDIRECTS"
FETCH_TOO_LARGE = "FETCH_TOO_LARGE"  # the body is over the size limit
FETCH_TIMEOUT = "FETCH_TIMEOUT"  # not done within the time limit
FETCH_FAILED = "FETCH_FAILED"  # connection refused/reset, TLS failure, HTTP error status


class FetchRefused(SalonError):
    """A web fetch Salon refused or could not complete; ``code`` is one of the FETCH_* codes."""

    code = FETCH_FAILED
    default_detail = "The address could not be fetched."


@dataclass(frozen=True)
class AllowList:
    """Non-public targets an admin allows: networks and (lower-case) host names."""

    networks: tuple[IpNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()


def parse_allow_list(text: str) -> AllowList:
    """``SALON_FETCH_ALLOW_PRIVATE``: comma-separated networks (``10.0.0.0/8``), single
    addresses (``127.0.0.1``, ``::1``) or host names (``images.lan``). Empty: nothing."""
    networks: list[IpNetwork] = []
    hosts: set[str] = set()
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.lower().rstrip("."))
    return AllowList(networks=tuple(networks), hosts=frozenset(hosts))


def embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IpAddress) -> bool:
    """A global unicast address whose embedded IPv4 address (if any) is public too."""
    inner = embedded_ipv4(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public_address(address.ipv4_mapped)  # the same host, whatever the Python
    if not address.is_global or address.is_multicast or address.is_reserved:
        return False
    return inner is None or is_public_address(inner)


def may_connect(address: IpAddress, *, host: str, allow: AllowList) -> bool:
    """Whether Salon may connect to ``address``, which ``host`` (the URL's host) resolved to."""
    if is_public_address(address):
        return True
    if host.lower().rstrip(".") in allow.hosts:
        return True
    candidates = [address]
    inner = embedded_ipv4(address)
    if inner is not None:
        candidates.append(inner)
    return any(a in net for a in candidates for net in allow.networks if a.version == net.version)
