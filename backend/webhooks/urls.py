"""Which webhook URLs may be called (SSRF): outside dev and test only https, and only hosts whose every
address is global, unless the operator names the host in WEBHOOK_ALLOW_HOSTS."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from backend.errors import error

WebhookUrlNotAllowed = error("WEBHOOK_URL_NOT_ALLOWED", 422, "该地址不允许作为 Webhook 目标（仅限公网 https 地址）")


def _refuse(url: str, reason: str) -> WebhookUrlNotAllowed:
    return WebhookUrlNotAllowed(details={"url": url[:200], "reason": reason})


def parse(url: str) -> tuple[str, str]:
    """(scheme, host) of an absolute http(s) URL, or WEBHOOK_URL_NOT_ALLOWED."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _refuse(url, "malformed") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise _refuse(url, "scheme")
    if parts.username or parts.password:
        raise _refuse(url, "credentials")
    return parts.scheme, host


async def check(url: str, *, app_env: str, allow_hosts: tuple[str, ...] = ()) -> None:
    """Refuse a URL this deployment must not call: WEBHOOK_URL_NOT_ALLOWED (422), with the reason."""
    scheme, host = parse(url)
    if app_env in ("dev", "test") or host in allow_hosts:
        return
    if scheme != "https":
        raise _refuse(url, "https_required")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [literal]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            raise _refuse(url, "unresolvable") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise _refuse(url, "private_address")
