"""Sign-in through an external OpenID Connect provider, on HTTP: the button on the sign-in page starts it, the
provider sends the browser back to the callback, and the SMART authorization then continues as for a local
user (patient picker for staff when needed, then consent).

The pending authorization request is kept server-side under a hash of the `state` sent to the provider, and
is bound to the browser that started it by a short-lived cookie (so a callback URL replayed in another
browser, a login CSRF, is refused). Every failure is a page saying what went wrong, never a server error.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from caregate.auth.federation import CALLBACK_PATH, Federation, FederationError, Identity, Provider, RelyingParty
from caregate.auth.server import AuthorizationRequest, AuthorizationServer, PageError, RedirectError
from caregate.auth.users import User
from caregate.web.record_lookup import RecordLookup

START_PATH = "/auth/federation/start"
COOKIE = "caregate_federation"
LIFETIME = 600
_LOG = logging.getLogger("caregate.auth")


class FederationWeb:
    def __init__(self, server: AuthorizationServer, federation: Federation, lookup: RecordLookup,
                 page: Callable[[str, int], Response]) -> None:
        self.server = server
        self.federation = federation
        self.lookup = lookup
        self.page = page  # an error page with a status
        self.relying_party = RelyingParty(federation, server.service.issuer + CALLBACK_PATH, server.service.now)

    def buttons(self) -> list[tuple[str, str]]:
        """(name, title) of each provider, for the sign-in page."""
        return [(p.name, p.title) for p in self.federation.providers.values()]

    async def start(self, form: dict[str, str]) -> Response:
        """POST from the sign-in page: check the app's request again, then send the browser to the provider."""
        provider = self.federation.get(form.pop("provider", ""))
        if provider is None:
            return self.page("That sign-in service is not one this server trusts.", 400)
        try:
            req = await anyio.to_thread.run_sync(self.server.check_request, form)
        except PageError as exc:
            return self.page(str(exc), 400)
        except RedirectError as exc:
            return RedirectResponse(exc.redirect, 302)
        try:
            started = await anyio.to_thread.run_sync(self.relying_party.start, provider)
        except FederationError as exc:
            return self.page(str(exc), exc.status)
        browser = secrets.token_urlsafe(24)
        await anyio.to_thread.run_sync(self.server.hold, started.state, {
            "request": asdict(req), "provider": provider.name, "nonce": started.nonce, "verifier": started.verifier,
            "browser": _digest(browser)}, LIFETIME)
        response = RedirectResponse(started.url, 303)
        response.set_cookie(COOKIE, browser, max_age=LIFETIME, path="/auth/federation/", httponly=True,
                            samesite="lax", secure=self.server.service.issuer.startswith("https://"))
        return response

    async def callback(self, request: Request, next_page: Callable[[str], Awaitable[Response]]) -> Response:
        """GET from the provider with `code` and `state` (or `error`): the verified identity becomes a caregate
        user, and `next_page` shows what follows for the ticket (patient picker or consent)."""
        params = request.query_params
        held = await anyio.to_thread.run_sync(self.server.take, params.get("state", ""))
        if held is None:
            return self._done(self.page("This sign-in has expired or was already used; start again from the app.",
                                        400))
        if not secrets.compare_digest(held["browser"], _digest(request.cookies.get(COOKIE, ""))):
            return self._done(self.page("This sign-in was started in another browser; start again from the app.",
                                        400))
        provider = self.federation.get(held["provider"])
        if provider is None:
            return self._done(self.page("That sign-in service is no longer trusted here.", 400))
        if "error" in params or "code" not in params:
            return self._done(self.page(f"{provider.title} did not sign you in. You can start again from the app.",
                                        401))
        try:
            who = await anyio.to_thread.run_sync(self.relying_party.finish, provider, params["code"], held["nonce"],
                                                 held["verifier"])
        except FederationError as exc:
            _LOG.warning("federated sign-in refused", extra={"fields": {"provider": provider.name,
                                                                        "reason": type(exc).__name__}})
            return self._done(self.page(str(exc), exc.status))
        user, problem = await self._user(provider, who)
        if user is None:
            return self._done(self.page(problem, 403))
        req = AuthorizationRequest(**held["request"])
        ticket = await anyio.to_thread.run_sync(self.server.federated, req, user, list(who.amr), who.vot,
                                                 who.aal)
        return self._done(await next_page(ticket))

    async def _user(self, provider: Provider, who: Identity) -> tuple[User | None, str]:
        """The caregate user for the identity, linked to their record by the claim mapping; or why not."""
        patient = practitioner = None
        if provider.users == "patient":
            if not who.nhs_number:
                return None, (f"{provider.title} did not tell this server your NHS number, so your record cannot "
                              "be found.")
            patient = await self.lookup.patient_by_nhs_number(who.nhs_number)
            if patient is None:
                return None, (f"This server holds no record for the NHS number {provider.title} gave. Ask your "
                              "care provider to check your details.")
        else:
            if not who.staff_id:
                return None, f"{provider.title} did not say who you are as a member of staff."
            practitioner = await self.lookup.by_identifier("Practitioner", provider.claims.staff_id_system,
                                                           who.staff_id)
            if practitioner is None:
                return None, (f"This server holds no practitioner record for your {provider.title} account. Ask "
                              "your administrator to add it.")
        name = f"{provider.name}:{who.subject}"
        user = await anyio.to_thread.run_sync(lambda: self.server.service.users.link(
            name, patient=patient, practitioner=practitioner, org=who.org, roles=who.roles, proofing=who.proofing))
        if user is None:
            return None, "Your account on this server has been disabled."
        return user, ""

    @staticmethod
    def _done(response: Response) -> Response:
        response.delete_cookie(COOKIE, path="/auth/federation/")
        return response


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
