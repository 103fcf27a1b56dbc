"""What `serve` needs before it faces a network: an optional API key, a check of the Host header against DNS
rebinding, headers that keep browsers from running or framing anything the page did not mean to, and a budget of
request-body bytes per client address.

The key, when set, is asked of every route but the page's static files (the page and its script): `X-API-Key: KEY`
or `Authorization: Bearer KEY`, compared in constant time. A web page on another site that resolves its own name to
this machine (DNS rebinding) sends its own name as Host, so only the bound name, loopback names and the names given
in `allowed_hosts` are answered.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import time

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
PUBLIC_PATHS = frozenset({"/", "/page.js", "/favicon.ico"})  # the page's static files: no key needed
# The page loads its script from this server and talks only to it; Swagger UI (/docs) needs its inline script.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _host_name(header: str) -> str:
    """The name in a Host header, without its port: "example.org:8000" -> "example.org", "[::1]:80" -> "::1"."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: Host check, API key, security headers. `allowed_hosts` may hold "*" (any Host)."""

    def __init__(self, app, bound_host: str, api_key: str | None = None, allowed_hosts: tuple[str, ...] = ()):
        self.app, self.api_key = app, api_key.encode() if api_key else None
        names = set(LOOPBACK_NAMES) | {h.lower() for h in allowed_hosts}
        if bound_host not in WILDCARDS:
            names.add(bound_host.lower().strip("[]"))
        self.any_host, self.hosts = "*" in names, names

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        host = _host_name(headers.get(b"host", b"").decode("latin-1").lower())
        if not self.any_host and host not in self.hosts:
            return await _reply(send, 400, f"requests for host {host!r} are not served here (see --allowed_hosts)")
        if self.api_key and scope["path"] not in PUBLIC_PATHS and not self._has_key(headers):
            return await _reply(send, 401, "this server needs an API key: X-API-Key: KEY or Authorization: Bearer KEY",
                                [(b"www-authenticate", b"Bearer")])
        policy = (DOCS_POLICY if scope["path"].startswith(("/docs", "/redoc", "/static")) else PAGE_POLICY).encode()

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS,
                                                   (b"content-security-policy", policy)]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _has_key(self, headers: dict) -> bool:
        given = headers.get(b"x-api-key") or headers.get(b"authorization", b"").removeprefix(b"Bearer ").strip()
        return bool(given) and hmac.compare_digest(given, self.api_key)


class ClientBudget:
    """ASGI middleware: each client address may send `bytes_per_second` of request bodies, in bursts of up to
    `burst` bytes. A request whose declared length is over what its client has left gets 429 from its headers alone,
    and its connection is closed, so that its body is never read: reading near-1 MB bodies hundreds of times a
    second (a flood of requests that will be refused anyway) is what took the cores from everyone else.

    A refused request is charged too, and its 429 is held back until the client's budget would allow it, for up to
    `hold_seconds` (as nginx's limit_req delays rather than refuses). Refusing at once only made the flood faster:
    hundreds of connections a second, each opened, parsed and closed, still took most of a core; a held request
    costs a sleeping coroutine, and a client that keeps sending over its budget stays refused until it stops (its
    debt is bounded by `max_debt_seconds` of budget). A body sent in chunks, with no declared length, is charged as
    it arrives. Behind a proxy every client has the proxy's address: turn this off there (`bytes_per_second` 0) and
    let the proxy limit each client."""

    def __init__(self, app, bytes_per_second: float, burst: int, hold_seconds: float = 2.0,
                 max_debt_seconds: float = 30.0, max_clients: int = 10_000):
        self.app, self.rate, self.burst, self.hold = app, bytes_per_second, burst, hold_seconds
        self.max_debt, self.max_clients = max_debt_seconds * bytes_per_second, max_clients
        self.clients: dict[str, tuple[float, float]] = {}  # address -> (bytes left, when)

    def left(self, client: str, now: float) -> float:
        left, when = self.clients.get(client, (self.burst, now))
        return min(self.burst, left + (now - when) * self.rate)

    def charge(self, client: str, size: int) -> None:
        now = time.monotonic()
        if len(self.clients) >= self.max_clients and client not in self.clients:
            self.clients = {c: v for c, v in self.clients.items() if self.left(c, now) < self.burst}
        self.clients[client] = (max(-self.max_debt, self.left(client, now) - size), now)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.rate:
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown",))[0]
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit():
            size, left = int(declared), self.left(client, time.monotonic())
            if size > left:
                self.charge(client, size)
                wait = (size - self.left(client, time.monotonic())) / self.rate
                await asyncio.sleep(min(self.hold, wait))
                retry = math.ceil(max(0.0, wait - self.hold))
                return await _reply(send, 429, f"over {self.rate:,.0f} request bytes a second from this address; "
                                               f"retry in {retry} s", [(b"retry-after", str(retry).encode()),
                                                                       (b"connection", b"close")])
            self.charge(client, size)
            return await self.app(scope, receive, send)

        async def charged_receive():
            message = await receive()
            self.charge(client, len(message.get("body", b"")))
            return message

        await self.app(scope, charged_receive, send)


async def _reply(send, status: int, detail: str, extra_headers: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS, *(extra_headers or [])]})
    await send({"type": "http.response.body", "body": body})
