"""What keeps the service safe to expose: security headers, the Host allowlist, the API key check.

Pure ASGI middleware (no FastAPI import), each answering a refusal with the JSON ``{"error": ...}``
of every other error.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any, Awaitable, Callable, Iterable

#: the web page's Content-Security-Policy: everything from this origin only; no inline script (the page
#: has none) and no <style> elements; images also from blob: and data: URLs (uploads, pasted images and
#: the canvas are shown through them); no framing. The page sets no style attributes either.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' blob: data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
#: the names a loopback-bound server answers to (DNS rebinding: a hostile page whose own name
#: resolves to 127.0.0.1 sends its name in Host)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
API_KEY_HEADER = "X-API-Key"

ASGIApp = Callable[..., Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) is loopback only."""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def key_matches(sent: bytes | None, key: str) -> bool:
    """Constant-time comparison of the header's raw bytes with ``key`` (UTF-8): non-ASCII keys work."""
    return sent is not None and hmac.compare_digest(sent, key.encode("utf-8"))


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v
    return None


async def send_json_error(send: Callable, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()):
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WholeFiles:
    """Serves every file whole: a request's ``Range`` and ``If-Range`` headers are dropped and no answer
    offers ranges (the web page's files are small), so a malformed or unsatisfiable range cannot get
    Starlette's own plain-text 400 / 416 instead of an answer."""

    _DROP = {b"range", b"if-range"}

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() not in self._DROP]}

        async def send_whole(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [(k, v) for k, v in message.get("headers", ())
                                                  if k.lower() != b"accept-ranges"]}
            await send(message)

        await self.app(scope, receive, send_whole)


class OneValueEach:
    """Refuses (422) a query that names a parameter twice (``?lang=zh&lang=ja``): which one the client
    meant is a guess, and FastAPI would silently take the last."""

    def __init__(self, app: ASGIApp, on_refuse: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.on_refuse = on_refuse

    async def __call__(self, scope, receive, send):
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"&" in query:
            from urllib.parse import parse_qsl

            seen: set[str] = set()
            for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if name in seen:
                    if self.on_refuse:
                        self.on_refuse(scope.get("path", ""))
                    return await send_json_error(send, 422, f"query parameter {name[:40]!r} given more than "
                                                 "once: give each parameter once")
                seen.add(name)
        await self.app(scope, receive, send)


class HostAllowlist:
    """Refuses (400) requests whose Host header is not one of ``hosts`` (names, without the port)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str], on_refuse: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.hosts = {h.lower().strip("[]") for h in hosts}
        self.on_refuse = on_refuse

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw = (_header(scope, b"host") or b"").decode("latin-1").strip().lower()
        name = raw[1:].split("]")[0] if raw.startswith("[") else raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw
        if name not in self.hosts:
            if self.on_refuse:
                self.on_refuse(scope.get("path", ""))
            shown = raw[:60] or "(none)"
            return await send_json_error(send, 400, f"Host {shown!r} is not allowed: this server answers to "
                                         f"{', '.join(sorted(self.hosts))} (see --allowed-host)")
        await self.app(scope, receive, send)


class RequireKey:
    """Refuses (401) requests to ``paths`` (exact, or prefixes ending in '/') without the API key."""

    def __init__(self, app: ASGIApp, key: str, paths: Iterable[str], on_refuse: Callable[[str], None] | None = None):
        self.app = app
        self.key = key
        self.paths = tuple(paths)
        self.on_refuse = on_refuse

    def _guarded(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.paths)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self._guarded(scope.get("path", "")):
            if not key_matches(_header(scope, API_KEY_HEADER.lower().encode()), self.key):
                if self.on_refuse:
                    self.on_refuse(scope.get("path", ""))
                return await send_json_error(send, 401, UNAUTHORIZED, [(b"www-authenticate", b"X-API-Key")])
        await self.app(scope, receive, send)


UNAUTHORIZED = "missing or wrong API key (send it in the X-API-Key header)"
