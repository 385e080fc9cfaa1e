"""Which network addresses a provider URL may lead to — checked when an admin stores a URL, and
again on every connection (`gateway.upstream`), against the address the name resolves
to *then*: a name that later resolves to a private or metadata address (DNS rebinding) never
receives the gateway's provider key. The connection is pinned to the address that was checked.
"""

from __future__ import annotations

import ipaddress

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints that are not link-local (AWS IPv6, Alibaba, Oracle legacy).
_METADATA_IPS = {ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200",
                                                   "192.0.0.192")}
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: private in practice


def address_problem(address: IpAddress, allow_private: bool) -> str | None:
    """Why `address` may not be a provider's, or None when it may."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_link_local or address in _METADATA_IPS:
        return f"a link-local or metadata address ({address})"
    if address.is_unspecified or address.is_multicast:
        return f"an unusable address ({address})"
    shared = address.version == 4 and address in _SHARED
    if address.is_private or address.is_loopback or shared:
        return None if allow_private else f"a private address ({address})"
    if address.is_reserved:
        return f"an unusable address ({address})"
    return None


def parse_ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
