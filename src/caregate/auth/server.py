"""The OAuth 2.0 authorization server: SMART App Launch 2.x on OpenID Connect
(https://hl7.org/fhir/smart-app-launch/app-launch.html, RFC 6749, RFC 7636, RFC 7009, RFC 7662, RFC 7591).

Plain methods of form and query data that return dicts or raise `OAuthError`; `web.oauth` puts them on HTTP
and renders the sign-in and consent pages. Codes, pending sign-ins and refresh tokens are stored hashed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from urllib.parse import urlencode, urlsplit

from caregate.auth.assurance import authentication_level, vector_of_trust
from caregate.auth.bearer import InvalidToken
from caregate.auth.client_auth import ALGORITHMS, ClientAuthenticator
from caregate.auth.clients import Client
from caregate.auth.errors import OAuthError
from caregate.auth.service import AuthService
from caregate.auth.tokens import ACCESS_LIFETIME, grantable
from caregate.auth.users import SignInRefused, User
from caregate.policy.scopes import ScopeError, parse_scopes

CODE_LIFETIME = 120
PENDING_LIFETIME = 600
OFFLINE_LIFETIME = 30 * 24 * 3600
ONLINE_LIFETIME = 12 * 3600
SANDBOX_SCOPE = ("openid fhirUser profile launch launch/patient offline_access online_access patient/*.rs user/*.rs")
OTHER_SCOPES = ("openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class PageError(Exception):
    """An authorization request that cannot be answered by redirecting (unknown client, redirect URI not
    registered): the user sees a page instead, so the server is never an open redirector (RFC 6749 4.1.2.1)."""


class RedirectError(Exception):
    """An authorization request error told to the client at its (verified) redirect URI."""

    def __init__(self, redirect: str) -> None:
        super().__init__(redirect)
        self.redirect = redirect


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    code_challenge: str
    nonce: str = ""
    launch_patient: str | None = None  # the context of an EHR launch, once its id is resolved
    launch_encounter: str | None = None

    def error(self, code: str, description: str) -> RedirectError:
        query = {"error": code, "error_description": description}
        if self.state:
            query["state"] = self.state
        return RedirectError(_with_query(self.redirect_uri, query))


class AuthorizationServer:
    def __init__(self, service: AuthService, *, sandbox: bool = False) -> None:
        self.service = service
        self.sandbox = sandbox
        issuer = service.issuer
        self.endpoints = {"authorization_endpoint": f"{issuer}/auth/authorize",
                          "token_endpoint": f"{issuer}/auth/token", "jwks_uri": f"{issuer}/auth/jwks",
                          "revocation_endpoint": f"{issuer}/auth/revoke",
                          "introspection_endpoint": f"{issuer}/auth/introspect"}
        if sandbox:
            self.endpoints["registration_endpoint"] = f"{issuer}/auth/register"
        self.clients = ClientAuthenticator(service.db, service.clients, self.endpoints["token_endpoint"], service.now)

    # -- discovery ---------------------------------------------------------------------------------
    def smart_configuration(self) -> dict:
        """https://hl7.org/fhir/smart-app-launch/conformance.html: only what this server really does."""
        return {"issuer": self.service.issuer, **self.endpoints,
                "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
                "response_types_supported": ["code"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
                "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
                "scopes_supported": [*OTHER_SCOPES, "patient/*.cruds", "user/*.cruds", "system/*.cruds",
                                     "patient/*.read", "user/*.read", "system/*.read"],
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-standalone", "launch-ehr", "context-ehr-patient", "context-ehr-encounter",
                                 "client-public", "client-confidential-asymmetric",
                                 "context-standalone-patient", "sso-openid-connect", "permission-offline",
                                 "permission-online", "permission-patient", "permission-user", "permission-v1",
                                 "permission-v2"]}

    def openid_configuration(self) -> dict:
        """OpenID Connect Discovery 1.0 section 3."""
        smart = self.smart_configuration()
        return {"issuer": self.service.issuer, **self.endpoints,
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "grant_types_supported": smart["grant_types_supported"],
                "token_endpoint_auth_methods_supported": smart["token_endpoint_auth_methods_supported"],
                "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
                "scopes_supported": smart["scopes_supported"],
                "claims_supported": ["sub", "fhirUser", "name", "amr", "identity_proofing_level", "vot",
                                     "authentication_assurance_level"],
                "code_challenge_methods_supported": ["S256"]}

    # -- authorization endpoint --------------------------------------------------------------------
    def check_request(self, params: dict[str, str]) -> AuthorizationRequest:
        """Validate an authorization request (app-launch.html#obtain-authorization-code)."""
        client = self.service.clients.get(params.get("client_id", ""))
        if client is None:
            raise PageError("The app asking you to sign in is not registered with this server.")
        redirect = params.get("redirect_uri", "")
        if not redirect or redirect not in client.redirect_uris:
            raise PageError("The app's return address is not one registered for it, so this server will not "
                            "send you there.")
        scope = params.get("scope", "")
        context = None
        if "launch" in params:
            context = self.service.launches.resolve(params["launch"], client.client_id)
        req = AuthorizationRequest(client.client_id, redirect, scope, params.get("state", ""),
                                   params.get("code_challenge", ""), params.get("nonce", ""),
                                   context.patient if context else None, context.encounter if context else None)
        if params.get("response_type") != "code":
            raise req.error("unsupported_response_type", "Only response_type=code is supported.")
        if not req.state:
            raise req.error("invalid_request", "state is required.")
        method = params.get("code_challenge_method")
        if method != "S256" or not req.code_challenge:
            raise req.error("invalid_request", "PKCE is required with code_challenge_method=S256 (plain is refused).")
        if params.get("aud", "").rstrip("/") != self.service.audience:
            raise req.error("invalid_request", f"aud must be this FHIR server's base URL ({self.service.audience}).")
        if "launch" in params:
            if "launch" not in scope.split():
                raise req.error("invalid_scope", "An EHR launch needs the launch scope.")
            if context is None:
                raise req.error("invalid_request", "The launch is unknown, expired or was made for another app; "
                                                   "start the app again from the EHR.")
        elif "launch" in scope.split():
            raise req.error("invalid_request", "The launch scope needs the launch parameter the EHR gave the app.")
        try:
            parse_scopes(req.scope)
        except ScopeError as exc:
            raise req.error("invalid_scope", str(exc)) from None
        if not grantable(req.scope, client.scope):
            raise req.error("invalid_scope", "None of the requested scopes is registered for this app.")
        return req

    def sign_in(self, req: AuthorizationRequest, name: str, password: str) -> tuple[str, bool]:
        """Check the password; a ticket for the next step (stored hashed, short-lived) and whether that step is
        the second factor (users enrolled in TOTP) rather than consent."""
        user = self.service.users.verify(name, password)  # raises SignInRefused
        second = self.service.second_factor.enrolled(user.name)
        stage = "second-factor" if second else self._after_sign_in(req, user)
        return self._ticket(req, user.name, stage, ["pwd"]), second

    def second_factor(self, ticket: str, code: str) -> str:
        """Check the TOTP or recovery code for a ticket from `sign_in`; a consent ticket when right."""
        data = self._load_code(f"p:{_hash(ticket)}", consume=False)
        if data is None or data.get("stage") != "second-factor" or not self.service.users.usable(data["user"]):
            raise SignInRefused
        if not self.service.second_factor.verify(data["user"], code):
            self.service.users.fail(data["user"])
            raise SignInRefused
        self._load_code(f"p:{_hash(ticket)}", consume=True)
        req = AuthorizationRequest(**data["request"])
        user = self.service.users.get(data["user"])
        if user is None:
            raise SignInRefused
        return self._ticket(req, data["user"], self._after_sign_in(req, user), ["pwd", "otp"])

    def federated(self, req: AuthorizationRequest, user: User, amr: list[str], vot: str | None,
                  aal: str | None = None) -> str:
        """A ticket for a user an identity provider has signed in (their second factor, if any, was the
        provider's); `vot` is the provider's vector of trust for this sign-in and `aal` its authentication
        assurance level (as NHS CIS2 gives it), both carried into the tokens."""
        return self._ticket(req, user.name, self._after_sign_in(req, user), amr, vot, aal=aal)

    def _after_sign_in(self, req: AuthorizationRequest, user: User) -> str:
        """Consent, unless a staff user asks for a patient context (`launch/patient`) that no EHR launch gave:
        then they first pick the patient."""
        if req.launch_patient or user.patient or "launch/patient" not in req.scope.split():
            return "consent"
        return "pick-patient"

    def _ticket(self, req: AuthorizationRequest, user: str, stage: str, amr: list[str], vot: str | None = None,
                patient: str | None = None, aal: str | None = None) -> str:
        """`amr`: how the user has authenticated so far (RFC 8176 method names), carried into the tokens."""
        ticket = secrets.token_urlsafe(32)
        self._store_code(f"p:{_hash(ticket)}", {"request": asdict(req), "user": user, "stage": stage, "amr": amr,
                                                "vot": vot, "aal": aal, "patient": patient}, PENDING_LIFETIME)
        return ticket

    def stage(self, ticket: str) -> str | None:
        """What a ticket waits for: second-factor, pick-patient or consent (None: unknown, used or expired)."""
        data = self._load_code(f"p:{_hash(ticket)}", consume=False)
        return data.get("stage") if data else None

    def picking(self, ticket: str) -> tuple[AuthorizationRequest, User]:
        """The request and staff user a patient-picking ticket stands for."""
        data = self._load_code(f"p:{_hash(ticket)}", consume=False)
        if data is None or data.get("stage") != "pick-patient":
            raise SignInRefused
        user = self.service.users.get(data["user"])
        if user is None or not self.service.users.usable(user.name):
            raise SignInRefused
        return AuthorizationRequest(**data["request"]), user

    def pick(self, ticket: str, patient: str) -> str:
        """The patient a staff user chose (the caller has checked the record exists): a consent ticket whose
        token will carry that patient as its context."""
        req, user = self.picking(ticket)
        data = self._load_code(f"p:{_hash(ticket)}", consume=True)
        if data is None:
            raise SignInRefused
        return self._ticket(req, user.name, "consent", data.get("amr", ["pwd"]), data.get("vot"), patient,
                            data.get("aal"))

    def picked(self, ticket: str) -> str | None:
        """The patient chosen on the picker for a consent ticket, if any."""
        data = self._load_code(f"p:{_hash(ticket)}", consume=False)
        return data.get("patient") if data else None

    def pending(self, ticket: str) -> tuple[AuthorizationRequest, User, str]:
        """The request, user and scope a consent ticket stands for."""
        data = self._load_code(f"p:{_hash(ticket)}", consume=False)
        if data is None or data.get("stage") != "consent":
            raise SignInRefused
        req = AuthorizationRequest(**data["request"])
        user = self.service.users.get(data["user"])
        client = self.service.clients.get(req.client_id)
        if user is None or user.disabled or client is None:
            raise SignInRefused
        return req, user, grantable(req.scope, client.scope)

    def decide(self, ticket: str, approve: bool) -> str:
        """The redirect after the consent page: a code when approved, `access_denied` otherwise."""
        req, user, scope = self.pending(ticket)
        pending = self._load_code(f"p:{_hash(ticket)}", consume=True)
        if pending is None:  # used by a concurrent request in between
            raise SignInRefused
        if not approve:
            return req.error("access_denied", "The user did not allow access.").redirect
        words = scope.split()
        if req.launch_patient:
            if user.patient and user.patient != req.launch_patient:
                return req.error("access_denied", "This launch is for another patient's record.").redirect
            patient = req.launch_patient
        elif pending.get("patient"):  # chosen on the patient picker
            patient = pending["patient"]
        else:
            patient = user.patient if ("launch/patient" in words or "patient/" in scope) else None
            if patient is None and "launch/patient" in words:
                return req.error("access_denied", "No patient is in context: start the app from the EHR with a "
                                                  "patient's record open.").redirect
        code = secrets.token_urlsafe(32)
        self._store_code(_hash(code), {"request": asdict(req), "user": user.name, "scope": scope,
                                       "patient": patient, "encounter": req.launch_encounter,
                                       "amr": pending.get("amr", ["pwd"]), "vot": pending.get("vot"),
                                       "aal": pending.get("aal")},
                         CODE_LIFETIME)
        return _with_query(req.redirect_uri, {"code": code, "state": req.state})

    # -- token endpoint ----------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> dict:
        grant = form.get("grant_type")
        if grant not in ("authorization_code", "client_credentials", "refresh_token"):
            raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported.")
        client = self.clients.authenticate(form)
        if grant == "client_credentials":
            return self._client_credentials(client, form)
        if grant == "authorization_code":
            return self._authorization_code(client, form)
        return self._refresh(client, form)

    def _client_credentials(self, client: Client, form: dict[str, str]) -> dict:
        """SMART Backend Services (backend-services.html): confidential clients only, system scopes."""
        if client.public:
            raise OAuthError("unauthorized_client", "client_credentials needs a confidential client.")
        scope = grantable(" ".join(w for w in form.get("scope", "").split() if w.startswith("system/")),
                          client.scope)
        if not scope:
            raise OAuthError("invalid_scope", "None of the requested system/ scopes is registered for this client.")
        token, _ = self.service.tokens.access_token(client_id=client.client_id, subject=client.client_id,
                                                    scope=scope)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_LIFETIME, "scope": scope}

    def _authorization_code(self, client: Client, form: dict[str, str]) -> dict:
        code = form.get("code", "")
        data = self._load_code(_hash(code), consume=True)
        if data is None:
            raise OAuthError("invalid_grant", "The code is unknown, expired or already used.")
        req = AuthorizationRequest(**data["request"])
        if req.client_id != client.client_id:
            raise OAuthError("invalid_grant", "The code was issued to another client.")
        if form.get("redirect_uri") != req.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the one in the authorization request.")
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not verifier or not secrets.compare_digest(challenge, req.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE, S256).")
        user = self.service.users.get(data["user"])
        if user is None or user.disabled:
            raise OAuthError("invalid_grant", "The user can no longer sign in.")
        return self._tokens(client, user, data["scope"], data.get("patient"), req.nonce, None, data.get("encounter"),
                            tuple(data.get("amr", ("pwd",))), data.get("vot"), data.get("aal"))

    def _tokens(self, client: Client, user: User, scope: str, patient: str | None, nonce: str | None,
                family: str | None, encounter: str | None = None, amr: tuple[str, ...] = ("pwd",),
                vot: str | None = None, aal: str | None = None) -> dict:
        """`vot` and `aal`: a provider's vector of trust and authentication assurance level for a federated
        sign-in; for local ones they follow from the proofing level and the methods used."""
        words = scope.split()
        vot = vot or vector_of_trust(user.proofing, amr)
        aal = aal or authentication_level(amr)
        token, claims = self.service.tokens.access_token(client_id=client.client_id, subject=user.name, scope=scope,
                                                         patient=patient, fhir_user=user.fhir_user, roles=user.roles,
                                                         proofing=user.proofing, amr=amr, vot=vot, org=user.org,
                                                         aal=aal)
        out: dict = {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_LIFETIME, "scope": scope}
        if patient:
            out["patient"] = patient
        if encounter:
            out["encounter"] = encounter
        if "openid" in words and ("fhirUser" in words or "profile" in words):
            out["id_token"] = self.service.tokens.id_token(
                client_id=client.client_id, subject=user.name, nonce=nonce,
                fhir_user=user.fhir_user if "fhirUser" in words else None,
                name=user.name if "profile" in words else None, proofing=user.proofing, vot=vot, amr=amr,
                aal=aal)
        if "offline_access" in words or "online_access" in words:
            lifetime = OFFLINE_LIFETIME if "offline_access" in words else ONLINE_LIFETIME
            refresh = secrets.token_urlsafe(32)
            now = int(self.service.now())
            data = {"client_id": client.client_id, "user": user.name, "scope": scope, "patient": patient,
                    "encounter": encounter, "amr": list(amr), "vot": vot, "aal": aal,
                    "jti": claims["jti"],
                    "exp_access": claims["exp"]}
            with self.service.db.connect() as c:
                c.run("INSERT INTO auth_refresh (token_hash, family, data, exp) VALUES (?, ?, ?, ?)",
                      (_hash(refresh), family or secrets.token_urlsafe(16), json.dumps(data), now + lifetime))
            out["refresh_token"] = refresh
        return out

    def _refresh(self, client: Client, form: dict[str, str]) -> dict:
        """Rotation with reuse detection (OAuth 2.0 Security BCP section 4.14): a refresh token works once;
        presenting a used one revokes its whole family, since someone else must hold a copy."""
        now = int(self.service.now())
        key = _hash(form.get("refresh_token", ""))
        with self.service.db.connect() as c:
            row = c.one("SELECT family, data, exp, used FROM auth_refresh WHERE token_hash = ?", (key,))
            if row is None or row[2] < now:
                raise OAuthError("invalid_grant", "The refresh token is unknown or expired.")
            family, data, used = row[0], json.loads(row[1]), row[3]
            if data["client_id"] != client.client_id:
                raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
            if used:
                self._revoke_family(c, family, now)  # committed before the refusal below
            else:
                c.run("UPDATE auth_refresh SET used = 1 WHERE token_hash = ?", (key,))
        if used:
            self.service.bearer.forget_revocations()
            raise OAuthError("invalid_grant", "The refresh token was already used: every token of this sign-in "
                                              "is now revoked.")
        scope = data["scope"]
        asked = form.get("scope")
        if asked:
            wider = set(asked.split()) - set(scope.split())
            if wider:
                raise OAuthError("invalid_scope", f"A refresh cannot add scopes: {' '.join(sorted(wider))}.")
            scope = " ".join(w for w in scope.split() if w in set(asked.split()))
        user = self.service.users.get(data["user"])
        if user is None or user.disabled:
            raise OAuthError("invalid_grant", "The user can no longer sign in.")
        return self._tokens(client, user, scope, data.get("patient"), None, family, data.get("encounter"),
                            tuple(data.get("amr", ("pwd",))), data.get("vot"), data.get("aal"))

    @staticmethod
    def _revoke_family(c, family: str, now: int) -> None:
        for (data,) in c.all("SELECT data FROM auth_refresh WHERE family = ?", (family,)):
            info = json.loads(data)
            if info.get("jti") and not c.one("SELECT 1 FROM auth_revoked WHERE jti = ?", (info["jti"],)):
                c.run("INSERT INTO auth_revoked (jti, exp) VALUES (?, ?)", (info["jti"], info.get("exp_access", now)))
        c.run("UPDATE auth_refresh SET used = 2 WHERE family = ?", (family,))

    # -- revocation and introspection --------------------------------------------------------------
    def revoke(self, form: dict[str, str]) -> None:
        """RFC 7009: refresh tokens revoke their family, access tokens are listed by jti until they expire.
        Unknown or foreign tokens are answered the same (200) so nothing is learned from revoking."""
        client = self.clients.authenticate(form)
        token = form.get("token", "")
        now = int(self.service.now())
        with self.service.db.connect() as c:
            row = c.one("SELECT family, data FROM auth_refresh WHERE token_hash = ?", (_hash(token),))
            if row is not None and json.loads(row[1])["client_id"] == client.client_id:
                self._revoke_family(c, row[0], now)
        if row is not None:
            self.service.bearer.forget_revocations()
            return
        try:
            claims = self.service.bearer.claims(token, check_expiry=False)
        except InvalidToken:
            return
        if claims.get("client_id") != client.client_id:
            return
        with self.service.db.connect() as c:
            if not c.one("SELECT 1 FROM auth_revoked WHERE jti = ?", (claims["jti"],)):
                c.run("INSERT INTO auth_revoked (jti, exp) VALUES (?, ?)", (claims["jti"], claims["exp"]))
        self.service.bearer.forget_revocations()

    def introspect(self, form: dict[str, str]) -> dict:
        """RFC 7662 for confidential clients: `active` and, when active, what the token grants."""
        client = self.clients.authenticate(form)
        if client.public:
            raise OAuthError("invalid_client", "Introspection needs a confidential client.", 401)
        try:
            claims = self.service.bearer.claims(form.get("token", ""))
        except InvalidToken:
            return {"active": False}
        out = {"active": True, "token_type": "Bearer"}
        for name in ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "patient", "fhirUser"):
            if name in claims:
                out[name] = claims[name]
        return out

    # -- dynamic client registration ---------------------------------------------------------------
    def register(self, body: object) -> dict:
        """RFC 7591, open in sandbox mode only."""
        if not self.sandbox:
            raise OAuthError("access_denied", "Dynamic client registration is closed on this server.", 403)
        if not isinstance(body, dict):
            raise OAuthError("invalid_client_metadata", "The registration request must be a JSON object.")
        uris = body.get("redirect_uris", [])
        if not isinstance(uris, list) or not all(isinstance(u, str) and _absolute(u) for u in uris):
            raise OAuthError("invalid_redirect_uri", "redirect_uris must be a list of absolute URIs.")
        method = body.get("token_endpoint_auth_method", "none" if "jwks" not in body and "jwks_uri" not in body
                          else "private_key_jwt")
        if method not in ("none", "private_key_jwt"):
            raise OAuthError("invalid_client_metadata", "token_endpoint_auth_method must be none or private_key_jwt.")
        jwks, jwks_uri = body.get("jwks"), body.get("jwks_uri")
        if method == "private_key_jwt" and not (isinstance(jwks, dict) or isinstance(jwks_uri, str)):
            raise OAuthError("invalid_client_metadata", "private_key_jwt needs jwks or jwks_uri.")
        scope = body.get("scope") or SANDBOX_SCOPE
        try:
            parse_scopes(str(scope))
        except ScopeError as exc:
            raise OAuthError("invalid_client_metadata", str(exc)) from None
        name = str(body.get("client_name") or "Unnamed app")
        client = self.service.clients.add(name, str(scope), jwks=jwks if method != "none" else None,
                                          jwks_uri=jwks_uri if method != "none" else None,
                                          redirect_uris=tuple(uris))
        out = {"client_id": client.client_id, "client_id_issued_at": int(self.service.now()),
               "client_name": name, "redirect_uris": uris, "scope": client.scope,
               "token_endpoint_auth_method": method,
               "grant_types": ["authorization_code", "refresh_token"] if method == "none"
               else ["client_credentials", "authorization_code", "refresh_token"]}
        return out

    # -- storage of codes --------------------------------------------------------------------------
    def hold(self, secret: str, data: dict, lifetime: int = PENDING_LIFETIME) -> None:
        """Keep data until a later request presents `secret` (a federated sign-in's state): stored hashed,
        short-lived, given back once."""
        self._store_code(f"h:{_hash(secret)}", data, lifetime)

    def take(self, secret: str) -> dict | None:
        """What `hold` kept for the secret, once; None when unknown, expired or already taken."""
        return self._load_code(f"h:{_hash(secret)}", consume=True) if secret else None


    def _store_code(self, key: str, data: dict, lifetime: int) -> None:
        now = int(self.service.now())
        with self.service.db.connect() as c:
            c.run("DELETE FROM auth_codes WHERE exp < ?", (now,))
            c.run("INSERT INTO auth_codes (code_hash, data, exp) VALUES (?, ?, ?)", (key, json.dumps(data),
                                                                                     now + lifetime))

    def _load_code(self, key: str, *, consume: bool) -> dict | None:
        now = int(self.service.now())
        with self.service.db.connect() as c:
            row = c.one("SELECT data, exp, used FROM auth_codes WHERE code_hash = ?", (key,))
            if row is None or row[1] < now or row[2]:
                return None
            if consume and c.run("UPDATE auth_codes SET used = 1 WHERE code_hash = ? AND used = 0", (key,)) != 1:
                return None
            return json.loads(row[0])


def _absolute(uri: str) -> bool:
    parts = urlsplit(uri)
    return bool(parts.scheme and parts.netloc) and "#" not in uri


def _with_query(uri: str, query: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(query)
