"""HTTP and websocket endpoints of the Subscriptions R5 Backport IG (http://hl7.org/fhir/uv/subscriptions-backport/).

- `GET|POST [base]/Subscription/[id]/$status` and `[base]/Subscription/$status?id=..&status=..`
- `GET|POST [base]/Subscription/[id]/$events?eventsSinceNumber=&eventsUntilNumber=&content=`
- `GET|POST [base]/Subscription/[id]/$get-ws-binding-token` and `[base]/Subscription/$get-ws-binding-token?id=..`
- the websocket at `[base]/$subscription-ws` (`bind-with-token: <token>`, then notification Bundles)

Operation parameters come from the query string or, with POST, from a Parameters body
(https://hl7.org/fhir/R4/operations.html). Subscriptions written through the REST API are checked first,
so an unknown topic, a filter the topic does not allow or a plain-HTTP remote endpoint is a 422 at once. A
caller bound by relationships, Consents or the opt-out reaches only the subscriptions they own through the
operations (`guard.owner_only`); another's answers 404 as if absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from caregate.clock import SystemClock, instant
from caregate.errors import FhirError, incorrect
from caregate.interactions.guard import owner_only
from caregate.subscriptions.service import WS_PATH, SubscriptionService
from caregate.web import audit as audit_facts
from caregate.web.render import Format, error_response, json_response

log = logging.getLogger("caregate")
OPERATIONS = ("$status", "$events", "$get-ws-binding-token")


class SubscriptionWeb:
    def __init__(self, service: SubscriptionService) -> None:
        self.service = service

    async def intercept(self, request: Request, seg: list[str], params: list[tuple[str, str]],
                        route: Callable[[str], None], out: Format) -> Response | None:
        """Answer a `[base]/Subscription...` request that is ours; None leaves it to the REST interactions."""
        method = request.method
        op = seg[-1] if seg[-1].startswith("$") else None
        if op is None:  # writes are checked by the service's `check`, wherever they come from (RequestContext)
            return None
        if len(seg) not in (2, 3):
            return None
        instance = seg[1] if len(seg) == 3 else None
        route(f"/fhir/Subscription/{'{id}/' if instance else ''}{op}")
        if op not in OPERATIONS:
            raise FhirError("not-found", f"Subscription has no operation {op}; it offers {', '.join(OPERATIONS)}.")
        if method not in ("GET", "POST"):
            raise FhirError("not-allowed", f"{op} takes GET or POST.")
        args = params + (await _parameters(request) if method == "POST" else [])
        values: dict[str, list[str]] = {}
        for name, value in args:
            values.setdefault(name, []).append(value)

        def one(name: str) -> str | None:
            found = values.get(name)
            return found[-1] if found else None

        ids = [instance] if instance else [i for v in values.get("id", []) for i in v.split(",") if i]
        purpose = request.scope.get("caregate.purpose")
        owner = owner_only(request.scope.get("caregate.actor"), purpose.code if purpose is not None else "TREAT")
        if op == "$status":
            statuses = [s for v in values.get("status", []) for s in v.split(",") if s]
            body = await self.service.status(ids or None, statuses or None, owner)
        elif op == "$events":
            if instance is None:
                raise incorrect("$events works on one subscription: [base]/Subscription/[id]/$events.")
            body = await self.service.events(instance, one("eventsSinceNumber"), one("eventsUntilNumber"),
                                             one("content"), owner)
        else:
            body = await self.service.binding_token(ids, owner)
        return json_response(body, out=out)

    async def after(self, request: Request, scope: Scope, response: Response, out: Format) -> Response:
        """A request made under break-glass is answered only once its record is stored: the durable event of
        the `break-glass-access` topic (subscriptions/breakglass.py)."""
        purpose = scope.get("caregate.purpose")
        if purpose is None or not purpose.break_glass:
            return response
        recorded = instant(SystemClock().now())
        facts = audit_facts.access(scope, scope.get("caregate.actor"), response.status_code, recorded, purpose,
                                   getattr(request, "_body", None), getattr(response, "body", None),
                                   response.headers.get("location"))
        try:
            await self.service.record_break_glass(facts.actor, purpose.reason or "", facts.patients, recorded,
                                                  f"{scope['method']} {scope['path']}", response.status_code)
        except Exception:
            log.exception("break-glass record not written", extra={"fields": {"route": scope.get("route_template")}})
            if scope.get(audit_facts.NOTED) and response.status_code < 400:
                return response  # the write happened; its AuditEvent, flagged break-glass, committed with it
            return error_response(FhirError("fault", "The break-glass access could not be recorded, so it is not "
                                                     "answered."), out)
        return response

    def is_websocket_path(self, path: str) -> bool:
        return path.rstrip("/").endswith(f"/fhir/{WS_PATH}")

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One websocket connection: read `bind-with-token` messages while a pump sends notifications."""
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        session = self.service.session(ws.send_text)
        pump = asyncio.create_task(session.pump())
        try:
            while True:
                reader = asyncio.create_task(ws.receive_text())
                done, _ = await asyncio.wait({reader, pump}, return_when=asyncio.FIRST_COMPLETED)
                if pump in done:
                    reader.cancel()
                    pump.result()  # a failed send (the client went away) ends the connection
                    return
                await session.on_text(reader.result())
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        except Exception:
            log.exception("websocket session failed")
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
            with contextlib.suppress(Exception):
                await ws.close()


async def _parameters(request: Request) -> list[tuple[str, str]]:
    """(name, value) pairs of a POSTed Parameters resource; primitive values only."""
    raw = await request.body()
    if not raw:
        return []
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise incorrect(f"The body is not valid JSON: {exc.msg}.") from exc
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise incorrect("Operations take a Parameters resource as the POST body.")
    out = []
    for param in body.get("parameter") or ():
        if isinstance(param, dict) and isinstance(param.get("name"), str):
            value = next((v for k, v in param.items() if k.startswith("value")), None)
            if isinstance(value, str | int):
                out.append((param["name"], str(value)))
    return out
