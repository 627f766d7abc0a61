"""The FHIR REST API as one ASGI endpoint (https://hl7.org/fhir/R4/http.html).

Dispatch is by path segment count and method, which is all FHIR's URL grammar needs and avoids a regex
router on the hot path. Each request builds a `RequestContext` and calls one interaction.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from caregate.audit import AuditLog, audit_event
from caregate.auth.bearer import BearerValidator
from caregate.clock import instant_now
from caregate.errors import FhirError, incorrect
from caregate.fhir.xmlformat import FhirFormatError, parse_xml
from caregate.interactions import capabilities, create, delete, history, patch, read, search, transaction, update
from caregate.interactions import structure_definitions as definitions_op
from caregate.interactions import terminology as terminology_op
from caregate.interactions import validation as validation_op
from caregate.interactions.audit_search import read_audit, search_audit
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import permit_everything
from caregate.policy import Actor
from caregate.policy.rules import Policy
from caregate.search.registry import Registry
from caregate.storage.base import ResourceStore
from caregate.web import audit as audit_facts
from caregate.web.authn import OPEN_PATHS, authenticate
from caregate.web.explain_access import DEFINITION_ID, OPERATION, ExplainAccess, definition_url
from caregate.web.explain_access import read_definition as read_explain_definition
from caregate.web.purpose import purpose_of
from caregate.web.render import JSON, Format, error_response, json_response, render
from caregate.web.subscriptions import SubscriptionWeb

log = logging.getLogger("caregate")
MAX_BODY = 64 * 1024 * 1024
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json-patch+json", "text/json")
_XML_TYPES = ("application/fhir+xml", "application/xml", "text/xml", "xml")
_WRITES = ("POST", "PUT", "PATCH", "DELETE")  # a write commits its AuditEvent with itself (not a batch's entries)


class FhirApi:
    def __init__(self, store: ResourceStore, registry: Registry, base_url: str, *, page_default: int = 20,
                 page_max: int = 1000, started: str = "", validation: str = "lenient") -> None:
        self.store = store
        self.validation = validation  # strict | lenient | off (interactions/validation.py)
        self.registry = registry
        self.base_url = base_url.rstrip("/")
        self.page_default = page_default
        self.page_max = page_max
        self.started = started
        self.subscriptions: SubscriptionWeb | None = None  # the Subscriptions backport, when wired in
        self.bearer: BearerValidator | None = None  # None: no authentication (--no-auth)
        self.audit: AuditLog | None = None  # None: interactions are not audited
        self.security: dict | None = None  # CapabilityStatement.rest.security when authentication is on
        self.policy: Policy | None = None  # the access policy's roles and labels; None: scopes alone
        self.explain_access: ExplainAccess | None = None  # $explain-access for administrators (with sign-in)
        self._capabilities: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        out = JSON
        try:
            raw_qs = scope.get("query_string", b"")
            params = parse_qsl(raw_qs.decode("utf-8", "replace"), keep_blank_values=True) if raw_qs else []
            out = _negotiate(request, params)
            response = await self._dispatch(request, scope, params, out)
        except FhirError as exc:
            response = error_response(exc, out)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"route": scope.get("route_template")}})
            response = error_response(FhirError("fault", "The server failed to process the request; "
                                                         "the error has been logged."), out)
        if self.audit is not None:
            response = await self._audited(request, scope, response, out)
        if self.subscriptions is not None:  # break-glass requests: their record first (subscriptions/breakglass.py)
            response = await self.subscriptions.after(request, scope, response, out)
        await response(scope, receive, send)

    async def _audited(self, request: Request, scope: Scope, response: Response, out: Format) -> Response:
        """Commit the request's AuditEvent before its response goes out; no audit record, no response.

        A write that succeeded committed its record with itself, in the outbox (`audit_facts.write_notes`): it
        is answered at once, and the log chains the note soon after (audit/log.py). A failed write left no note
        and is audited here, as every other request is."""
        assert self.audit is not None
        if scope.get(audit_facts.NOTED) and response.status_code < 400:
            self.audit.nudge()
            return response
        facts = audit_facts.access(scope, scope.get("caregate.actor"), response.status_code,
                                   instant_now(), scope.get("caregate.purpose"),
                                   getattr(request, "_body", None), getattr(response, "body", None),
                                   response.headers.get("location"))
        try:
            await self.audit.record(audit_event(facts, self.base_url), facts.patients)
        except Exception:
            log.exception("audit record not written", extra={"fields": {"route": scope.get("route_template")}})
            return error_response(FhirError("fault", "The request could not be audited, so it is not answered."),
                                  out)
        return response

    def _ctx(self, prefer: dict[str, str], actor: Actor | None = None) -> RequestContext:
        return RequestContext(self.store, self.registry, self.base_url, prefer.get("handling") == "strict",
                              self.page_default, self.page_max, actor=actor, validation=self.validation,
                              policy=self.policy,
                              write_check=self.subscriptions.service.check if self.subscriptions else None)

    async def _dispatch(self, request: Request, scope: Scope, params: list[tuple[str, str]],
                        out: Format) -> Response:
        path = scope["path"]
        rest = path[path.find("/fhir") + 5:] if "/fhir" in path else path
        seg = [s for s in rest.split("/") if s]
        method = scope["method"]
        n = len(seg)
        prefer = _prefer(request)
        ret = prefer.get("return")
        actor = None
        if self.bearer is not None and tuple(seg) not in OPEN_PATHS:
            actor = authenticate(self.bearer, request.headers)
            scope["caregate.actor"] = actor
        ctx = self._ctx(prefer, actor)
        if tuple(seg) not in OPEN_PATHS:
            scope["caregate.purpose"] = purpose_of(request.headers, actor)
            ctx.purpose = scope["caregate.purpose"].code
            if self.audit is not None and method in _WRITES:
                ctx.notes = audit_facts.write_notes(scope, request, self.base_url, n == 0)

        def route(template: str) -> None:
            scope["route_template"] = template

        headers = request.headers
        if n == 0:
            route("/fhir")
            if method == "POST":
                return render(await transaction.transaction(ctx, await _body(request)), self.base_url, ret, out)
            if method == "GET":
                return render(await search.search(ctx, None, params), self.base_url, ret, out)
            raise FhirError("not-allowed", f"{method} is not supported on the base URL.")
        head = seg[0]
        if head == "Subscription" and self.subscriptions is not None:
            if actor is not None and seg[-1].startswith("$"):
                permit_everything(ctx, "read")  # notifications and their payloads may hold any type
            answer = await self.subscriptions.intercept(request, seg, params, route, out)
            if answer is not None:
                return answer
        if n == 1 and head == OPERATION and self.explain_access is not None:
            route(f"/fhir/{OPERATION}")
            if method not in ("GET", "POST"):
                raise FhirError("not-allowed", f"{OPERATION} takes GET or POST (Parameters).")
            body = await _body(request) if method == "POST" else None
            return json_response(await self.explain_access(ctx, params, body), out=out)
        if n == 1 and head == "metadata":
            route("/fhir/metadata")
            if method != "GET":
                raise FhirError("not-allowed", "metadata only supports GET.")
            return json_response(self._capability_json(), out=out)
        if n == 1 and head == "_history":
            route("/fhir/_history")
            return render(await history.history(ctx, None, None, params), self.base_url, ret, out)
        if n == 1 and head == "_search" and method == "POST":
            route("/fhir/_search")
            return render(await search.search(ctx, None, params + await _form(request)), self.base_url, ret, out)
        if head == "AuditEvent" and self.audit is not None:  # the audit trail, not the resource store
            route("/fhir/{type}" if n == 1 else "/fhir/{type}/{id}")
            if method != "GET" or n > 2:
                raise FhirError("not-allowed", "AuditEvents are written by the server only; read or search them.")
            await self.audit.settle()  # this process's writes' records, still in the outbox, join the trail first
            if n == 1:
                return render(await search_audit(ctx, self.audit, params), self.base_url, ret, out)
            return render(await read_audit(ctx, self.audit, seg[1]), self.base_url, ret, out)
        if n == 1:
            route("/fhir/{type}")
            if method == "GET" and head == definitions_op.TYPE:  # with the shipped UK Core profiles
                return render(await definitions_op.search_definitions(ctx, params), self.base_url, ret, out)
            if method == "GET":
                return render(await search.search(ctx, head, params), self.base_url, ret, out)
            if method == "POST":
                result = await create.create(ctx, head, await _body(request), headers.get("if-none-exist"))
                return render(result, self.base_url, ret, out)
            if method == "PUT":
                crit = scope.get("query_string", b"").decode()
                return render(await update.conditional_update(ctx, head, crit, await _body(request),
                                                              headers.get("if-match")), self.base_url, ret, out)
            if method == "DELETE":
                crit = scope.get("query_string", b"").decode()
                return render(await delete.conditional_delete(ctx, head, crit), self.base_url, ret, out)
            raise FhirError("not-allowed", f"{method} is not supported on [base]/{head}.")
        if head in terminology_op.OPERATIONS and 2 <= n <= 3 and seg[-1] in terminology_op.OPERATIONS[head]:
            route(f"/fhir/{{type}}/{seg[-1]}" if n == 2 else f"/fhir/{{type}}/{{id}}/{seg[-1]}")
            if method not in ("GET", "POST"):
                raise FhirError("not-allowed", f"{seg[-1]} takes GET or POST (Parameters).")
            body = await _body(request) if method == "POST" and await request.body() else None
            result = await terminology_op.terminology_operation(ctx, head, seg[1] if n == 3 else None, seg[-1], body,
                                                                params)
            return render(result, self.base_url, ret, out)
        if (n == 2 and seg[1] == "$validate") or (n == 3 and seg[2] == "$validate"):
            route("/fhir/{type}/$validate" if n == 2 else "/fhir/{type}/{id}/$validate")
            if method not in ("GET", "POST"):
                raise FhirError("not-allowed", "$validate takes POST (or GET on an instance).")
            body = await _body(request) if method == "POST" and await request.body() else None
            result = await validation_op.validate_operation(ctx, head, seg[1] if n == 3 else None, body, params)
            return render(result, self.base_url, ret, out)
        if n == 2 and seg[1] == "_search":
            route("/fhir/{type}/_search")
            if method != "POST":
                raise FhirError("not-allowed", "_search takes POST with a form body.")
            return render(await search.search(ctx, head, params + await _form(request)), self.base_url, ret, out)
        if n == 2 and seg[1] == "_history":
            route("/fhir/{type}/_history")
            return render(await history.history(ctx, head, None, params), self.base_url, ret, out)
        if n == 2:
            route("/fhir/{type}/{id}")
            id_ = seg[1]
            if method == "GET" and head == definitions_op.TYPE:
                return render(await definitions_op.read_definition(ctx, id_), self.base_url, ret, out)
            if method == "GET" and head == "OperationDefinition" and id_ == DEFINITION_ID and self.explain_access:
                return render(await read_explain_definition(ctx), self.base_url, ret, out)
            if method == "GET":
                return render(await read.read(ctx, head, id_), self.base_url, ret, out)
            if method == "PUT":
                return render(await update.update(ctx, head, id_, await _body(request), headers.get("if-match")),
                              self.base_url, ret, out)
            if method == "DELETE":
                return render(await delete.delete(ctx, head, id_, headers.get("if-match")), self.base_url, ret,
                              out)
            if method == "PATCH":
                ctype = headers.get("content-type", "")
                if "json" not in ctype and "xml" not in ctype:
                    raise FhirError("unsupported-media", "PATCH takes application/json-patch+json (JSON Patch) or a "
                                                         "FHIRPath Patch as application/fhir+json or +xml.")
                return render(await patch.patch(ctx, head, id_, await _body(request, any_json="xml" not in ctype),
                                                headers.get("if-match")), self.base_url, ret, out)
            raise FhirError("not-allowed", f"{method} is not supported on [base]/{head}/[id].")
        if n == 3 and seg[2] != "_history" and not seg[2].startswith("$"):
            route("/fhir/{type}/{id}/{compartment-type}")
            if method != "GET":
                raise FhirError("not-allowed", "Compartment searches take GET.")
            return render(await search.compartment_search(ctx, head, seg[1], seg[2], params), self.base_url, ret,
                          out)
        if n == 3 and seg[2] == "_history":
            route("/fhir/{type}/{id}/_history")
            return render(await history.history(ctx, head, seg[1], params), self.base_url, ret, out)
        if n == 4 and seg[2] == "_history":
            route("/fhir/{type}/{id}/_history/{vid}")
            if method != "GET":
                raise FhirError("not-allowed", "A version can only be read.")
            return render(await read.vread(ctx, head, seg[1], seg[3]), self.base_url, ret, out)
        route("unmatched")
        raise FhirError("not-found", f"No FHIR interaction is found at {path}.")

    def _capability_json(self) -> bytes:
        if self._capabilities is None:
            topics = self.subscriptions.service.catalog.urls if self.subscriptions is not None else ()
            cs = capabilities.capability_statement(self.registry, self.base_url, self.started, topics)
            if self.security is not None:
                cs["rest"][0]["security"] = self.security
            if self.audit is not None:
                audit_facts.declare(cs)
            if self.explain_access is not None:
                cs["rest"][0]["operation"] = [{"name": DEFINITION_ID, "definition": definition_url(self.base_url)}]
            self._capabilities = orjson.dumps(cs)
        return self._capabilities


def _prefer(request: Request) -> dict[str, str]:
    """`Prefer: return=minimal, handling=strict` (RFC 7240)."""
    out: dict[str, str] = {}
    header = request.headers.get("prefer")
    if not header:
        return out
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


def _negotiate(request: Request, params: list[tuple[str, str]]) -> Format:
    """JSON or XML, from `_format` first and `Accept` second (https://hl7.org/fhir/R4/http.html#mime)."""
    pretty = ("_pretty", "true") in params
    fmt = next((v for k, v in params if k == "_format"), None)
    if fmt is not None:
        if any(fmt.startswith(x) for x in _XML_TYPES):
            return Format(True, pretty)
        if not (fmt == "json" or any(fmt.startswith(x) for x in _JSON_TYPES)):
            raise FhirError("not-acceptable", f"Unknown _format {fmt!r}: use json, xml or a FHIR media type.")
        return Format(False, pretty)
    accept = request.headers.get("accept", "")
    if not accept:
        return Format(False, pretty)
    wants_json = any(t in accept for t in (*_JSON_TYPES, "*/*", "application/*", "json"))
    wants_xml = any(t in accept for t in _XML_TYPES)
    if wants_xml and (not wants_json or accept.find("xml") < accept.find("json") or "json" not in accept):
        return Format(True, pretty)
    if not wants_json:
        raise FhirError("not-acceptable", "This server answers in FHIR JSON or XML (application/fhir+json, "
                                          "application/fhir+xml).")
    return Format(False, pretty)


async def _body(request: Request, any_json: bool = False) -> object:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    xml = ctype in _XML_TYPES and not any_json
    if ctype and not xml and ctype not in _JSON_TYPES and not (any_json and ctype.endswith("json")):
        raise FhirError("unsupported-media", f"Content-Type {ctype!r} is not supported; "
                                             "send application/fhir+json or application/fhir+xml.")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise FhirError("too-large", f"The request body is larger than {MAX_BODY // (1024 * 1024)} MB.")
    raw = await request.body()
    if not raw:
        raise incorrect("The request has no body; send a FHIR resource.")
    if xml:
        try:
            return parse_xml(raw)
        except FhirFormatError as exc:
            raise FhirError("incorrect", f"The body is not valid FHIR XML: {exc.message}", exc.expression) from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise incorrect(f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc


async def _form(request: Request) -> list[tuple[str, str]]:
    """POST `_search` bodies are application/x-www-form-urlencoded (search.html#Introduction)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if not raw:
        return []
    if ctype and ctype != "application/x-www-form-urlencoded":
        raise FhirError("unsupported-media", "POST _search takes application/x-www-form-urlencoded.")
    return parse_qsl(raw.decode(), keep_blank_values=True)


__all__ = ["FhirApi", "Result"]
