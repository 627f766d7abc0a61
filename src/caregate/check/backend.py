"""SMART Backend Services: the checker signs its own client assertion and asks for a token
(https://hl7.org/fhir/smart-app-launch/STU2/backend-services.html, RFC 7523).

The user registers the public half of a key with the server under a client id; the checker holds the private
key (RSA gives RS384, EC P-384 gives ES384, as SMART asks) and never writes it or the token anywhere.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class BackendCredentials:
    client_id: str
    private_key_pem: bytes
    key_id: str | None = None
    scope: str | None = None

    def key(self) -> RSAKey | ECKey:
        for kind in (RSAKey, ECKey):
            try:
                return kind.import_key(self.private_key_pem)
            except (ValueError, TypeError, JoseError):
                continue
        raise ValueError("the private key must be an RSA or EC (P-384) key in PEM")


def algorithm(key: RSAKey | ECKey) -> str:
    return "RS384" if isinstance(key, RSAKey) else "ES384"


def client_assertion(client_id: str, token_url: str, key: RSAKey | ECKey, key_id: str | None = None, *,
                     lifetime: int = 240, now: float | None = None, jti: str | None = None) -> str:
    """A signed JWT authenticating `client_id` at `token_url` (iss = sub = client id, aud = token URL)."""
    issued = int(now if now is not None else time.time())
    alg = algorithm(key)
    header = {"alg": alg, "typ": "JWT", "kid": key_id or key.thumbprint()}
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": issued + lifetime, "iat": issued,
              "jti": jti or secrets.token_hex(16)}
    return jwt.encode(header, claims, key, algorithms=[alg])


def token_request(client, token_url: str, credentials: BackendCredentials, assertion: str,
                  scope: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion}
    return client.request("POST", token_url, content=str(httpx.QueryParams(form)).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "Accept": "application/json"}, token=False, not_a_write=True)


def obtain_token(client, credentials: BackendCredentials) -> str:
    """Discover the token endpoint, sign an assertion, and return an access token; ValueError says why not."""
    r = client.get(".well-known/smart-configuration", headers={"Accept": "application/json"}, token=False)
    config = r.json() if r.status_code == 200 else None
    if not isinstance(config, dict) or not config.get("token_endpoint"):
        raise ValueError(f"no SMART configuration with a token_endpoint ({r.status_code})")
    url = config["token_endpoint"]
    assertion = client_assertion(credentials.client_id, url, credentials.key(), credentials.key_id)
    answer = token_request(client, url, credentials, assertion, credentials.scope or default_scope(config))
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    if answer.status_code != 200 or not body.get("access_token"):
        raise ValueError(f"the token endpoint answered {answer.status_code} {body.get('error', '')}".strip())
    return str(body["access_token"])


def default_scope(smart_config: dict[str, Any]) -> str:
    """SMART v2 scopes when the server says it has them (permission-v2), else v1."""
    return "system/*.rs" if "permission-v2" in (smart_config.get("capabilities") or []) else "system/*.read"
