"""CORS (Fetch standard, "CORS protocol") for SMART apps that run in the browser: the FHIR API, the token
endpoint and the public discovery documents answer preflights and tell the browser which origins may read them.

With authentication on, the origins allowed on the FHIR API and the token endpoints are those of the redirect
URIs of registered apps (an app's pages are served from where it is redirected back to); the discovery
documents and the JWKS are public and readable from anywhere. No cookies are involved (bearer tokens only), so
credentials are never allowed. Without authentication every origin may read, as every caller may.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC = frozenset({"/.well-known/openid-configuration", "/fhir/.well-known/smart-configuration", "/auth/jwks"})
GUARDED = frozenset({"/auth/token", "/auth/revoke", "/auth/introspect"})
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
REQUEST_HEADERS = ("authorization, content-type, accept, if-match, if-none-match, if-none-exist, "
                   "if-modified-since, prefer, x-request-id")
EXPOSED = "location, content-location, etag, last-modified, www-authenticate, retry-after, x-request-id"
REFRESH_SECONDS = 30


def origin_of(uri: str) -> str | None:
    """The serialised origin of an absolute http(s) URI (scheme://host[:port]), None for anything else."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class CorsMiddleware:
    """`registered` lists the redirect URIs of all apps (read again at most every REFRESH_SECONDS); None
    allows every origin."""

    def __init__(self, app: ASGIApp, registered: Callable[[], Iterable[str]] | None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.registered = registered
        self.now = now
        self._origins: frozenset[str] = frozenset()
        self._read_at: float | None = None

    async def _allowed(self, origin: str) -> bool:
        if self.registered is None:
            return True
        if self._read_at is None or self.now() - self._read_at >= REFRESH_SECONDS:
            uris = await anyio.to_thread.run_sync(lambda: list(self.registered()))  # type: ignore[misc]
            self._origins = frozenset(o for o in map(origin_of, uris) if o)
            self._read_at = self.now()
        return origin in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        covered = path in PUBLIC or path in GUARDED or path == "/fhir" or path.startswith("/fhir/")
        if not origin or not covered:
            await self.app(scope, receive, send)
            return
        allowed = path in PUBLIC or await self._allowed(origin)
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if preflight:
            if not allowed:  # no CORS headers: the browser refuses the real request
                await Response(status_code=403, headers={"Vary": "Origin"})(scope, receive, send)
                return
            await Response(status_code=204, headers={
                "Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Methods": METHODS, "Access-Control-Allow-Headers": REQUEST_HEADERS,
                "Access-Control-Max-Age": "600"})(scope, receive, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = EXPOSED
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)
