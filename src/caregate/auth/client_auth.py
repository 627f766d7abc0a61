"""`private_key_jwt` client authentication (RFC 7523 section 2.2, OpenID Connect Core section 9), as SMART
Backend Services profile it (https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html).

The client signs a short-lived JWT with its own key: `iss` and `sub` are its client_id, `aud` the token
endpoint, `exp` at most five minutes ahead, `jti` never seen before (replays are refused), RS384 or ES384.
Its public keys come from the JWKS registered by value, or fetched from its `jwks_uri` (cached briefly).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from caregate.auth.clients import Client, ClientRegistry
from caregate.auth.db import AuthDb
from caregate.auth.errors import OAuthError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_LIFETIME = 300
_JWKS_TTL = 300.0


class ClientAuthenticator:
    def __init__(self, db: AuthDb, clients: ClientRegistry, token_endpoint: str,
                 now: Callable[[], float] = time.time, fetch: Callable[[str], dict] | None = None) -> None:
        self.db = db
        self.clients = clients
        self.token_endpoint = token_endpoint
        self.now = now
        self.fetch = fetch or _fetch_jwks
        self._remote: dict[str, tuple[float, dict]] = {}

    def authenticate(self, form: dict[str, str]) -> Client:
        """The client a token request comes from: by its signed assertion, or by id alone for public clients."""
        assertion = form.get("client_assertion")
        if assertion is None:
            client = self.clients.get(form.get("client_id", ""))
            if client is None:
                raise OAuthError("invalid_client", "Unknown client.", 401)
            if not client.public:
                raise OAuthError("invalid_client", "This client must authenticate with a signed JWT "
                                                   "(client_assertion, private_key_jwt).", 401)
            return client
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}.", 401)
        return self._verify(assertion, form.get("client_id"))

    def _verify(self, assertion: str, claimed_id: str | None) -> Client:
        iss = _unverified_claim(assertion, "iss")
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None or client.public or (claimed_id and claimed_id != iss):
            raise OAuthError("invalid_client", "The client assertion names no client registered for it.", 401)
        keys = self._keys(client)
        try:
            claims = jwt.decode(assertion, keys, algorithms=list(ALGORITHMS)).claims
        except (JoseError, ValueError) as exc:
            raise OAuthError("invalid_client", "The client assertion's signature does not verify with the "
                                               "client's registered keys (RS384 or ES384).", 401) from exc
        now = int(self.now())
        if claims.get("sub") != client.client_id or claims.get("iss") != client.client_id:
            raise OAuthError("invalid_client", "The client assertion's iss and sub must be the client_id.", 401)
        aud = claims.get("aud")
        if not (aud == self.token_endpoint or (isinstance(aud, list) and self.token_endpoint in aud)):
            raise OAuthError("invalid_client", "The client assertion's aud must be the token endpoint URL.", 401)
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < now:
            raise OAuthError("invalid_client", "The client assertion has expired.", 401)
        if exp > now + MAX_LIFETIME:
            raise OAuthError("invalid_client", "The client assertion's exp is more than five minutes ahead.", 401)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise OAuthError("invalid_client", "The client assertion needs a jti.", 401)
        self._remember(f"{client.client_id}:{jti}", exp)
        return client

    def _remember(self, key: str, exp: int) -> None:
        with self.db.connect() as c:
            c.run("DELETE FROM auth_seen_jti WHERE exp < ?", (int(self.now()) - 60,))
            if c.one("SELECT 1 FROM auth_seen_jti WHERE jti = ?", (key,)):
                raise OAuthError("invalid_client", "This client assertion (its jti) was used before.", 401)
            c.run("INSERT INTO auth_seen_jti (jti, exp) VALUES (?, ?)", (key, exp))

    def _keys(self, client: Client) -> KeySet:
        data = client.jwks
        if data is None and client.jwks_uri:
            cached = self._remote.get(client.jwks_uri)
            if cached is None or self.now() - cached[0] > _JWKS_TTL:
                try:
                    cached = (self.now(), self.fetch(client.jwks_uri))
                except Exception as exc:
                    raise OAuthError("invalid_client", "The client's jwks_uri could not be read.", 401) from exc
                self._remote[client.jwks_uri] = cached
            data = cached[1]
        try:
            return KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OAuthError("invalid_client", "The client's registered JWKS cannot be used.", 401) from exc


def _unverified_claim(token: str, name: str) -> object:
    """A claim read before verification, only to find whose keys verify it."""
    import base64
    import json

    parts = token.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_client", "The client assertion is not a JWT.", 401)
    try:
        body = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError as exc:
        raise OAuthError("invalid_client", "The client assertion is not a JWT.", 401) from exc
    return body.get(name) if isinstance(body, dict) else None


def _fetch_jwks(url: str) -> dict:
    import httpx

    response = httpx.get(url, timeout=5, follow_redirects=False)
    response.raise_for_status()
    return response.json()
