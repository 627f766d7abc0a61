"""SMART Backend Services against a real `caregate serve`: a client signs its own JWT (RS384 and ES384, JWKS by
value), gets a token with client_credentials, and reads FHIR with it; replays and long-lived assertions fail."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jwk, jwt

from tests.auth.live import LiveServer


def _assertion(key: jwk.Key, alg: str, client_id: str, aud: str, *, exp_in: int = 240, jti: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "iat": now,
              "jti": jti or secrets.token_urlsafe(12)}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def _caregate(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "caregate", *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def backend(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[LiveServer, dict]]:
    keys = {"ES384": jwk.ECKey.generate_key("P-384", parameters={"kid": "ec1"}),
            "RS384": jwk.RSAKey.generate_key(2048, parameters={"kid": "rsa1"})}
    jwks = {"keys": [dict(k.as_dict(private=False)) for k in keys.values()]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    _caregate("clients", "add", "--name", "Lab system", "--client-id", "lab", "--jwks", str(tmp_path / "jwks.json"),
              "--scope", "system/Patient.rs system/Observation.rs", "--database", sqlite_url)
    server = LiveServer(sqlite_url, tmp_path / "server.log")
    try:
        yield server, keys
    finally:
        server.stop()


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_backend_client_gets_a_token_and_reads(backend: tuple[LiveServer, dict], alg: str) -> None:
    server, keys = backend
    config = httpx.get(f"{server.base}/.well-known/smart-configuration").json()
    token_url = config["token_endpoint"]
    assert alg in config["token_endpoint_auth_signing_alg_values_supported"]
    r = httpx.post(token_url, data={
        "grant_type": "client_credentials", "scope": "system/Patient.rs system/Condition.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(keys[alg], alg, "lab", token_url)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 300
    assert body["scope"] == "system/Patient.rs"  # Condition was never registered for this client
    h = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(f"{server.base}/Patient", headers=h).status_code == 200
    assert httpx.get(f"{server.base}/Condition", headers=h).status_code == 403
    assert httpx.get(f"{server.base}/Patient").status_code == 401


def test_replayed_and_long_lived_assertions_are_refused(backend: tuple[LiveServer, dict]) -> None:
    server, keys = backend
    token_url = f"{server.root}/auth/token"
    form = {"grant_type": "client_credentials", "scope": "system/Patient.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    once = _assertion(keys["ES384"], "ES384", "lab", token_url, jti="same")
    assert httpx.post(token_url, data={**form, "client_assertion": once}).status_code == 200
    replay = httpx.post(token_url, data={**form, "client_assertion": once})
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    too_long = _assertion(keys["ES384"], "ES384", "lab", token_url, exp_in=3600)
    assert httpx.post(token_url, data={**form, "client_assertion": too_long}).status_code == 401
    wrong_aud = _assertion(keys["ES384"], "ES384", "lab", f"{server.base}/token")
    assert httpx.post(token_url, data={**form, "client_assertion": wrong_aud}).status_code == 401
    stranger = jwk.ECKey.generate_key("P-384", parameters={"kid": "ec1"})
    forged = _assertion(stranger, "ES384", "lab", token_url)
    assert httpx.post(token_url, data={**form, "client_assertion": forged}).status_code == 401


def test_jwks_by_url_and_introspection(tmp_path: Path, sqlite_url: str) -> None:
    """A client that publishes its keys at a jwks_uri; it then introspects a token (RFC 7662)."""
    import http.server
    import threading

    key = jwk.ECKey.generate_key("P-384", parameters={"kid": "remote"})
    body = json.dumps({"keys": [dict(key.as_dict(private=False))]}).encode()

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    keyserver = http.server.HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=keyserver.serve_forever, daemon=True).start()
    jwks_uri = f"http://127.0.0.1:{keyserver.server_port}/jwks.json"
    _caregate("clients", "add", "--name", "Remote", "--client-id", "remote", "--jwks-uri", jwks_uri,
              "--scope", "system/Patient.rs", "--database", sqlite_url)
    server = LiveServer(sqlite_url, tmp_path / "server.log")
    try:
        token_url = f"{server.root}/auth/token"
        form = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
        r = httpx.post(token_url, data={**form, "grant_type": "client_credentials", "scope": "system/Patient.rs",
                                        "client_assertion": _assertion(key, "ES384", "remote", token_url)})
        assert r.status_code == 200, r.text
        access = r.json()["access_token"]
        seen = httpx.post(f"{server.root}/auth/introspect", data={
            **form, "token": access, "client_assertion": _assertion(key, "ES384", "remote", token_url)}).json()
        assert seen["active"] is True and seen["scope"] == "system/Patient.rs" and seen["client_id"] == "remote"
        junk = httpx.post(f"{server.root}/auth/introspect", data={
            **form, "token": "junk", "client_assertion": _assertion(key, "ES384", "remote", token_url)}).json()
        assert junk == {"active": False}
        anonymous = httpx.post(f"{server.root}/auth/introspect", data={"token": access})
        assert anonymous.status_code == 401
    finally:
        server.stop()
        keyserver.shutdown()
        keyserver.server_close()
