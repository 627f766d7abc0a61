"""The authorization server on HTTP, at the server root (discovery documents, JWKS, authorize with its sign-in
and consent pages, token, revocation, introspection, registration). Protocol answers are JSON with
`Cache-Control: no-store` (RFC 6749 section 5.1); the pages forbid framing so consent cannot be clickjacked.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from caregate.auth.errors import OAuthError
from caregate.auth.federation import CALLBACK_PATH
from caregate.auth.federation import load as load_federation
from caregate.auth.server import AuthorizationServer, PageError, RedirectError
from caregate.auth.throttle import GuessLimiter
from caregate.auth.users import SignInRefused, User
from caregate.policy import Actor
from caregate.policy.purpose import DEFAULT as DIRECT_CARE
from caregate.policy.relationships import viewer_of
from caregate.policy.rules import Policy
from caregate.search.registry import Registry
from caregate.storage.base import ResourceStore
from caregate.web.federation import START_PATH, FederationWeb
from caregate.web.record_lookup import PICK_LIMIT, Bounds, RecordLookup
from caregate.web.signin_pages import code_page, consent_page, error_page, picker_page, sign_in_page

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PAGE_HEADERS = {**_NO_STORE, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"}
SMART_PATH = "/fhir/.well-known/smart-configuration"
PATHS = frozenset({"/.well-known/openid-configuration", SMART_PATH, "/auth/jwks", "/auth/authorize",
                   "/auth/consent", "/auth/verify", "/auth/token", "/auth/revoke", "/auth/introspect",
                   "/auth/register", "/auth/pick", START_PATH, CALLBACK_PATH})
MAX_FORM = 64 * 1024
GUARDED = frozenset({"/auth/authorize", "/auth/verify", "/auth/token"})  # where passwords and codes are guessed


def _json(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


class OAuthWeb:
    """`lookup` finds patients for the staff patient picker (and federated users' records); `federation`, when
    set, is the identity providers trusted besides (or instead of) local accounts."""

    def __init__(self, server: AuthorizationServer, lookup: RecordLookup | None = None,
                 federation: FederationWeb | None = None, policy: Policy | None = None) -> None:
        self.server = server
        self.limiter = GuessLimiter()
        self.lookup = lookup
        self.federation = federation
        self.policy = policy  # the access policy, whose roles and labels bound the patient picker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        scope["route_template"] = path
        address = (scope.get("client") or ("unknown",))[0]
        guarded = scope["method"] == "POST" and path in GUARDED
        wait = self.limiter.retry_after(address) if guarded else None
        if wait is not None:
            await _too_many(path, wait)(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request, path, scope["method"])
        except OAuthError as exc:
            response = _json(exc.to_json(), exc.status, _NO_STORE)
        if guarded and response.status_code in (400, 401):
            self.limiter.fail(address)
        await response(scope, receive, send)

    async def _dispatch(self, request: Request, path: str, method: str) -> Response:
        server = self.server
        if path == "/.well-known/openid-configuration":
            return _json(server.openid_configuration())
        if path == SMART_PATH:
            return _json(server.smart_configuration())
        if path == "/auth/jwks":
            return _json(await anyio.to_thread.run_sync(server.service.keys.jwks))
        if path == "/auth/authorize":
            return await self._authorize(request, method)
        if path == "/auth/consent":
            return await self._consent(request, method)
        if path == "/auth/verify":
            return await self._verify(request, method)
        if path == "/auth/pick":
            return await self._pick(request, method)
        if path in (START_PATH, CALLBACK_PATH):
            return await self._federated(request, path, method)
        if method != "POST":
            raise OAuthError("invalid_request", f"{path} takes POST.", 405)
        if path == "/auth/register":
            try:
                body = orjson.loads(await _limited_body(request))
            except orjson.JSONDecodeError:
                raise OAuthError("invalid_client_metadata", "The body must be JSON.") from None
            return _json(await anyio.to_thread.run_sync(server.register, body), 201, _NO_STORE)
        form = await _form(request)
        if path == "/auth/token":
            return _json(await anyio.to_thread.run_sync(server.token, form), 200, _NO_STORE)
        if path == "/auth/revoke":
            await anyio.to_thread.run_sync(server.revoke, form)
            return Response(status_code=200, headers=_NO_STORE)
        return _json(await anyio.to_thread.run_sync(server.introspect, form), 200, _NO_STORE)

    async def _authorize(self, request: Request, method: str) -> Response:
        if method == "GET":
            params = dict(request.query_params)
        elif method == "POST":
            params = await _form(request)
        else:
            return _page(error_page("Use the link the app gave you."), 405)
        try:
            req = await anyio.to_thread.run_sync(self.server.check_request, params)
        except PageError as exc:
            return _page(error_page(str(exc)), 400)
        except RedirectError as exc:
            return RedirectResponse(exc.redirect, 302, headers=_NO_STORE)
        client = self.server.service.clients.get(req.client_id)
        name = client.name if client else req.client_id
        providers = self.federation.buttons() if self.federation else []
        local = self.federation is None or self.federation.federation.local_sign_in
        if method == "GET" or "username" not in params:
            return _page(sign_in_page(params, name, providers=providers, local=local))
        if not local:
            return _page(sign_in_page(params, name, "This server signs people in only through the services below.",
                                      providers=providers, local=local), 400)
        try:
            ticket, second = await anyio.to_thread.run_sync(self.server.sign_in, req, params.get("username", ""),
                                                            params.get("password", ""))
        except SignInRefused:
            return _page(sign_in_page(params, name, "The user name or password is not right, or the account is "
                                                    "locked for a while after too many attempts.",
                                      providers=providers, local=local), 401)
        if second:
            return _page(code_page(ticket))
        return await self._next_page(ticket)

    async def _next_page(self, ticket: str) -> Response:
        """After signing in: the patient picker when a member of staff must choose a patient, else consent."""
        stage = await anyio.to_thread.run_sync(self.server.stage, ticket)
        if stage == "pick-patient":
            return _page(picker_page(ticket))
        return await self._consent_page(ticket)

    async def _consent_page(self, ticket: str) -> Response:
        req, user, scope = await anyio.to_thread.run_sync(self.server.pending, ticket)
        client = self.server.service.clients.get(req.client_id)
        patient = await anyio.to_thread.run_sync(self.server.picked, ticket)
        label = None
        if patient and self.lookup is not None:
            label = await self.lookup.label(patient)
        return _page(consent_page(ticket, client.name if client else req.client_id, user.name, scope, label))

    async def _pick(self, request: Request, method: str) -> Response:
        """The staff patient picker: POST a search (`q`) or a choice (`patient`) with the ticket."""
        if method != "POST":
            return _page(error_page("Start again from the app."), 405)
        form = await _form(request)
        ticket = form.get("ticket", "")
        try:
            req, user = await anyio.to_thread.run_sync(self.server.picking, ticket)
        except SignInRefused:
            return _page(error_page("This sign-in has expired or was already used; start again from the app."), 400)
        if self.lookup is None:
            return _page(error_page("This server cannot search for patients."), 400)
        bounds = self._bounds(req.client_id, user)
        chosen = form.get("patient")
        if chosen is not None:
            if not await self.lookup.patient_exists(chosen, bounds):
                return _page(picker_page(ticket, error="That patient record no longer exists or is not one you "
                                                       "care for; search again."), 400)
            try:
                consent = await anyio.to_thread.run_sync(self.server.pick, ticket, chosen)
            except SignInRefused:
                return _page(error_page("This sign-in has expired or was already used; start again from the app."),
                             400)
            return await self._consent_page(consent)
        query = form.get("q", "").strip()
        if not query:
            return _page(picker_page(ticket, error="Enter a name or an NHS number."), 400)
        found = await self.lookup.find_patients(query, PICK_LIMIT + 1, bounds)
        return _page(picker_page(ticket, query, found[:PICK_LIMIT], more=len(found) > PICK_LIMIT))

    def _bounds(self, client_id: str, user: User) -> Bounds:
        """The patients a member of staff reaches for direct care, as their own searches would be bounded."""
        actor = Actor.from_scope_string(user.name, client_id, "", fhir_user=user.fhir_user, roles=user.roles,
                                        org=user.org)
        found = viewer_of(actor, DIRECT_CARE)
        if found is not None and found.kinds and self.policy is not None:
            found = replace(found, kinds=self.policy.relationship_kinds(actor, found.kinds))
        hidden = self.policy.sight(actor, DIRECT_CARE).hidden if self.policy is not None else ()
        return Bounds(found, hidden)

    async def _federated(self, request: Request, path: str, method: str) -> Response:
        if self.federation is None:
            return _page(error_page("This server does not sign people in through other services."), 404)
        if path == START_PATH:
            if method != "POST":
                return _page(error_page("Start again from the app."), 405)
            return await self.federation.start(await _form(request))
        if method != "GET":
            return _page(error_page("Start again from the app."), 405)
        return await self.federation.callback(request, self._next_page)

    async def _verify(self, request: Request, method: str) -> Response:
        if method != "POST":
            return _page(error_page("Start again from the app."), 405)
        form = await _form(request)
        try:
            ticket = await anyio.to_thread.run_sync(self.server.second_factor, form.get("ticket", ""),
                                                    form.get("code", ""))
        except SignInRefused:
            return _page(code_page(form.get("ticket", ""), "The code is not right or was already used, or the "
                                                           "sign-in has expired; try again or start again."), 401)
        return await self._next_page(ticket)

    async def _consent(self, request: Request, method: str) -> Response:
        if method != "POST":
            return _page(error_page("Start again from the app."), 405)
        form = await _form(request)
        try:
            redirect = await anyio.to_thread.run_sync(self.server.decide, form.get("ticket", ""),
                                                      form.get("decision") == "allow")
        except SignInRefused:
            return _page(error_page("This sign-in has expired or was already used; start again from the app."), 400)
        return RedirectResponse(redirect, 303, headers=_NO_STORE)


def page_response(message: str, status: int) -> Response:
    """An error page as a response, for the federation routes."""
    return _page(error_page(message), status)


def _page(html: str, status: int = 200) -> Response:
    return HTMLResponse(html, status, headers=_PAGE_HEADERS)


def _too_many(path: str, wait: int) -> Response:
    """429 with Retry-After (RFC 6585 section 4): JSON for the token endpoint, a page for people."""
    message = f"Too many failed attempts from your network address; try again in {wait} seconds."
    if path == "/auth/token":
        return _json({"error": "invalid_request", "error_description": message}, 429,
                     {**_NO_STORE, "Retry-After": str(wait)})
    response = _page(error_page(message), 429)
    response.headers["Retry-After"] = str(wait)
    return response


async def _limited_body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise OAuthError("invalid_request", "The request body is too large.", 413)
    return body


async def _form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Send the parameters as application/x-www-form-urlencoded.")
    pairs = parse_qsl((await _limited_body(request)).decode("utf-8", "replace"), keep_blank_values=True)
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise OAuthError("invalid_request", f"The parameter {key} is repeated.")
        out[key] = value
    return out


def oauth_web(server: AuthorizationServer, store: ResourceStore, registry: Registry,
              federation_file: str = "", policy: Policy | None = None) -> OAuthWeb:
    """The authorization server on HTTP with its record lookups, trusting the identity providers the
    federation file names (auth/federation.py; a bad file stops the server with the reason)."""
    lookup = RecordLookup(store, registry)
    federation = None
    if federation_file:
        federation = FederationWeb(server, load_federation(federation_file), lookup, page_response)
    return OAuthWeb(server, lookup, federation, policy)
