"""The security suite: SMART App Launch 2.x discovery, bearer tokens refused when missing or forged, TLS.

A server that declares no security and hands out records to anyone is not tested further: every test is a
`skip` and the report opens with a "not secured" finding, because nothing else here would mean anything.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import time
from urllib.parse import urlsplit

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import check, skip
from caregate.check.registry import R4, test

SMART = "https://hl7.org/fhir/smart-app-launch/STU2/"
RFC6750 = "https://www.rfc-editor.org/rfc/rfc6750"
NOT_SECURED = ("NOT SECURED: the server declares no security in its CapabilityStatement and returned records to "
               "a request carrying no credentials. Anyone who can reach it can read its data.")


def _probe_type(ctx: CheckContext) -> str:
    types = [t for t in ctx.cap.types() if ctx.cap.supports(t, "search-type") or ctx.cap.supports(t, "read")]
    return "Patient" if "Patient" in types else (types[0] if types else "Patient")


def _gate(ctx: CheckContext) -> None:
    """Skip the test (and record the finding once) when the server is open to anyone."""
    if "unsecured" not in ctx.notes:
        open_ = False
        if not ctx.cap.declares_security():
            r = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token=False)
            open_ = r.status_code == 200
        ctx.notes["unsecured"] = open_
        if open_:
            ctx.findings.append(NOT_SECURED)
    if ctx.notes["unsecured"]:
        skip("the server declares no security and answers without a token (see the finding at the top)")


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _smart_config(ctx: CheckContext) -> dict:
    r = ctx.client.get(".well-known/smart-configuration", headers={"Accept": "application/json"}, token=False)
    check(r.status_code == 200, f"GET [base]/.well-known/smart-configuration answered {r.status_code}")
    config = body_json(r)
    check(isinstance(config, dict), "the SMART configuration is not a JSON object")
    return config


def _declares(cap) -> bool:
    return cap.declares_security()


@test("security.smart-discovery", "SMART configuration is published with the required fields",
      "The server SHALL publish [base]/.well-known/smart-configuration as JSON with token_endpoint, "
      "grant_types_supported, capabilities and code_challenge_methods_supported (with S256, never plain); "
      "authorization_endpoint when it supports app launch; issuer and jwks_uri with sso-openid-connect.",
      SMART + "conformance.html", mandatory=_declares)
def smart_discovery(ctx: CheckContext) -> str:
    _gate(ctx)
    config = _smart_config(ctx)
    missing = [k for k in ("token_endpoint", "grant_types_supported", "capabilities",
                           "code_challenge_methods_supported") if not config.get(k)]
    capabilities = config.get("capabilities") or []
    if {"launch-ehr", "launch-standalone"} & set(capabilities) and not config.get("authorization_endpoint"):
        missing.append("authorization_endpoint")
    if "sso-openid-connect" in capabilities:
        missing += [k for k in ("issuer", "jwks_uri") if not config.get(k)]
    check(not missing, f"missing: {', '.join(missing)}")
    methods = config.get("code_challenge_methods_supported") or []
    check("S256" in methods and "plain" not in methods, f"code_challenge_methods_supported is {methods}")
    return f"capabilities: {', '.join(capabilities)}"


@test("security.endpoints-tls", "Authorization endpoints use TLS",
      "The OAuth endpoints SHALL be served over TLS (https), loopback addresses aside for development.",
      SMART + "app-launch.html", mandatory=_declares)
def endpoints_tls(ctx: CheckContext) -> str:
    _gate(ctx)
    config = _smart_config(ctx)
    urls = {k: config.get(k) for k in ("token_endpoint", "authorization_endpoint", "jwks_uri",
                                       "registration_endpoint") if config.get(k)}
    plain = [f"{k} {v}" for k, v in urls.items() if not str(v).startswith("https://") and not _loopback(str(v))]
    check(not plain, f"not https: {', '.join(plain)}")
    return f"{len(urls)} endpoints on https or loopback"


@test("security.capability-declares", "The CapabilityStatement declares its security",
      "rest.security.service names the security service (SMART-on-FHIR or OAuth) so clients know how to connect.",
      R4 + "capabilitystatement-definitions.html#CapabilityStatement.rest.security", mandatory=lambda cap: False)
def capability_declares(ctx: CheckContext) -> str:
    _gate(ctx)
    check(ctx.cap.declares_security(), "rest.security declares no service")
    return "rest.security.service declared"


@test("security.no-token", "Requests without a token are refused with 401",
      "A protected resource server SHALL answer a request without an access token with 401 Unauthorized.",
      RFC6750 + "#section-3.1", mandatory=_declares)
def no_token(ctx: CheckContext) -> str:
    _gate(ctx)
    r = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token=False)
    check(r.status_code == 401, f"answered {r.status_code}, not 401")
    return "401"


@test("security.www-authenticate", "A 401 says how to authenticate",
      "A 401 response SHALL include a WWW-Authenticate header with the Bearer scheme.", RFC6750 + "#section-3",
      mandatory=_declares)
def www_authenticate(ctx: CheckContext) -> str:
    _gate(ctx)
    r = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token=False)
    if r.status_code != 401:
        skip(f"no 401 to inspect ({r.status_code})")
    header = r.headers.get("www-authenticate", "")
    check(header.lower().startswith("bearer"), f"WWW-Authenticate is {header!r}")
    return header[:80]


@test("security.bad-token", "A made-up token is refused",
      "A request with an access token the server did not issue SHALL be refused with 401 (error invalid_token).",
      RFC6750 + "#section-3.1", mandatory=_declares)
def bad_token(ctx: CheckContext) -> str:
    _gate(ctx)
    r = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token="not-a-real-token-3f9a1c")
    check(r.status_code == 401, f"answered {r.status_code}, not 401")
    return "401"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@test("security.unsigned-token", "An unsigned (alg none) token is refused",
      "Access tokens SHALL be verified: a JWT with alg 'none' claiming every scope SHALL be refused with 401.",
      "https://www.rfc-editor.org/rfc/rfc8725#section-3.1", mandatory=_declares)
def unsigned_token(ctx: CheckContext) -> str:
    _gate(ctx)
    now = int(time.time())
    claims = {"sub": "attacker", "scope": "system/*.read user/*.* patient/*.*", "iat": now, "exp": now + 300}
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    r = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token=token)
    check(r.status_code == 401, f"answered {r.status_code}, not 401")
    return "401"


@test("security.tampered-token", "A tampered token is refused",
      "A token whose signature or content was changed SHALL be refused with 401; the token given with --token is "
      "altered in its last characters.", RFC6750 + "#section-3.1", mandatory=_declares)
def tampered_token(ctx: CheckContext) -> str:
    _gate(ctx)
    token = ctx.client.token
    if not token:
        skip("no --token given to tamper with")
    flipped = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    r = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token=flipped)
    check(r.status_code == 401, f"answered {r.status_code}, not 401")
    return "401"


@test("security.token-accepted", "The token given is accepted",
      "A valid access token (the one given with --token) SHALL give access to what its scopes allow.",
      SMART + "scopes-and-launch-context.html", mandatory=lambda cap: False)
def token_accepted(ctx: CheckContext) -> str:
    _gate(ctx)
    if not ctx.client.token:
        skip("no --token given")
    r = ctx.client.get(_probe_type(ctx), params={"_count": "1"})
    check(r.status_code == 200, f"answered {r.status_code} with the token")
    return "200 with the token"


@test("security.tls", "The FHIR endpoint uses TLS",
      "Health data SHALL only travel encrypted: the FHIR base URL is https with a certificate that verifies "
      "(loopback addresses aside for development).", R4 + "security.html#http",
      mandatory=_declares)
def tls(ctx: CheckContext) -> str:
    _gate(ctx)
    if _loopback(ctx.client.base):
        skip("the server is on a loopback address")
    check(ctx.client.base.startswith("https://"), "the FHIR base URL is plain http")
    r = ctx.client.get("metadata")
    check(r.status_code == 200, f"metadata over TLS answered {r.status_code}")
    return "https with a verified certificate"


@test("security.headers", "Security headers over https",
      "Responses over https SHOULD carry Strict-Transport-Security and X-Content-Type-Options: nosniff.",
      "https://owasp.org/www-project-secure-headers/", mandatory=lambda cap: False)
def headers(ctx: CheckContext) -> str:
    _gate(ctx)
    if not ctx.client.base.startswith("https://"):
        skip("not https")
    r = ctx.client.get("metadata")
    missing = [h for h in ("strict-transport-security", "x-content-type-options") if h not in r.headers]
    check(not missing, f"missing: {', '.join(missing)}")
    check(r.headers["x-content-type-options"].lower() == "nosniff", "X-Content-Type-Options is not nosniff")
    return "HSTS and nosniff present"
