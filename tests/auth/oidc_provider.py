"""A small OpenID Connect provider for the federation tests, in the manner of NHS login and NHS CIS2: discovery,
JWKS, an authorization endpoint that signs the (pretend) person in at once and sends the browser back, and a
token endpoint that accepts only a `private_key_jwt` client assertion signed by the relying party's key and a
PKCE verifier matching the challenge. It runs on a free loopback port in a thread of the test process.

`claims` are what the next id_token says about the person and `userinfo` what its UserInfo endpoint adds;
`tamper` spoils the next id_token in one way (`nonce`, `issuer`, `signature`, `expired`, `audience`, `none`
for an unsigned token, `hs256` for one signed with the provider's public key as an HMAC secret), so the relying
party's checks can be seen to hold.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from urllib.parse import parse_qsl, urlencode

import uvicorn
from joserfc import jwk, jwt
from joserfc.errors import JoseError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

from tests.e2e.server import free_port

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class OidcProvider:
    def __init__(self, client_id: str, client_public_key: jwk.RSAKey, client_alg: str = "RS512") -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id = client_id
        self.client_key = client_public_key
        self.client_alg = client_alg
        self.key = jwk.RSAKey.generate_key(2048, parameters={"kid": "provider-1", "alg": "RS256", "use": "sig"})
        self.claims: dict = {}
        self.userinfo: dict = {}
        self.authorize_requests: list[dict] = []
        self.access_tokens: set[str] = set()
        self.tamper: str | None = None
        self.deny = False  # the person does not sign in: the browser goes back with error=access_denied
        self.claimed_issuer: str | None = None  # what discovery says the issuer is, when not the truth
        self.codes: dict[str, dict] = {}
        self.seen_jti: set[str] = set()
        self.token_requests: list[dict] = []  # what the relying party sent (assertions verified), for asserting
        app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/userinfo", self.user_info),
        ])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test OpenID provider did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse({"issuer": self.claimed_issuer or self.issuer,
                             "authorization_endpoint": f"{self.issuer}/authorize",
                             "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                             "userinfo_endpoint": f"{self.issuer}/userinfo",
                             "response_types_supported": ["code"], "subject_types_supported": ["public"],
                             "id_token_signing_alg_values_supported": ["RS256"],
                             "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                             "code_challenge_methods_supported": ["S256"]})

    async def jwks(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> RedirectResponse | PlainTextResponse:
        q = request.query_params
        self.authorize_requests.append(dict(q))
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return PlainTextResponse("unknown client", 400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge") or not q.get("nonce"):
            return PlainTextResponse("PKCE and nonce are required", 400)
        if self.deny:
            query = urlencode({"error": "access_denied", "state": q.get("state", "")})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", 302)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"]}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}", 302)

    async def token(self, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        refused = self._client_refused(form)
        if refused:
            return JSONResponse({"error": "invalid_client", "error_description": refused}, 401)
        grant = self.codes.pop(str(form.get("code", "")), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "person-1", "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **self.claims}
        key = self.key
        if self.tamper == "nonce":
            claims["nonce"] = "another"
        elif self.tamper == "issuer":
            claims["iss"] = "https://impostor.example"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 900, now - 600
        elif self.tamper == "audience":
            claims["aud"] = "someone-else"
        elif self.tamper == "signature":
            key = jwk.RSAKey.generate_key(2048, parameters={"kid": "provider-1"})
        if self.tamper == "none":
            id_token = ".".join(_b64(json.dumps(part).encode()) for part in ({"alg": "none"}, claims)) + "."
        elif self.tamper == "hs256":
            secret = jwk.OctKey.import_key(json.dumps(self.key.as_dict(private=False)).encode())
            id_token = jwt.encode({"alg": "HS256", "kid": "provider-1"}, claims, secret, algorithms=["HS256"])
        else:
            id_token = jwt.encode({"alg": "RS256", "kid": "provider-1", "typ": "JWT"}, claims, key)
        access = secrets.token_urlsafe(16)
        self.access_tokens.add(access)
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token})

    async def user_info(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return JSONResponse({"error": "invalid_token"}, 401)
        return JSONResponse({"sub": "person-1", **self.userinfo})

    def _client_refused(self, form: dict) -> str | None:
        """The client assertion checks of OpenID Connect Core section 9 (private_key_jwt)."""
        if form.get("client_assertion_type") != ASSERTION_TYPE or "client_assertion" not in form:
            return "private_key_jwt is required"
        try:
            token = jwt.decode(str(form["client_assertion"]), self.client_key, algorithms=[self.client_alg])
        except (JoseError, ValueError):
            return "the client assertion's signature does not verify"
        c = token.claims
        if c.get("iss") != self.client_id or c.get("sub") != self.client_id:
            return "iss and sub must be the client id"
        if c.get("aud") != f"{self.issuer}/token":
            return "aud must be the token endpoint"
        if not isinstance(c.get("exp"), int) or c["exp"] < time.time() or c["exp"] > time.time() + 600:
            return "exp is missing, past or too far ahead"
        if not c.get("jti") or c["jti"] in self.seen_jti:
            return "jti is missing or replayed"
        self.seen_jti.add(c["jti"])
        self.token_requests.append({"header": token.header, "claims": c})
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
