"""JWT access tokens in the RFC 9068 profile, and OpenID Connect id_tokens, signed with the active key.

Access token claims (RFC 9068 section 2.2): iss, sub, aud, exp, iat, jti, client_id, scope; SMART adds the
launch context: `patient` and `fhirUser` (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
The header says `typ: at+jwt` so an id_token can never be replayed as an access token (section 2.1).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from joserfc import jwt

from caregate.auth.keys import ALG, SigningKeys
from caregate.policy.scopes import ScopeError, parse_scope

ACCESS_LIFETIME = 300  # seconds: short, as SMART advises; refresh tokens carry longer sessions


def issuer_and_audience(fhir_base: str) -> tuple[str, str]:
    """The authorization server is the server root; tokens are for the FHIR base."""
    base = fhir_base.rstrip("/")
    return base.removesuffix("/fhir"), base


class TokenIssuer:
    def __init__(self, keys: SigningKeys, issuer: str, audience: str, now: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.now = now

    def access_token(self, *, client_id: str, subject: str, scope: str, patient: str | None = None,
                     fhir_user: str | None = None, lifetime: int = ACCESS_LIFETIME,
                     purpose: str | None = None, break_glass_reason: str | None = None,
                     roles: tuple[str, ...] = (), proofing: str | None = None,
                     amr: tuple[str, ...] = (), org: str | None = None,
                     vot: str | None = None, aal: str | None = None) -> tuple[str, dict]:
        now = int(self.now())
        claims: dict = {"iss": self.issuer, "sub": subject, "aud": self.audience, "exp": now + lifetime,
                        "iat": now, "jti": secrets.token_urlsafe(16), "client_id": client_id, "scope": scope}
        if patient:
            claims["patient"] = patient
        if fhir_user:
            claims["fhirUser"] = fhir_user
        if purpose:  # the token is only good for this purpose of use (policy/purpose.py)
            claims["purpose_of_use"] = purpose
        if break_glass_reason:
            claims["break_glass_reason"] = break_glass_reason
        if roles:  # the user's job-role and local role codes (policy decisions read them)
            claims["roles"] = list(roles)
        if org:  # a member of staff's organisation: relationships at it give access to patients
            claims["organization"] = org
        if proofing:  # how strongly the user's identity was checked (NHS login's P0/P5/P9)
            claims["identity_proofing_level"] = proofing
        if amr:  # how they signed in (RFC 8176: pwd, otp)
            claims["amr"] = list(amr)
        if vot:  # both together as a vector of trust (RFC 8485), e.g. P9.Cp.Cd
            claims["vot"] = vot
        if aal:  # authentication assurance level (NIST SP 800-63B, as NHS CIS2 says it): 1, 2 or 3
            claims["authentication_assurance_level"] = aal
        return self._sign(claims, "at+jwt"), claims

    def id_token(self, *, client_id: str, subject: str, fhir_user: str | None, nonce: str | None,
                 name: str | None = None, lifetime: int = ACCESS_LIFETIME, proofing: str | None = None,
                 vot: str | None = None, amr: tuple[str, ...] = (), aal: str | None = None) -> str:
        """OpenID Connect Core section 2: for the client (aud), naming the user and their FHIR resource, and
        how well their identity is known (as NHS login's id_tokens say it: identity_proofing_level, vot)."""
        now = int(self.now())
        claims: dict = {"iss": self.issuer, "sub": subject, "aud": client_id, "exp": now + lifetime, "iat": now}
        if fhir_user:
            claims["fhirUser"] = f"{self.audience}/{fhir_user}"
        if nonce:
            claims["nonce"] = nonce
        if name:
            claims["name"] = name
        if proofing:
            claims["identity_proofing_level"] = proofing
        if vot:
            claims["vot"] = vot
        if amr:
            claims["amr"] = list(amr)
        if aal:
            claims["authentication_assurance_level"] = aal
        return self._sign(claims, "JWT")

    def _sign(self, claims: dict, typ: str) -> str:
        key = self.keys.active()
        return jwt.encode({"alg": ALG, "kid": key.kid, "typ": typ}, claims, key, algorithms=[ALG])


def grantable(requested: str, registered: str) -> str:
    """The requested scopes the client is registered for (RFC 6749 section 3.3: the server may grant less).

    A clinical scope is granted when a registered scope covers it entirely (`patient/Observation.rs` is within
    `patient/*.cruds`); any other scope only when registered as written."""
    allowed_other = set()
    allowed_clinical = []
    for word in registered.split():
        try:
            scope = parse_scope(word)
        except ScopeError:
            continue
        if scope is None:
            allowed_other.add(word)
        else:
            allowed_clinical.append(scope)
    granted = []
    for word in requested.split():
        try:
            scope = parse_scope(word)
        except ScopeError:
            continue
        if scope is None:
            if word in allowed_other:
                granted.append(word)
        elif any(scope.within(r) for r in allowed_clinical):
            granted.append(word)
    return " ".join(dict.fromkeys(granted))
