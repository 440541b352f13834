"""Where a webhook may be delivered (SSRF): only to public addresses unless configuration allows private ones.

A subscription's URL is checked when it is created, and its host is resolved again at every delivery
(DNS may answer differently later): the connection is made only to the addresses checked here
(`GuardedResolver`), so a name cannot be rebound to an internal address between the check and the call."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

SCHEMES = ("http", "https")
# Names that mean this machine whatever DNS says.
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class RefusedAddress(OSError):
    """The host is (or resolves to) an address webhooks may not reach."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def public(ip: IPAddress) -> bool:
    """Whether an address is a public unicast one (not loopback, private, link-local, multicast, reserved)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def address_allowed(ip: IPAddress, allow_private: bool) -> bool:
    return allow_private or public(ip)


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why a URL cannot receive webhooks (Russian, for the person who subscribes), or None."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        return "Адрес должен начинаться с http:// или https:// и называть узел"
    if parts.username or parts.password:
        return "Адрес не должен содержать имя пользователя или пароль"
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "Порт в адресе указан неверно"
    host = parts.hostname.lower().rstrip(".")
    ip = literal_ip(host)
    local = host in LOCAL_NAMES or host.endswith(".localhost")
    if not allow_private and (local or (ip is not None and not public(ip))):
        return "Адрес ведёт во внутреннюю сеть (локальный, частный или служебный адрес): доставка туда запрещена"
    return None


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[tuple[int, str]]:
    """(family, address) of every address of `host`; RefusedAddress if any of them may not be reached."""
    ip = literal_ip(host)
    if ip is not None:
        if not address_allowed(ip, allow_private):
            raise RefusedAddress(f"address {ip} is not public")
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    if not allow_private and (host.lower().rstrip(".") in LOCAL_NAMES or host.lower().endswith(".localhost")):
        raise RefusedAddress("a local name")
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address_allowed(addr, allow_private):
            raise RefusedAddress(f"{host} resolves to a non-public address")
        if (family, str(addr)) not in found:
            found.append((family, str(addr)))
    if not found:
        raise OSError(f"{host} has no address")
    return found


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that hands the connector only addresses the rule allows."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host=addr, port=port, family=fam, proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST
            )
            for fam, addr in await resolve_checked(host, port, self.allow_private)
        ]

    async def close(self) -> None:
        return None


def refused_in(exc: BaseException) -> bool:
    """Whether a delivery failed because the address was refused (the cause may be wrapped by aiohttp)."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, RefusedAddress) or isinstance(getattr(seen, "os_error", None), RefusedAddress):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
