"""Bearer authentication of FHIR requests (RFC 6750), turning the token into the request's `Actor`.

Failures are OperationOutcomes with the challenge RFC 6750 section 3 asks for: no credentials get a bare
`Bearer` challenge, a bad token `error="invalid_token"` with a description (401 both).
"""

from __future__ import annotations

from starlette.datastructures import Headers

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
        return bearer.actor(token)
    except InvalidToken as exc:
        raise _invalid(str(exc), "invalid_token", 401) from None


def _invalid(message: str, code: str, status: int) -> FhirError:
    challenge = f'Bearer realm="{REALM}", error="{code}", error_description="{message}"'
    return FhirError("unauthorized" if status == 401 else "incorrect", message, code="login" if status == 401
                     else "invalid", headers={"WWW-Authenticate": challenge})
