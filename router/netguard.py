"""The SSRF guard: never send to loopback, private, link-local or other internal addresses.

A destination URL is checked when it is created and again on every connection: the
host is resolved, *every* address it resolves to must be public (or inside
``EVENTROUTER_ALLOWED_NETWORKS``), and the connection is made to the address that was
checked, so a DNS answer that changes between check and connect (rebinding) cannot
slip through. IPv4-mapped, 6to4 and Teredo IPv6 forms are judged by the IPv4 address
they carry.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeDestination(httpcore.ConnectError):
    """The host resolves to an address eventrouter refuses to send to.

    A ``ConnectError`` so httpx surfaces it like any failed connection; the delivery
    code recognises it (as the ``__cause__`` of httpx's error) and fails the attempt
    permanently instead of retrying.
    """


def parse_networks(text: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs from ``"127.0.0.0/8, 10.1.0.0/16"``; ``ValueError`` names a bad one."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    networks: list[IPNetwork] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"{part!r} is not a network; use CIDR notation like 10.0.0.0/8"
            ) from None
    return tuple(networks)


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def address_problem(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``ip`` is refused (``"loopback"``, ``"private"``…), or ``None`` if it is fine."""
    if any(ip in network for network in allowed if network.version == ip.version):
        return None
    inner = _embedded_ipv4(ip)
    if inner is not ip and any(
        inner in network for network in allowed if network.version == inner.version
    ):
        return None
    for candidate in (inner, ip):
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link-local"
        if candidate.is_multicast:
            return "multicast"
        if candidate.is_unspecified:
            return "unspecified"
        if candidate.is_reserved:
            return "reserved"
        if candidate.is_private:
            return "private"
        if not candidate.is_global:
            return "not globally routable"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, IPAddress] = {}
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        seen.setdefault(address, ipaddress.ip_address(address))
    return list(seen.values())


def check_host(host: str, port: int, allowed: Sequence[IPNetwork] = ()) -> list[IPAddress]:
    """The addresses of ``host`` if all are allowed; else ``UnsafeDestination`` says why."""
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    for ip in addresses:
        problem = address_problem(ip, allowed)
        if problem is not None:
            raise UnsafeDestination(
                f"{host} resolves to {ip}, a {problem} address; eventrouter does not send "
                "there unless EVENTROUTER_ALLOWED_NETWORKS includes it"
            )
    return addresses


T = TypeVar("T")


def dial(addresses: Sequence[IPAddress], connect: Callable[[str], T]) -> T:
    """Connect to the first of the checked ``addresses`` that answers (dual-stack hosts)."""
    last: Exception | None = None
    for address in addresses:
        try:
            return connect(str(address))
        except (OSError, httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            last = exc
    assert last is not None
    raise last


def blocked_reason(exc: BaseException) -> str | None:
    """The guard's message if ``exc`` (an httpx error) was caused by the guard."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, UnsafeDestination):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    return None


def endpoints_in(config: Any) -> list[tuple[str, int]]:
    """Every ``(host, port)`` a destination config points at: its http(s) URLs and an
    SMTP server, at any depth."""
    found: list[tuple[str, int]] = []
    if isinstance(config, dict):
        smtp = config.get("smtp")
        if isinstance(smtp, dict) and isinstance(smtp.get("host"), str):
            found.append((smtp["host"], int(smtp.get("port") or 0)))
        for value in config.values():
            found += endpoints_in(value)
    elif isinstance(config, list):
        for value in config:
            found += endpoints_in(value)
    elif isinstance(config, str):
        # Schemes are case-insensitive ("HTTP://169.254.169.254/" is a valid URL for the
        # validator and the transport), so compare the parsed, lower-cased scheme.
        try:
            parts = urlsplit(config.strip())
            port = parts.port
        except ValueError:
            return found
        scheme = parts.scheme.lower()
        if scheme in ("http", "https") and parts.hostname:
            found.append((parts.hostname, port or (443 if scheme == "https" else 80)))
    return found


def check_endpoints(config: Any, allowed: Sequence[IPNetwork]) -> None:
    """Refuse a config pointing at an internal address (``UnsafeDestination``).

    A host that does not resolve yet is let through: it is checked again, and pinned,
    on every connection.
    """
    for host, port in endpoints_in(config):
        try:
            check_host(host, port, allowed)
        except UnsafeDestination:
            raise
        except httpcore.ConnectError:
            continue
