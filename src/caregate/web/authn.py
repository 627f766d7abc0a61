"""Bearer authentication of FHIR requests (RFC 6750), turning the token into the request's `Actor`.

Failures are OperationOutcomes with the challenge RFC 6750 section 3 asks for: no credentials get a bare
`Bearer` challenge, a bad token `error="invalid_token"` with a description (401 both). When the server
requires a minimum identity proofing level (`--min-proofing`), a patient user's token below it is refused
with 403: the token is valid, the person's identity is not known well enough to open a health record.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from caregate.auth.assurance import meets
from caregate.auth.bearer import BearerValidator, InvalidToken
from caregate.errors import FhirError
from caregate.policy import Actor

REALM = "caregate"
# Paths under /fhir anyone may read: the CapabilityStatement and SMART discovery (smart-app-launch/conformance).
OPEN_PATHS = frozenset({("metadata",), (".well-known", "smart-configuration")})


def authenticate(bearer: BearerValidator, headers: Headers) -> Actor:
    value = headers.get("authorization")
    if not value:
        raise FhirError("unauthorized", "This FHIR server needs an access token: send Authorization: Bearer "
                                        "<token>.", headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _invalid("The Authorization header must be 'Bearer <token>'.", "invalid_request", 400)
    try:
        claims = bearer.claims(token)
        actor = bearer.actor(token, claims)
    except InvalidToken as exc:
        raise _invalid(str(exc), "invalid_token", 401) from None
    if bearer.min_proofing and str(claims.get("fhirUser", "")).startswith("Patient/"):
        level = claims.get("identity_proofing_level")
        if not meets(level, bearer.min_proofing):
            raise FhirError("forbidden", f"Access to your record needs identity proofing level "
                                         f"{bearer.min_proofing} (your identity checked, as NHS login's "
                                         f"{bearer.min_proofing} does); this sign-in has "
                                         f"{level if isinstance(level, str) else 'none'}. Prove your identity "
                                         "with your identity provider, then sign in again.")
    return actor


def _invalid(message: str, code: str, status: int) -> FhirError:
    challenge = f'Bearer realm="{REALM}", error="{code}", error_description="{message}"'
    return FhirError("unauthorized" if status == 401 else "incorrect", message, code="login" if status == 401
                     else "invalid", headers={"WWW-Authenticate": challenge})
