"""What `serve` needs before it faces a network: an optional API key, a check of the Host header against DNS
rebinding, and headers that keep browsers from running or framing anything the page did not mean to.

The key, when set, is asked of every route but the page's static files (the page and its script): `X-API-Key: KEY`
or `Authorization: Bearer KEY`, compared in constant time. A web page on another site that resolves its own name to
this machine (DNS rebinding) sends its own name as Host, so only the bound name, loopback names and the names given
in `allowed_hosts` are answered.
"""

from __future__ import annotations

import hmac
import ipaddress
import json

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


async def _reply(send, status: int, detail: str, extra_headers: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS, *(extra_headers or [])]})
    await send({"type": "http.response.body", "body": body})
