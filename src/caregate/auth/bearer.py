"""`Authorization: Bearer <token>` -> `policy.Actor` (RFC 6750), for the resource server.

Validation is cheap on the hot path: the public keys are cached by `kid` and reloaded only when an unknown
`kid` appears (at most once every few seconds, so random kids cannot hammer the database); the revocation
list is reread at most once a second. Everything RFC 9068 section 4 asks is checked: the signature with an
allowed algorithm (never `none`), `typ: at+jwt`, the issuer, this server as audience, and expiry.

A client sends the same token with every request until it expires, and the signature check is most of a
request's cost on a fast read, so the claims of tokens whose signature, issuer and audience were verified are
kept (the exact token text is the key; a few thousand at most, oldest dropped first), and so is the actor built
from them (parsing the scopes was the next largest cost). What can change while a token is in use, its expiry
and its revocation, is checked again on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from joserfc import jwt
from joserfc.errors import JoseError

from caregate.auth.db import AuthDb
from caregate.auth.keys import ALG, SigningKeys
from caregate.policy import Actor
from caregate.policy.scopes import ScopeError

_RELOAD_KEYS = 5.0
_RELOAD_REVOKED = 1.0
_VERIFIED_MAX = 4096  # tokens whose signature, issuer and audience are known good
LEEWAY = 30  # seconds of clock skew tolerated on exp/iat


class InvalidToken(Exception):
    """RFC 6750 section 3.1 `invalid_token`: the description goes into the WWW-Authenticate challenge."""


class BearerValidator:
    min_proofing = ""  # P5 or P9: the proofing a patient user's token needs to reach their record (web.authn)

    def __init__(self, db: AuthDb, keys: SigningKeys, issuer: str, audience: str,
                 now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.now = now
        self._keys: dict = {}
        self._keys_loaded = -_RELOAD_KEYS
        self._revoked: set[str] = set()
        self._revoked_loaded = -_RELOAD_REVOKED
        self._verified: dict[str, dict] = {}
        self._actors: dict[str, tuple[dict, Actor]] = {}  # each verified token's actor, built from its claims once

    def actor(self, token: str, claims: dict | None = None) -> Actor:
        """The actor a valid access token stands for; InvalidToken with the reason otherwise. `claims`: the
        token's, when the caller has already validated it with `claims`."""
        claims = self.claims(token) if claims is None else claims
        known = self._actors.get(token)
        if known is not None and known[0] is claims:  # the same verified claims: the same actor
            return known[1]
        try:
            actor = Actor.from_scope_string(str(claims.get("sub", "")), str(claims.get("client_id", "")),
                                            str(claims.get("scope", "")), patient=claims.get("patient"),
                                            fhir_user=claims.get("fhirUser"),
                                            purpose=_text(claims.get("purpose_of_use")),
                                            break_glass_reason=_text(claims.get("break_glass_reason")),
                                            roles=tuple(r for r in claims.get("roles") or () if isinstance(r, str)),
                                            org=_text(claims.get("organization")))
        except ScopeError as exc:
            raise InvalidToken("The token's scope is malformed.") from exc
        if len(self._actors) >= _VERIFIED_MAX:
            del self._actors[next(iter(self._actors))]
        self._actors[token] = (claims, actor)
        return actor

    def claims(self, token: str, *, check_expiry: bool = True) -> dict:
        """The claims of an access token this server signed for itself, once every check has passed."""
        now = self.now()
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token, now)
            if len(self._verified) >= _VERIFIED_MAX:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or (check_expiry and exp + LEEWAY < now):
            raise InvalidToken("The token has expired.")
        if isinstance(iat, int) and iat - LEEWAY > now:
            raise InvalidToken("The token is not valid yet.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or jti in self._revoked_now(now):
            raise InvalidToken("The token has been revoked.")
        return claims

    def _verify(self, token: str, now: float) -> dict:
        """Signature, algorithm, type, issuer and audience: what cannot change for a given token text."""
        try:
            header = _header(token)
            key = self._key(header.get("kid"), now)
            if header.get("alg") != ALG or header.get("typ") != "at+jwt":
                raise InvalidToken("The token is not an access token of this server.")
            claims = jwt.decode(token, key, algorithms=[ALG]).claims
        except JoseError as exc:
            raise InvalidToken("The token's signature or format is not valid.") from exc
        if claims.get("iss") != self.issuer:
            raise InvalidToken("The token was not issued by this server.")
        aud = claims.get("aud")
        if not (aud == self.audience or (isinstance(aud, list) and self.audience in aud)):
            raise InvalidToken("The token is not meant for this FHIR server (audience).")
        return claims

    def _key(self, kid: object, now: float):
        if not isinstance(kid, str):
            raise InvalidToken("The token names no signing key (kid).")
        key = self._keys.get(kid)
        if key is None and now - self._keys_loaded >= _RELOAD_KEYS:
            self._keys = self.keys.public_keys()
            self._keys_loaded = now
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("The token was signed with a key this server does not know.")
        return key

    def _revoked_now(self, now: float) -> set[str]:
        if now - self._revoked_loaded >= _RELOAD_REVOKED:
            rows = self.db.read_often("SELECT jti FROM auth_revoked WHERE exp >= ?", (int(now) - LEEWAY,))
            self._revoked = {r[0] for r in rows}
            self._revoked_loaded = now
        return self._revoked

    def close(self) -> None:
        self.db.close()

    def forget_revocations(self) -> None:
        """Reread the revocation list on the next request (a revocation was just recorded here)."""
        self._revoked_loaded = -_RELOAD_REVOKED


def _header(token: str) -> dict:
    import base64
    import json

    head = token.split(".", 1)[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError as exc:
        raise InvalidToken("The token is not a JWT.") from exc
    if not isinstance(data, dict):
        raise InvalidToken("The token is not a JWT.")
    return data


def _text(value: object) -> str | None:
    """A string claim, or None when absent or not a string."""
    return value if isinstance(value, str) and value else None
