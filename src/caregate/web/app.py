"""The ASGI application: FHIR under `/fhir`, operations endpoints at the root."""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from caregate.web.cors import CorsMiddleware
from caregate.web.fhir_api import FhirApi
from caregate.web.oauth import PATHS as OAUTH_PATHS
from caregate.web.oauth import OAuthWeb
from caregate.web.observe import Metrics, ObserveMiddleware
from caregate.web.render import json_response


class Root:
    """Routes `/fhir/...` to the FHIR API and answers `/healthz`, `/readyz` and `/metrics`."""

    def __init__(self, fhir: FhirApi, metrics: Metrics, oauth: OAuthWeb | None = None) -> None:
        self.fhir = fhir
        self.metrics = metrics
        self.oauth = oauth  # the authorization server, when authentication is on
        registered = None  # without authentication every origin may read, as every caller may
        if oauth is not None:
            clients = oauth.server.service.clients

            def registered() -> list[str]:
                return [uri for client in clients.list() for uri in client.redirect_uris]

        self._http = CorsMiddleware(self._route, registered)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            subscriptions = self.fhir.subscriptions
            if subscriptions is not None and subscriptions.is_websocket_path(scope["path"]):
                await subscriptions.websocket(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self._http(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if self.oauth is not None and path in OAUTH_PATHS:
            await self.oauth(scope, receive, send)
            return
        if path == "/fhir" or path.startswith("/fhir/"):
            await self.fhir(scope, receive, send)
            return
        response: Response
        if path == "/healthz":
            scope["route_template"] = "/healthz"
            response = PlainTextResponse("ok\n")
        elif path == "/readyz":
            scope["route_template"] = "/readyz"
            ok = await self.fhir.store.ping()
            response = PlainTextResponse("ready\n" if ok else "database unreachable\n", 200 if ok else 503)
        elif path == "/metrics":
            scope["route_template"] = "/metrics"
            response = PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")
        else:
            response = json_response({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error", "code": "not-found",
                "diagnostics": "Nothing here: the FHIR API is at /fhir."}]}, 404)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.fhir.subscriptions is not None:  # follow the change log, deliver notifications
                    await self.fhir.subscriptions.service.start()
                if self.fhir.audit is not None:  # writes' records left in the outbox (audit/log.py)
                    self.fhir.audit.watch_outbox()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.fhir.subscriptions is not None:
                    await self.fhir.subscriptions.service.stop()
                if self.fhir.bearer is not None:
                    self.fhir.bearer.close()
                if self.fhir.audit is not None:
                    self.fhir.audit.close()
                await self.fhir.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def asgi_app(fhir: FhirApi, *, access_log: bool = True, oauth: OAuthWeb | None = None) -> ObserveMiddleware:
    metrics = Metrics()
    return ObserveMiddleware(Root(fhir, metrics, oauth), metrics, access_log)
