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


BACKEND = SMART + "backend-services.html"


def _backend(ctx: CheckContext):
    """The credentials, the SMART configuration and the token endpoint; skip without --client-id."""
    if ctx.backend is None:
        skip("no --client-id and --private-key given")
    config = _smart_config(ctx)
    url = config.get("token_endpoint")
    check(url, "the SMART configuration names no token_endpoint")
    return ctx.backend, config, url


def _token_answer(ctx: CheckContext, assertion: str, config: dict):
    from caregate.check.backend import default_scope, token_request

    creds = ctx.backend
    if creds is None:
        skip("no --client-id and --private-key given")
    return token_request(ctx.client, config["token_endpoint"], creds, assertion,
                         creds.scope or default_scope(config))


@test("security.backend-services", "Backend services get a token with a signed client assertion",
      "A client registered with its public key SHALL get an access token from the token endpoint with "
      "grant_type=client_credentials and a JWT client assertion signed RS384 or ES384; the answer has "
      "access_token, token_type bearer, expires_in and scope, and the token opens the FHIR API.", BACKEND,
      mandatory=_declares)
def backend_services(ctx: CheckContext) -> str:
    from caregate.check.backend import client_assertion

    _gate(ctx)
    creds, config, url = _backend(ctx)
    r = _token_answer(ctx, client_assertion(creds.client_id, url, creds.key(), creds.key_id), config)
    body = body_json(r) or {}
    check(r.status_code == 200, f"the token endpoint answered {r.status_code} {body.get('error', '')}")
    missing = [k for k in ("access_token", "token_type", "expires_in", "scope") if k not in body]
    check(not missing, f"the token answer lacks {', '.join(missing)}")
    check(str(body["token_type"]).lower() == "bearer", f"token_type is {body['token_type']!r}")
    got = ctx.client.get(_probe_type(ctx), params={"_count": "1"}, token=body["access_token"])
    check(got.status_code == 200, f"the new token was refused by the FHIR API ({got.status_code})")
    return f"token with scope {body['scope']!r} works"


@test("security.expired-assertion", "An expired client assertion is refused",
      "The authorization server SHALL refuse a client assertion whose exp has passed (invalid_client).", BACKEND,
      mandatory=_declares)
def expired_assertion(ctx: CheckContext) -> str:
    from caregate.check.backend import client_assertion

    _gate(ctx)
    creds, config, url = _backend(ctx)
    stale = client_assertion(creds.client_id, url, creds.key(), creds.key_id, now=time.time() - 3600)
    r = _token_answer(ctx, stale, config)
    check(r.status_code in (400, 401), f"answered {r.status_code}, not 400 or 401")
    check("access_token" not in (body_json(r) or {}), "a token was issued")
    return f"refused ({r.status_code})"


@test("security.foreign-key", "An assertion signed with an unregistered key is refused",
      "The authorization server SHALL verify the assertion's signature against the client's registered keys: "
      "one signed by any other key is refused.", BACKEND, mandatory=_declares)
def foreign_key(ctx: CheckContext) -> str:
    from joserfc.jwk import ECKey, RSAKey

    from caregate.check.backend import client_assertion

    _gate(ctx)
    creds, config, url = _backend(ctx)
    own = creds.key()
    other = RSAKey.generate_key(2048) if isinstance(own, RSAKey) else ECKey.generate_key("P-384")
    r = _token_answer(ctx, client_assertion(creds.client_id, url, other, creds.key_id), config)
    check(r.status_code in (400, 401), f"answered {r.status_code}, not 400 or 401")
    check("access_token" not in (body_json(r) or {}), "a token was issued")
    return f"refused ({r.status_code})"


@test("security.assertion-replay", "A client assertion cannot be used twice",
      "The authorization server SHOULD refuse a client assertion whose jti it has already seen.", BACKEND,
      mandatory=lambda cap: False)
def assertion_replay(ctx: CheckContext) -> str:
    from caregate.check.backend import client_assertion

    _gate(ctx)
    creds, config, url = _backend(ctx)
    assertion = client_assertion(creds.client_id, url, creds.key(), creds.key_id)
    first = _token_answer(ctx, assertion, config)
    check(first.status_code == 200, f"the first use answered {first.status_code}")
    second = _token_answer(ctx, assertion, config)
    check(second.status_code in (400, 401), f"the replay answered {second.status_code}, not 400 or 401")
    return f"replay refused ({second.status_code})"
